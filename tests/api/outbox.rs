//! What leaves the system after the response: the CRM's event feed and its signed webhooks
//! (Standard Webhooks), and email (Cloudflare Email Service behind the ports' fake binding).

use crate::support::*;
use extranet::channels::standard_webhooks::WebhookSecret;
use serde_json::{json, Value};

const CRM: &str = "crm-sync-secret-for-tests";
const HOOK_URL: &str = "https://crm.example/hooks/extranet";
const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SUPPORT: &str = "0190a000-0000-7000-8000-0000000000a1";
const ADMIN_EMAIL: &str = "ada@vector.example";

/// Emily active at Northern Light, a Support pipeline her company's policy allows, and the admin
/// (with an email address); returns the app and the admin's token.
fn world(vars: &[(&str, &str)]) -> (TestApp, String) {
    let app = TestApp::new().with_vars(vars).with_emily_active();
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO pipelines (id, name, fields, position, created_at, updated_at) VALUES ('{SUPPORT}', 'Support', '[]', 0, {now}, {now});
         INSERT INTO pipeline_stages (pipeline_id, id, name, is_final, position) VALUES ('{SUPPORT}', 'new', 'New', 0, 0), ('{SUPPORT}', 'done', 'Done', 1, 1);
         INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, allowed_pipelines, updated_at) \
           VALUES ('{NORTHERN_LIGHT}', 1, 1, 1, 1, 1, '[\"{SUPPORT}\"]', {now});
         UPDATE links SET policy_version = policy_version + 1 WHERE id = '{EMILY_LINK}';"
    ));
    let admin = app.admin_token();
    app.exec(&format!("UPDATE users SET email = '{ADMIN_EMAIL}' WHERE login_key = 'admin'"));
    (app, admin)
}

fn crm_get(app: &TestApp, path: &str) -> extranet::http::Resp {
    app.call(request("GET", path, None, &[("authorization", &format!("Bearer {CRM}"))]))
}

fn feed(app: &TestApp, after: &str) -> Value {
    let resp = crm_get(app, &format!("/api/crm/events?after={after}&limit=200"));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    json(&resp)
}

fn types(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap().to_owned()).collect()
}

/// Emily creates a request, writes in it and attaches a file: three client actions.
fn client_actions(app: &TestApp) -> String {
    let emily = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    let resp = app.send_auth("POST", "/api/requests", &emily, Some(json!({"company_id": NORTHERN_LIGHT, "pipeline_id": SUPPORT, "title": "Invoice 7", "description": "", "fields": {}})));
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    let request = json(&resp)["id"].as_str().unwrap().to_owned();
    let resp = app.send_auth("POST", &format!("/api/requests/{request}/messages"), &emily, Some(json!({"body": "The total looks wrong"})));
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    let file = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"%PDF-1.4 not much of a pdf");
    let resp = app.send_auth("POST", &format!("/api/requests/{request}/attachments"), &emily,
        Some(json!({"file_name": "invoice.pdf", "content_type": "application/pdf", "content_base64": file})));
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    request
}

fn deliver(app: &TestApp, admin: &str) -> Value {
    let resp = app.send_auth("POST", "/api/admin/outbox/deliver", admin, None);
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    json(&resp)
}

fn outbox(app: &TestApp, admin: &str) -> Value {
    let resp = app.get_auth("/api/admin/outbox", admin);
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    json(&resp)
}

// ---------------------------------------------------------------------------------------------
// The pull feed
// ---------------------------------------------------------------------------------------------

