// Authentication in the real runtime (workerd, local D1): the first admin, login with both refresh
// transports, refresh rotation and reuse, logout, one answer for every failed login, and the lockout
// holding under truly concurrent guesses.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./harness.mjs";

let worker;
const ADMIN = { login: "vector-admin", password: "ledger winter copper 42" };

before(async () => {
  worker = await startWorker();
  const res = await post("/api/admin/bootstrap", {
    token: worker.secrets.BOOTSTRAP_TOKEN,
    ...ADMIN,
    first_name: "Ada",
    last_name: "Admin",
  });
  assert.equal(res.status, 201, await res.text());
});
after(async () => {
  await worker?.stop();
});

function post(path, body, headers = {}) {
  return worker.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`, ...headers },
    body: JSON.stringify(body),
  });
}

async function login(extra = {}) {
  const res = await post("/api/auth/login", { ...ADMIN, refresh_transport: "body", ...extra });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

test("bootstrap works once", async () => {
  const again = await post("/api/admin/bootstrap", { token: worker.secrets.BOOTSTRAP_TOKEN, login: "second", password: "another long passphrase", first_name: "B", last_name: "C" });
  assert.equal(again.status, 409);
  assert.equal((await again.json()).error.code, "already_bootstrapped");
});

test("login, /api/me and the token's claims", async () => {
  const session = await login();
  assert.equal(session.user.kind, "employee");
  assert.equal(typeof session.refresh_token, "string");
  const me = await worker.fetch("/api/me", { headers: { authorization: `Bearer ${session.access_token}` } });
  assert.equal(me.status, 200);
  const body = await me.json();
  assert.deepEqual(body.roles, ["admin"]);
  assert.equal(me.headers.get("x-content-type-options"), "nosniff");
  assert.match(me.headers.get("server-timing") ?? "", /db;dur=/, "gated reads carry Server-Timing");
});

test("a new password is checked against the blocklist read from the static assets", async () => {
  const session = await login();
  const headers = { authorization: `Bearer ${session.access_token}` };
  for (const [weak, rule] of [["password1234", "common_password"], ["P@ssw0rd!2026!!", "common_password_variant"]]) {
    const res = await post("/api/me/password", { current_password: ADMIN.password, new_password: weak }, headers);
    assert.equal(res.status, 400, weak);
    const body = await res.json();
    assert.equal(body.error.code, "weak_password");
    assert.equal(body.error.rule, rule, weak);
    assert.equal(body.error.field, "new_password");
  }
});

test("auth routes carry no Server-Timing", async () => {
  const res = await post("/api/auth/login", { ...ADMIN, password: "wrong password here" });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("server-timing"), null);
});

test("a wrong password and an unknown login answer exactly alike", async () => {
  const a = await post("/api/auth/login", { login: ADMIN.login, password: "definitely not it" });
  const b = await post("/api/auth/login", { login: "nobody-here", password: "definitely not it" });
  assert.equal(a.status, 401);
  assert.equal(b.status, 401);
  assert.deepEqual(await a.json(), await b.json());
});

test("cookie transport: HttpOnly Secure SameSite=Strict, no token in the JSON, Origin checked", async () => {
  const res = await post("/api/auth/login", ADMIN);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.refresh_token, null);
  const cookie = res.headers.get("set-cookie");
  for (const part of ["HttpOnly", "Secure", "SameSite=Strict"]) assert.ok(cookie.includes(part), cookie);
  const pair = cookie.split(";")[0];
  const foreign = await worker.fetch("/api/auth/refresh", { method: "POST", headers: { cookie: pair, origin: "https://evil.example" } });
  assert.equal(foreign.status, 403);
  const own = await worker.fetch("/api/auth/refresh", { method: "POST", headers: { cookie: pair, origin: worker.url } });
  assert.equal(own.status, 200, await own.clone().text());
});

test("refresh rotates, and the token used just before answers 409 within the grace window", async () => {
  const first = await login();
  const rotated = await post("/api/auth/refresh", { refresh_token: first.refresh_token, refresh_transport: "body" });
  assert.equal(rotated.status, 200);
  const second = await rotated.json();
  assert.notEqual(second.refresh_token, first.refresh_token);
  const race = await post("/api/auth/refresh", { refresh_token: first.refresh_token, refresh_transport: "body" });
  assert.equal(race.status, 409);
  assert.equal((await race.json()).error.code, "refresh_conflict");
});

test("an unknown refresh secret answers 401 and the session lives on", async () => {
  const s = await login();
  const [sid] = s.refresh_token.split(".");
  const guess = await post("/api/auth/refresh", { refresh_token: `${sid}.${"A".repeat(43)}`, refresh_transport: "body" });
  assert.equal(guess.status, 401);
  const real = await post("/api/auth/refresh", { refresh_token: s.refresh_token, refresh_transport: "body" });
  assert.equal(real.status, 200);
});

test("logout ends the session at once", async () => {
  const s = await login();
  const out = await worker.fetch("/api/auth/logout", { method: "POST", headers: { authorization: `Bearer ${s.access_token}` } });
  assert.equal(out.status, 204);
  const me = await worker.fetch("/api/me", { headers: { authorization: `Bearer ${s.access_token}` } });
  assert.equal(me.status, 401);
});

test("a tampered token is refused", async () => {
  const s = await login();
  const [h, p, sig] = s.access_token.split(".");
  const flipped = `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`;
  const me = await worker.fetch("/api/me", { headers: { authorization: `Bearer ${flipped}` } });
  assert.equal(me.status, 401);
});

test("concurrent wrong guesses lock the account; the right password is refused while locked", async () => {
  // The admin's own account, last in this file (node:test runs a file's tests in order), so the
  // lock cannot disturb the tests above.
  const guesses = await Promise.all(
    Array.from({ length: 30 }, (_, i) => post("/api/auth/login", { login: ADMIN.login, password: `wrong guess ${i}` })),
  );
  assert.ok(guesses.every((r) => r.status === 401));
  const right = await post("/api/auth/login", { ...ADMIN });
  assert.equal(right.status, 401, "locked: even the right password is refused");
  assert.deepEqual(await right.json(), await (await post("/api/auth/login", { login: "nobody", password: "x" })).json());
});
