#!/usr/bin/env node
// The HTTP benchmark (`make bench` runs it after the argon2 and size figures; see scripts/bench.sh).
// It serves three things side by side under `wrangler dev` (workerd, local D1), each from a snapshot
// of its build so a rebuild meanwhile cannot reload it:
//   - the control (bench/control): the smallest workers-rs worker on the same `worker` crate, tools
//     and compatibility date; `/health` does nothing, `/floor` runs one D1 `SELECT 1`. It is the
//     yardstick: every budget is a ratio against it, measured in the same round;
//   - the project's release build, with its own database: 16 client accounts created through the
//     API, requests inserted in bulk; each route driven by wrk (Debian's `wrk`, a closed loop of C
//     connections for a fixed time) at concurrency 1 and 16, the list at 1,000, 10,000 and 100,000
//     requests in the database;
//   - the ablation build (the same code with the cargo feature `ablation`, target/ablation-build),
//     served once per stage of the request path with `ABLATION_RETURN_AT` telling it where to answer:
//     the difference between neighbouring stages is what that part of the path costs (`/health`).
// Control, project and routes run in interleaved rounds, and each ratio is taken within a round: a
// neighbour's burst of load then moves both sides of a ratio, not one. It prints p50, p99 and
// throughput per route, the ratios, D1 round trips per request (from Server-Timing), login against a
// bare argon2id verify, the wasm instantiation time, the ablation table and the budgets of DESIGN.md.
//   node scripts/bench.mjs [--duration S] [--rounds N] [--sizes 1000,10000,100000] [--native-verify-ms X]
//     [--wasm-verify-ms Y] [--jwt-verify-ms Z] [--page-cpu-ms P] [--from .bench/last.json]
//     [--upload "<wrangler's Total Upload line>"] [--twiggy FILE] [--no-ablation] [--readme]
// --readme replaces the "## Performance" section of README.md with the results.
import { spawn, execFile } from "node:child_process";
import { cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { randomUUID } from "node:crypto";
import { formatDevVars, generateSecrets } from "./gen-dev-vars.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const run = promisify(execFile);

const args = parseArgs(process.argv.slice(2));
const DURATION = Number(args.duration ?? 5);
const ROUNDS = Number(args.rounds ?? 3);
const SIZES = String(args.sizes ?? "1000,10000,100000").split(",").map(Number);
const CONCURRENCY = [1, 16];
const CLIENTS = 16;
const nativeVerify = Number(args["native-verify-ms"]) || null;
const wasmVerify = Number(args["wasm-verify-ms"]) || null;
const jwtVerify = Number(args["jwt-verify-ms"]) || null;
// 0 is a real figure here (a remembered signature costs next to nothing at this clock's resolution).
const jwtRemembered = args["jwt-remembered-ms"] === undefined ? null : Number(args["jwt-remembered-ms"]);
const pageCpu = Number(args["page-cpu-ms"]) || null;
const upload = args.upload ?? null;
const twiggy = args.twiggy && existsSync(args.twiggy) ? readFileSync(args.twiggy, "utf8").trim() : null;
const ABLATION = !args["no-ablation"] && existsSync(join(ROOT, "target", "ablation-build", "worker", "shim.mjs"));

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const name = argv[i].slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[name] = true;
    else out[name] = argv[++i];
  }
  return out;
}

