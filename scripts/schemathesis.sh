#!/usr/bin/env bash
# `make test-schema`: schemathesis (from PyPI, pinned) against /openapi.json of the release build
# running under `wrangler dev` with a fresh database (tests/e2e/harness.mjs), seeded the way a
# company would be (a CRM directory, clients, a request with a file, documents, invitations). Four
# passes, each signed in by scripts/schemathesis_hooks (and signed in again on a 401): the portal's
# operations as a client, the governance and CRM operations as an admin, then the operations that
# end the caller's session or change the sign-in rules, the employees and the webhooks, and last
# confirming a TOTP enrolment. The hooks put seeded or fresh objects where the generator would
# invent ids. Fails on any 5xx, any response off the document's schema, and the warnings that mean
# cases never reached the code (scripts/schemathesis.toml); prints where the calls ended.
#   SCHEMATHESIS_EXAMPLES=N   fuzzing cases per operation (default 40)
#   SCHEMATHESIS_SEED=N       a fixed seed, to replay a run
# Reports (JUnit) land in tests/e2e/.out/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

VERSION=4.32.5
VENV=target/schemathesis-venv
if [ "$("$VENV/bin/st" --version 2>/dev/null | awk '{print $NF}')" != "$VERSION" ]; then
  echo "schemathesis: installing $VERSION into $VENV (pip)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi
[ -f build/worker/shim.mjs ] || { echo "schemathesis: no build/; run \`make build\`" >&2; exit 1; }

export ST="$PWD/$VENV/bin/st" HARNESS="$PWD/tests/e2e/harness.mjs" OUT="$PWD/tests/e2e/.out/schemathesis" SCRIPTS="$PWD/scripts"
export EXAMPLES="${SCHEMATHESIS_EXAMPLES:-40}" SEED="${SCHEMATHESIS_SEED:-}"
mkdir -p "$OUT"

# The worker, an admin and a client with a link, then schemathesis; the worker stops whatever happens.
node --input-type=module - <<'EOF'
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const { startWorker } = await import(pathToFileURL(process.env.HARNESS).href);