#[test]
fn the_feed_has_client_actions_and_access_changes_in_commit_order_and_pages_by_cursor() {
    let (app, _admin) = world(&[]);
    let request = client_actions(&app);
    let all = feed(&app, "0");
    assert_eq!(types(&all), ["invitation.activated", "request.created", "message.sent", "attachment.uploaded"], "sign-ins are not CRM events");
    let items = all["items"].as_array().unwrap();
    let cursors: Vec<i64> = items.iter().map(|i| i["cursor"].as_str().unwrap().parse().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    assert_eq!(all["next_cursor"].as_str().unwrap(), cursors[3].to_string());
    let created = &items[1];
    assert_eq!(created["data"]["actor"], json!({"kind": "external", "id": EMILY_USER}));
    assert_eq!(created["data"]["company_ids"], json!([NORTHERN_LIGHT]));
    assert_eq!(created["data"]["details"]["request_id"], json!(request));
    assert_eq!(items[3]["data"]["details"]["file_name"], "invoice.pdf");

    // Exactly once per cursor: after the second item come the third and fourth, then nothing.
    let page = feed(&app, &cursors[1].to_string());
    assert_eq!(types(&page), ["message.sent", "attachment.uploaded"]);
    let resp = crm_get(&app, &format!("/api/crm/events?after={}&limit=1", cursors[1]));
    let one = json(&resp);
    assert_eq!((types(&one).len(), one["has_more"].as_bool(), one["next_cursor"].as_str()), (1, Some(true), Some(cursors[2].to_string().as_str())));
    let end = feed(&app, &cursors[3].to_string());
    assert_eq!((types(&end).len(), end["next_cursor"].as_str()), (0, Some(cursors[3].to_string().as_str())), "polling again keeps the cursor");
}

#[test]
fn only_the_crm_credential_and_admins_read_the_feed_and_bad_cursors_are_named() {
    let (app, admin) = world(&[]);
    let emily = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    assert_eq!(app.get("/api/crm/events").status(), 401);
    assert_eq!(app.call(request("GET", "/api/crm/events", None, &[("authorization", "Bearer not-the-crm-token")])).status(), 401);
    assert_eq!(app.get_auth("/api/crm/events", &emily).status(), 403, "a client never reads other clients' events");
    assert_eq!(app.get_auth("/api/crm/events", &admin).status(), 200);
    for bad in ["-1", "abc", "1.5"] {
        let resp = crm_get(&app, &format!("/api/crm/events?after={bad}"));
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some("after")), "{bad}");
    }
}

#[test]
fn events_past_the_retention_leave_the_feed_and_a_cursor_before_them_is_told_so() {
    let (app, _admin) = world(&[("CRM_EVENTS_RETENTION_DAYS", "7")]);
    client_actions(&app);
    let old = feed(&app, "0");
    let first: i64 = old["items"][0]["cursor"].as_str().unwrap().parse().unwrap();
    let last = old["next_cursor"].as_str().unwrap().to_owned();
    app.advance(8 * 86400);
    client_actions(&app);
    let fresh = feed(&app, "0");
    assert_eq!(types(&fresh), ["request.created", "message.sent", "attachment.uploaded"], "the week-old events are gone");
    let resp = crm_get(&app, &format!("/api/crm/events?after={first}"));
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (410, "cursor_expired".to_owned()), "unread events expired after it");
    assert_eq!(types(&feed(&app, &last)).len(), 3, "a reader that kept up loses nothing");
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

fn hooked() -> (TestApp, String) {
    world(&[("CRM_WEBHOOK_URL", HOOK_URL), ("CRM_WEBHOOK_SECRET", HOOK_SECRET)])
}

/// Every webhook sent so far: (webhook-id, its parsed body), after checking its signature.
fn pushed(app: &TestApp) -> Vec<(String, Value)> {
    let secret = WebhookSecret::parse(HOOK_SECRET).unwrap();
    let calls = app.ports.outbound.borrow();
    let headers = app.ports.outbound_headers.borrow();
    calls
        .iter()
        .zip(headers.iter())
        .filter(|((url, _), _)| url == HOOK_URL)
        .map(|((_, body), headers)| {
            let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
            let (id, ts) = (get("webhook-id"), get("webhook-timestamp"));
            assert_eq!(get("webhook-signature"), secret.sign(&id, ts.parse().unwrap(), body), "signed over id.timestamp.body");
            (id, serde_json::from_str(body).unwrap())
        })
        .collect()
}

#[test]
fn webhooks_go_out_signed_in_order_with_the_feeds_items() {
    let (app, admin) = hooked();
    client_actions(&app);
    let report = deliver(&app, &admin);
    assert_eq!(report["crm_webhook"]["sent"], 4, "{report}");
    let sent = pushed(&app);
    let feed_items = feed(&app, "0")["items"].as_array().unwrap().clone();
    assert_eq!(sent.len(), feed_items.len());
    for ((id, body), item) in sent.iter().zip(&feed_items) {
        assert_eq!((id.as_str(), &body["type"], &body["data"]), (item["id"].as_str().unwrap(), &item["type"], item));
    }
    assert_eq!(deliver(&app, &admin)["crm_webhook"]["sent"], 0, "nothing twice");
    let status = outbox(&app, &admin)["crm_webhook"].clone();
    assert_eq!((status["configured"].as_bool(), status["pending"].as_i64(), status["failed"].as_i64()), (Some(true), Some(0), Some(0)));
}

