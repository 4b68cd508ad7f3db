// The seed's example, end to end in workerd with local D1: the CRM pushes the Vector agency's client
// Northern Light, its contact Emily Carter and a pipeline; an admin applies the recommended minimum,
// links Emily with Northern Light as default company, issues an invitation; twenty activations of
// that one invitation race in parallel and exactly one wins; Emily sees her company; revoking the
// link cuts her off at once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startWorker } from "./harness.mjs";

let worker;
const ids = { northernLight: randomUUID(), blueHarbor: randomUUID(), emily: randomUUID(), support: randomUUID() };
const ADMIN = { login: "vector-admin", password: "ledger winter copper 42" };
let admin;
let linkId;
let activationToken;

const json = (method, path, body, token) =>
  worker.fetch(path, {
    method,
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": `10.7.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

before(async () => {
  worker = await startWorker();
  const boot = await json("POST", "/api/admin/bootstrap", { token: worker.secrets.BOOTSTRAP_TOKEN, ...ADMIN, first_name: "Vera", last_name: "Vector" });
  assert.equal(boot.status, 201, await boot.text());
  const login = await json("POST", "/api/auth/login", { ...ADMIN, refresh_transport: "body" });
  admin = (await login.json()).access_token;
});
after(async () => {
  await worker?.stop();
});

test("the CRM pushes companies, the contact and a pipeline with its machine credential", async () => {
  const crm = worker.secrets.CRM_SYNC_TOKEN;
  for (const [id, name] of [[ids.northernLight, "Northern Light"], [ids.blueHarbor, "Blue Harbor"]]) {
    const res = await json("PUT", `/api/admin/companies/${id}`, { name }, crm);
    assert.ok([200, 201].includes(res.status), await res.text());
  }
  const contact = await json("PUT", `/api/admin/contacts/${ids.emily}`, {
    first_name: "Emily", last_name: "Carter", email: "emily.carter@northernlight.example", company_ids: [ids.northernLight],
  }, crm);
  assert.ok([200, 201].includes(contact.status), await contact.text());
  const pipeline = await json("PUT", `/api/admin/pipelines/${ids.support}`, {
    name: "Support",
    stages: [{ id: "new", name: "New", is_final: false }, { id: "done", name: "Done", is_final: true }],
  }, crm);
  assert.ok([200, 201].includes(pipeline.status), await pipeline.text());
  const wrong = await json("PUT", `/api/admin/companies/${ids.northernLight}`, { name: "Hijacked" }, "not-the-crm-token");
  assert.equal(wrong.status, 401);
});

test("the admin applies the recommended minimum and links Emily with Northern Light as default", async () => {
  const policy = await json("PUT", `/api/admin/companies/${ids.northernLight}/policy`, {
    create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: false, calls: false,
    telegram: false, widget: false, allowed_pipelines: [ids.support],
  }, admin);
  assert.equal(policy.status, 200, await policy.text());

  const wizard = {
    user: { login: "emily.carter@northernlight.example", email: "emily.carter@northernlight.example", first_name: "Emily", last_name: "Carter" },
    contact_id: ids.emily,
    company_ids: [ids.northernLight],
    default_company_id: ids.northernLight,
  };
  const preview = await json("POST", "/api/admin/links/preview", wizard, admin);
  assert.equal(preview.status, 200);
  const review = await preview.json();
  assert.equal(review.ok, true, JSON.stringify(review.problems));

  const blocked = await json("POST", "/api/admin/links/preview", { ...wizard, company_ids: [ids.blueHarbor], default_company_id: ids.blueHarbor }, admin);
  assert.ok((await blocked.json()).problems.some((p) => p.code === "contact_not_in_company"));

  const created = await json("POST", "/api/admin/links", wizard, admin);
  assert.equal(created.status, 201, await created.clone().text());
  linkId = (await created.json()).id;
  assert.ok(linkId);

  const invitation = await json("POST", `/api/admin/links/${linkId}/invitations`, {}, admin);
  assert.equal(invitation.status, 201, await invitation.clone().text());
  const { activation_url } = await invitation.json();
  assert.match(activation_url, /\/activate#[A-Za-z0-9_-]{43}$/);
  activationToken = activation_url.split("#")[1];
});

test("twenty parallel activations of one invitation open exactly one session", async () => {
  const preview = await json("POST", "/api/invitations/preview", { token: activationToken });
  assert.equal(preview.status, 200);
  assert.equal((await preview.json()).first_name, "Emily");
  const attempts = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      json("POST", "/api/invitations/activate", { token: activationToken, password: `aurora lights over fjords ${i}`, refresh_transport: "body" })),
  );
  const statuses = attempts.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(","));
  assert.ok(statuses.filter((s) => s !== 200).every((s) => s === 410), statuses.join(","));
  const winner = await attempts.find((r) => r.status === 200).json();
  const me = await json("GET", "/api/me", undefined, winner.access_token);
  assert.equal(me.status, 200);
  const body = await me.json();
  const nl = body.companies.find((c) => c.id === ids.northernLight);
  assert.equal(nl.is_default, true);
  assert.equal(nl.effective_policy.create_requests, true);
  assert.equal(body.companies.length, 1, "Blue Harbor is not on her link");

  const sessions = await json("GET", `/api/admin/users/${winner.user.id}/sessions`, undefined, admin);
  assert.equal(sessions.status, 200);

  const revoke = await json("PATCH", `/api/admin/links/${linkId}`, { status: "revoked" }, admin);
  assert.equal(revoke.status, 200, await revoke.clone().text());
  const after = await json("GET", "/api/me", undefined, winner.access_token);
  assert.equal(after.status, 401, "a revoked link's token stops working at the next request");
  const again = await json("PATCH", `/api/admin/links/${linkId}`, { status: "active" }, admin);
  assert.equal(again.status, 409, "revoking is final");
});
