//! Channels over HTTP: Telegram linking and the bot webhook, the widget's signed webhook, the
//! notification outbox and its delivery, and revocation. Emily's link holds Northern Light, whose
//! policy allows everything (telegram and widget included) in the Support pipeline; the native
//! ports record every Bot API call instead of sending it.

use crate::support::*;
use extranet::config::Config;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};

type Resp = extranet::http::Resp;

const WEBHOOK_SECRET: &str = "telegram-webhook-secret-for-tests";
const BOT_TOKEN: &str = "123456:bot-token-for-tests";
const SUPPORT: &str = "0190a000-0000-7000-8000-0000000000a1";
const INTERNAL: &str = "0190a000-0000-7000-8000-0000000000a4";
const CEDAR: &str = "0190a000-0000-7000-8000-000000000003";
const CEDAR_REQUEST: &str = "0190a000-0000-7000-8000-0000000000c1";
const EMILY_CHAT: i64 = 4242;
const BOB_USER: &str = "0190a000-0000-7000-8000-0000000000b1";
const BOB_CONTACT: &str = "0190a000-0000-7000-8000-0000000000b2";
const BOB_LINK: &str = "0190a000-0000-7000-8000-0000000000b3";
const BOB_CHANNEL: &str = "0190a000-0000-7000-8000-0000000000b4";
const BOB_CHAT: i64 = 5555;

/// Emily active, the bot configured, Support (new -> doing -> done) and Internal pipelines, Cedar
/// Works with a request, and Northern Light allowing everything in Support.
fn app() -> TestApp {
    let mut app = TestApp::new();
    app.config = Config::from_lookup(|name| match name {
        "JWT_SIGNING_KEYS" => Some(TEST_SIGNING_KEYS.into()),
        "BOOTSTRAP_TOKEN" => Some("bootstrap-secret-for-tests-0123456789abcdef".into()),
        "PORTAL_URL" => Some("https://portal.test".into()),
        "TELEGRAM_BOT_TOKEN" => Some(BOT_TOKEN.into()),
        "TELEGRAM_WEBHOOK_SECRET" => Some(WEBHOOK_SECRET.into()),
        "TELEGRAM_BOT_USERNAME" => Some("ExtranetTestBot".into()),
        "TELEGRAM_API_BASE" => Some("http://127.0.0.1:9/fake-bot".into()),
        _ => None,
    })
    .expect("config");
    let app = app.with_emily_active();
    let now = app.now.get().timestamp();
    let mut sql = format!("INSERT INTO companies (id, name, status, created_at, updated_at) VALUES ('{CEDAR}', 'Cedar Works', 'active', {now}, {now});");
    for (i, (id, name)) in [(SUPPORT, "Support"), (INTERNAL, "Internal")].iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO pipelines (id, name, fields, position, created_at, updated_at) VALUES ('{id}', '{name}', '[]', {i}, {now}, {now});
             INSERT INTO pipeline_stages (pipeline_id, id, name, is_final, position) VALUES ('{id}', 'new', 'New', 0, 0), ('{id}', 'doing', 'In progress', 0, 1), ('{id}', 'done', 'Done', 1, 2);"
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, created_at, updated_at) VALUES ('{CEDAR_REQUEST}', '{CEDAR}', '{SUPPORT}', 'new', 'Cedar secret', {now}, {now});"
    ));
    app.exec(&sql);
    policy(&app, Policy::default());
    app
}

/// Northern Light's policy; every flag on unless switched off.
#[derive(Clone, Copy)]
struct Policy {
    read_chat: bool,
    send_chat: bool,
    general_chat: bool,
    telegram: bool,
    widget: bool,
    support: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { read_chat: true, send_chat: true, general_chat: true, telegram: true, widget: true, support: true }
    }
}

/// Writes Northern Light's policy and bumps the policy version of its links, as governance does.
fn policy(app: &TestApp, p: Policy) {
    let now = app.now.get().timestamp();
    let pipelines = if p.support { format!("[\"{SUPPORT}\"]") } else { format!("[\"{INTERNAL}\"]") };
    let b = |v: bool| i32::from(v);
    app.exec(&format!(
        "INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, telegram, widget, allowed_pipelines, updated_at) \
           VALUES ('{NORTHERN_LIGHT}', 1, {}, {}, {}, 0, {}, {}, '{pipelines}', {now}) \
         ON CONFLICT (company_id) DO UPDATE SET read_request_chat = excluded.read_request_chat, send_request_chat = excluded.send_request_chat, \
           general_chat = excluded.general_chat, telegram = excluded.telegram, widget = excluded.widget, allowed_pipelines = excluded.allowed_pipelines;
         UPDATE links SET policy_version = policy_version + 1 WHERE id IN (SELECT link_id FROM link_companies WHERE company_id = '{NORTHERN_LIGHT}');",
        b(p.read_chat),
        b(p.send_chat),
        b(p.general_chat),
        b(p.telegram),
        b(p.widget)
    ));
}

fn emily(app: &TestApp) -> String {
    app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0
}

fn body(resp: &Resp) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

fn error_of(resp: &Resp) -> (u16, String) {
    (resp.status().as_u16(), error_code(resp))
}

// ---------------------------------------------------------------------------------------------
// Telegram helpers
// ---------------------------------------------------------------------------------------------

fn webhook(app: &TestApp, update: &Value) -> Resp {
    app.post_json("/webhooks/telegram", update.clone(), &[("x-telegram-bot-api-secret-token", WEBHOOK_SECRET)])
}

fn message(update_id: i64, chat: i64, chat_type: &str, message_id: i64, text: &str, reply_to: Option<i64>) -> Value {
    let mut m = json!({
        "message_id": message_id,
        "date": 1_795_000_000,
        "chat": {"id": chat, "type": chat_type},
        "from": {"id": chat, "is_bot": false, "first_name": "Emily", "username": "emily_c"},
        "text": text
    });
    if let Some(r) = reply_to {
        m["reply_to_message"] = json!({"message_id": r, "date": 1_795_000_000, "chat": {"id": chat, "type": chat_type}, "text": "earlier"});
    }
    json!({"update_id": update_id, "message": m})
}

fn tg_ok(app: &TestApp, update: &Value) {
    let resp = webhook(app, update);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    assert_eq!(json(&resp), json!({"ok": true}));
}

/// The Bot API calls made so far: (method URL, JSON body).
fn sent(app: &TestApp) -> Vec<(String, Value)> {
    app.ports.outbound.borrow().iter().map(|(u, b)| (u.clone(), serde_json::from_str(b).unwrap())).collect()
}

/// The texts sent to `chat`, in order.
fn texts_to(app: &TestApp, chat: i64) -> Vec<String> {
    sent(app).into_iter().filter(|(_, b)| b["chat_id"] == json!(chat)).map(|(_, b)| b["text"].as_str().unwrap().to_owned()).collect()
}

