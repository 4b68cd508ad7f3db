// Hardening in the real runtime (workerd, local D1): every GET route of /openapi.json answers
// without a server error, with Server-Timing and the security headers; the auth and invitation
// routes send no Server-Timing; the pages carry their headers from public/_headers; a foreign
// Origin gets no CORS grant; oversize bodies answer 413; the JSON logs carry a request id and never
// a token, a password or a secret.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { startWorker } from "./harness.mjs";

let worker;
const ADMIN = { login: "harden-admin", password: "ledger winter copper 42" };
const CLIENT = { login: "emily.carter@northernlight.example", password: "aurora lights over fjords 7" };
const ids = { company: randomUUID(), contact: randomUUID(), pipeline: randomUUID() };
let admin;
let client;
const secretsSeen = new Set();

let ip = 0;
const call = (method, path, { body, token, headers = {} } = {}) =>
  worker.fetch(path, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      "cf-connecting-ip": `10.33.${(ip >> 8) & 255}.${ip++ & 255}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });

async function ok(method, path, options) {
  const res = await call(method, path, options);
  const text = await res.text();
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

before(async () => {
  worker = await startWorker({ vars: { ACCESS_LOG: "on" } });
  const crm = worker.secrets.CRM_SYNC_TOKEN;
  for (const value of Object.values(worker.secrets)) secretsSeen.add(value);
  await ok("POST", "/api/admin/bootstrap", { body: { token: worker.secrets.BOOTSTRAP_TOKEN, ...ADMIN, first_name: "Hana", last_name: "Harden" } });
  const session = await ok("POST", "/api/auth/login", { body: { ...ADMIN, refresh_transport: "body" } });
  admin = session.access_token;
  secretsSeen.add(session.access_token).add(session.refresh_token).add(ADMIN.password);
  await ok("PUT", `/api/admin/companies/${ids.company}`, { body: { name: "Northern Light" }, token: crm });
  await ok("PUT", `/api/admin/contacts/${ids.contact}`, {
    body: { first_name: "Emily", last_name: "Carter", email: CLIENT.login, company_ids: [ids.company] },
    token: crm,
  });
  await ok("PUT", `/api/admin/pipelines/${ids.pipeline}`, {
    body: { name: "Support", stages: [{ id: "new", name: "New", is_final: false }, { id: "done", name: "Done", is_final: true }] },
    token: crm,
  });
  await ok("PUT", `/api/admin/companies/${ids.company}/policy`, {
    body: { create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: true, calls: true, telegram: false, widget: false, allowed_pipelines: [ids.pipeline] },
    token: admin,
  });
  const link = await ok("POST", "/api/admin/links", {
    body: { user: { login: CLIENT.login, email: CLIENT.login, first_name: "Emily", last_name: "Carter" }, contact_id: ids.contact, company_ids: [ids.company], default_company_id: ids.company },
    token: admin,
  });
  ids.link = link.id;
  const invitation = await ok("POST", `/api/admin/links/${link.id}/invitations`, { body: {}, token: admin });
  const activationToken = invitation.activation_url.split("#")[1];
  const activated = await ok("POST", "/api/invitations/activate", { body: { token: activationToken, password: CLIENT.password, refresh_transport: "body" } });
  client = activated.access_token;
  ids.user = activated.user.id;
  secretsSeen.add(activationToken).add(activated.access_token).add(activated.refresh_token).add(CLIENT.password);
  const request = await ok("POST", "/api/requests", { body: { company_id: ids.company, pipeline_id: ids.pipeline, title: "Broken invoice", description: "Wrong total" }, token: client });
  ids.request = request.id;
  const doc = await ok("POST", "/api/admin/documents", {
    body: { company_id: ids.company, title: "Contract", content_type: "application/pdf", content_base64: Buffer.from("%PDF-1.4 test").toString("base64") },
    token: admin,
  });
  ids.document = doc.id;
  await ok("POST", `/api/admin/documents/${doc.id}/publish`, { body: { required_action: "review" }, token: admin });
});
after(async () => {
  await worker?.stop();
});

/** Routes that must not send Server-Timing (it would tell which branch ran): auth and invitations. */
const quiet = (path) =>
  path.startsWith("/api/auth/") || path.startsWith("/api/invitations/") || path === "/api/admin/bootstrap" ||
  path === "/api/me/password" || path.startsWith("/api/me/mfa/");

/** A path of the OpenAPI document with its parameters filled from this test's data. */
function fill(path) {
  const byCollection = {
    companies: ids.company, contacts: ids.contact, pipelines: ids.pipeline, links: ids.link, users: ids.user,
    requests: ids.request, documents: ids.document,
  };
  const parts = path.split("/");
  return parts
    .map((part, i) => (part.startsWith("{") ? (part === "{id}" ? byCollection[parts[i - 1]] : undefined) ?? randomUUID() : part))
    .join("/");
}

function assertApiHeaders(res, label) {
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.equal(res.headers.get("x-frame-options"), "DENY", `${label}: X-Frame-Options`);
  // A file download has its own CSP (sandbox, so an uploaded page never runs as the portal);
  // X-Frame-Options still denies framing it.
  if (!/^sandbox\b/.test(csp)) assert.match(csp, /frame-ancestors 'none'/, `${label}: CSP frame-ancestors`);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", `${label}: nosniff`);
  assert.match(res.headers.get("strict-transport-security") ?? "", /max-age=\d+/, `${label}: HSTS`);
  assert.ok(res.headers.get("referrer-policy"), `${label}: Referrer-Policy`);
  assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f]{16}$/, `${label}: a request id`);
  assert.equal(res.headers.get("access-control-allow-origin"), null, `${label}: no CORS grant`);
}

describe("every GET route of /openapi.json", () => {
  test("answers below 500, with Server-Timing (but auth routes) and the security headers", async () => {
    const doc = await (await worker.fetch("/openapi.json")).json();
    const gets = Object.entries(doc.paths).filter(([, ops]) => ops.get).map(([path]) => path);
    assert.ok(gets.length >= 20, `the document lists the GET routes (${gets.length})`);
    const failures = [];
    let succeeded = 0;
    for (const path of gets) {
      const token = path.startsWith("/api/admin/") ? admin : path.startsWith("/api/") && path !== "/api/branding" ? client : undefined;
      const url = fill(path);
      const res = await call("GET", url, { token });
      await res.arrayBuffer();
      const label = `GET ${url}`;
      if (res.status >= 500) failures.push(`${label}: ${res.status}`);
      if (res.status < 300) succeeded++;
      const timing = res.headers.get("server-timing");
      if (quiet(path)) {
        if (timing !== null) failures.push(`${label}: Server-Timing on an auth route`);
      } else if (!/total;dur=[\d.]+/.test(timing ?? "") || !/db;dur=[\d.]+;desc="\d+ queries"/.test(timing ?? "")) {
        failures.push(`${label}: Server-Timing missing or malformed: ${timing}`);
      }
      try {
        assertApiHeaders(res, label);
      } catch (err) {
        failures.push(err.message);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(succeeded >= gets.length / 2, `most routes answered 2xx with real ids (${succeeded}/${gets.length})`);
  });

  test("the auth and invitation routes send no Server-Timing, whatever the outcome", async () => {
    const cases = [
      ["/api/auth/login", { login: ADMIN.login, password: "not the right one at all" }],
      ["/api/auth/login", { login: "nobody-at-all", password: "not the right one at all" }],
      ["/api/auth/refresh", { refresh_token: `${randomUUID()}.AAAA`, refresh_transport: "body" }],
      ["/api/auth/logout", {}],
      ["/api/invitations/preview", { token: "A".repeat(43) }],
      ["/api/invitations/activate", { token: "A".repeat(43), password: "a long enough password" }],
      ["/api/admin/bootstrap", { token: "wrong", login: "x", password: "y" }],
      ["/api/me/password", { current_password: "wrong password here", new_password: "another long password" }],
      ["/api/me/mfa/totp", {}],
      ["/api/me/mfa/totp/confirm", { code: "000000" }],
    ];
    for (const [path, body] of cases) {
      const res = await call("POST", path, { body, token: path.startsWith("/api/me/") ? client : undefined });
      await res.arrayBuffer();
      assert.ok(res.status < 500, `${path}: ${res.status}`);
      assert.equal(res.headers.get("server-timing"), null, `${path} (${res.status}) sends no Server-Timing`);
      assertApiHeaders(res, path);
    }
  });
});

describe("pages and origins", () => {
  test("the pages carry CSP, HSTS, nosniff, frame-ancestors 'none' and Referrer-Policy", async () => {
    for (const path of ["/", "/activate", "/extranet-governance", "/no-such-page"]) {
      const res = await worker.fetch(path);
      await res.arrayBuffer();
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(res.headers.get("strict-transport-security") ?? "", /max-age=\d+/, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      assert.ok(res.headers.get("referrer-policy"), path);
    }
  });

  test("a foreign Origin gets no CORS grant, on a read or a preflight", async () => {
    const origin = "https://evil.example";
    const read = await call("GET", "/api/me", { token: client, headers: { origin } });
    await read.arrayBuffer();
    assert.equal(read.headers.get("access-control-allow-origin"), null);
    assert.equal(read.headers.get("access-control-allow-credentials"), null);
    const preflight = await worker.fetch("/api/requests", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    await preflight.arrayBuffer();
    assert.ok(preflight.status >= 400, `a preflight is not granted (${preflight.status})`);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    assert.equal(preflight.headers.get("access-control-allow-methods"), null);
  });
});

describe("body limits", () => {
  const padded = (bytes) => JSON.stringify({ title: "x", description: "d".repeat(bytes) });
  for (const [label, path, size, token] of [
    ["an auth route (16 KiB)", "/api/auth/login", 16 * 1024 + 1, () => undefined],
    ["an API route (1 MiB)", "/api/requests", 1024 * 1024 + 1, () => client],
    ["a document upload (10 MiB)", "/api/admin/documents", 10 * 1024 * 1024 + 1, () => admin],
  ]) {
    test(`an oversize body on ${label} answers 413 too_large`, async () => {
      const res = await call("POST", path, { body: padded(size), token: token() });
      assert.equal(res.status, 413);
      assert.equal((await res.json()).error.code, "too_large");
    });
  }
});

describe("body limits without Content-Length", () => {
  test("a small chunked body still reaches the handler", async () => {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify({ login: "nobody-here", password: "not the right one at all" })));
        controller.close();
      },
    });
    const res = await worker.fetch("/api/auth/login", { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": "10.44.0.1" }, body, duplex: "half" });
    assert.equal(res.status, 401, "read whole and answered by the login use case");
  });
});

describe("logs", () => {
  test("after logins and a refresh, the JSON logs carry request ids and no token, password or secret", async () => {
    const session = await ok("POST", "/api/auth/login", { body: { ...CLIENT, refresh_transport: "body" } });
    const rotated = await ok("POST", "/api/auth/refresh", { body: { refresh_token: session.refresh_token, refresh_transport: "body" } });
    await call("POST", "/api/auth/login", { body: { login: CLIENT.login, password: "a wrong password for the log" } });
    for (const value of [session.access_token, session.refresh_token, rotated.access_token, rotated.refresh_token, "a wrong password for the log"]) {
      secretsSeen.add(value);
    }
    // wrangler writes the worker's console output asynchronously.
    await new Promise((r) => setTimeout(r, 500));
    const text = readFileSync(worker.logFile, "utf8");
    const lines = text.split("\n").filter((l) => l.startsWith("{"));
    const entries = lines.map((l) => JSON.parse(l));
    assert.ok(entries.some((e) => e.path === "/api/auth/login" && e.status === 200), "the login's own log line is there");
    for (const e of entries) assert.match(String(e.request_id ?? ""), /^[0-9a-f]{16}$/, `a request id on ${JSON.stringify(e)}`);
    for (const secret of secretsSeen) {
      if (!secret || secret.length < 8) continue;
      assert.ok(!text.includes(secret), `the log holds a secret value (${secret.slice(0, 6)}...)`);
      // A JWT's signature alone would leak nothing, but its payload part would identify the session.
      const [, payload] = secret.split(".");
      if (payload && payload.length > 20) assert.ok(!text.includes(payload), "the log holds a token's payload");
    }
  });
});

describe("the D1 bookmark header", () => {
  // A bookmark D1 does not know (well formed) must not become the runtime's bare 500: the read
  // starts afresh; a malformed one is refused by name. Either way: JSON and the security headers.
  for (const [label, value] of [
    ["well formed but unknown", "00000099-0000000a-00004e2f-0123456789abcdef0123456789abcdef"],
    ["malformed", "not a bookmark!"],
  ]) {
    test(`a ${label} bookmark answers below 500, as JSON with the security headers`, async () => {
      const res = await call("GET", "/api/me", { token: client, headers: { "x-d1-bookmark": value } });
      const text = await res.text();
      assert.ok(res.status < 500, `${res.status} ${text}`);
      assert.match(res.headers.get("content-type") ?? "", /application\/json/);
      JSON.parse(text);
      assertApiHeaders(res, label);
      if (label === "malformed") {
        assert.equal(res.status, 400);
        assert.equal(JSON.parse(text).error.field, "x-d1-bookmark");
      }
    });
  }

  test("only authenticated answers carry a bookmark", async () => {
    const pub = await call("GET", "/api/branding");
    await pub.arrayBuffer();
    assert.equal(pub.headers.get("x-d1-bookmark"), null, "a public read");
    const me = await call("GET", "/api/me", { token: client });
    await me.arrayBuffer();
    assert.ok(me.headers.get("x-d1-bookmark"), "an authenticated read");
  });
});
