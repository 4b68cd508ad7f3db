// The client's main flows in workerd with local D1 and KV: Emily (linked and activated through the
// governance API) creates a request in her allowed pipeline, chats on it with the team, cannot reach
// a pipeline or company outside her policy, signs a document the team published (its file comes from
// KV with safe headers), and loses access at her next action once her link is disabled.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startWorker } from "./harness.mjs";

let worker;
const ids = { nl: randomUUID(), bh: randomUUID(), emily: randomUUID(), support: randomUUID(), projects: randomUUID() };
const ADMIN = { login: "vector-admin", password: "ledger winter copper 42" };
const EMILY_PASSWORD = "aurora over the fjord 2026";
let admin;
let emily;
let linkId;

const call = async (method, path, body, token, extra = {}) => {
  const res = await worker.fetch(path, {
    method,
    headers: {
      ...extra,
      "content-type": "application/json",
      "cf-connecting-ip": `10.8.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
};
const ok = (r, status = 200) => assert.equal(r.status, status, r.text);

before(async () => {
  worker = await startWorker();
  ok(await call("POST", "/api/admin/bootstrap", { token: worker.secrets.BOOTSTRAP_TOKEN, ...ADMIN, first_name: "Vera", last_name: "Vector" }), 201);
  admin = (await call("POST", "/api/auth/login", { ...ADMIN, refresh_transport: "body" })).json.access_token;
  const crm = worker.secrets.CRM_SYNC_TOKEN;
  for (const [id, name] of [[ids.nl, "Northern Light"], [ids.bh, "Blue Harbor"]]) {
    assert.ok([200, 201].includes((await call("PUT", `/api/admin/companies/${id}`, { name }, crm)).status));
  }
  const stages = [{ id: "new", name: "New", is_final: false }, { id: "work", name: "In progress", is_final: false }, { id: "done", name: "Done", is_final: true }];
  assert.ok([200, 201].includes((await call("PUT", `/api/admin/pipelines/${ids.support}`, { name: "Support", stages }, crm)).status));
  assert.ok([200, 201].includes((await call("PUT", `/api/admin/pipelines/${ids.projects}`, { name: "Projects", stages }, crm)).status));
  assert.ok([200, 201].includes((await call("PUT", `/api/admin/contacts/${ids.emily}`, {
    first_name: "Emily", last_name: "Carter", email: "emily.carter@northernlight.example", company_ids: [ids.nl],
  }, crm)).status));
  ok(await call("PUT", `/api/admin/companies/${ids.nl}/policy`, {
    create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: true, calls: false,
    telegram: false, widget: false, allowed_pipelines: [ids.support],
  }, admin));
  const link = await call("POST", "/api/admin/links", {
    user: { login: "emily.carter@northernlight.example", email: "emily.carter@northernlight.example", first_name: "Emily", last_name: "Carter" },
    contact_id: ids.emily, company_ids: [ids.nl], default_company_id: ids.nl,
  }, admin);
  ok(link, 201);
  linkId = link.json.id;
  const invitation = await call("POST", `/api/admin/links/${linkId}/invitations`, {}, admin);
  ok(invitation, 201);
  const token = invitation.json.activation_url.split("#")[1];
  const activated = await call("POST", "/api/invitations/activate", { token, password: EMILY_PASSWORD, refresh_transport: "body" });
  ok(activated);
  emily = activated.json.access_token;
});
after(async () => {
  await worker?.stop();
});

let requestId;

test("Emily sees her allowed pipeline and creates a request in it", async () => {
  const pipelines = await call("GET", `/api/pipelines?company=${ids.nl}`, undefined, emily);
  ok(pipelines);
  const names = (pipelines.json.items ?? pipelines.json).map((p) => p.name);
  assert.deepEqual(names, ["Support"]);
  const created = await call("POST", "/api/requests", { company_id: ids.nl, pipeline_id: ids.support, title: "Invoice question", description: "Which VAT rate applies?" }, emily);
  ok(created, 201);
  assert.equal(created.json.status, "new", "a new request starts in the pipeline's first stage");
  requestId = created.json.id;
  const list = await call("GET", "/api/requests", undefined, emily);
  ok(list);
  assert.deepEqual(list.json.items.map((r) => r.id), [requestId]);
  assert.match(list.headers.get("server-timing") ?? "", /"1 queries"/, "a gated list is one D1 round trip");
});

test("a pipeline outside her policy is refused by name, another company is not found", async () => {
  const denied = await call("POST", "/api/requests", { company_id: ids.nl, pipeline_id: ids.projects, title: "x", description: "" }, emily);
  assert.equal(denied.status, 403);
  assert.equal(denied.json.error.code, "policy_denied");
  const hidden = await call("POST", "/api/requests", { company_id: ids.bh, pipeline_id: ids.support, title: "x", description: "" }, emily);
  assert.equal(hidden.status, 404);
  const missingTitle = await call("POST", "/api/requests", { company_id: ids.nl, pipeline_id: ids.support, description: "" }, emily);
  assert.equal(missingTitle.status, 400);
  assert.equal(missingTitle.json.error.field, "title");
});

test("Emily and the team talk in the request's chat, in order, with their author kinds", async () => {
  ok(await call("POST", `/api/requests/${requestId}/messages`, { body: "Hello, any news?" }, emily), 201);
  ok(await call("POST", `/api/admin/requests/${requestId}/messages`, { body: "Standard rate, 20%." }, admin), 201);
  const thread = await call("GET", `/api/requests/${requestId}/messages`, undefined, emily);
  ok(thread);
  assert.deepEqual(thread.json.items.map((m) => [m.author_kind, m.body]), [["client", "Hello, any news?"], ["employee", "Standard rate, 20%."]]);
  ok(await call("PATCH", `/api/admin/requests/${requestId}`, { status: "done" }, admin));
  const closed = await call("GET", `/api/requests/${requestId}`, undefined, emily);
  assert.equal(closed.json.is_open, false);
});

test("read replication: answers carry a D1 bookmark, and a read that sends it back sees the write", async () => {
  const posted = await call("POST", `/api/requests/${requestId}/messages`, { body: "Read your writes" }, emily);
  ok(posted, 201);
  const written = posted.headers.get("x-d1-bookmark");
  assert.match(written ?? "", /^[0-9a-f]+(-[0-9a-f]+)+$/, "a write answers with the session's bookmark");
  const read = await call("GET", `/api/requests/${requestId}/messages`, undefined, emily, { "x-d1-bookmark": written });
  ok(read);
  assert.ok(read.json.items.some((m) => m.body === "Read your writes"), "the read from the bookmark sees the message");
  const after = read.headers.get("x-d1-bookmark");
  assert.ok(after && after >= written, `the read's bookmark (${after}) is not older than the one sent (${written})`);
  const refused = await call("GET", "/api/requests", undefined, emily, { "x-d1-bookmark": "first-primary" });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.field, "x-d1-bookmark");
  const health = await call("GET", "/health");
  assert.equal(health.headers.get("x-d1-bookmark"), null, "no query, no bookmark");
});

test("Emily signs a document the team published; the file downloads as a sandboxed attachment", async () => {
  const pdf = Buffer.from("%PDF-1.4\n% Extranet e2e\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");
  const uploaded = await call("POST", "/api/admin/documents", { company_id: ids.nl, title: "Service agreement", content_type: "application/pdf", content_base64: pdf.toString("base64") }, admin);
  ok(uploaded, 201);
  const docId = uploaded.json.id;
  ok(await call("POST", `/api/admin/documents/${docId}/publish`, { required_action: "sign" }, admin));
  const file = await worker.fetch(`/api/documents/${docId}/file`, { headers: { authorization: `Bearer ${emily}` } });
  assert.equal(file.status, 200);
  assert.equal(file.headers.get("content-type"), "application/pdf");
  assert.match(file.headers.get("content-disposition") ?? "", /^attachment/);
  assert.match(file.headers.get("content-security-policy") ?? "", /sandbox/);
  assert.deepEqual(Buffer.from(await file.arrayBuffer()), pdf, "the bytes come back from KV unchanged");
  const wrong = await call("POST", `/api/documents/${docId}/actions`, { action: "signed", signature_name: "Emily Carter", password: "not my password" }, emily);
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.error.field, "password");
  const signed = await call("POST", `/api/documents/${docId}/actions`, { action: "signed", signature_name: "Emily Carter", password: EMILY_PASSWORD }, emily);
  ok(signed);
  const again = await call("POST", `/api/documents/${docId}/actions`, { action: "signed", signature_name: "Emily Carter", password: EMILY_PASSWORD }, emily);
  assert.equal(again.status, 409);
  const doc = await call("GET", `/api/documents/${docId}`, undefined, emily);
  assert.equal(doc.json.completed_action, "signed");
});

test("disabling the link cuts Emily off at her next action", async () => {
  ok(await call("PATCH", `/api/admin/links/${linkId}`, { status: "disabled" }, admin));
  const next = await call("POST", `/api/requests/${requestId}/messages`, { body: "Still there?" }, emily);
  assert.equal(next.status, 401);
  const login = await call("POST", "/api/auth/login", { login: "emily.carter@northernlight.example", password: EMILY_PASSWORD });
  assert.equal(login.status, 401);
  assert.equal(login.json.error.code, "invalid_credentials");
});