fn last_text_to(app: &TestApp, chat: i64) -> String {
    texts_to(app, chat).pop().unwrap_or_default()
}

/// A fresh deep-link code for Emily at Northern Light.
fn new_code(app: &TestApp, token: &str) -> String {
    let resp = app.send_auth("POST", "/api/channels/telegram", token, Some(json!({"company_id": NORTHERN_LIGHT})));
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    let link = json(&resp)["deep_link"].as_str().unwrap().to_owned();
    link.strip_prefix("https://t.me/ExtranetTestBot?start=").unwrap().to_owned()
}

/// Emily's chat linked through the real flow.
fn linked(app: &TestApp, token: &str) {
    let code = new_code(app, token);
    tg_ok(app, &message(1, EMILY_CHAT, "private", 1, &format!("/start {code}"), None));
    assert_eq!(live_links(app, EMILY_CHAT), 1, "{:?}", texts_to(app, EMILY_CHAT));
}

fn live_links(app: &TestApp, chat: i64) -> i64 {
    app.sql_count(&format!("SELECT count(*) FROM channel_links WHERE kind = 'telegram' AND external_id = '{chat}' AND status <> 'revoked'"))
}

fn cron(app: &TestApp) -> extranet::app::delivery::maintenance::CronReport {
    pollster::block_on(extranet::app::delivery::maintenance::run_cron(&app.ports, Some(&app.config), app.now.get()))
}

fn create_request(app: &TestApp, token: &str, title: &str) -> String {
    let resp = app.send_auth("POST", "/api/requests", token, Some(json!({"company_id": NORTHERN_LIGHT, "pipeline_id": SUPPORT, "title": title, "description": ""})));
    assert_eq!(resp.status(), 201, "{}", body(&resp));
    json(&resp)["id"].as_str().unwrap().to_owned()
}

fn team_message(app: &TestApp, admin: &str, request: &str, text: &str) {
    let resp = app.send_auth("POST", &format!("/api/admin/requests/{request}/messages"), admin, Some(json!({"body": text})));
    assert_eq!(resp.status(), 201, "{}", body(&resp));
}

/// The Telegram message id the bot's notification about `needle` got.
fn notification_message_id(app: &TestApp, needle: &str) -> i64 {
    app.sql_count(&format!(
        "SELECT CAST(external_message_id AS INTEGER) FROM notifications WHERE status = 'sent' AND instr(body, '{needle}') > 0 ORDER BY created_at DESC LIMIT 1"
    ))
}

fn thread(app: &TestApp, token: &str, request: &str) -> Vec<Value> {
    let resp = app.get_auth(&format!("/api/requests/{request}/messages"), token);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    json(&resp)["items"].as_array().unwrap().clone()
}

fn general_chat(app: &TestApp, token: &str) -> Vec<Value> {
    let resp = app.get_auth(&format!("/api/chat/messages?company={NORTHERN_LIGHT}"), token);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    json(&resp)["items"].as_array().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------
// The Telegram webhook
// ---------------------------------------------------------------------------------------------

#[test]
fn the_webhook_needs_the_secret_header_and_acknowledges_anything_once_authenticated() {
    let app = app();
    let update = message(10, EMILY_CHAT, "private", 1, "hello", None);
    let missing = app.post_json("/webhooks/telegram", update.clone(), &[]);
    assert_eq!(error_of(&missing), (401, "unauthenticated".into()));
    for wrong in ["nope", "telegram-webhook-secret-for-test", "telegram-webhook-secret-for-tests ", "TELEGRAM-WEBHOOK-SECRET-FOR-TESTS"] {
        let resp = app.post_json("/webhooks/telegram", update.clone(), &[("x-telegram-bot-api-secret-token", wrong)]);
        assert_eq!(resp.status(), 401, "{wrong:?}");
    }
    assert!(sent(&app).is_empty(), "nothing answers an unauthenticated update");

    // Malformed JSON, unknown shapes and non-message updates: 200 and nothing happens.
    for raw in ["{not json", "[]", "{\"update_id\": \"x\"}", "{\"update_id\": 11, \"edited_message\": {\"text\": \"hi\"}}", "{\"update_id\": 12, \"message\": {\"chat\": 5}}"] {
        let req = raw_request("POST", "/webhooks/telegram", "application/json", raw.as_bytes().to_vec());
        let mut req = req;
        req.headers_mut().insert("x-telegram-bot-api-secret-token", WEBHOOK_SECRET.parse().unwrap());
        let resp = app.call(req);
        assert_eq!(resp.status(), 200, "{raw}: {}", body(&resp));
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM messages"), 0);
    assert!(sent(&app).is_empty());

    // A closed webhook (no secret configured) lets nothing in.
    let mut closed = app;
    closed.config.telegram_webhook_secret = None;
    assert_eq!(webhook(&closed, &update).status(), 401);
}

#[test]
fn an_oversize_update_is_acknowledged_and_dropped_and_an_oversize_widget_event_answers_413() {
    let app = app();
    let huge = json!({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "text": "x".repeat(300 * 1024)}});
    // Telegram retries any non-2xx for a day: an authenticated oversize update gets its 200.
    tg_ok(&app, &huge);
    assert!(app.ports.logs.borrow().iter().any(|l| l.contains("update dropped") && l.contains("too_large")), "logged");
    assert_eq!(app.sql_count("SELECT count(*) FROM webhook_events"), 0, "and nothing acted on");
    let unauthenticated = app.post_json("/webhooks/telegram", huge.clone(), &[("x-telegram-bot-api-secret-token", "wrong")]);
    assert_eq!(error_of(&unauthenticated), (413, "too_large".into()));
    let resp = app.post_json("/webhooks/widget/0190a000-0000-7000-8000-00000000ffff", json!({"text": "x".repeat(300 * 1024)}), &[]);
    assert_eq!(error_of(&resp), (413, "too_large".into()));
}

#[test]
fn start_with_a_code_links_the_private_chat_and_confirms() {
    let app = app();
    let token = emily(&app);
    let resp = app.send_auth("POST", "/api/channels/telegram", &token, Some(json!({"company_id": NORTHERN_LIGHT})));
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    let link = json(&resp);
    assert_eq!(link["expires_at"], "2026-11-23T09:10:00Z", "ten minutes");
    let code = link["deep_link"].as_str().unwrap().strip_prefix("https://t.me/ExtranetTestBot?start=").unwrap().to_owned();
    assert_eq!(code.len(), 43);
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM channel_link_codes WHERE code_hash = '{}'", extranet::auth::refresh::sha256_hex(code.as_bytes()))), 1, "only the hash is kept");

    tg_ok(&app, &message(1, EMILY_CHAT, "private", 1, &format!("/start {code}"), None));
    assert_eq!(live_links(&app, EMILY_CHAT), 1);
    let (url, reply) = sent(&app).pop().unwrap();
    assert_eq!(url, format!("http://127.0.0.1:9/fake-bot/bot{BOT_TOKEN}/sendMessage"));
    assert_eq!(reply["chat_id"], json!(EMILY_CHAT));
    assert!(reply["text"].as_str().unwrap().starts_with("Connected"), "{reply}");
    assert!(reply["text"].as_str().unwrap().contains("Northern Light"));
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'channel_link.telegram_linked'"), 1);

    let list = json(&app.get_auth("/api/channels", &token));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "telegram");
    assert_eq!(items[0]["status"], "active");
    assert_eq!(items[0]["external_label"], "@emily_c", "the portal shows which account was linked");
    assert_eq!(items[0]["company_id"], NORTHERN_LIGHT);
    assert!(items[0].get("secret").is_none());
}