// A CRM that takes every webhook, so the CRM routes (replay, push) run as configured.
const sink = createServer((req, res) => req.resume().on("end", () => res.writeHead(204).end()));
await new Promise((resolve) => sink.listen(0, "127.0.0.1", resolve));
const worker = await startWorker({
  label: "schemathesis",
  // Telegram linking on, its Bot API the same sink (deep links need the bot's name).
  vars: { CRM_WEBHOOK_URL: `http://127.0.0.1:${sink.address().port}/crm`, TELEGRAM_BOT_USERNAME: "schema_bot", TELEGRAM_API_BASE: `http://127.0.0.1:${sink.address().port}` },
  secrets: { CRM_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}` },
});
let code = 1;
try {
  const call = async (method, path, body, token) => {
    const res = await worker.fetch(path, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const admin = { login: "schema-admin", password: "ledger winter copper 42" };
  const client = { login: "schema-client@example.test", password: "aurora lights over fjords 9" };
  const ids = { company: randomUUID(), contact: randomUUID(), pipeline: randomUUID() };
  const crm = worker.secrets.CRM_SYNC_TOKEN;
  await call("POST", "/api/admin/bootstrap", { token: worker.secrets.BOOTSTRAP_TOKEN, ...admin, first_name: "Sam", last_name: "Schema" });
  const adminToken = (await call("POST", "/api/auth/login", { ...admin, refresh_transport: "body" })).access_token;
  await call("PUT", `/api/admin/companies/${ids.company}`, { name: "Northern Light" }, crm);
  await call("PUT", `/api/admin/contacts/${ids.contact}`, { first_name: "Emily", last_name: "Carter", email: client.login, company_ids: [ids.company] }, crm);
  await call("PUT", `/api/admin/pipelines/${ids.pipeline}`, { name: "Support", stages: [{ id: "new", name: "New", is_final: false }, { id: "done", name: "Done", is_final: true }] }, crm);
  ids.policy = {
    create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: true, calls: true, telegram: true, widget: true, allowed_pipelines: [ids.pipeline],
  };
  await call("PUT", `/api/admin/companies/${ids.company}/policy`, ids.policy, adminToken);
  const link = await call("POST", "/api/admin/links", {
    user: { login: client.login, email: client.login, first_name: "Emily", last_name: "Carter" }, contact_id: ids.contact, company_ids: [ids.company], default_company_id: ids.company,
  }, adminToken);
  const invitation = await call("POST", `/api/admin/links/${link.id}/invitations`, {}, adminToken);
  await call("POST", "/api/invitations/activate", { token: invitation.activation_url.split("#")[1], password: client.password, refresh_transport: "body" });
  const seeded = await seed({ call, admin, adminToken, client, ids, link, crm, worker });

  // Each pass signs in itself (scripts/schemathesis_hooks/auth.py) and signs in again when a call answers
  // 401, so a generated call that makes its token stale (a policy change) or ends its session does
  // not turn the rest of the pass into 401s. The last pass, without the stateful phase (whose links
  // could lead anywhere, the admin's own id among them): the operations that end the caller's own
  // session or change the sign-in rules, the employees (one could rename the signed-in admin), and
  // the webhooks (signed for a widget connection no other pass may revoke first).
  const LAST = "^/api/(auth/logout|admin/security|admin/employees/\\{id\\}|me/password|me/mfa/totp|me/sessions/\\{id\\})$|^/webhooks/";
  // Confirming a TOTP enrolment, as a client whose enrolment the seed started: after it, signing in
  // takes a code, which no other pass should have to give.
  const ENROL = "^/api/me/mfa/totp/confirm$";
  const st = (name, who, filters, extraEnv = {}) =>
    new Promise((resolve) => {
      const args = [
        "--config-file", `${process.env.SCRIPTS}/schemathesis.toml`,
        "run", `${worker.url}/openapi.json`,
        "--checks", "not_a_server_error,status_code_conformance,response_schema_conformance",
        "--max-examples", process.env.EXAMPLES,
        "--request-timeout", "30",
        "--report", "junit", "--report-junit-path", `${process.env.OUT}/${name}.xml`,
        ...(process.env.SEED ? ["--seed", process.env.SEED] : []),
        ...filters,
      ];
      if (!args.includes("--workers")) args.push("--workers", "2");
      console.log(`schemathesis: ${name} pass`);
      const env = {
        ...process.env,
        SCHEMATHESIS_HOOKS: "schemathesis_hooks",
        PYTHONPATH: process.env.SCRIPTS,
        ST_BASE: worker.url,
        ST_LOGIN: who.login,
        ST_PASSWORD: who.password,
        ST_STATS: `${process.env.OUT}/${name}.calls.jsonl`,
        ST_SEEDED: JSON.stringify(seeded),
        ST_TELEGRAM_SECRET: worker.secrets.TELEGRAM_WEBHOOK_SECRET,
        ...extraEnv,
      };
      rmSync(env.ST_STATS, { force: true });
      const child = spawn(process.env.ST, args, { stdio: "inherit", env });
      child.on("exit", (c) => resolve(c ?? 1));
    });
  // One regex a pass: schemathesis joins exclusions of different kinds with AND.
  // The portal's own routes (a client's token only) go to the client pass; the governance and CRM
  // routes to the admin pass.
  const CLIENT_ONLY = "^/api/(requests|calls|chat|documents|channels|pipelines)(/|$)";
  // The client pass first: the admin pass walks real ids now (links, documented bodies), and may
  // disable, revoke or block the very client the other pass signs in as.
  const clientCode = await st("client", client, ["--exclude-path-regex", `^/api/admin/|^/api/crm/|${LAST}|${ENROL}`]);
  const adminCode = await st("admin", admin, ["--exclude-path-regex", `${CLIENT_ONLY}|${LAST}|${ENROL}`]);
  // One worker: a password change and a sign-in must not cross.
  // The widget the last pass signs its webhook calls for, made now: the admin pass may have
  // blocked or unlinked any client made before it.
  const hook = await hookWidget({ call, ids, crm, admin });
  seeded.widgetSecret = hook.secret;
  seeded.paths["/webhooks/widget/{id}"] = [hook.id];
  const lastCode = await st("last", admin, ["--include-path-regex", LAST, "--phases", "examples,coverage,fuzzing", "--workers", "1"]);
  const enrolCode = await st("enrol", seeded.enrolling, ["--include-path-regex", ENROL, "--phases", "examples,coverage,fuzzing"], { ST_PENDING_TOTP: seeded.enrolling.secret });
  code = adminCode || clientCode || lastCode || enrolCode;
  summarize(["client", "admin", "last", "enrol"]);
} catch (err) {
  console.error(`schemathesis: ${err.stack ?? err}`);
} finally {
  await worker.stop();
  sink.close();
}
/**
 * What the run cannot create itself, made the way a company would (the CRM's directory, an
 * employee, a client's request with a message and a file, documents, a widget, pending
 * invitations, a second client that only signs in): `ids` maps a path up to a parameter (or a
 * body property name) to real values, which scripts/schemathesis_hooks/seed.py offers the generator
 * next to one well-formed id that exists nowhere.
 */
async function seed({ call, admin, adminToken, client, ids, link, crm, worker }) {
  const clientToken = (await call("POST", "/api/auth/login", { ...client, refresh_transport: "body" })).access_token;
  const managerId = randomUUID();
  await call("PUT", `/api/admin/employees/${managerId}`, { login: "schema-manager", email: "manager@vector.example", first_name: "Max", last_name: "Manager", role: "manager", company_ids: [ids.company] }, adminToken);
  // A second company for the directory and policy operations to change as they like: the first
  // one's policy must keep allowing what the other passes and the fresh objects need.
  const company2 = randomUUID();
  await call("PUT", `/api/admin/companies/${company2}`, { name: "Southern Cross" }, crm);
  // Likewise a second pipeline for the pipeline upsert (which may archive it).
  const pipeline2 = randomUUID();
  await call("PUT", `/api/admin/pipelines/${pipeline2}`, { name: "Billing", stages: [{ id: "new", name: "New", is_final: false }, { id: "done", name: "Done", is_final: true }] }, crm);
  const request = await call("POST", "/api/requests", { company_id: ids.company, pipeline_id: ids.pipeline, title: "Leaking roof", description: "Since Monday" }, clientToken);
  await call("POST", `/api/requests/${request.id}/messages`, { body: "Any news?" }, clientToken);
  const file = { file_name: "note.txt", content_type: "text/plain", content_base64: Buffer.from("a note").toString("base64") };
  const attachment = await call("POST", `/api/requests/${request.id}/attachments`, file, clientToken);
  const document = await call("POST", "/api/admin/documents", { company_id: ids.company, title: "Contract", content_type: "text/plain", content_base64: file.content_base64 }, adminToken);
  await call("POST", `/api/admin/documents/${document.id}/publish`, { required_action: "review" }, adminToken);
  const draft = await call("POST", "/api/admin/documents", { company_id: ids.company, title: "Draft", content_type: "text/plain", content_base64: file.content_base64 }, adminToken);
  // More clients: ada whose link the link operations may change or end, ben whose link takes the
  // fresh invitations (scripts/schemathesis_hooks/seed.py makes them), dee who signs in as
  // the login operation's example (a wrong password there locks nobody the run needs), eve whose
  // pending invitation the preview reads. Only Emily's and ada's links are offered to the
  // operations that change or end links.
  const people = {};
  for (const name of ["ada", "ben", "dee", "eve", "fay"]) people[name] = await invitedClient({ call, ids, crm, adminToken, name });
  for (const name of ["dee", "fay"]) {
    await call("POST", "/api/invitations/activate", { token: people[name].token, password: people[name].password, refresh_transport: "body" });
  }
  // fay has started a TOTP enrolment: the enrolment pass confirms it (with the secret's code).
  const fay = { login: people.fay.login, password: people.fay.password };
  const fayToken = (await call("POST", "/api/auth/login", { ...fay, refresh_transport: "body" })).access_token;
  const enrolment = await call("POST", "/api/me/mfa/totp", { current_password: fay.password }, fayToken);
  const me = await call("GET", "/api/me", undefined, clientToken);
  const requestIds = [request.id];
  const FRESH = "fresh";
  return {
    company: ids.company,
    policy: ids.policy,
    bootstrap: worker.secrets.BOOTSTRAP_TOKEN,
    query: { company: [ids.company] },
    invitee_link: people.ben.link,
    accounts: { admin },
    login: { login: people.dee.login, password: people.dee.password },
    paths: {
      "/api/admin/companies/{id}": [company2],
      "/api/admin/contacts/{id}": [ids.contact, people.ada.contact],
      "/api/admin/pipelines/{id}": [pipeline2],
      "/api/admin/users/{id}": [me.user.id, managerId],
      "/api/admin/employees/{id}": [managerId],
      "/api/admin/links/{id}": [link.id, people.ada.link],
      "/api/admin/invitations/{id}": [people.ada.invitation],
      "POST /api/admin/invitations/{id}/revoke": [FRESH],
      "/api/admin/documents/{id}": [document.id, draft.id],
      "/api/admin/requests/{id}": requestIds,
      "/api/admin/requests/{id}/attachments/{aid}": [attachment.id],
      "POST /api/admin/channel-links/{id}/revoke": [FRESH],
      "/api/requests/{id}": requestIds,
      "/api/requests/{id}/attachments/{aid}": [attachment.id],
      "/api/documents/{id}": [document.id],
      "POST /api/documents/{id}/actions": [FRESH],
      "DELETE /api/channels/{id}": [FRESH],
      "POST /api/channels/{id}/rotate": [FRESH],
      "DELETE /api/me/sessions/{id}": [FRESH],
    },
    properties: {
      company_id: [ids.company],
      default_company_id: [ids.company],
      company_ids: [ids.company],
      contact_id: [ids.contact, people.ada.contact],
      pipeline_id: [ids.pipeline],
      allowed_pipelines: [ids.pipeline],
      request_id: requestIds,
      responsible_id: [managerId],
    },
    tokens: [people.eve.token],
    enrolling: { ...fay, secret: enrolment.secret },
  };
}

/**
 * A new client of the first company, the way the console makes one: a contact from the CRM, a link
 * through the wizard and a pending invitation (its token, and the password to activate it with).
 */
async function invitedClient({ call, ids, crm, adminToken, name }) {
  const contact = randomUUID();
  const login = `schema-${name}@example.test`;
  await call("PUT", `/api/admin/contacts/${contact}`, { first_name: name, last_name: "Tester", email: login, company_ids: [ids.company] }, crm);
  const made = await call("POST", "/api/admin/links", { user: { login, email: login, first_name: name, last_name: "Tester" }, contact_id: contact, company_ids: [ids.company], default_company_id: ids.company }, adminToken);
  const inv = await call("POST", `/api/admin/links/${made.id}/invitations`, {}, adminToken);
  return { contact, link: made.id, invitation: inv.id, token: inv.activation_url.split("#")[1], login, password: "violet harbour lanterns 12" };
}

/** A new client with a widget connection: its id and signing secret for the webhook calls. */
async function hookWidget({ call, ids, crm, admin }) {
  const adminToken = (await call("POST", "/api/auth/login", { ...admin, refresh_transport: "body" })).access_token;
  // The stateful phase may have walked to the first company's policy: the seed's again.
  await call("PUT", `/api/admin/companies/${ids.company}/policy`, ids.policy, adminToken);
  const hooks = await invitedClient({ call, ids, crm, adminToken, name: "hooks" });
  const session = await call("POST", "/api/invitations/activate", { token: hooks.token, password: hooks.password, refresh_transport: "body" });
  const widget = await call("POST", "/api/channels/widget", { company_id: ids.company }, session.access_token);
  return { id: widget.id, secret: widget.signing_secret };
}

/**
 * Per operation, where the generated calls ended: a 2xx, a refusal while reading the input (400
 * naming a field, 413, 415), by the guard (401, 403), not found (404: a generated id), by state
 * (409, 410, 403 policy_denied...) or a 5xx. "Reached the use case": a 2xx or a refusal by state.
 * Written to summary.json, the totals printed.
 */
function summarize(passes) {
  const ops = new Map();
  // Schema-valid calls the handler still refused while reading them: where document and code disagree.
  const refusals = new Map();
  const totals = { calls: 0, ok: 0, parse: 0, guard: 0, not_found: 0, state: 0, server_error: 0, positive: 0, positive_reached: 0 };
  for (const name of passes) {
    let lines = [];
    try {
      lines = readFileSync(`${process.env.OUT}/${name}.calls.jsonl`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    } catch {
      continue;
    }
    for (const { operation, mode, outcome, reason } of lines) {
      if (mode === "positive" && outcome === "parse") {
        // Grouped by operation, code and field; one message shown as the example.
        const key = `${operation} ${String(reason).split(":")[0]}`;
        const seen = refusals.get(key) ?? { n: 0, example: reason };
        refusals.set(key, { ...seen, n: seen.n + 1 });
      }
      const row = ops.get(operation) ?? { calls: 0, ok: 0, parse: 0, guard: 0, not_found: 0, state: 0, server_error: 0 };
      row.calls += 1;
      row[outcome] += 1;
      ops.set(operation, row);
      totals.calls += 1;
      totals[outcome] += 1;
      if (mode === "positive") {
        totals.positive += 1;
        if (outcome === "ok" || outcome === "state") totals.positive_reached += 1;
      }
    }
  }
  const table = [...ops.entries()].sort(([a], [b]) => a.localeCompare(b));
  const cols = ["ok", "parse", "guard", "not_found", "state", "server_error"];
  console.log(`schemathesis: calls per operation (${cols.join(" / ")}):`);
  for (const [op, r] of table) console.log(`  ${op.padEnd(58)} ${cols.map((c) => String(r[c]).padStart(5)).join("")}`);
  const pct = (n, d) => (d ? `${Math.round((100 * n) / d)}%` : "-");
  const reached = totals.ok + totals.state;
  console.log(`schemathesis: ${totals.calls} calls: ${totals.ok} 2xx, ${totals.parse} refused reading the input, ${totals.guard} by the guard, ${totals.not_found} not found, ${totals.state} by state, ${totals.server_error} 5xx; reached the use case (2xx or refused by state): ${pct(reached, totals.calls)} of all, ${pct(totals.positive_reached, totals.positive)} of the ${totals.positive} schema-valid ones`);
  const top = [...refusals.entries()].sort((a, b) => b[1].n - a[1].n).slice(0, 5);
  if (top.length) console.log(`schemathesis: schema-valid calls refused reading the input, most often:\n${top.map(([key, { n, example }]) => `  ${String(n).padStart(4)} ${key} (e.g. "${example.split(": ").slice(1).join(": ")}")`).join("\n")}`);
  writeFileSync(`${process.env.OUT}/summary.json`, JSON.stringify({ totals, operations: Object.fromEntries(table) }, null, 2));
}

console.log(`schemathesis: ${code === 0 ? "no server error, every response on the schema, no warning" : "FAILED (see above)"}`);
process.exit(code);
EOF
