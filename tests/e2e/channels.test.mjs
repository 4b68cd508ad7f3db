// Channels in workerd with local D1, against a fake Telegram Bot API on loopback that records what
// the worker sends: Emily links her private chat with a deep-link code, the team's reply reaches
// her chat through the outbox (the cron's delivery run), her answer to it lands in the request, a
// replayed update is processed once, a policy without telegram suspends the chat at once; a widget
// connection accepts signed events once and refuses forged ones.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { generateSecrets } from "../../scripts/gen-dev-vars.mjs";
import { startWorker } from "./harness.mjs";
import { startFakeTelegram } from "./fake-telegram.mjs";

let worker;
let bot;
const secrets = generateSecrets();
const ids = { nl: randomUUID(), emily: randomUUID(), support: randomUUID() };
const ADMIN = { login: "vector-admin", password: "ledger winter copper 42" };
const EMILY_PASSWORD = "aurora over the fjord 2026";
const CHAT = 424242;
const BOT_USERNAME = "ExtranetE2EBot";
let admin;
let emily;
let updateId = 7000;

const call = async (method, path, body, token, extra = {}) => {
  const res = await worker.fetch(path, {
    method,
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...extra,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
};
const ok = (r, status = 200) => assert.equal(r.status, status, r.text);

const policy = (overrides = {}) =>
  call("PUT", `/api/admin/companies/${ids.nl}/policy`, {
    create_requests: true, read_request_chat: true, send_request_chat: true, general_chat: true, calls: false,
    telegram: true, widget: true, allowed_pipelines: [ids.support], ...overrides,
  }, admin);

/** A Telegram update from Emily's private chat, through the webhook with the right secret. */
const telegram = (text, { replyTo, id = ++updateId, chat = CHAT, secret = secrets.TELEGRAM_WEBHOOK_SECRET } = {}) => {
  // `secret: null` sends no header at all.
  const message = {
    message_id: id, date: Math.floor(Date.now() / 1000),
    chat: { id: chat, type: "private" }, from: { id: chat, is_bot: false, first_name: "Emily", username: "emily_c" }, text,
  };
  if (replyTo) message.reply_to_message = { message_id: replyTo, date: message.date, chat: message.chat, text: "earlier" };
  const headers = secret === null ? {} : { "x-telegram-bot-api-secret-token": secret };
  return call("POST", "/webhooks/telegram", { update_id: id, message }, undefined, headers);
};

/**
 * One delivery run of the outbox, as the cron does (the worker also runs one right after a write
 * that queued notifications). `wrangler dev` cannot fire the cron of a worker that serves static
 * assets (its /cdn-cgi/handler/scheduled fails with a DataCloneError in the assets router), so the
 * test uses the admin route that runs the very same delivery.
 */
const runDelivery = async () => {
  const res = await call("POST", "/api/admin/notifications/deliver", undefined, admin);
  ok(res);
  return res.json;
};

before(async () => {
  bot = await startFakeTelegram({ token: secrets.TELEGRAM_BOT_TOKEN });
  worker = await startWorker({ secrets, vars: { TELEGRAM_API_BASE: bot.url, TELEGRAM_BOT_USERNAME: BOT_USERNAME } });
  ok(await call("POST", "/api/admin/bootstrap", { token: worker.secrets.BOOTSTRAP_TOKEN, ...ADMIN, first_name: "Vera", last_name: "Vector" }), 201);
  admin = (await call("POST", "/api/auth/login", { ...ADMIN, refresh_transport: "body" })).json.access_token;
  const crm = worker.secrets.CRM_SYNC_TOKEN;
  assert.ok([200, 201].includes((await call("PUT", `/api/admin/companies/${ids.nl}`, { name: "Northern Light" }, crm)).status));
  const stages = [{ id: "new", name: "New", is_final: false }, { id: "work", name: "In progress", is_final: false }, { id: "done", name: "Done", is_final: true }];
  assert.ok([200, 201].includes((await call("PUT", `/api/admin/pipelines/${ids.support}`, { name: "Support", stages }, crm)).status));
  assert.ok([200, 201].includes((await call("PUT", `/api/admin/contacts/${ids.emily}`, {
    first_name: "Emily", last_name: "Carter", email: "emily.carter@northernlight.example", company_ids: [ids.nl],
  }, crm)).status));
  ok(await policy());
  const link = await call("POST", "/api/admin/links", {
    user: { login: "emily.carter@northernlight.example", email: "emily.carter@northernlight.example", first_name: "Emily", last_name: "Carter" },
    contact_id: ids.emily, company_ids: [ids.nl], default_company_id: ids.nl,
  }, admin);
  ok(link, 201);
  const invitation = await call("POST", `/api/admin/links/${link.json.id}/invitations`, {}, admin);
  ok(invitation, 201);
  const token = invitation.json.activation_url.split("#")[1];
  const activated = await call("POST", "/api/invitations/activate", { token, password: EMILY_PASSWORD, refresh_transport: "body" });
  ok(activated);
  emily = activated.json.access_token;
});
after(async () => {
  await worker?.stop();
  await bot?.stop();
});

const login = async () => {
  const r = await call("POST", "/api/auth/login", { login: "emily.carter@northernlight.example", password: EMILY_PASSWORD, refresh_transport: "body" });
  ok(r);
  return r.json.access_token;
};

test("the webhook refuses a missing or wrong secret and acknowledges malformed updates", async () => {
  assert.equal((await telegram("hello", { secret: null })).status, 401);
  assert.equal((await telegram("hello", { secret: "wrong" })).status, 401);
  const junk = await call("POST", "/webhooks/telegram", "{not json", undefined, { "x-telegram-bot-api-secret-token": secrets.TELEGRAM_WEBHOOK_SECRET });
  ok(junk);
  assert.equal(bot.calls.length, 0, "nothing was sent for any of them");
});

let requestId;

test("Emily links her private chat with a deep-link code; the code works once", async () => {
  const created = await call("POST", "/api/channels/telegram", { company_id: ids.nl }, emily);
  ok(created);
  const prefix = `https://t.me/${BOT_USERNAME}?start=`;
  assert.ok(created.json.deep_link.startsWith(prefix), created.text);
  const code = created.json.deep_link.slice(prefix.length);
  assert.match(code, /^[A-Za-z0-9_-]{43}$/);

  ok(await telegram(`/start ${code}`));
  await bot.waitFor(() => bot.sentTo(CHAT).length === 1);
  const [confirmation] = bot.sentTo(CHAT);
  assert.match(confirmation.body.text, /^Connected/);
  assert.match(confirmation.body.text, /Northern Light/);
  assert.equal(confirmation.contentType, "application/json");

  const channels = await call("GET", "/api/channels", undefined, emily);
  ok(channels);
  assert.equal(channels.json.items.length, 1);
  assert.equal(channels.json.items[0].external_label, "@emily_c");
  assert.equal(channels.json.items[0].status, "active");

  // The same code from another chat: refused politely, nothing linked.
  ok(await telegram(`/start ${code}`, { chat: 999001 }));
  await bot.waitFor(() => bot.sentTo(999001).length === 1);
  assert.match(bot.sentTo(999001)[0].body.text, /already used/);
  assert.equal((await call("GET", "/api/channels", undefined, emily)).json.items.length, 1);
});

test("a team reply reaches the chat through the outbox, and Emily's answer lands in the request", async () => {
  const created = await call("POST", "/api/requests", { company_id: ids.nl, pipeline_id: ids.support, title: "Leaking roof", description: "" }, emily);
  ok(created, 201);
  requestId = created.json.id;
  const before = bot.sentTo(CHAT).length;
  ok(await call("POST", `/api/admin/requests/${requestId}/messages`, { body: "We will send someone on Monday." }, admin), 201);
  // Delivered right after the answer (waitUntil in the worker): no cron run, no admin call.
  await bot.waitFor(() => bot.sentTo(CHAT).length === before + 1);
  const report = await runDelivery();
  assert.equal(report.sent, 0, `nothing left to send: ${JSON.stringify(report)}`);
  const note = bot.sentTo(CHAT).at(-1);
  assert.match(note.body.text, /Leaking roof/);
  assert.match(note.body.text, /We will send someone on Monday\./);

  const reply = await telegram("Monday works, thanks", { replyTo: note.messageId });
  ok(reply);
  const thread = await call("GET", `/api/requests/${requestId}/messages`, undefined, emily);
  ok(thread);
  assert.deepEqual(thread.json.items.map((m) => [m.author_kind, m.body]), [["employee", "We will send someone on Monday."], ["telegram", "Monday works, thanks"]]);

  // A plain message goes to the general chat.
  ok(await telegram("A general question"));
  const general = await call("GET", `/api/chat/messages?company=${ids.nl}`, undefined, emily);
  assert.deepEqual(general.json.items.map((m) => m.body), ["A general question"]);
});

test("a replayed update is processed once", async () => {
  const id = ++updateId;
  for (let i = 0; i < 3; i++) ok(await telegram("Said once", { id }));
  const general = await call("GET", `/api/chat/messages?company=${ids.nl}`, undefined, emily);
  assert.equal(general.json.items.filter((m) => m.body === "Said once").length, 1);
});

test("a widget connection accepts a signed event once and refuses a forged one", async () => {
  const created = await call("POST", "/api/channels/widget", { company_id: ids.nl }, emily);
  ok(created, 201);
  const { id, signing_secret: secret } = created.json;
  const body = JSON.stringify({ id: "evt-1", type: "message", text: "Hello from our website" });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const sign = (key) => `v1=${createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex")}`;
  const post = (signature, path = `/webhooks/widget/${id}`) =>
    call("POST", path, body, undefined, { "x-extranet-timestamp": timestamp, "x-extranet-signature": signature });

  const accepted = await post(sign(secret));
  ok(accepted);
  assert.equal(accepted.json.accepted, true);
  const replay = await post(sign(secret));
  ok(replay);
  assert.deepEqual(replay.json, { accepted: false, reason: "duplicate" });

  const forged = await post(sign("guessed"));
  const unknown = await post(sign(secret), `/webhooks/widget/${randomUUID()}`);
  assert.equal(forged.status, 401);
  assert.deepEqual([unknown.status, unknown.text], [forged.status, forged.text], "an unknown connection looks exactly like a bad signature");
  const general = await call("GET", `/api/chat/messages?company=${ids.nl}`, undefined, emily);
  assert.equal(general.json.items.filter((m) => m.author_kind === "widget").length, 1);
});

test("a chat whose user blocked the bot turns unreachable on the Bot API's 403 and comes back with /start", async () => {
  bot.failNext(403, 1, "Forbidden: bot was blocked by the user");
  ok(await call("POST", `/api/admin/requests/${requestId}/messages`, { body: "Are you reading this?" }, admin), 201);
  await bot.waitFor(() => bot.calls.some((c) => c.failed === 403));
  const status = async () => (await call("GET", "/api/channels", undefined, emily)).json.items.find((c) => c.kind === "telegram" && c.status !== "revoked");
  for (let i = 0; i < 50 && (await status()).status !== "unreachable"; i++) await new Promise((r) => setTimeout(r, 100));
  const blocked = await status();
  assert.equal(blocked.status, "unreachable");
  assert.ok(blocked.unreachable_since);
  const listed = await call("GET", "/api/admin/channel-links?status=unreachable", undefined, admin);
  ok(listed);
  assert.equal(listed.json.items.length, 1);

  const before = bot.sentTo(CHAT).length;
  ok(await telegram("/start"));
  await bot.waitFor(() => bot.sentTo(CHAT).length === before + 1);
  assert.match(bot.sentTo(CHAT).at(-1).body.text, /Welcome back/);
  assert.equal((await status()).status, "active");
});

test("a policy that drops telegram suspends the chat at once and the bot says how to reach the team", async () => {
  ok(await policy({ telegram: false }));
  const before = bot.sentTo(CHAT).length;
  ok(await telegram("Anyone there?"));
  await bot.waitFor(() => bot.sentTo(CHAT).length === before + 1);
  assert.match(bot.sentTo(CHAT).at(-1).body.text, /no longer enabled/);
  emily = await login();
  const general = await call("GET", `/api/chat/messages?company=${ids.nl}`, undefined, emily);
  assert.equal(general.json.items.filter((m) => m.body === "Anyone there?").length, 0);
  const channels = await call("GET", "/api/channels", undefined, emily);
  assert.equal(channels.json.items.find((c) => c.kind === "telegram").status, "suspended");

  // Team messages are not sent while suspended.
  ok(await call("POST", `/api/admin/requests/${requestId}/messages`, { body: "Are you still there?" }, admin), 201);
  // The pass right after the answer drops it; runs by hand until nothing is due prove it was not kept.
  for (let i = 0; i < 20 && (await runDelivery()).claimed > 0; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!bot.sentTo(CHAT).some((c) => /Are you still there/.test(c.body.text)));
});