#[test]
fn a_code_works_once_and_only_within_ten_minutes() {
    let app = app();
    let token = emily(&app);
    let code = new_code(&app, &token);
    tg_ok(&app, &message(1, EMILY_CHAT, "private", 1, &format!("/start {code}"), None));
    assert_eq!(live_links(&app, EMILY_CHAT), 1);

    // Someone else's chat tries the same code: refused politely, nothing linked.
    tg_ok(&app, &message(2, 777, "private", 1, &format!("/start {code}"), None));
    assert_eq!(live_links(&app, 777), 0);
    assert!(last_text_to(&app, 777).contains("already used"), "{:?}", texts_to(&app, 777));

    let late = new_code(&app, &token);
    app.advance(601);
    tg_ok(&app, &message(3, 778, "private", 1, &format!("/start {late}"), None));
    assert_eq!(live_links(&app, 778), 0);
    assert!(last_text_to(&app, 778).contains("expired"), "{:?}", texts_to(&app, 778));

    tg_ok(&app, &message(4, 779, "private", 1, "/start AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None));
    assert_eq!(live_links(&app, 779), 0);
    assert!(last_text_to(&app, 779).contains("not valid"));
    assert_eq!(app.sql_count("SELECT count(*) FROM channel_links"), 1);
}

#[test]
fn only_private_chats_are_linked_and_the_code_survives_a_group_attempt() {
    let app = app();
    let token = emily(&app);
    let code = new_code(&app, &token);
    tg_ok(&app, &message(1, -100_200, "group", 1, &format!("/start@ExtranetTestBot {code}"), None));
    assert_eq!(app.sql_count("SELECT count(*) FROM channel_links"), 0);
    assert!(last_text_to(&app, -100_200).contains("private chat"));
    tg_ok(&app, &message(2, EMILY_CHAT, "private", 1, &format!("/start {code}"), None));
    assert_eq!(live_links(&app, EMILY_CHAT), 1, "the code was not spent by the group");
}

#[test]
fn a_replayed_update_is_processed_once() {
    let app = app();
    let token = emily(&app);
    linked(&app, &token);
    let update = message(50, EMILY_CHAT, "private", 9, "Is the invoice ready?", None);
    tg_ok(&app, &update);
    tg_ok(&app, &update);
    tg_ok(&app, &update);
    let chat = general_chat(&app, &token);
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert_eq!(chat[0]["author_kind"], "telegram");
    assert_eq!(chat[0]["body"], "Is the invoice ready?");
    assert_eq!(app.sql_count("SELECT count(*) FROM messages WHERE channel_link_id IS NOT NULL AND external_id = '9'"), 1);

    // A replayed refusal is not answered twice either.
    let stranger = message(51, 999, "private", 1, "hello?", None);
    tg_ok(&app, &stranger);
    tg_ok(&app, &stranger);
    assert_eq!(texts_to(&app, 999).len(), 1);
    assert!(texts_to(&app, 999)[0].contains("not connected"));

    // A replayed /start does not link twice nor confirm twice.
    let before = texts_to(&app, EMILY_CHAT).len();
    tg_ok(&app, &message(1, EMILY_CHAT, "private", 1, "/start whatever", None));
    assert_eq!(texts_to(&app, EMILY_CHAT).len(), before);
}

#[test]
fn the_same_update_delivered_twice_at_once_is_processed_once() {
    let app = app();
    let token = emily(&app);
    linked(&app, &token);
    let send = |update: Value| {
        let req = request("POST", "/webhooks/telegram", Some(update), &[("x-telegram-bot-api-secret-token", WEBHOOK_SECRET)]);
        app.send(req)
    };
    // Both read "not seen yet" before either writes: the dedupe row's UNIQUE decides.
    let update = message(90, EMILY_CHAT, "private", 9, "Twice at once", None);
    let answers = join_all(vec![send(update.clone()), send(update.clone())]);
    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages WHERE body = 'Twice at once'"), 1);

    let stranger = message(91, 31337, "private", 1, "hi", None);
    let answers = join_all(vec![send(stranger.clone()), send(stranger)]);
    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(texts_to(&app, 31337).len(), 1, "answered once");
}

#[test]
fn replies_to_a_notification_land_in_its_request_and_other_messages_in_the_general_chat() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Leaking roof");
    team_message(&app, &admin, &request, "We will send someone on Monday.");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM notifications WHERE request_id = '{request}' AND status = 'pending'")), 1);

    let report = cron(&app);
    assert_eq!(report.notifications.as_ref().unwrap().sent, 1, "{report:?}");
    let note = last_text_to(&app, EMILY_CHAT);
    assert!(note.contains("Leaking roof") && note.contains("We will send someone on Monday."), "{note}");
    assert!(note.contains("Reply to this message"), "{note}");
    let replied = notification_message_id(&app, "Monday");
    assert!(replied > 0);

    // Each message a second after the last: the thread's order is by time, then by id.
    app.advance(1);
    tg_ok(&app, &message(60, EMILY_CHAT, "private", 20, "Monday works, thanks", Some(replied)));
    tg_ok(&app, &message(61, EMILY_CHAT, "private", 21, "Unrelated question", None));
    app.advance(1);
    tg_ok(&app, &message(62, EMILY_CHAT, "private", 22, "Reply to something else", Some(99_999)));
    let in_thread: Vec<String> = thread(&app, &token, &request).iter().map(|m| format!("{}:{}", m["author_kind"].as_str().unwrap(), m["body"].as_str().unwrap())).collect();
    assert_eq!(in_thread, ["employee:We will send someone on Monday.", "telegram:Monday works, thanks"]);
    let general: Vec<String> = general_chat(&app, &token).iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(general, ["Unrelated question", "Reply to something else"]);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM messages WHERE author_kind = 'telegram' AND author_user_id = '{EMILY_USER}'")), 3);

    // Nothing is delivered twice.
    let again = cron(&app);
    assert_eq!(again.notifications.unwrap().claimed, 0);
}

#[test]
fn a_chat_whose_policy_lost_telegram_is_suspended_and_told_how_to_reach_the_team() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Leaking roof");

    policy(&app, Policy { telegram: false, ..Policy::default() });
    tg_ok(&app, &message(70, EMILY_CHAT, "private", 30, "Anyone there?", None));
    let token = emily(&app);
    assert!(general_chat(&app, &token).is_empty(), "the message was refused");
    let answer = last_text_to(&app, EMILY_CHAT);
    assert!(answer.contains("no longer enabled") && answer.contains("portal"), "{answer}");
    assert_eq!(app.sql_count("SELECT count(*) FROM channel_links WHERE status = 'suspended'"), 1);
    let listed = json(&app.get_auth("/api/channels", &token));
    assert_eq!(listed["items"][0]["status"], "suspended");

    // Notifications are not sent to a suspended chat: dropped at delivery.
    let before = texts_to(&app, EMILY_CHAT).len();
    team_message(&app, &admin, &request, "Hello?");
    let report = cron(&app);
    assert_eq!(report.notifications.unwrap().dropped, 1);
    assert_eq!(texts_to(&app, EMILY_CHAT).len(), before);
    assert_eq!(app.sql_count("SELECT count(*) FROM notifications WHERE status = 'dropped'"), 1);

    // Creating a new Telegram link is refused too.
    let resp = app.send_auth("POST", "/api/channels/telegram", &token, Some(json!({"company_id": NORTHERN_LIGHT})));
    assert_eq!(error_of(&resp), (403, "policy_denied".into()));
    assert_eq!(json(&resp)["error"]["permission"], "telegram");

    // The policy comes back: the link works again.
    policy(&app, Policy::default());
    tg_ok(&app, &message(71, EMILY_CHAT, "private", 31, "Back again", None));
    let token = emily(&app);
    assert_eq!(general_chat(&app, &token).len(), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM channel_links WHERE status = 'active'"), 1);
}

#[test]
fn a_reply_about_a_request_the_user_may_no_longer_see_is_refused() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Leaking roof");
    team_message(&app, &admin, &request, "Photo please.");
    cron(&app);
    let replied = notification_message_id(&app, "Photo please.");

    // Support is no longer allowed: the request disappears for Emily.
    policy(&app, Policy { support: false, ..Policy::default() });
    tg_ok(&app, &message(80, EMILY_CHAT, "private", 40, "Here it is", Some(replied)));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages WHERE author_kind = 'telegram'"), 0);
    assert!(last_text_to(&app, EMILY_CHAT).contains("not available"), "{}", last_text_to(&app, EMILY_CHAT));
    assert_eq!(app.sql_count("SELECT count(*) FROM webhook_events WHERE event_id = '80' AND outcome = 'refused' AND reason = 'request_not_found'"), 1);

    // Allowed to read but not to write: refused with that reason.
    policy(&app, Policy { send_chat: false, ..Policy::default() });
    tg_ok(&app, &message(81, EMILY_CHAT, "private", 41, "Here it is", Some(replied)));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages WHERE author_kind = 'telegram'"), 0);
    assert!(last_text_to(&app, EMILY_CHAT).contains("does not allow writing"));

    // Without the general chat, a plain message is refused with a hint.
    policy(&app, Policy { general_chat: false, ..Policy::default() });
    tg_ok(&app, &message(82, EMILY_CHAT, "private", 42, "Hello", None));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages WHERE author_kind = 'telegram'"), 0);
    assert!(last_text_to(&app, EMILY_CHAT).contains("reply to a notification"));
}

