// The deployed shape, end to end in workerd: health, the OpenAPI document, the error contract for
// unknown routes and wrong methods, and the static pages with their security headers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./harness.mjs";

let worker;
before(async () => {
  worker = await startWorker();
});
after(async () => {
  await worker?.stop();
});

async function json(res) {
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return res.json();
}

describe("health", () => {
  test("answers ok with the version, touching no binding", async () => {
    const res = await worker.fetch("/health");
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.status, "ok");
    assert.equal(typeof body.version, "string");
    assert.notEqual(body.version, "");
  });

  test("?deep=1 reaches D1", async () => {
    const res = await worker.fetch("/health?deep=1");
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.status, "ok");
    assert.equal(body.checks?.db, "ok");
  });

  test("?deep=all reaches D1 and KV", async () => {
    const res = await worker.fetch("/health?deep=all");
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.deepEqual({ db: body.checks?.db, kv: body.checks?.kv }, { db: "ok", kv: "ok" });
  });
});

test("GET /openapi.json serves an OpenAPI 3.1 document", async () => {
  const res = await worker.fetch("/openapi.json");
  assert.equal(res.status, 200);
  const doc = await json(res);
  assert.equal(doc.openapi, "3.1.0");
  assert.ok(doc.paths?.["/health"], "the document lists /health");
});

describe("error contract", () => {
  test("an unknown API route is a 404 with a JSON error body", async () => {
    const res = await worker.fetch("/api/nope");
    assert.equal(res.status, 404);
    const body = await json(res);
    assert.equal(body.error?.code, "not_found");
    assert.equal(typeof body.error?.message, "string");
  });

  test("a wrong method is a 405 naming the allowed ones", async () => {
    const res = await worker.fetch("/health", { method: "DELETE" });
    assert.equal(res.status, 405);
    assert.match(res.headers.get("allow") ?? "", /\bGET\b/);
    const body = await json(res);
    assert.equal(body.error?.code, "method_not_allowed");
  });
});

describe("static pages", () => {
  for (const path of ["/", "/activate", "/extranet-governance"]) {
    test(`${path} is served as HTML with the security headers`, async () => {
      const res = await worker.fetch(path);
      assert.equal(res.status, 200, `${path} answers 200 without a redirect`);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(res.headers.get("strict-transport-security") ?? "", /max-age=\d+/);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      assert.equal(res.headers.get("referrer-policy"), "no-referrer");
      const html = await res.text();
      assert.match(html, /<html lang="en">/);
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)|\sstyle=/, "no inline script or style (CSP forbids them)");
    });
  }

  test("each page is its own page, not a fallback to the portal", async () => {
    const titles = [];
    for (const path of ["/", "/activate", "/extranet-governance"]) {
      const html = await (await worker.fetch(path)).text();
      titles.push(html.match(/<title>([^<]*)<\/title>/)?.[1]);
    }
    assert.equal(new Set(titles).size, 3, `distinct titles: ${titles.join(" | ")}`);
  });

  test("an unknown page is a 404 page, with the same headers", async () => {
    const res = await worker.fetch("/no-such-page");
    assert.equal(res.status, 404);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  });
});
