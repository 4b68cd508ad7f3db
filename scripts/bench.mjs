#!/usr/bin/env node
// The benchmark: starts the release build under `wrangler dev` (workerd, local D1) with a fresh
// database, drives each route with a closed-loop load of C concurrent clients for N requests, and
// prints p50, p99 and throughput per route, each route's ratio to the one-round-trip floor
// (`/health?deep=1`), the D1 queries per request (from Server-Timing), and login's cost against a
// bare argon2id verify measured natively and in wasm (figures passed in by `make bench`).
//   node scripts/bench.mjs [--requests N] [--native-verify-ms X] [--wasm-verify-ms Y]
import { startWorker } from "../tests/e2e/harness.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const N = Number(args.requests ?? 400);
const nativeVerify = args["native-verify-ms"] ? Number(args["native-verify-ms"]) : null;
const wasmVerify = args["wasm-verify-ms"] ? Number(args["wasm-verify-ms"]) : null;

const worker = await startWorker({ label: "bench" });
let ipCounter = 0;
// Each simulated client has its own address, so the per-IP login throttle measures nothing here.
const nextIp = () => `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter++ & 255}`;

async function load(name, concurrency, total, makeRequest) {
  const latencies = [];
  const queries = [];
  let failures = 0;
  let issued = 0;
  const started = performance.now();
  async function client() {
    while (issued < total) {
      issued++;
      const { path, init } = await makeRequest();
      const t = performance.now();
      const res = await worker.fetch(path, init);
      await res.arrayBuffer();
      latencies.push(performance.now() - t);
      if (res.status >= 400) failures++;
      const timing = res.headers.get("server-timing") ?? "";
      const q = /"(\d+) queries"/.exec(timing);
      if (q) queries.push(Number(q[1]));
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    name,
    concurrency,
    n: latencies.length,
    p50: pick(0.5),
    p99: pick(0.99),
    rps: latencies.length / seconds,
    failures,
    queries: queries.length ? queries.reduce((a, b) => a + b, 0) / queries.length : null,
  };
}

const admin = { login: "bench-admin", password: "ledger winter copper 42" };
const boot = await worker.fetch("/api/admin/bootstrap", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ token: worker.secrets.BOOTSTRAP_TOKEN, ...admin, first_name: "Bench", last_name: "Admin" }),
});
if (boot.status !== 201) throw new Error(`bootstrap: ${boot.status} ${await boot.text()}`);
const loginInit = () => ({
  method: "POST",
  headers: { "content-type": "application/json", "cf-connecting-ip": nextIp() },
  body: JSON.stringify({ ...admin, refresh_transport: "body" }),
});
const session = await (await worker.fetch("/api/auth/login", loginInit())).json();
const bearer = { headers: { authorization: `Bearer ${session.access_token}` } };

// Refresh tokens are single-use: keep a pool of sessions, each client rotating its own.
const refreshPool = [];
for (let i = 0; i < 16; i++) refreshPool.push((await (await worker.fetch("/api/auth/login", loginInit())).json()).refresh_token);
const routes = [
  ["GET /health", () => ({ path: "/health" })],
  ["GET /health?deep=1", () => ({ path: "/health?deep=1" })],
  ["GET /api/me", () => ({ path: "/api/me", init: bearer })],
];
const results = [];
for (const c of [1, 16]) {
  for (const [name, make] of routes) results.push(await load(name, c, N, make));
  // Refresh: one rotation per session at a time, so the pool size bounds the concurrency.
  results.push(await loadRefresh(c));
  results.push(await load("POST /api/auth/login", c, Math.max(40, N / 10), () => ({ path: "/api/auth/login", init: loginInit() })));
}

async function loadRefresh(concurrency) {
  const latencies = [];
  let failures = 0;
  const started = performance.now();
  const total = N;
  let issued = 0;
  async function client(slot) {
    while (issued < total) {
      issued++;
      const t = performance.now();
      const res = await worker.fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: refreshPool[slot], refresh_transport: "body" }),
      });
      const body = await res.json();
      latencies.push(performance.now() - t);
      if (res.status === 200) refreshPool[slot] = body.refresh_token;
      else failures++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pick = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { name: "POST /api/auth/refresh", concurrency, n: latencies.length, p50: pick(0.5), p99: pick(0.99), rps: latencies.length / seconds, failures, queries: null };
}

await worker.stop();

const floor = (c) => results.find((r) => r.name === "GET /health?deep=1" && r.concurrency === c);
const fmt = (x, d = 1) => (x == null ? "-" : x.toFixed(d));
console.log(`\nExtranet benchmark: ${N} requests per route (login: ${Math.max(40, N / 10)}), wrangler dev (workerd, local D1), ${new Date().toISOString()}`);
console.log("| route | c | p50 ms | p99 ms | req/s | x floor req/s | x floor p50 | D1 queries | errors |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  const f = floor(r.concurrency);
  console.log(`| ${r.name} | ${r.concurrency} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.rps, 0)} | ${fmt(r.rps / f.rps, 2)} | ${fmt(r.p50 / f.p50, 2)} | ${fmt(r.queries, 1)} | ${r.failures} |`);
}
const login1 = results.find((r) => r.name === "POST /api/auth/login" && r.concurrency === 1);
if (wasmVerify) console.log(`\nlogin p50 ${fmt(login1.p50)} ms vs one argon2id verify in wasm ${fmt(wasmVerify)} ms: ${fmt(login1.p50 / wasmVerify, 2)}x`);
if (nativeVerify) console.log(`one argon2id verify natively: ${fmt(nativeVerify)} ms (wasm/native ${wasmVerify ? fmt(wasmVerify / nativeVerify, 2) : "-"}x)`);