#[test]
fn relinking_a_chat_ends_its_previous_link_and_revocation_stops_it() {
    let app = app();
    let token = emily(&app);
    linked(&app, &token);
    let code = new_code(&app, &token);
    tg_ok(&app, &message(2, EMILY_CHAT, "private", 2, &format!("/start {code}"), None));
    assert_eq!(live_links(&app, EMILY_CHAT), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM channel_links WHERE revoked_reason = 'relinked'"), 1);

    let listed = json(&app.get_auth("/api/channels", &token));
    let statuses: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!({ let mut s = statuses.clone(); s.sort(); s }, ["active", "revoked"]);
    let live = listed["items"].as_array().unwrap().iter().find(|c| c["status"] == "active").unwrap();
    let id = live["id"].as_str().unwrap().to_owned();
    let resp = app.send_auth("DELETE", &format!("/api/channels/{id}"), &token, None);
    assert_eq!(resp.status(), 204, "{}", body(&resp));
    assert_eq!(app.send_auth("DELETE", &format!("/api/channels/{id}"), &token, None).status(), 204, "idempotent");
    assert_eq!(live_links(&app, EMILY_CHAT), 0);
    tg_ok(&app, &message(3, EMILY_CHAT, "private", 3, "still there?", None));
    assert!(last_text_to(&app, EMILY_CHAT).contains("not connected"));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages"), 0);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'channel_link.revoked'"), 1);

    // Someone else's or an unknown channel link: 404.
    let admin = app.admin_token();
    assert_eq!(app.send_auth("DELETE", &format!("/api/channels/{id}"), &admin, None).status(), 403, "employees have no channels");
    assert_eq!(app.send_auth("DELETE", "/api/channels/0190a000-0000-7000-8000-00000000ffff", &token, None).status(), 404);
    assert_eq!(app.send_auth("DELETE", "/api/channels/nope", &token, None).status(), 404);
}

#[test]
fn admin_revocation_and_offboarding_cut_the_chat_off() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let id = json(&app.get_auth("/api/channels", &token))["items"][0]["id"].as_str().unwrap().to_owned();
    let resp = app.send_auth("POST", &format!("/api/admin/channel-links/{id}/revoke"), &admin, None);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    tg_ok(&app, &message(5, EMILY_CHAT, "private", 5, "hello", None));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages"), 0);

    linked_again(&app, &token);
    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/offboard"), &admin, Some(json!({"mode": "disable"})));
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    assert_eq!(json(&resp)["channel_links_revoked"], 1);
    tg_ok(&app, &message(6, EMILY_CHAT, "private", 6, "hello", None));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages"), 0);
}

fn linked_again(app: &TestApp, token: &str) {
    let code = new_code(app, token);
    tg_ok(app, &message(100, EMILY_CHAT, "private", 100, &format!("/start {code}"), None));
    assert_eq!(live_links(app, EMILY_CHAT), 1);
}

#[test]
fn creating_channels_needs_the_permission_at_a_company_of_the_link() {
    let app = app();
    policy(&app, Policy { telegram: false, widget: false, ..Policy::default() });
    let token = emily(&app);
    for kind in ["telegram", "widget"] {
        let resp = app.send_auth("POST", &format!("/api/channels/{kind}"), &token, Some(json!({"company_id": NORTHERN_LIGHT})));
        assert_eq!(error_of(&resp), (403, "policy_denied".into()), "{kind}");
        assert_eq!(json(&resp)["error"]["permission"], kind);
        let resp = app.send_auth("POST", &format!("/api/channels/{kind}"), &token, Some(json!({"company_id": CEDAR})));
        assert_eq!(error_of(&resp), (404, "not_found".into()), "{kind}: not on the link");
        let resp = app.send_auth("POST", &format!("/api/channels/{kind}"), &token, Some(json!({"company_id": 5})));
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].clone()), (400, json!("company_id")));
        assert_eq!(app.call(request("POST", &format!("/api/channels/{kind}"), Some(json!({"company_id": NORTHERN_LIGHT})), &[])).status(), 401);
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM channel_links") + app.sql_count("SELECT count(*) FROM channel_link_codes"), 0);
}

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

