#!/usr/bin/env bash
# `make test-schema`: schemathesis (from PyPI, pinned) against /openapi.json of the release build
# running under `wrangler dev` with a fresh database (tests/e2e/harness.mjs). Three passes, each
# signed in by scripts/schemathesis_auth.py (and signed in again on a 401): the portal's operations
# as a client, the governance and CRM operations as an admin, then the operations that end the
# caller's session or change the sign-in rules. Fails on any 5xx and on any response off the document's schema.
#   SCHEMATHESIS_EXAMPLES=N   test cases per operation (default 20)
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
export EXAMPLES="${SCHEMATHESIS_EXAMPLES:-20}" SEED="${SCHEMATHESIS_SEED:-}"
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
  vars: { CRM_WEBHOOK_URL: `http://127.0.0.1:${sink.address().port}/crm` },
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
  await call("PUT", `/api/admin/companies/${ids.company}/policy`, {
    create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: true, calls: true, telegram: false, widget: false, allowed_pipelines: [ids.pipeline],
  }, adminToken);
  const link = await call("POST", "/api/admin/links", {
    user: { login: client.login, email: client.login, first_name: "Emily", last_name: "Carter" }, contact_id: ids.contact, company_ids: [ids.company], default_company_id: ids.company,
  }, adminToken);
  const invitation = await call("POST", `/api/admin/links/${link.id}/invitations`, {}, adminToken);
  await call("POST", "/api/invitations/activate", { token: invitation.activation_url.split("#")[1], password: client.password, refresh_transport: "body" });

  // Each pass signs in itself (scripts/schemathesis_auth.py) and signs in again when a call answers
  // 401, so a generated call that makes its token stale (a policy change) or ends its session does
  // not turn the rest of the pass into 401s. The operations that end the caller's own session, lock
  // its account or change the sign-in rules run last, in a pass of their own.
  const SESSION_ENDERS = "^/api/(auth/logout|admin/security|me/password|me/mfa/totp|me/mfa/totp/confirm|me/sessions/\\{id\\})$";
  const st = (name, who, filters) =>
    new Promise((resolve) => {
      const args = [
        "run", `${worker.url}/openapi.json`,
        "--checks", "not_a_server_error,response_schema_conformance",
        "--max-examples", process.env.EXAMPLES,
        "--workers", "2",
        "--request-timeout", "30",
        "--report", "junit", "--report-junit-path", `${process.env.OUT}/${name}.xml`,
        ...(process.env.SEED ? ["--seed", process.env.SEED] : []),
        ...filters,
      ];
      console.log(`schemathesis: ${name} pass`);
      const env = {
        ...process.env,
        SCHEMATHESIS_HOOKS: "schemathesis_auth",
        PYTHONPATH: process.env.SCRIPTS,
        ST_BASE: worker.url,
        ST_LOGIN: who.login,
        ST_PASSWORD: who.password,
        ST_STATS: `${process.env.OUT}/${name}.calls.jsonl`,
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
  const clientCode = await st("client", client, ["--exclude-path-regex", `^/api/admin/|^/api/crm/|^/webhooks/|${SESSION_ENDERS}`]);
  const adminCode = await st("admin", admin, ["--exclude-path-regex", `${CLIENT_ONLY}|${SESSION_ENDERS}`]);
  // No stateful phase: the links from these operations lead to ones the other passes cover.
  const endersCode = await st("session-enders", admin, ["--include-path-regex", SESSION_ENDERS, "--phases", "examples,coverage,fuzzing"]);
  code = adminCode || clientCode || endersCode;
  summarize(["client", "admin", "session-enders"]);
} catch (err) {
  console.error(`schemathesis: ${err.stack ?? err}`);
} finally {
  await worker.stop();
  sink.close();
}
/**
 * Per operation, where the generated calls ended: a 2xx, a refusal while reading the input (400
 * naming a field, 413, 415), by the guard (401, 403), not found (404: a generated id), by state
 * (409, 410, 403 policy_denied...) or a 5xx. "Reached the use case": a 2xx or a refusal by state.
 * Written to summary.json, the totals printed.
 */
function summarize(passes) {
  const ops = new Map();
  const totals = { calls: 0, ok: 0, parse: 0, guard: 0, not_found: 0, state: 0, server_error: 0, positive: 0, positive_reached: 0 };
  for (const name of passes) {
    let lines = [];
    try {
      lines = readFileSync(`${process.env.OUT}/${name}.calls.jsonl`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    } catch {
      continue;
    }
    for (const { operation, mode, outcome } of lines) {
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
  writeFileSync(`${process.env.OUT}/summary.json`, JSON.stringify({ totals, operations: Object.fromEntries(table) }, null, 2));
}

console.log(`schemathesis: ${code === 0 ? "no server error, every response on the schema" : "FAILED (see above)"}`);
process.exit(code);
EOF