const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
const fmt = (x, d = 1) => (x == null || Number.isNaN(x) ? "-" : x.toFixed(d));
const median = (xs) => {
  const v = xs.filter((x) => x != null && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

// ---------------------------------------------------------------------------------------------
// The worker under test
// ---------------------------------------------------------------------------------------------

// `--from FILE` reports the raw results of an earlier run (.bench/last.json) again, measuring nothing.
const replay = args.from ? JSON.parse(readFileSync(args.from, "utf8")) : null;
const runDir = join(ROOT, ".bench", new Date().toISOString().replace(/[:.]/g, "-"));
const stateDir = join(runDir, "state");
const envFile = join(runDir, "dev.vars");
let configFile = null;
let secrets = null;
// Each served build: its config file, its database directory and the vars it starts with.
let project = null;
let controlSpec = null;
let ablationSpec = null;
let controlAssetsSpec = null;
if (!replay) {
  mkdirSync(runDir, { recursive: true });
  configFile = writeBenchConfig(join(ROOT, "build"), runDir);
  secrets = generateSecrets();
  writeFileSync(envFile, formatDevVars(secrets), { mode: 0o600 });
  project = { name: "project", config: configFile, state: stateDir, envFile };
  controlSpec = { name: "control", config: writeControlConfig("control"), state: join(runDir, "control", "state") };
  controlAssetsSpec = { name: "control-assets", config: writeControlConfig("control-assets", { assets: true }), state: join(runDir, "control-assets", "state") };
  if (ABLATION) {
    const dir = join(runDir, "ablation");
    mkdirSync(dir, { recursive: true });
    ablationSpec = { name: "ablation", config: writeBenchConfig(join(ROOT, "target", "ablation-build"), dir), envFile };
  }
}

/** wrangler.toml without the [build] step (so nothing watches src/ or rebuilds), pointing at a copy of `build`. */
function writeBenchConfig(build, dir) {
  if (!existsSync(join(build, "worker", "shim.mjs"))) throw new Error(`no ${build}: run \`make build\` first`);
  cpSync(build, join(dir, "build"), { recursive: true });
  let toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  toml = toml.replace(/^\[build\][^[]*/m, "");
  toml = toml.replace(/^migrations_dir = .*$/m, `migrations_dir = ${JSON.stringify(join(ROOT, "migrations"))}`);
  toml = toml.replace(/^directory = "public"$/m, `directory = ${JSON.stringify(join(ROOT, "public"))}`);
  const file = join(dir, "wrangler.toml");
  writeFileSync(file, toml);
  return file;
}

/** The control's config and build (scripts/build-control.sh), after checking it runs on the project's compatibility date. */
function writeControlConfig(name, { assets = false } = {}) {
  const src = join(ROOT, "bench", "control");
  if (!existsSync(join(src, "build", "worker", "shim.mjs"))) throw new Error("no bench/control/build: run scripts/build-control.sh first");
  const date = (file) => /^compatibility_date = "(.*)"$/m.exec(readFileSync(file, "utf8"))?.[1];
  if (date(join(src, "wrangler.toml")) !== date(join(ROOT, "wrangler.toml"))) {
    throw new Error("bench/control/wrangler.toml and wrangler.toml name different compatibility dates");
  }
  const dir = join(runDir, name);
  mkdirSync(dir, { recursive: true });
  cpSync(join(src, "build"), join(dir, "build"), { recursive: true });
  let toml = readFileSync(join(src, "wrangler.toml"), "utf8");
  if (assets) {
    // The project's own [assets] section, the directory made absolute.
    const section = /^\[assets\]\n(?:(?!\[)[^\n]*\n)*/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))?.[0];
    if (!section) throw new Error("wrangler.toml has no [assets] section");
    toml += "\n" + section.replace(/^directory = "public"$/m, `directory = ${JSON.stringify(join(ROOT, "public"))}`);
  }
  writeFileSync(join(dir, "wrangler.toml"), toml);
  return join(dir, "wrangler.toml");
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function d1(...extra) {
  return run(WRANGLER, ["d1", ...extra, "DB", "--local", "--persist-to", stateDir, "--config", configFile], {
    cwd: runDir,
    env: ENV,
    maxBuffer: 64 * 1024 * 1024,
  });
}

let worker = null;

/** Starts `wrangler dev` for one served build in its own process group and waits for /health. */
async function startWorker(spec = project, vars = {}) {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const label = [spec.name, ...Object.values(vars)].join("-");
  const out = createWriteStream(join(runDir, `wrangler-${label}.log`), { flags: "a" });
  const child = spawn(
    WRANGLER,
    ["dev", "--config", spec.config, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--persist-to", spec.state ?? join(runDir, `state-${label}`), ...(spec.envFile ? ["--env-file", spec.envFile] : []),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      "--show-interactive-dev-session=false", "--log-level", "warn"],
    { cwd: runDir, env: ENV, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise((r) => child.once("exit", r));
  let running = true;
  exited.then(() => (running = false));
  const kill = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = () => kill("SIGKILL");
  process.once("exit", onExit);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!running) throw new Error(`wrangler dev exited; see ${join(runDir, `wrangler-${label}.log`)}`);
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer /health; see ${join(runDir, `wrangler-${label}.log`)}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    fetch: (path, init) => fetch(new URL(path, url), { redirect: "manual", ...init }),
    stop: async () => {
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 5000);
      if (running) await exited;
      clearTimeout(timer);
      kill("SIGKILL");
      process.removeListener("exit", onExit);
      out.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Data: 16 client accounts created through the API, requests inserted in bulk by SQL
// ---------------------------------------------------------------------------------------------

let ipCounter = 0;
// Each setup call comes from its own address, so the per-IP login throttle never answers 429 here.
const nextIp = () => `10.200.${(ipCounter >> 8) & 255}.${ipCounter++ & 255}`;

async function call(method, path, body, token) {
  const res = await worker.fetch(path, {
    method,
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": nextIp(),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

const ids = { company: randomUUID(), pipeline: randomUUID() };
const admin = { login: "bench-admin", password: "ledger winter copper 42" };
const clients = Array.from({ length: CLIENTS }, (_, i) => ({
  contact: randomUUID(),
  login: `bench-client-${i}@bench.example`,
  password: `aurora lights over fjords ${i} bench`,
}));

async function createAccounts() {
  await call("POST", "/api/admin/bootstrap", { token: secrets.BOOTSTRAP_TOKEN, ...admin, first_name: "Bench", last_name: "Admin" });
  const adminToken = (await call("POST", "/api/auth/login", { ...admin, refresh_transport: "body" })).access_token;
  const crm = secrets.CRM_SYNC_TOKEN;
  await call("PUT", `/api/admin/companies/${ids.company}`, { name: "Northern Light" }, crm);
  await call("PUT", `/api/admin/pipelines/${ids.pipeline}`, {
    name: "Support",
    stages: [{ id: "new", name: "New", is_final: false }, { id: "done", name: "Done", is_final: true }],
  }, crm);
  await call("PUT", `/api/admin/companies/${ids.company}/policy`, {
    create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: true, calls: false,
    telegram: false, widget: false, allowed_pipelines: [ids.pipeline],
  }, adminToken);
  for (const [i, c] of clients.entries()) {
    await call("PUT", `/api/admin/contacts/${c.contact}`, {
      first_name: "Client", last_name: `Number ${i}`, email: c.login, company_ids: [ids.company],
    }, crm);
    const link = await call("POST", "/api/admin/links", {
      user: { login: c.login, email: c.login, first_name: "Client", last_name: `Number ${i}` },
      contact_id: c.contact, company_ids: [ids.company], default_company_id: ids.company,
    }, adminToken);
    const invitation = await call("POST", `/api/admin/links/${link.id}/invitations`, {}, adminToken);
    const token = invitation.activation_url.split("#")[1];
    const session = await call("POST", "/api/invitations/activate", { token, password: c.password, refresh_transport: "body" });
    c.userId = session.user.id;
  }
}

let seeded = 0;
/** Inserts requests up to `total` in the clients' company and pipeline (newest first in time). */
async function seedRequestsTo(total) {
  if (total <= seeded) return;
  const chunk = 20_000;
  const statements = [];
  const now = Math.floor(Date.now() / 1000);
  for (let from = seeded + 1; from <= total; from += chunk) {
    const to = Math.min(total, from + chunk - 1);
    // ids are UUID-shaped (the API parses them), unique per row; a third of the requests are done.
    statements.push(
      `WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to}) ` +
        "INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, description, fields, created_by, created_at, updated_at) " +
        `SELECT printf('00000000-0000-7000-8000-%012d', i), '${ids.company}', '${ids.pipeline}', ` +
        "CASE WHEN i % 3 = 0 THEN 'done' ELSE 'new' END, 'Benchmark request ' || i, 'Seeded for the benchmark.', '{}', " +
        `'${clients[0].userId}', ${now - 86_400} - i, ${now - 86_400} - i FROM n;`,
    );
  }
  const file = join(runDir, `seed-${total}.sql`);
  writeFileSync(file, statements.join("\n") + "\n");
  // workerd holds the database open: stop it, write, start again (sessions persist in D1).
  await worker.stop();
  const started = performance.now();
  await d1("execute", "--file", file);
  log(`seeded ${total - seeded} requests in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  seeded = total;
  worker = await startWorker();
}

// ---------------------------------------------------------------------------------------------
// Load: wrk with a generated Lua script per route
// ---------------------------------------------------------------------------------------------

const lua = (s) => JSON.stringify(String(s));
const threadsFor = (c) => Math.min(c, 2);

/** The Lua script: fixed request (static), or a per-thread pool of refresh tokens or accounts. */
function wrkScript({ method, path, headers = {}, body = null, mode = "static", items = [], threads }) {
  const lines = [
    `wrk.method = ${lua(method)}`,
    `wrk.path = ${lua(path)}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
    body === null ? "" : `wrk.body = ${lua(body)}`,
    `local nthreads = ${threads}`,
    "local next_tid, threads = 0, {}",
    "function setup(thread) thread:set('tid', next_tid); next_tid = next_tid + 1; table.insert(threads, thread) end",
    // Non-2xx statuses by code (dynamic scripts only: a response() callback slows wrk down).
    "local seen = {}",
    // wrk calls request() once on thread 0's state before the run, only to check the script: that
    // call must not take a token or an account from the pool.
    "local verified = false",
    "local function count(status) if status >= 300 then seen[status] = (seen[status] or 0) + 1; local s = ''; for k, v in pairs(seen) do s = s .. k .. '=' .. v .. ' ' end; statuses = s end end",
  ];
  if (mode === "refresh") {
    lines.push(
      `local items = { ${items.map(lua).join(", ")} }`,
      "local pool = {}",
      "function init(args) for i = 1, #items do if (i - 1) % nthreads == tid then table.insert(pool, items[i]) end end end",
      // Each connection takes a token, and the response's successor goes back: one rotation per token at a time.
      "function request()",
      "  if not verified then verified = true; if tid == 0 then return wrk.format() end end",
      "  local t = table.remove(pool) or 'exhausted.exhausted'",
      "  return wrk.format('POST', '/api/auth/refresh', {['content-type'] = 'application/json'}, '{\"refresh_token\":\"' .. t .. '\",\"refresh_transport\":\"body\"}')",
      "end",
      "function response(status, headers, body)",
      "  count(status)",
      "  local t = string.match(body, '\"refresh_token\":\"([^\"]+)\"')",
      "  if status == 200 and t then table.insert(pool, t) end",
      "end",
    );
  } else if (mode === "login") {
    lines.push(
      `local items = { ${items.map(([l, p]) => `{${lua(l)}, ${lua(p)}}`).join(", ")} }`,
      "local pool, mine, by_login, counter = {}, {}, {}, 0",
      "function init(args)",
      "  for i = 1, #items do if (i - 1) % nthreads == tid then table.insert(pool, items[i]); table.insert(mine, items[i]); by_login[items[i][1]] = items[i] end end",
      "end",
      // One account per in-flight login (concurrent claims on one account would lock it, by design),
      // and a new client address per request (the per-IP throttle allows 20 a minute).
      "function request()",
      "  if not verified then verified = true; if tid == 0 then return wrk.format() end end",
      "  counter = counter + 1",
      "  local a = table.remove(pool, 1) or mine[(counter % #mine) + 1]",
      "  local ip = string.format('10.%d.%d.%d', 100 + tid, math.floor(counter / 256) % 256, counter % 256)",
      "  return wrk.format('POST', '/api/auth/login', {['content-type'] = 'application/json', ['cf-connecting-ip'] = ip},",
      "    '{\"login\":\"' .. a[1] .. '\",\"password\":\"' .. a[2] .. '\",\"refresh_transport\":\"body\"}')",
      "end",
      "function response(status, headers, body)",
      "  count(status)",
      "  local l = string.match(body, '\"login\":\"([^\"]+)\"')",
      "  if l and by_login[l] then table.insert(pool, by_login[l]) end",
      "end",
    );
  }
  lines.push(
    "function done(summary, latency, requests)",
    "  local e = summary.errors",
    "  for _, t in ipairs(threads) do local s = t:get('statuses'); if s then io.write('WRKSTATUS ' .. s .. '\\n') end end",
    "  io.write(string.format('WRKJSON {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p99_us\":%d,\"status_errors\":%d,\"socket_errors\":%d}\\n',",
    "    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))",
    "end",
  );
  return lines.join("\n") + "\n";
}

let scriptCounter = 0;
async function wrk(spec, concurrency, seconds = DURATION, target = worker) {
  const threads = threadsFor(concurrency);
  const file = join(runDir, `wrk-${scriptCounter++}.lua`);
  writeFileSync(file, wrkScript({ ...spec, threads }));
  const { stdout } = await run("wrk", ["-t", String(threads), "-c", String(concurrency), "-d", `${seconds}s`, "--timeout", "10s", "-s", file, target.url], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(line.slice(8));
  const statuses = stdout.split("\n").filter((l) => l.startsWith("WRKSTATUS ")).map((l) => l.slice(10).trim()).join(" ");
  if (statuses) log(`${spec.method} ${spec.path} c=${concurrency} (${target.url}): statuses other than 2xx: ${statuses}`);
  return {
    p50: r.p50_us / 1000,
    p99: r.p99_us / 1000,
    rps: r.requests / (r.duration_us / 1e6),
    n: r.requests,
    errors: r.status_errors + r.socket_errors,
  };
}

/**
 * What one request costs as the worker itself sees it, from its Server-Timing
 * (`total;dur=..., db;dur=..;desc="N queries"`): D1 round trips, and over 21 sequential requests the
 * median worker time and the median time spent awaiting D1 (workerd's clock only moves across I/O,
 * so these are whole milliseconds at best). Null fields when the route sends no Server-Timing.
 */
async function serverTiming(spec) {
  const totals = [];
  const dbs = [];
  let queries = null;
  for (let i = 0; i < 21; i++) {
    const res = await worker.fetch(spec.path, { method: spec.method, headers: spec.headers, body: spec.body ?? undefined });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${spec.method} ${spec.path} answered ${res.status} before the run`);
    const header = res.headers.get("server-timing") ?? "";
    const q = /"(\d+) queries"/.exec(header);
    if (!q) return { queries: null, workerMs: null, dbMs: null };
    queries = Number(q[1]);
    totals.push(Number(/total;dur=([\d.]+)/.exec(header)?.[1] ?? NaN));
    dbs.push(Number(/db;dur=([\d.]+)/.exec(header)?.[1] ?? NaN));
  }
  return { queries, workerMs: median(totals), dbMs: median(dbs) };
}

// ---------------------------------------------------------------------------------------------
// The wasm instantiation time, in workerd itself (node 20's V8 cannot compile this module: it uses
// wasm exception handling). `workerd test` runs a worker that imports build/index_bg.wasm and
// instantiates it (imports stubbed, the exception tag is WebAssembly.JSTag, as the glue passes);
// the cost is that run's wall time minus the same run of an empty worker, over 7 pairs: the best
// pair (the least disturbed by other load on the machine) and the median.
// workerd also reports the test handler's own time: the instantiation alone.
// ---------------------------------------------------------------------------------------------

async function wasmInstantiation() {
  const dir = join(runDir, "wasm-probe");
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, "build", "index_bg.wasm"), join(dir, "index_bg.wasm"));
  writeFileSync(join(dir, "main.js"), [
    'import wasm from "./index_bg.wasm";',
    "export default { async test() {",
    "  const imports = {};",
    "  for (const imp of WebAssembly.Module.imports(wasm)) {",
    '    (imports[imp.module] ??= {})[imp.name] = imp.kind === "tag" ? WebAssembly.JSTag : () => { throw new Error("stub"); };',
    "  }",
    "  new WebAssembly.Instance(wasm, imports);",
    "} };",
  ].join("\n"));
  writeFileSync(join(dir, "empty.js"), "export default { async test() {} };\n");
  const capnp = (modules) =>
    `using Workerd = import "/workerd/workerd.capnp";\nconst config :Workerd.Config = ( services = [ (name = "main", worker = .w) ] );\n` +
    `const w :Workerd.Worker = ( modules = [ ${modules} ], compatibilityDate = "2026-04-01" );\n`;
  writeFileSync(join(dir, "wasm.capnp"), capnp('(name = "main.js", esModule = embed "main.js"), (name = "index_bg.wasm", wasm = embed "index_bg.wasm")'));
  writeFileSync(join(dir, "empty.capnp"), capnp('(name = "main.js", esModule = embed "empty.js")'));
  const wd = await import("workerd");
  const bin = wd.default?.default ?? wd.default;
  const time = async (config) => {
    const t = performance.now();
    const { stderr } = await run(bin, ["test", config], { cwd: dir });
    const ms = performance.now() - t;
    const own = /PASS \] main \(([\d.]+)(μs|ms)\)/.exec(stderr);
    return { ms, handler: own ? Number(own[1]) / (own[2] === "μs" ? 1000 : 1) : NaN };
  };
  const diffs = [];
  const handlers = [];
  for (let i = 0; i < 7; i++) {
    const empty = await time("empty.capnp");
    const wasm = await time("wasm.capnp");
    diffs.push(wasm.ms - empty.ms);
    handlers.push(wasm.handler);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const bytes = readFileSync(join(ROOT, "build", "index_bg.wasm")).length;
  return { startup: Math.min(...diffs), startupMedian: median(diffs), instantiate: median(handlers), bytes, workerd: wd.default?.version ?? "?" };
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

const results = [];
const record = (route, rows, c, round, r, timing) => {
  results.push({ route, rows, c, round, ...timing, ...r });
  log(`${route}${rows ? ` (${rows} requests)` : ""} c=${c} round ${round + 1}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.rps.toFixed(0)} req/s, ${r.errors} errors`);
};
// The stages of the ablation table, in the order of the request path (src/edge/ablation.rs).
const STAGES = [
  { key: "control", what: "the control's /health: the runtime, the glue and workers-rs, no work" },
  { key: "control+assets", what: "the control with the project's [assets] section (run_worker_first): the static-asset router in front of the worker" },
  { key: "entry", what: "this module, answering at the first line of its fetch handler", vars: { ABLATION_RETURN_AT: "entry" } },
  { key: "request", what: "+ the request read and converted (URL, config, route lookup, body, headers)", vars: { ABLATION_RETURN_AT: "request" } },
  { key: "ports", what: "+ the ports built from the bindings (D1, KV, rate limiter)", vars: { ABLATION_RETURN_AT: "ports" } },
  { key: "handle", what: "+ http::handle (route, request id, handler, Server-Timing, security headers)", vars: { ABLATION_RETURN_AT: "handle" } },
  { key: "full", what: "+ the response converted: the whole path, access log off (the default)", vars: { ACCESS_LOG: "off" } },
  { key: "full+log", what: "+ one access-log line per request (ACCESS_LOG=on)", vars: { ACCESS_LOG: "on" } },
  { key: "release", what: "the release build (no ablation points), access log off: should match \"full\"" },
];
const ablation = replay?.ablation ?? [];

const started = replay ? new Date(replay.started) : new Date();
let failure = null;
let control = null;
const variants = [];
if (replay) results.push(...replay.results);
else try {
  await d1("migrations", "apply");
  worker = await startWorker();
  control = await startWorker(controlSpec);
  log("creating the admin, a company, a pipeline and 16 client accounts (16 activations)");
  await createAccounts();
  await seedRequestsTo(SIZES[0]);

  const bearer = async () => {
    const s = await call("POST", "/api/auth/login", { login: clients[0].login, password: clients[0].password, refresh_transport: "body" });
    return { authorization: `Bearer ${s.access_token}` };
  };
  const health = { method: "GET", path: "/health" };
  const floor = { method: "GET", path: "/floor" };
  const deep = { method: "GET", path: "/health?deep=1" };
  const requestsSpec = (headers) => ({ method: "GET", path: "/api/requests", headers });
  // Each round runs the control and the routes one after the other, and the ratios are taken
  // within a round: a neighbour's burst of load then moves both sides of a ratio, not one.
  const rounds = async (c, rows, routes) => {
    for (let round = 0; round < ROUNDS; round++) {
      if (rows === null) {
        record("control GET /health", null, c, round, await wrk(health, c, DURATION, control), { queries: 0 });
        record("GET /health", null, c, round, await wrk(health, c), await serverTiming(health));
      }
      record("control GET /floor", rows, c, round, await wrk(floor, c, DURATION, control), { queries: 1 });
      record("GET /health?deep=1", rows, c, round, await wrk(deep, c), await serverTiming(deep));
      for (const [name, make] of routes) {
        // Access tokens live 10 minutes: a fresh one per route and round.
        const spec = make(await bearer());
        record(name, rows, c, round, await wrk(spec, c), await serverTiming(spec));
      }
    }
  };

  // A short warm-up of both, so the first measured route does not pay for V8's tier-up.
  await wrk(deep, 16, 2);
  await wrk(floor, 16, 2, control);
  for (const c of CONCURRENCY) {
    await rounds(c, null, [
      ["GET /api/me", (headers) => ({ method: "GET", path: "/api/me", headers })],
      ["GET /api/requests", requestsSpec],
    ]);
    const tokens = [];
    for (let i = 0; i < CLIENTS; i++) {
      tokens.push((await call("POST", "/api/auth/login", { login: clients[i].login, password: clients[i].password, refresh_transport: "body" })).refresh_token);
    }
    record("POST /api/auth/refresh", null, c, 0, await wrk({ method: "POST", path: "/api/auth/refresh", mode: "refresh", items: tokens }, c), {});
    const accounts = clients.map((x) => [x.login, x.password]);
    record("POST /api/auth/login", null, c, 0, await wrk({ method: "POST", path: "/api/auth/login", mode: "login", items: accounts }, c), {});
  }
  // The first size's list ran in the rounds above (with rows = null for its floor): label it.
  for (const r of results) if (r.route === "GET /api/requests") r.rows = SIZES[0];
  for (const size of SIZES.slice(1)) {
    await seedRequestsTo(size);
    await wrk(deep, 16, 2);
    for (const c of CONCURRENCY) await rounds(c, size, [["GET /api/requests", requestsSpec]]);
  }

  // The ablation: every stage served at once, /health driven in interleaved rounds.
  if (ablationSpec) {
    log(`ablation: serving ${STAGES.length - 3} stages of the ablation build beside the control (bare and with assets) and the release build`);
    for (const stage of STAGES) {
      const target = stage.key === "control" ? control : stage.key === "release" ? worker
        : stage.key === "control+assets" ? await startWorker(controlAssetsSpec) : await startWorker(ablationSpec, stage.vars);
      if (target !== control && target !== worker) variants.push(target);
      await wrk(health, 16, 2, target);
      stage.target = target;
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONCURRENCY) {
        for (const stage of STAGES) {
          const r = await wrk(health, c, DURATION, stage.target);
          ablation.push({ stage: stage.key, c, round, ...r });
          log(`ablation ${stage.key} c=${c} round ${round + 1}: p50 ${r.p50.toFixed(2)} ms, ${r.rps.toFixed(0)} req/s`);
        }
      }
    }
  }
} catch (err) {
  failure = err;
} finally {
  for (const w of [worker, control, ...variants]) await w?.stop();
}
if (failure) {
  log(`failed: ${failure.stack ?? failure}`);
  log(`run directory kept: ${runDir}`);
  process.exit(1);
}
const wasm = replay ? replay.wasm : await wasmInstantiation();
if (!replay) rmSync(runDir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

// The control a row is compared with: its /health for the bare /health rows, its /floor for every
// other; the same concurrency and round, the same database size when the control ran beside that
// size (the later sizes), else the first size's.
const controlFor = (r) => (r.route.endsWith("GET /health") ? "control GET /health" : "control GET /floor");
const controlOf = (r) => {
  const name = controlFor(r);
  return results.find((x) => x.route === name && x.c === r.c && x.round === r.round && x.rows === r.rows && r.rows !== null) ??
    results.find((x) => x.route === name && x.c === r.c && x.round === r.round && x.rows === null) ??
    results.find((x) => x.route === name && x.c === r.c && x.rows === null);
};
const rows = [];
for (const r of results) {
  const key = `${r.route}|${r.rows}|${r.c}`;
  let row = rows.find((x) => x.key === key);
  if (!row) rows.push((row = { key, route: r.route, rows: r.rows, c: r.c, runs: [] }));
  const k = controlOf(r);
  row.runs.push({ ...r, rpsC: r.rps / k.rps, p50C: r.p50 / k.p50, controlP50: k.p50 });
}
for (const row of rows) {
  for (const k of ["p50", "p99", "rps", "rpsC", "p50C", "controlP50"]) row[k] = median(row.runs.map((x) => x[k]));
  row.errors = row.runs.reduce((n, x) => n + x.errors, 0);
  row.queries = row.runs[0].queries;
  const measured = (k) => row.runs.map((x) => x[k]).filter((v) => typeof v === "number" && !Number.isNaN(v));
  row.workerMs = measured("workerMs").length ? median(measured("workerMs")) : null;
  row.dbMs = measured("dbMs").length ? median(measured("dbMs")) : null;
  row.n = row.runs.length;
  row.against = controlFor(row).replace("control GET ", "");
}
const table = [
  "| route | requests in DB | c | rounds | p50 ms | p99 ms | req/s | against the control's | req/s ÷ control | p50 ÷ control | D1 round trips | worker ms / D1 ms (Server-Timing, c=1 median) | errors |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];
for (const r of rows) {
  table.push(
    `| ${r.route} | ${r.rows ?? ""} | ${r.c} | ${r.n} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.rps, 0)} | ${r.against} | ${fmt(r.rpsC, 2)} | ${fmt(r.p50C, 2)} | ` +
      `${r.queries ?? "hidden"} | ${r.workerMs === null || r.workerMs === undefined ? "" : `${fmt(r.workerMs, 1)} / ${fmt(r.dbMs, 1)}`} | ${r.errors} |`,
  );
}

// The ablation table: per stage, the medians over rounds and the step from the stage before it
// (p50 at c=1; at c=16 the wall time per request, 1000 / req/s, which is the CPU the two cores
// spend on one request once they are saturated).
const ablationRows = STAGES.map((stage, i) => {
  const of = (c) => ablation.filter((x) => x.stage === stage.key && x.c === c);
  const rowOf = { key: stage.key, what: stage.what, p50: median(of(1).map((x) => x.p50)), rps16: median(of(16).map((x) => x.rps)), n: of(1).length };
  rowOf.ms16 = 1000 / rowOf.rps16;
  rowOf.index = i;
  return rowOf;
}).filter((r) => r.n > 0);
const ablationTable = ablationRows.length === 0 ? [] : [
  "| stage | what it adds | c=1 p50 ms | step | c=16 req/s | c=16 ms per request | step |",
  "|---|---|---|---|---|---|---|",
  ...ablationRows.map((r, i) => {
    // "release" compares with "full" (the same path without the ablation points), the rest with the stage before.
    const prev = r.key === "release" ? ablationRows.find((x) => x.key === "full") : r.key === "full" ? ablationRows.find((x) => x.key === "handle") : ablationRows[i - 1];
    const step = (a, b) => (prev ? `${a - b >= 0 ? "+" : ""}${fmt(a - b, 2)}` : "");
    return `| ${r.key} | ${r.what} | ${fmt(r.p50, 2)} | ${prev ? step(r.p50, prev.p50) : ""} | ${fmt(r.rps16, 0)} | ${fmt(r.ms16, 2)} | ${prev ? step(r.ms16, prev.ms16) : ""} |`;
  }),
];

// What the static-asset router alone adds to the control's /health, from the ablation rounds.
const routerShare = (c) => {
  const of = (key) => median(ablation.filter((x) => x.stage === key && x.c === c).map((x) => (c === 1 ? x.p50 : 1000 / x.rps)));
  const bare = of("control");
  const routed = of("control+assets");
  if (Number.isNaN(bare) || Number.isNaN(routed)) return "";
  return `; the assets router alone takes the control from ${fmt(bare, 2)} to ${fmt(routed, 2)} ms ${c === 1 ? "p50" : "per request"} (${fmt(routed / bare, 2)}x) in the ablation rounds`;
};
const budgets = [];
const judge = (what, ok, detail) => budgets.push(`- ${ok ? "held" : "MISSED"}: ${what}: ${detail}`);
for (const c of CONCURRENCY) {
  const bare = rows.find((x) => x.c === c && x.route === "GET /health");
  if (bare) {
    judge(`GET /health at c=${c} within 1.15x the control's /health p50`, bare.p50C <= 1.15,
      `${fmt(bare.p50C, 2)}x (${fmt(bare.p50, 2)} ms vs ${fmt(bare.controlP50, 2)} ms; req/s ${fmt(bare.rpsC, 2)}x)` + routerShare(c));
  }
  for (const r of rows.filter((x) => x.c === c && (x.route === "GET /api/me" || x.route === "GET /api/requests"))) {
    judge(`${r.route}${r.rows ? ` (${r.rows} requests)` : ""} at c=${c} keeps >= 0.85x the control's /floor req/s and <= 1.2x its p50`, r.rpsC >= 0.85 && r.p50C <= 1.2,
      `${fmt(r.rpsC, 2)}x req/s, ${fmt(r.p50C, 2)}x p50 (median of ${r.n} rounds)`);
  }
  // Against each size's own control, measured beside it: the machine's speed drifts over a run of
  // several minutes, and the control moves with it while the database size does not touch it.
  const lists = rows.filter((x) => x.c === c && x.route === "GET /api/requests");
  if (lists.length > 1) {
    const flat = lists.at(-1).rpsC / lists[0].rpsC;
    judge(`GET /api/requests at c=${c} stays flat from ${lists[0].rows} to ${lists.at(-1).rows} requests (req/s ÷ control keeps >= 0.85x)`, flat >= 0.85,
      `${fmt(flat, 2)}x (${fmt(lists[0].rpsC, 2)} -> ${fmt(lists.at(-1).rpsC, 2)}; raw req/s ${fmt(lists[0].rps, 0)} -> ${fmt(lists.at(-1).rps, 0)})`);
  }
}
const login1 = rows.find((r) => r.route === "POST /api/auth/login" && r.c === 1);
const floor1 = rows.find((r) => r.route === "control GET /floor" && r.c === 1 && r.rows === null);
if (wasmVerify && login1 && floor1) {
  const yardstick = wasmVerify + floor1.p50;
  judge("login p50 at c=1 within 1.2x one argon2id verify in wasm plus one control /floor", login1.p50 / yardstick <= 1.2,
    `${fmt(login1.p50, 1)} ms vs ${fmt(wasmVerify, 1)} + ${fmt(floor1.p50, 1)} ms = ${fmt(login1.p50 / yardstick, 2)}x (native verify ${fmt(nativeVerify, 1)} ms)`);
}
const gzipKiB = upload ? Number(/gzip:\s*([\d.]+)\s*KiB/.exec(upload)?.[1]) : NaN;
if (upload) judge("gzipped upload under 600 KiB", gzipKiB < 600, upload);
judge("wasm instantiation under 50 ms", wasm.startup < 50,
  `${fmt(wasm.startup, 1)} ms (best of 7; median ${fmt(wasm.startupMedian, 1)} ms) added to workerd's start by the module (instantiation alone ${fmt(wasm.instantiate, 1)} ms)`);

const cpu = replay?.cpu ?? (await run("sh", ["-c", "nproc; grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; cut -d' ' -f1-3 /proc/loadavg"])).stdout.trim().split("\n");
mkdirSync(join(ROOT, ".bench"), { recursive: true });
if (!replay) writeFileSync(join(ROOT, ".bench", "last.json"), JSON.stringify({ started, results, ablation, wasm, cpu }, null, 1) + "\n");
const lines = [
  `Measured ${started.toISOString()} on ${cpu[0]} cores (${(cpu[1] ?? "").trim()}; load average before the report ${cpu[2] ?? "?"}), ` +
    `release build under \`wrangler dev\` (workerd, local D1 on disk), wrk closed loop for ${DURATION} s per run (c connections, ${threadsFor(16)} threads at c=16); ` +
    `the control (bench/control: /health does nothing, /floor is one D1 \`SELECT 1\`) and the project's routes ran ${ROUNDS} interleaved rounds; ` +
    `each figure is the median over rounds and each ratio the median of the same round's ratios against the control.`,
  `GET /api/me and GET /api/requests as a client whose link holds the company with all the requests (a page of 50, newest first).`,
  `Refresh: 16 sessions, one rotation per token at a time. Login: 16 accounts, one per in-flight request, a new client address per request.`,
  `"D1 round trips" comes from Server-Timing (a batch counts once); auth routes send none, by design.`,
  "",
  ...table,
  "",
  `- argon2id verify (m=19456 KiB, t=2, p=1), p50: wasm ${fmt(wasmVerify, 1)} ms (V8 under node, wasm-bindgen-test), native ${fmt(nativeVerify, 1)} ms` +
    (wasmVerify && nativeVerify ? ` (wasm/native ${fmt(wasmVerify / nativeVerify, 2)}x)` : ""),
  jwtVerify ? `- access-token (Ed25519 JWT) verify in wasm, p50: ${fmt(jwtVerify, 2)} ms the first time a token is seen (the signature check)` +
    (jwtRemembered !== null ? `, ${fmt(jwtRemembered, 3)} ms for a token whose signature the isolate already verified (a page's later calls; every claim is still checked)` : "") : "",
  pageCpu ? `- one page of GET /api/requests in wasm after D1 answered (parse D1's JSON of 51 rows, decode, build the views, serialize), p50: ${fmt(pageCpu, 2)} ms` : "",
  login1 ? `- login p50 at c=1: ${fmt(login1.p50, 1)} ms = ${wasmVerify ? fmt(login1.p50 / wasmVerify, 2) : "-"}x the wasm verify` : "",
  `- upload (\`wrangler deploy --dry-run --outdir dist\`): ${upload ?? "not measured"}`,
  ...(twiggy ? ["", "What takes the space (`twiggy top -n 15` on the release wasm before wasm-opt, names kept; shallow size):", "", twiggy] : []),
  `- wasm instantiation: ${fmt(wasm.startup, 1)} ms: what build/index_bg.wasm (${(wasm.bytes / 1024).toFixed(0)} KiB) adds to a \`workerd test\` run ` +
    `(load, compile, instantiate with stubbed imports) over an empty worker, workerd ${wasm.workerd}, best of 7 pairs (median ${fmt(wasm.startupMedian, 1)} ms); ` +
    `the instantiation alone (workerd's timing of the test handler) ${fmt(wasm.instantiate, 2)} ms`,
  ...(ablationTable.length ? ["", `The request path, stage by stage (the ablation build, \`GET /health\`, ${ROUNDS} interleaved rounds of ${DURATION} s; medians):`, "", ...ablationTable] : []),
  "",
  "Budgets (docs: DESIGN.md, Performance budgets):",
  ...budgets,
].filter((l, i, all) => l !== "" || all[i - 1] !== "");

const report = lines.join("\n");
console.log(`\n${report}`);
mkdirSync(join(ROOT, ".bench"), { recursive: true });
writeFileSync(join(ROOT, ".bench", "last.md"), report + "\n");

if (args.readme) {
  const readmePath = join(ROOT, "README.md");
  const readme = readFileSync(readmePath, "utf8");
  const section = `## Performance\n\nProduced by \`make bench\` (scripts/bench.sh, scripts/bench.mjs); the budgets are DESIGN.md's. What the figures say, where the time and the bytes go and why a budget misses: [docs/performance.md](docs/performance.md).\n\n${report}\n`;
  const at = readme.search(/^## Performance\s*$/m);
  let next;
  if (at >= 0) {
    const rest = readme.slice(at + 1);
    const nextHeading = rest.search(/^## /m);
    next = readme.slice(0, at) + section + (nextHeading >= 0 ? "\n" + rest.slice(nextHeading) : "");
  } else {
    next = readme.replace(/\s*$/, "\n\n") + section;
  }
  writeFileSync(readmePath, next);
  log("README.md: Performance section updated");
}