/// Bob, a second contact at Northern Light whose own policy denies reading request chats, with a
/// linked Telegram chat.
fn with_bob(app: &TestApp) {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO contacts (id, first_name, last_name, email, state, created_at, updated_at) VALUES ('{BOB_CONTACT}', 'Bob', 'Berg', 'bob@nl.example', 'active', {now}, {now});
         INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{BOB_CONTACT}', '{NORTHERN_LIGHT}', {now});
         INSERT INTO users (id, kind, status, login, login_key, email, first_name, last_name, created_at, updated_at) \
           VALUES ('{BOB_USER}', 'external', 'active', 'bob', 'bob', 'bob@nl.example', 'Bob', 'Berg', {now}, {now});
         INSERT INTO links (id, user_id, contact_id, default_company_id, status, review_at, created_at, updated_at) \
           VALUES ('{BOB_LINK}', '{BOB_USER}', '{BOB_CONTACT}', '{NORTHERN_LIGHT}', 'active', {later}, {now}, {now});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{BOB_LINK}', '{NORTHERN_LIGHT}', {now});
         INSERT INTO contact_policies (contact_id, read_request_chat, send_request_chat, updated_at) VALUES ('{BOB_CONTACT}', 'deny', 'deny', {now});
         INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, external_id, external_label, created_at, updated_at) \
           VALUES ('{BOB_CHANNEL}', 'telegram', '{BOB_USER}', '{BOB_LINK}', '{NORTHERN_LIGHT}', 'active', '{BOB_CHAT}', '@bob', {now}, {now});",
        later = now + 86400 * 90
    ));
}

#[test]
fn notifications_reach_only_the_chats_of_users_who_may_see_the_event() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    with_bob(&app);
    let request = create_request(&app, &token, "Leaking roof");

    // A team message: Bob may not read request chats.
    team_message(&app, &admin, &request, "Chat message for readers");
    // A status change: both see the request.
    let resp = app.send_auth("PATCH", &format!("/api/admin/requests/{request}"), &admin, Some(json!({"status": "doing"})));
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    // A general-chat message from the team notifies nobody.
    let resp = app.send_auth("POST", &format!("/api/admin/chat/messages?company={NORTHERN_LIGHT}"), &admin, Some(json!({"body": "General news"})));
    assert_eq!(resp.status(), 201, "{}", body(&resp));
    // A request of another company notifies nobody at Northern Light.
    let resp = app.send_auth("POST", &format!("/api/admin/requests/{CEDAR_REQUEST}/messages"), &admin, Some(json!({"body": "Cedar only"})));
    assert_eq!(resp.status(), 201);

    let report = cron(&app).notifications.unwrap();
    assert_eq!((report.sent, report.dropped), (3, 1), "{report:?}");
    let emily_texts = texts_to(&app, EMILY_CHAT);
    assert!(emily_texts.iter().any(|t| t.contains("Chat message for readers")));
    assert!(emily_texts.iter().any(|t| t.contains("is now: In progress")), "{emily_texts:?}");
    let bob_texts = texts_to(&app, BOB_CHAT);
    assert_eq!(bob_texts.len(), 1, "{bob_texts:?}");
    assert!(bob_texts[0].contains("is now: In progress"));
    assert!(!bob_texts[0].contains("Reply to this message"), "Bob may not write in the request");
    assert!(sent(&app).iter().all(|(_, b)| !b["text"].as_str().unwrap().contains("Cedar") && !b["text"].as_str().unwrap().contains("General news")));
}

#[test]
fn a_document_awaiting_the_client_notifies_its_addressee_only() {
    use base64::Engine;
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    with_bob(&app);
    let pdf = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 contract");
    let upload = |title: &str, contact: Option<&str>| {
        let resp = app.send_auth("POST", "/api/admin/documents", &admin, Some(json!({"company_id": NORTHERN_LIGHT, "contact_id": contact, "title": title, "content_type": "application/pdf", "content_base64": pdf})));
        assert_eq!(resp.status(), 201, "{}", body(&resp));
        json(&resp)["id"].as_str().unwrap().to_owned()
    };
    let for_emily = upload("Service agreement", Some(EMILY_CONTACT));
    let for_all = upload("Price list", None);
    let publish = |id: &str, action: Option<&str>| {
        let b = action.map_or(json!({}), |a| json!({"required_action": a}));
        let resp = app.send_auth("POST", &format!("/api/admin/documents/{id}/publish"), &admin, Some(b));
        assert_eq!(resp.status(), 200, "{}", body(&resp));
    };
    publish(&for_emily, Some("sign"));
    publish(&for_all, None);
    assert_eq!(app.sql_count("SELECT count(*) FROM notifications"), 1, "a document that awaits nothing notifies nobody");
    let resp = app.send_auth("POST", &format!("/api/admin/documents/{for_all}/request-signature"), &admin, None);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    cron(&app);
    let emily_texts = texts_to(&app, EMILY_CHAT);
    assert!(emily_texts.iter().any(|t| t.contains("Service agreement") && t.contains("signature")), "{emily_texts:?}");
    assert!(emily_texts.iter().any(|t| t.contains("Price list")));
    assert_eq!(texts_to(&app, BOB_CHAT).len(), 1);
    assert!(texts_to(&app, BOB_CHAT)[0].contains("Price list"));
}

#[test]
fn a_document_withdrawn_before_delivery_is_not_announced() {
    use base64::Engine;
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let pdf = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 contract");
    let published = |title: &str| {
        let resp = app.send_auth("POST", "/api/admin/documents", &admin, Some(json!({"company_id": NORTHERN_LIGHT, "contact_id": EMILY_CONTACT, "title": title, "content_type": "application/pdf", "content_base64": pdf})));
        assert_eq!(resp.status(), 201, "{}", body(&resp));
        let id = json(&resp)["id"].as_str().unwrap().to_owned();
        let resp = app.send_auth("POST", &format!("/api/admin/documents/{id}/publish"), &admin, Some(json!({"required_action": "sign"})));
        assert_eq!(resp.status(), 200, "{}", body(&resp));
        id
    };
    let withdrawn = published("Draft terms");
    let kept = published("Final terms");
    assert_eq!(app.sql_count("SELECT count(*) FROM notifications WHERE document_id IS NOT NULL AND status = 'pending'"), 2);
    // The team withdraws one before the notice leaves (a retry window, or a cron run later).
    let resp = app.send_auth("POST", &format!("/api/admin/documents/{withdrawn}/withdraw"), &admin, None);
    assert_eq!(resp.status(), 200, "{}", body(&resp));

    let report = cron(&app).notifications.unwrap();
    assert_eq!((report.sent, report.dropped), (1, 1), "{report:?}");
    let texts = texts_to(&app, EMILY_CHAT);
    assert!(texts.iter().any(|t| t.contains("Final terms")), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("Draft terms")), "a withdrawn document is not announced: {texts:?}");
    assert_eq!(
        app.sql_count(&format!("SELECT count(*) FROM notifications WHERE document_id = '{withdrawn}' AND status = 'dropped' AND last_error LIKE '%no longer awaits%'")),
        1
    );
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM notifications WHERE document_id = '{kept}' AND status = 'sent'")), 1);
}

