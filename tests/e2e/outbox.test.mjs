// What leaves the worker, in workerd: the invitation email through the `EMAIL` send_email binding
// (wrangler's local simulation logs each message and stores its text in a file, which this test
// reads), and CRM events as Standard Webhooks to a fake CRM on loopback that verifies every
// signature with the `standardwebhooks` package (an implementation independent of ours), checks
// the order, dedupes on webhook-id after a retried delivery, and loses nothing while it was down.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";
import { startWorker } from "./harness.mjs";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const ADMIN = { login: "outbox-admin", password: "ledger winter copper 42" };
const EMILY = "emily.carter@northernlight.example";
const ids = { company: randomUUID(), contact: randomUUID(), pipeline: randomUUID() };

/** The fake CRM: verifies, records, and answers as told (`mode`: "up", "down", "drop-ack"). */
const crm = {
  mode: "up",
  received: [], // every delivery that verified, in arrival order: { id, body }
  rejected: 0, // deliveries whose signature did not verify
  seen: new Set(),
  events: [], // after dedupe on webhook-id, in arrival order
};
let server;
let worker;
let admin;

const json = (method, path, body, token) =>
  worker.fetch(path, {
    method,
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function until(what, check, timeoutMs = 15_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  const hook = new Webhook(SECRET);
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      if (crm.mode === "down") {
        res.writeHead(503).end();
        return;
      }
      let body;
      try {
        body = hook.verify(raw, req.headers);
      } catch {
        crm.rejected += 1;
        res.writeHead(400).end();
        return;
      }
      const id = req.headers["webhook-id"];
      const signed = { "webhook-id": id, "webhook-timestamp": req.headers["webhook-timestamp"], "webhook-signature": req.headers["webhook-signature"] };
      crm.received.push({ id, headers: signed, raw, body });
      if (!crm.seen.has(id)) {
        crm.seen.add(id);
        crm.events.push(body);
      }
      // A lost acknowledgement: processed, but the sender hears a failure and must retry.
      if (crm.mode === "drop-ack") {
        crm.mode = "up";
        res.writeHead(500).end();
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const crmUrl = `http://127.0.0.1:${server.address().port}/hooks/extranet`;
  worker = await startWorker({
    vars: { CRM_WEBHOOK_URL: crmUrl, EMAIL_FROM: "portal@mail.vector.example", PORTAL_URL: "https://portal.vector.example" },
    secrets: { CRM_WEBHOOK_SECRET: SECRET },
  });
  const boot = await json("POST", "/api/admin/bootstrap", { token: worker.secrets.BOOTSTRAP_TOKEN, ...ADMIN, first_name: "Olga", last_name: "Outbox" });
  assert.equal(boot.status, 201, await boot.text());
  admin = (await (await json("POST", "/api/auth/login", { ...ADMIN, refresh_transport: "body" })).json()).access_token;
  const token = worker.secrets.CRM_SYNC_TOKEN;
  assert.equal((await json("PUT", `/api/admin/companies/${ids.company}`, { name: "Northern Light" }, token)).status, 201);
  const contact = await json("PUT", `/api/admin/contacts/${ids.contact}`, { first_name: "Emily", last_name: "Carter", email: EMILY, company_ids: [ids.company] }, token);
  assert.equal(contact.status, 201, await contact.text());
  const pipeline = await json("PUT", `/api/admin/pipelines/${ids.pipeline}`, {
    name: "Support", stages: [{ id: "new", name: "New", is_final: false }, { id: "done", name: "Done", is_final: true }],
  }, token);
  assert.equal(pipeline.status, 201, await pipeline.text());
  const policy = await json("PUT", `/api/admin/companies/${ids.company}/policy`, {
    create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: false, calls: false,
    telegram: false, widget: false, allowed_pipelines: [ids.pipeline],
  }, admin);
  assert.equal(policy.status, 200, await policy.text());
});

after(async () => {
  await worker?.stop();
  await new Promise((resolve) => server?.close(resolve) ?? resolve());
});

/** The messages the local Email Service simulation recorded: { from, to, subject, text }. */
function sentEmails() {
  const log = readFileSync(worker.logFile, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
  const out = [];
  const pattern = /send_email binding called with MessageBuilder:\s*From: (.+)\s*To: (.+)\s*Subject: (.+)\s*\n\s*Text: (\S+)/g;
  for (const m of log.matchAll(pattern)) {
    out.push({ from: m[1].trim(), to: m[2].trim(), subject: m[3].trim(), text: readFileSync(m[4], "utf8") });
  }
  return out;
}

let emily;

test("the invitation leaves as an email with the activation link, which opens the account", async () => {
  const created = await json("POST", "/api/admin/links", {
    user: { login: EMILY, email: EMILY, first_name: "Emily", last_name: "Carter" },
    contact_id: ids.contact, company_ids: [ids.company], default_company_id: ids.company,
  }, admin);
  assert.equal(created.status, 201, await created.clone().text());
  const link = await created.json();
  const issued = await json("POST", `/api/admin/links/${link.id}/invitations`, {}, admin);
  assert.equal(issued.status, 201, await issued.clone().text());
  const invitation = await issued.json();
  assert.equal(invitation.emailed_to, EMILY);

  const mail = await until("the invitation email", () => sentEmails().find((m) => m.to.includes(EMILY)));
  console.log(`email as it left the worker:\n  From: ${mail.from}\n  To: ${mail.to}\n  Subject: ${mail.subject}\n${mail.text.replace(/#[\w-]{43}/, "#<token>").replace(/^/gm, "  | ")}`);
  assert.equal(mail.subject, "Client portal: your access is ready");
  assert.match(mail.text, /expires at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  assert.ok(mail.from.includes("portal@mail.vector.example"), mail.from);
  const url = mail.text.match(/https:\/\/portal\.vector\.example\/activate#([\w-]{43})/);
  assert.ok(url, mail.text);
  assert.equal(url[0], invitation.activation_url, "the same link the console offers to copy");

  const activated = await json("POST", "/api/invitations/activate", { token: url[1], password: "aurora lights over fjords", refresh_transport: "body" });
  assert.equal(activated.status, 200, await activated.clone().text());
  emily = (await activated.json()).access_token;

  const status = await (await json("GET", "/api/admin/outbox", undefined, admin)).json();
  assert.equal(status.email.configured, true);
  assert.equal(status.email.sender, "portal@mail.vector.example");
  assert.ok(status.email.sent >= 1);
});

test("CRM events arrive signed, in order, each once, also after a lost acknowledgement and an outage", async () => {
  const request = await json("POST", "/api/requests", { company_id: ids.company, pipeline_id: ids.pipeline, title: "Invoice 7", description: "", fields: {} }, emily);
  assert.equal(request.status, 201, await request.clone().text());
  const requestId = (await request.json()).id;
  await until("the request.created webhook", () => crm.events.some((e) => e.type === "request.created"));
  const last = crm.received.at(-1);
  console.log(`webhook as it left the worker:\n  POST /hooks/extranet\n${Object.entries(last.headers).map(([k, v]) => `  ${k}: ${v}`).join("\n")}\n\n  ${last.raw}`);
  assert.equal(crm.rejected, 0, "every signature verifies with the standardwebhooks package");
  assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify("{}", { "webhook-id": "x", "webhook-timestamp": `${Math.floor(Date.now() / 1000)}`, "webhook-signature": "v1,AAAA" }));

  // A lost acknowledgement: the CRM took the message but answered 500; a replay sends it again
  // with the same webhook-id, and the CRM's dedupe keeps one.
  crm.mode = "drop-ack";
  const message = await json("POST", `/api/requests/${requestId}/messages`, { body: "The total looks wrong" }, emily);
  assert.equal(message.status, 201);
  await until("the message webhook", () => crm.events.some((e) => e.type === "message.sent"));
  const beforeMessage = String(Number(crm.events.find((e) => e.type === "message.sent").data.cursor) - 1);

  // An outage: what happens meanwhile waits in order.
  crm.mode = "down";
  for (const body of ["Any news?", "Still waiting"]) {
    assert.equal((await json("POST", `/api/requests/${requestId}/messages`, { body }, emily)).status, 201);
  }
  const waiting = await until("the push to notice the outage", async () => {
    const s = await (await json("GET", "/api/admin/outbox", undefined, admin)).json();
    return s.crm_webhook.last_error ? s : null;
  });
  assert.ok(waiting.crm_webhook.pending >= 2, JSON.stringify(waiting.crm_webhook));

  crm.mode = "up";
  const replay = await json("POST", "/api/admin/crm/events/replay", { after: beforeMessage }, admin);
  assert.equal(replay.status, 200, await replay.clone().text());
  await until("the events from the outage", () => crm.events.filter((e) => e.type === "message.sent").length === 3);

  const resent = crm.received.filter((d) => d.body.type === "message.sent").map((d) => d.id);
  assert.ok(resent.length > new Set(resent).size, "the first message was delivered more than once, always with one id");
  const feed = await (await worker.fetch("/api/crm/events?after=0&limit=200", { headers: { authorization: `Bearer ${worker.secrets.CRM_SYNC_TOKEN}` } })).json();
  assert.deepEqual(crm.events.map((e) => e.data.id), feed.items.map((i) => i.id), "the webhooks are the feed, in its order, nothing lost or doubled");
  assert.deepEqual(feed.items.map((i) => i.type), [
    "policy.company.updated", "link.created", "invitation.issued", "invitation.activated",
    "request.created", "message.sent", "message.sent", "message.sent",
  ]);
  const cursors = crm.events.map((e) => Number(e.data.cursor));
  assert.deepEqual(cursors, [...cursors].sort((a, b) => a - b));
});