#[test]
fn a_failed_push_holds_the_rest_back_retries_with_the_same_id_and_gives_up_after_five() {
    let (app, admin) = hooked();
    client_actions(&app);
    app.ports.outbound_status.set(503);
    let report = deliver(&app, &admin);
    assert_eq!((report["crm_webhook"]["sent"].as_u64(), report["crm_webhook"]["retried"].as_u64()), (Some(0), Some(1)), "{report}");
    assert_eq!(deliver(&app, &admin)["crm_webhook"]["retried"], 0, "not due again for a minute");
    let status = outbox(&app, &admin)["crm_webhook"].clone();
    assert_eq!((status["pending"].as_i64(), status["attempts"].as_i64(), status["last_error"].as_str()), (Some(4), Some(1), Some("the CRM answered 503")));

    app.advance(61);
    app.ports.outbound_status.set(200);
    assert_eq!(deliver(&app, &admin)["crm_webhook"]["sent"], 4);
    let ids: Vec<String> = pushed(&app).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids[0], ids[1], "the retry carries the same webhook-id, so the receiver can dedupe it");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 4, "in order, each event once after dedupe: {ids:?}");

    // Down for good: five tries (1, 2, 4, 8 minutes apart), then it is recorded and the push moves on.
    let emily = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    app.ports.outbound_status.set(500);
    let resp = app.send_auth("POST", "/api/requests", &emily, Some(json!({"company_id": NORTHERN_LIGHT, "pipeline_id": SUPPORT, "title": "Lost?", "description": "", "fields": {}})));
    assert_eq!(resp.status(), 201);
    for _ in 0..5 {
        deliver(&app, &app.admin_token());
        app.advance(16 * 60);
    }
    let admin = app.admin_token();
    let status = outbox(&app, &admin)["crm_webhook"].clone();
    assert_eq!((status["failed"].as_i64(), status["pending"].as_i64()), (Some(1), Some(0)), "{status}");
    assert_eq!(status["recent_failures"][0]["type"], "request.created");
    assert_eq!(status["recent_failures"][0]["attempts"], 5);

    // The CRM is back: a replay from before the failure sends it (and what follows) again, in order.
    app.ports.outbound_status.set(200);
    let before = status["recent_failures"][0]["cursor"].as_str().unwrap().parse::<i64>().unwrap() - 1;
    let resp = app.send_auth("POST", "/api/admin/crm/events/replay", &admin, Some(json!({"after": before.to_string()})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let replayed = json(&resp);
    assert_eq!((replayed["queued"].as_i64(), replayed["push"]["sent"].as_u64()), (Some(1), Some(1)), "{replayed}");
    let last = pushed(&app).last().unwrap().1.clone();
    assert_eq!(last["data"]["data"]["details"]["title"], "Lost?", "{last}");
}

#[test]
fn replay_needs_a_configured_webhook_and_an_admin() {
    let (app, admin) = world(&[]);
    let resp = app.send_auth("POST", "/api/admin/crm/events/replay", &admin, Some(json!({"after": "0"})));
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (503, "unavailable".to_owned()));
    let resp = app.send_auth("POST", "/api/admin/crm/events/replay", &admin, Some(json!({"after": "x"})));
    assert_eq!(json(&resp)["error"]["field"], "after");
    let status = outbox(&app, &admin);
    assert_eq!(status["crm_webhook"]["configured"], false);
    assert!(status["crm_webhook"]["reason"].as_str().unwrap().contains("CRM_WEBHOOK_URL"));
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

fn mailing() -> (TestApp, String) {
    let (app, admin) = world(&[("EMAIL_FROM", "portal@mail.vector.example")]);
    app.ports.email_binding.set(true);
    (app, admin)
}

fn mails(app: &TestApp) -> Vec<extranet::app::OutgoingEmail> {
    app.ports.emails.borrow().clone()
}

#[test]
fn email_is_off_without_a_sender_or_binding_and_the_console_says_why() {
    let (app, admin) = world(&[]);
    let status = outbox(&app, &admin)["email"].clone();
    assert_eq!((status["configured"].as_bool(), status["reason"].as_str()), (Some(false), Some("EMAIL_FROM is not set")));
    // Emily has a password: a reset goes by email or not at all, and email is off.
    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/invitations"), &admin, None);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "reset_needs_email".to_owned()), "never copy-once for a reset");
    assert!(json(&resp)["error"]["message"].as_str().unwrap().contains("email is not set up"));

    let app = app.with_vars(&[("EMAIL_FROM", "portal@mail.vector.example")]);
    assert_eq!(outbox(&app, &admin)["email"]["reason"], "the EMAIL send_email binding is missing");
    // Events while email was off are not mailed once it is on.
    patch_link(&app, &admin, "disabled");
    deliver(&app, &admin);
    app.ports.email_binding.set(true);
    assert_eq!(deliver(&app, &admin)["email"]["sent"], 0);
    assert!(mails(&app).is_empty());
}

fn patch_link(app: &TestApp, admin: &str, status: &str) {
    let resp = app.send_auth("PATCH", &format!("/api/admin/links/{EMILY_LINK}"), admin, Some(json!({"status": status})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
}

#[test]
fn an_invitation_is_emailed_with_its_link_which_the_outbox_then_forgets() {
    let (app, admin) = mailing();
    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/invitations"), &admin, None);
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    let issued = json(&resp);
    assert_eq!((issued["emailed_to"].as_str(), issued["email"].as_str()), (Some(EMILY_LOGIN), Some("queued")));
    assert!(issued["activation_url"].is_null(), "a reset's link goes to Emily's inbox only, not to the issuer");
    assert_eq!(deliver(&app, &admin)["email"]["sent"], 1);
    let sent = mails(&app);
    assert_eq!((sent[0].to.as_str(), sent[0].from.as_str()), (EMILY_LOGIN, "portal@mail.vector.example"));
    assert_eq!(sent[0].subject, "Client portal: set a new password", "Emily already has a password: a reset");
    let url = sent[0].text.split_whitespace().find(|w| w.contains("/activate#")).expect("the link").to_owned();
    assert!(url.starts_with("https://portal.test/activate#") && sent[0].html.contains(&format!("href=\"{url}\"")), "{}", sent[0].text);
    assert_eq!(app.sql_count("SELECT count(*) FROM emails WHERE data LIKE '%activate#%'"), 0, "the token does not stay in the outbox");

    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/invitations"), &admin, Some(json!({"send_email": false})));
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "reset_needs_email".to_owned()), "a reset is never handed to the employee");
    assert_eq!(deliver(&app, &admin)["email"]["sent"], 0);
    app.exec(&format!("UPDATE users SET email = NULL WHERE id = '{EMILY_USER}'"));
    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/invitations"), &admin, None);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "reset_needs_email".to_owned()), "no address, no reset");
    // A first invitation (no password yet) may still be copied once, as before.
    app.exec(&format!("UPDATE users SET password_hash = NULL WHERE id = '{EMILY_USER}'"));
    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/invitations"), &admin, None);
    assert_eq!((json(&resp)["email"].as_str(), json(&resp)["activation_url"].is_string()), (Some("no_address"), true));
    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/invitations"), &admin, Some(json!({"send_email": "yes"})));
    assert_eq!(json(&resp)["error"]["field"], "send_email");
}

#[test]
fn clients_hear_of_access_changes_password_changes_and_a_new_country() {
    let (app, admin) = mailing();
    let login_from = |country: &str| {
        let resp = app.call(request("POST", "/api/auth/login", Some(json!({"login": EMILY_LOGIN, "password": EMILY_PASSWORD, "refresh_transport": "body"})), &[("cf-ipcountry", country)]));
        assert_eq!(resp.status(), 200);
        json(&resp)["access_token"].as_str().unwrap().to_owned()
    };
    login_from("NO");
    login_from("NO");
    let emily = login_from("BR");
    login_from("BR");
    patch_link(&app, &admin, "disabled");
    patch_link(&app, &admin, "active");
    let emily_again = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    let _ = emily;
    let resp = app.send_auth("POST", "/api/me/password", &emily_again, Some(json!({"current_password": EMILY_PASSWORD, "new_password": "velvet thunder marmalade 88", "refresh_transport": "body"})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    deliver(&app, &admin);
    let mut subjects: Vec<String> = mails(&app).iter().filter(|m| m.to == EMILY_LOGIN).map(|m| m.subject.clone()).collect();
    subjects.sort();
    assert_eq!(subjects, [
        "Client portal: a sign-in from a new country",
        "Client portal: your access is back on",
        "Client portal: your access is paused",
        "Client portal: your password was changed",
    ], "one new-country notice (BR once), none for the first sign-in");
    assert!(mails(&app).iter().any(|m| m.subject.contains("new country") && m.text.contains("from BR")));
    assert_eq!(deliver(&app, &admin)["email"]["claimed"], 0, "each once");
}

#[test]
fn a_lockout_reaches_the_admins_when_no_one_answers_for_the_link_and_failures_show_in_the_console() {
    let (app, admin) = mailing();
    app.ports.email_refuses.set(true);
    for _ in 0..20 {
        app.login(EMILY_LOGIN, "not her password");
        if app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'account.locked'") > 0 {
            break;
        }
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM emails WHERE kind = 'locked_out'"), 0, "written when the outbox runs");
    deliver(&app, &admin);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM emails WHERE kind = 'locked_out' AND to_address = '{ADMIN_EMAIL}'")), 1);
    for _ in 0..5 {
        deliver(&app, &app.admin_token());
        app.advance(16 * 60);
    }
    let status = outbox(&app, &app.admin_token())["email"].clone();
    assert_eq!(status["failed"], 1, "{status}");
    assert_eq!(status["recent_failures"][0]["kind"], "locked_out");
    assert!(status["recent_failures"][0]["error"].as_str().unwrap().contains("not verified"));
    assert!(mails(&app).is_empty());
}

#[test]
fn the_review_digest_goes_once_a_day_to_whoever_answers_for_the_links() {
    let (app, admin) = mailing();
    app.exec(&format!("UPDATE links SET review_at = {} WHERE id = '{EMILY_LINK}'", app.now.get().timestamp() - 60));
    let cron = || pollster::block_on(extranet::app::delivery::maintenance::run_cron(&app.ports, Some(&app.config), app.now.get()));
    let first = cron();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(first.maintenance.as_ref().map(|m| m.review_digests_written), Some(1), "{first:?}");
    assert_eq!(cron().maintenance.unwrap().review_digests_written, 0, "the same day: no second digest");
    let digest: Vec<_> = mails(&app).into_iter().filter(|m| m.subject.contains("due for review")).collect();
    assert_eq!(digest.len(), 1);
    assert_eq!(digest[0].to, ADMIN_EMAIL, "nobody answers for Emily's link: the admins do");
    assert!(digest[0].text.contains("https://portal.test/extranet-governance"));
    let _ = admin;
}

#[test]
fn a_document_for_signature_and_a_reused_refresh_token_are_told_to_the_right_people() {
    let (app, admin) = mailing();
    let file = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"Terms.\n");
    let resp = app.send_auth("POST", "/api/admin/documents", &admin,
        Some(json!({"company_id": NORTHERN_LIGHT, "title": "Service agreement 2027", "content_type": "text/plain", "content_base64": file})));
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    let document = json(&resp)["id"].as_str().unwrap().to_owned();
    deliver(&app, &admin);
    assert!(mails(&app).is_empty(), "a draft tells no one");
    let resp = app.send_auth("POST", &format!("/api/admin/documents/{document}/publish"), &admin, Some(json!({"required_action": "sign"})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    deliver(&app, &admin);
    let sent = mails(&app);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].to.as_str(), sent[0].subject.as_str()), (EMILY_LOGIN, "Client portal: a document awaits your signature"));
    assert!(!sent[0].text.contains("Service agreement"), "the title stays in the portal");

    // The same refresh token presented twice: the second is a theft signal for the admins.
    let (_, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    for expected in [200, 401] {
        let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": refresh, "refresh_transport": "body"}), &[]);
        assert_eq!(resp.status(), expected);
        app.advance(30); // past the grace for a concurrent refresh
    }
    deliver(&app, &admin);
    let theft: Vec<_> = mails(&app).into_iter().filter(|m| m.subject.contains("stolen")).collect();
    assert_eq!(theft.len(), 1);
    assert_eq!(theft[0].to, ADMIN_EMAIL);
    assert!(theft[0].text.contains(EMILY_LOGIN), "{}", theft[0].text);
}

#[test]
fn the_openapi_document_describes_the_feed_and_the_signed_webhook() {
    let (app, _admin) = world(&[]);
    client_actions(&app);
    let doc = json(&app.get("/openapi.json"));
    let hook = &doc["webhooks"]["crmEvent"]["post"];
    let headers: Vec<&str> = hook["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(headers, ["webhook-id", "webhook-timestamp", "webhook-signature"]);
    assert_eq!(hook["requestBody"]["content"]["application/json"]["schema"]["properties"]["data"]["$ref"], "#/components/schemas/CrmEvent");
    let feed_op = &doc["paths"]["/api/crm/events"]["get"];
    assert_eq!(feed_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/CrmEventFeed");
    let known: Vec<&str> = doc["components"]["schemas"]["CrmEvent"]["properties"]["type"]["enum"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    for t in types(&feed(&app, "0")) {
        assert!(known.contains(&t.as_str()), "{t} is not in the documented types");
    }
}

#[test]
fn a_webhook_configured_later_starts_from_then_and_a_replay_sends_the_history() {
    let (app, _admin) = world(&[]);
    client_actions(&app);
    pollster::block_on(extranet::app::delivery::maintenance::run_cron(&app.ports, Some(&app.config), app.now.get()));
    let app = app.with_vars(&[("CRM_WEBHOOK_URL", HOOK_URL), ("CRM_WEBHOOK_SECRET", HOOK_SECRET)]);
    let admin = app.admin_token();
    assert_eq!(deliver(&app, &admin)["crm_webhook"]["sent"], 0, "history is in the feed, not pushed unasked");
    client_actions(&app);
    assert_eq!(deliver(&app, &admin)["crm_webhook"]["sent"], 3);
    let resp = app.send_auth("POST", "/api/admin/crm/events/replay", &admin, Some(json!({"after": "0"})));
    assert_eq!(json(&resp)["push"]["sent"], 7, "asked for: the whole history, in order");
}

#[test]
fn the_openapi_document_links_what_is_created_to_what_takes_its_id() {
    let app = TestApp::new();
    let doc = json(&app.get("/openapi.json"));
    let links = |path: &str, method: &str, status: &str| doc["paths"][path][method]["responses"][status]["links"].clone();
    let created = links("/api/admin/links", "post", "201");
    assert_eq!(created["get_api_admin_links_id"]["parameters"]["id"], "$response.body#/id");
    assert_eq!(created["post_api_admin_links_id_invitations"]["parameters"]["id"], "$response.body#/id");
    assert_eq!(created["get_api_admin_users_id"]["parameters"]["id"], "$response.body#/user/id");
    let attachment = links("/api/requests/{id}/attachments", "post", "201");
    assert_eq!(attachment["get_api_requests_id_attachments_aid"]["parameters"], json!({"id": "$request.path.id", "aid": "$response.body#/id"}));
    let upsert = links("/api/admin/companies/{id}", "put", "200");
    assert_eq!(upsert["get_api_admin_companies_id_policy"]["parameters"]["id"], "$request.path.id");
    // Every link names an operation that exists, with exactly its path parameters.
    let ops: std::collections::BTreeMap<String, Vec<String>> = doc["paths"].as_object().unwrap().iter()
        .flat_map(|(path, item)| item.as_object().unwrap().values().map(move |op| (op["operationId"].as_str().unwrap().to_owned(), path.clone())))
        .map(|(id, path)| (id, path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).map(str::to_owned).collect()))
        .collect();
    let mut count = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for link in op["responses"]["201"]["links"].as_object().into_iter().flat_map(|l| l.values()) {
                let target = link["operationId"].as_str().unwrap();
                let mut given: Vec<String> = link["parameters"].as_object().unwrap().keys().cloned().collect();
                let mut wanted = ops[target].clone();
                given.sort();
                wanted.sort();
                assert_eq!(given, wanted, "{target}");
                count += 1;
            }
        }
    }
    assert!(count > 30, "{count} links");
}

#[test]
fn a_new_employee_gets_the_invitation_by_email_too_unless_the_admin_says_not() {
    let (app, admin) = mailing();
    let invite = |id: &str, login: &str, send: Option<bool>| {
        let mut body = json!({"login": login, "email": format!("{login}@vector.example"), "first_name": "Marta", "last_name": "Lind",
            "role": "manager", "company_ids": [NORTHERN_LIGHT]});
        if let Some(send) = send {
            body["send_email"] = json!(send);
        }
        let resp = app.send_auth("PUT", &format!("/api/admin/employees/{id}"), &admin, Some(body));
        assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
        json(&resp)["invitation"].clone()
    };
    let marta = invite("0190a000-0000-7000-8000-0000000000e7", "marta", None);
    assert_eq!(marta["emailed_to"], "marta@vector.example");
    let quiet = invite("0190a000-0000-7000-8000-0000000000e8", "quinn", Some(false));
    assert_eq!(quiet["emailed_to"], Value::Null);
    assert_eq!(deliver(&app, &admin)["email"]["sent"], 1);
    let sent = mails(&app);
    assert_eq!(sent[0].to, "marta@vector.example");
    assert!(sent[0].text.contains(marta["activation_url"].as_str().unwrap()));
}