#[test]
fn failed_deliveries_are_recorded_retried_with_backoff_then_given_up_and_never_break_the_request() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Leaking roof");
    app.ports.outbound_status.set(500);
    // The team's write succeeds whatever the Bot API does.
    team_message(&app, &admin, &request, "Are you there?");

    let first = cron(&app).notifications.unwrap();
    assert_eq!(first.retried, 1);
    assert_eq!(app.sql_count("SELECT attempts FROM notifications"), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM notifications WHERE status = 'pending' AND last_error LIKE 'Bot API 500%'"), 1);
    let due = app.sql_count("SELECT next_attempt_at FROM notifications");
    assert_eq!(due - app.now.get().timestamp(), 60, "the first retry waits a minute");
    assert_eq!(cron(&app).notifications.unwrap().claimed, 0, "not before it is due");

    app.ports.outbound_status.set(0);
    for attempt in 2..=5 {
        app.advance(3600);
        cron(&app);
        assert_eq!(app.sql_count("SELECT attempts FROM notifications"), attempt);
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM notifications WHERE status = 'failed' AND last_error LIKE 'no answer%'"), 1);
    app.advance(3600);
    assert_eq!(cron(&app).notifications.unwrap().claimed, 0, "bounded: no sixth attempt");

    // A permanent refusal (the user blocked the bot) is not retried.
    app.ports.outbound_status.set(403);
    let admin = app.admin_token();
    team_message(&app, &admin, &request, "Second try");
    let report = cron(&app).notifications.unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM notifications WHERE status = 'failed'"), 2);
}

#[test]
fn an_admin_can_run_a_delivery_now_and_nobody_else_can() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Leaking roof");
    team_message(&app, &admin, &request, "Delivered on demand");
    assert_eq!(error_of(&app.send_auth("POST", "/api/admin/notifications/deliver", &token, None)), (403, "forbidden".into()));
    assert_eq!(app.post_json("/api/admin/notifications/deliver", json!({}), &[]).status(), 401);
    assert!(!last_text_to(&app, EMILY_CHAT).contains("Delivered on demand"));
    let resp = app.send_auth("POST", "/api/admin/notifications/deliver", &admin, None);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    assert_eq!(json(&resp), json!({"claimed": 1, "sent": 1, "retried": 0, "failed": 0, "dropped": 0}));
    assert!(last_text_to(&app, EMILY_CHAT).contains("Delivered on demand"));

    let mut unconfigured = app;
    unconfigured.config.telegram_bot_token = None;
    let admin = unconfigured.admin_token();
    assert_eq!(error_of(&unconfigured.send_auth("POST", "/api/admin/notifications/deliver", &admin, None)), (503, "unavailable".into()));
}

// ---------------------------------------------------------------------------------------------
// The widget
// ---------------------------------------------------------------------------------------------

fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("v1={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn post_widget(app: &TestApp, id: &str, body: &[u8], timestamp: &str, signature: &str) -> Resp {
    let mut req = raw_request("POST", &format!("/webhooks/widget/{id}"), "application/json", body.to_vec());
    req.headers_mut().insert("x-extranet-timestamp", timestamp.parse().unwrap());
    req.headers_mut().insert("x-extranet-signature", signature.parse().unwrap());
    app.call(req)
}

fn signed(app: &TestApp, id: &str, secret: &str, event: &Value) -> Resp {
    let body = event.to_string().into_bytes();
    let ts = app.now.get().timestamp().to_string();
    post_widget(app, id, &body, &ts, &signature(secret, &ts, &body))
}

fn new_widget(app: &TestApp, token: &str) -> (String, String) {
    let resp = app.send_auth("POST", "/api/channels/widget", token, Some(json!({"company_id": NORTHERN_LIGHT})));
    assert_eq!(resp.status(), 201, "{}", body(&resp));
    let b = json(&resp);
    (b["id"].as_str().unwrap().to_owned(), b["signing_secret"].as_str().unwrap().to_owned())
}

#[test]
fn a_signed_widget_event_lands_in_the_general_chat_once() {
    let app = app();
    let token = emily(&app);
    let (id, secret) = new_widget(&app, &token);
    assert!(secret.len() >= 43);
    let listed = json(&app.get_auth("/api/channels", &token));
    assert_eq!(listed["items"][0]["kind"], "widget");
    assert_eq!(listed["items"][0]["webhook_path"], format!("/webhooks/widget/{id}"));
    assert!(!listed.to_string().contains(&secret), "the secret is shown once, at creation");

    let event = json!({"id": "evt-1", "type": "message", "text": "Hello from our website"});
    let resp = signed(&app, &id, &secret, &event);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    assert_eq!(json(&resp)["accepted"], true);
    let chat = general_chat(&app, &token);
    assert_eq!(chat.len(), 1);
    assert_eq!(chat[0]["author_kind"], "widget");

    // The same event again (a retry or a replay within the window): not accepted twice.
    let again = signed(&app, &id, &secret, &event);
    assert_eq!(json(&again), json!({"accepted": false, "reason": "duplicate"}));
    app.advance(10);
    let replay = signed(&app, &id, &secret, &event);
    assert_eq!(json(&replay)["reason"], "duplicate");
    assert_eq!(general_chat(&app, &token).len(), 1);
}

#[test]
fn forged_stale_and_unknown_widget_requests_get_the_same_401() {
    let app = app();
    let token = emily(&app);
    let (id, secret) = new_widget(&app, &token);
    let event = json!({"id": "evt-1", "type": "message", "text": "hi"}).to_string().into_bytes();
    let now = app.now.get().timestamp();
    let ts = now.to_string();

    let forged = post_widget(&app, &id, &event, &ts, &signature("guessed-secret", &ts, &event));
    let tampered = post_widget(&app, &id, br#"{"id":"evt-1","type":"message","text":"hi!"}"#, &ts, &signature(&secret, &ts, &event));
    let old_ts = (now - 301).to_string();
    let stale = post_widget(&app, &id, &event, &old_ts, &signature(&secret, &old_ts, &event));
    let future_ts = (now + 301).to_string();
    let future = post_widget(&app, &id, &event, &future_ts, &signature(&secret, &future_ts, &event));
    let unknown = post_widget(&app, "0190a000-0000-7000-8000-00000000ffff", &event, &ts, &signature(&secret, &ts, &event));
    let not_an_id = post_widget(&app, "nope", &event, &ts, &signature(&secret, &ts, &event));
    let no_header = app.call(raw_request("POST", &format!("/webhooks/widget/{id}"), "application/json", event.clone()));
    let reference = (forged.status(), body(&forged));
    assert_eq!(reference.0, 401);
    for (name, resp) in [("tampered", &tampered), ("stale", &stale), ("future", &future), ("unknown", &unknown), ("not an id", &not_an_id), ("no header", &no_header)] {
        assert_eq!((resp.status(), body(resp)), reference, "{name} must look exactly like a bad signature");
    }
    assert!(forged.headers().get("server-timing").is_none());
    assert_eq!(app.sql_count("SELECT count(*) FROM messages"), 0);

    // Within the window, the same request is fine.
    let edge_ts = (now - 300).to_string();
    assert_eq!(post_widget(&app, &id, &event, &edge_ts, &signature(&secret, &edge_ts, &event)).status(), 200);
}

#[test]
fn rotation_shows_a_new_secret_once_and_keeps_the_old_one_for_24_hours() {
    let app = app();
    let token = emily(&app);
    let (id, old) = new_widget(&app, &token);
    let resp = app.send_auth("POST", &format!("/api/channels/{id}/rotate"), &token, None);
    assert_eq!(resp.status(), 200, "{}", body(&resp));
    let rotated = json(&resp);
    let new = rotated["signing_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["previous_secret_valid_until"], "2026-11-24T09:00:00Z");

    let ev = |n: u32| json!({"id": format!("evt-{n}"), "type": "message", "text": format!("message {n}")});
    assert_eq!(json(&signed(&app, &id, &new, &ev(1)))["accepted"], true);
    assert_eq!(json(&signed(&app, &id, &old, &ev(2)))["accepted"], true, "the previous secret still works");
    // During the rotation the sender may sign with both.
    let body2 = ev(3).to_string().into_bytes();
    let ts = app.now.get().timestamp().to_string();
    let both = format!("{} {}", signature(&old, &ts, &body2), signature(&new, &ts, &body2));
    assert_eq!(json(&post_widget(&app, &id, &body2, &ts, &both))["accepted"], true);

    app.advance(24 * 3600 + 1);
    assert_eq!(signed(&app, &id, &old, &ev(4)).status(), 401, "the old secret expired");
    assert_eq!(json(&signed(&app, &id, &new, &ev(5)))["accepted"], true);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'channel_link.widget_rotated'"), 1);
    let token = emily(&app);

    // A Telegram link has no secret to rotate; someone else's link is not found.
    linked(&app, &token);
    let telegram = json(&app.get_auth("/api/channels", &token))["items"].as_array().unwrap().iter().find(|c| c["kind"] == "telegram").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(error_of(&app.send_auth("POST", &format!("/api/channels/{telegram}/rotate"), &token, None)), (409, "not_a_widget".into()));
    assert_eq!(app.send_auth("POST", "/api/channels/0190a000-0000-7000-8000-00000000ffff/rotate", &token, None).status(), 404);
}

#[test]
fn widget_messages_go_where_the_engine_allows() {
    let app = app();
    let token = emily(&app);
    let (id, secret) = new_widget(&app, &token);
    let request = create_request(&app, &token, "Leaking roof");
    let to_request = signed(&app, &id, &secret, &json!({"id": "e1", "type": "message", "text": "About the roof", "request_id": request}));
    assert_eq!(json(&to_request)["accepted"], true, "{}", body(&to_request));
    assert_eq!(thread(&app, &token, &request).len(), 1);

    // Another company's request, or an unknown one: refused the same way.
    for (n, other) in [CEDAR_REQUEST, "0190a000-0000-7000-8000-00000000ffff"].iter().enumerate() {
        let resp = signed(&app, &id, &secret, &json!({"id": format!("x{n}"), "type": "message", "text": "peek", "request_id": other}));
        assert_eq!(json(&resp), json!({"accepted": false, "reason": "request_not_found"}));
    }
    let other_type = signed(&app, &id, &secret, &json!({"id": "t1", "type": "typing"}));
    assert_eq!(json(&other_type), json!({"accepted": false, "reason": "unsupported_type"}));

    // Malformed bodies with a valid signature: 400 naming the field.
    for (raw, field) in [(json!({"type": "message", "text": "x"}), "id"), (json!({"id": "e9", "type": "message", "text": " "}), "text"), (json!({"id": "e9", "type": "message", "text": "x", "request_id": "nope"}), "request_id")] {
        let resp = signed(&app, &id, &secret, &raw);
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str().unwrap_or("").to_owned()), (400, field.to_owned()), "{raw}");
    }
    let ts = app.now.get().timestamp().to_string();
    let junk = b"{not json".to_vec();
    assert_eq!(post_widget(&app, &id, &junk, &ts, &signature(&secret, &ts, &junk)).status(), 400);

    // The policy drops the widget: refused at once, and the connection shows as suspended.
    policy(&app, Policy { widget: false, ..Policy::default() });
    let resp = signed(&app, &id, &secret, &json!({"id": "e2", "type": "message", "text": "Hello?"}));
    assert_eq!(json(&resp), json!({"accepted": false, "reason": "policy_denied"}));
    let token = emily(&app);
    assert_eq!(json(&app.get_auth("/api/channels", &token))["items"][0]["status"], "suspended");
    assert_eq!(error_of(&app.send_auth("POST", &format!("/api/channels/{id}/rotate"), &token, None)), (403, "policy_denied".into()));

    // Revoked by the client: the connection is unknown from then on.
    policy(&app, Policy::default());
    let token = emily(&app);
    assert_eq!(app.send_auth("DELETE", &format!("/api/channels/{id}"), &token, None).status(), 204);
    assert_eq!(signed(&app, &id, &secret, &json!({"id": "e3", "type": "message", "text": "Hello?"})).status(), 401);
}

// ---------------------------------------------------------------------------------------------
// What a real bot meets: blocked chats, relinked chats, fast replies, captions, groups
// ---------------------------------------------------------------------------------------------

fn member_update(update_id: i64, chat: i64, status: &str) -> Value {
    json!({"update_id": update_id, "my_chat_member": {
        "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "is_bot": false, "first_name": "Emily"}, "date": 1_795_000_000,
        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": true, "first_name": "Bot"}},
        "new_chat_member": {"status": status, "user": {"id": 1, "is_bot": true, "first_name": "Bot"}}}})
}

fn own_channel_status(app: &TestApp, token: &str) -> (String, Option<String>) {
    let listed = json(&app.get_auth("/api/channels", token));
    let live = listed["items"].as_array().unwrap().iter().find(|c| c["status"] != "revoked").cloned().unwrap();
    (live["status"].as_str().unwrap().to_owned(), live["unreachable_since"].as_str().map(str::to_owned))
}

#[test]
fn a_user_who_blocks_the_bot_is_marked_unreachable_and_notices_stop_until_they_come_back() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Broken heater");
    tg_ok(&app, &member_update(70, EMILY_CHAT, "kicked"));
    let (status, since) = own_channel_status(&app, &token);
    assert_eq!((status.as_str(), since.is_some()), ("unreachable", true), "the client sees it, with the time");
    let console = json(&app.get_auth("/api/admin/channel-links?status=unreachable", &admin));
    assert_eq!(console["items"].as_array().unwrap().len(), 1, "{console}");
    assert!(console["items"][0]["unreachable_since"].is_string());

    let before = sent(&app).len();
    team_message(&app, &admin, &request, "A technician comes tomorrow.");
    cron(&app);
    assert_eq!(sent(&app).len(), before, "nothing is sent into a blocked chat");

    // Unblocking (Telegram sends `member`) makes it reachable again, and notices flow.
    tg_ok(&app, &member_update(71, EMILY_CHAT, "member"));
    assert_eq!(own_channel_status(&app, &token), ("active".to_owned(), None));
    team_message(&app, &admin, &request, "The technician is on the way.");
    cron(&app);
    assert!(last_text_to(&app, EMILY_CHAT).contains("on the way"));
}

#[test]
fn a_bot_api_403_blocked_marks_the_chat_and_a_new_start_brings_it_back() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Broken heater");
    team_message(&app, &admin, &request, "First note");
    team_message(&app, &admin, &request, "Second note");
    app.ports.outbound_status.set(403);
    *app.ports.outbound_description.borrow_mut() = "Forbidden: bot was blocked by the user".into();
    let report = cron(&app).notifications.unwrap();
    assert_eq!((report.failed, report.dropped), (1, 1), "one 403, then the second is not even tried: {report:?}");
    assert_eq!(own_channel_status(&app, &token).0, "unreachable");
    app.ports.outbound_status.set(200);
    tg_ok(&app, &message(80, EMILY_CHAT, "private", 80, "/start", None));
    assert!(last_text_to(&app, EMILY_CHAT).contains("Welcome back"));
    assert_eq!(own_channel_status(&app, &token).0, "active");
}

/// Emily's chat linked, a request of hers with a team message the cron sent to the chat: (her
/// token, the admin's, the request, the Telegram message id of the notice).
fn noticed(app: &TestApp, title: &str, note: &str) -> (String, String, String, i64) {
    let token = emily(app);
    let admin = app.admin_token();
    linked(app, &token);
    let request = create_request(app, &token, title);
    team_message(app, &admin, &request, note);
    cron(app);
    let replied = notification_message_id(app, note);
    (token, admin, request, replied)
}

#[test]
fn after_a_relink_a_reply_to_an_older_notice_still_reaches_its_request() {
    let app = app();
    let (token, _admin, request, replied) = noticed(&app, "Leaking roof", "Is Monday fine?");
    linked_again(&app, &token);
    app.advance(1);
    tg_ok(&app, &message(90, EMILY_CHAT, "private", 90, "Monday is fine", Some(replied)));
    let bodies: Vec<String> = thread(&app, &token, &request).iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(bodies, ["Is Monday fine?", "Monday is fine"]);
    assert!(general_chat(&app, &token).is_empty());

    // Another user who later links the same chat does not inherit Emily's replies.
    with_bob(&app);
    let bob_notice_reply = message(91, EMILY_CHAT, "private", 91, "whose roof?", Some(replied));
    app.exec(&format!("UPDATE channel_links SET user_id = '{BOB_USER}' WHERE kind = 'telegram' AND external_id = '{EMILY_CHAT}' AND status <> 'revoked'"));
    tg_ok(&app, &bob_notice_reply);
    assert_eq!(thread(&app, &token, &request).len(), 2, "not into Emily's request");
}

#[test]
fn each_sent_notice_is_recorded_at_once_so_a_fast_reply_finds_its_request() {
    let app = app();
    let token = emily(&app);
    let admin = app.admin_token();
    linked(&app, &token);
    let request = create_request(&app, &token, "Leaking roof");
    team_message(&app, &admin, &request, "Is Monday fine?");
    team_message(&app, &admin, &request, "Or Tuesday?");
    // At each send, how many notices already have their Telegram message id recorded.
    *app.ports.outbound_probe.borrow_mut() = Some("SELECT count(*) FROM notifications WHERE external_message_id IS NOT NULL".into());
    cron(&app);
    assert_eq!(*app.ports.outbound_probes.borrow(), [0, 1], "the first id was written before the second send");
    // So a reply to the first, arriving while the second is on its way, finds its request.
    let replied = notification_message_id(&app, "Monday");
    app.advance(1);
    tg_ok(&app, &message(93, EMILY_CHAT, "private", 93, "Monday", Some(replied)));
    assert_eq!(thread(&app, &token, &request).len(), 3);
}

#[test]
fn captions_pass_on_as_text_groups_get_silence_bad_codes_a_clear_answer_and_long_texts_a_refusal() {
    let app = app();
    let token = emily(&app);
    linked(&app, &token);
    // A photo with a caption: the caption reaches the team, the client learns the file did not.
    let mut photo = message(95, EMILY_CHAT, "private", 95, "", None);
    photo["message"].as_object_mut().unwrap().remove("text");
    photo["message"]["photo"] = json!([{"file_id": "x", "width": 1, "height": 1}]);
    photo["message"]["caption"] = json!("The meter reading");
    tg_ok(&app, &photo);
    let general: Vec<String> = general_chat(&app, &token).iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(general, ["The meter reading"]);
    assert!(last_text_to(&app, EMILY_CHAT).contains("the file itself was not"));

    // A group the bot is in but that is not linked: no answer at all.
    let before = sent(&app).len();
    tg_ok(&app, &message(96, -100_777, "group", 96, "hello bot", None));
    assert_eq!(sent(&app).len(), before, "silent in groups");

    // A /start whose code cannot be ours says so, rather than greeting.
    tg_ok(&app, &message(97, 777, "private", 97, "/start <not-a-code>", None));
    assert!(last_text_to(&app, 777).contains("not valid"), "{}", last_text_to(&app, 777));

    // The portal's cap holds here too.
    tg_ok(&app, &message(98, EMILY_CHAT, "private", 98, &"y".repeat(5001), None));
    assert!(last_text_to(&app, EMILY_CHAT).contains("too long"));
    assert_eq!(general_chat(&app, &token).len(), 1);
    tg_ok(&app, &message(99, EMILY_CHAT, "private", 99, &"y".repeat(5000), None));
    assert_eq!(general_chat(&app, &token).len(), 2, "5000 characters pass");
}
