//! The security review's fixes, each shown at the HTTP layer over real SQLite (or on the pure
//! function the edge calls): logout, the after-response pass, the CRM push lease, retention,
//! bootstrap, the country header, the signature memory, the OpenAPI cache and the bookmark.

use crate::support::*;
use extranet::app::delivery::maintenance::{pass_after_response, run_cron};
use extranet::app::{Ports, Queued};
use extranet::config::Config;
use serde_json::{json, Value};

const CRM: &str = "crm-sync-secret-for-tests";
const HOOK_URL: &str = "https://crm.example/hooks/extranet";
const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BOOT: &str = "bootstrap-secret-for-tests-0123456789abcdef";

fn hooked() -> (TestApp, String) {
    let app = TestApp::new().with_vars(&[("CRM_WEBHOOK_URL", HOOK_URL), ("CRM_WEBHOOK_SECRET", HOOK_SECRET)]).with_emily_active();
    let admin = app.admin_token();
    (app, admin)
}

fn cursor(app: &TestApp) -> i64 {
    app.sql_count("SELECT seq FROM outbox_cursors WHERE name = 'crm_webhook'")
}

fn deliver(app: &TestApp, admin: &str) -> Value {
    let resp = app.send_auth("POST", "/api/admin/outbox/deliver", admin, None);
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    json(&resp)
}

/// Three CRM events (link.updated) by disabling and enabling Emily's link.
fn crm_events(app: &TestApp, admin: &str, n: usize) {
    for i in 0..n {
        let status = if i % 2 == 0 { "disabled" } else { "active" };
        let resp = app.send_auth("PATCH", &format!("/api/admin/links/{EMILY_LINK}"), admin, Some(json!({"status": status})));
        assert!(resp.status().is_success(), "{}", String::from_utf8_lossy(resp.body()));
    }
}

// ---- 4: logout and the after-response pass ----

#[test]
fn logout_with_a_made_up_refresh_token_is_401_and_writes_nothing() {
    let app = TestApp::new().with_emily_active();
    let (_, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (sid, _) = refresh.split_once('.').unwrap();
    let audit_before = app.sql_count("SELECT count(*) FROM audit_events");
    app.ports.db_stats().take_queued();
    for token in [format!("{sid}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "0190a000-0000-7000-8000-00000000ffff.AAAA".into(), "nonsense".into()] {
        let resp = app.post_json("/api/auth/logout", json!({"refresh_token": token}), &[]);
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (401, "unauthenticated".into()), "{token}");
        assert!(header(&resp, "set-cookie").is_some_and(|c| c.contains("Max-Age=0")), "the cookie is cleared either way");
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events"), audit_before, "no audit row");
    assert!(!app.ports.db_stats().queued().any(), "nothing queued, so no after-response pass");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE id = '{sid}' AND revoked_at IS NULL")), 1, "the session lives on");
}

#[test]
fn logout_with_a_real_refresh_token_is_204_revokes_and_a_second_time_is_401() {
    let app = TestApp::new().with_emily_active();
    let (access, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (sid, _) = refresh.split_once('.').unwrap();
    let resp = app.post_json("/api/auth/logout", json!({"refresh_token": refresh}), &[]);
    assert_eq!(resp.status(), 204);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE id = '{sid}' AND revoked_reason = 'logout'")), 1);
    assert_eq!(app.get_auth("/api/me", &access).status(), 401);
    assert_eq!(app.post_json("/api/auth/logout", json!({"refresh_token": refresh}), &[]).status(), 401, "an ended session ends no more");
}

#[test]
fn the_after_response_pass_runs_only_when_rows_were_queued() {
    let on = TestApp::new().with_vars(&[("EMAIL_FROM", "portal@mail.example.com")]).config;
    let off = TestApp::new().config;
    let nothing = Queued::default();
    let audit = Queued { audit: true, ..Queued::default() };
    let telegram = Queued { notifications: true, ..Queued::default() };
    assert_eq!(pass_after_response(true, nothing, &on), None, "a write that queued nothing: no pass");
    assert_eq!(pass_after_response(true, audit, &on), Some(false), "an audit row with email on: email/CRM pass");
    assert_eq!(pass_after_response(true, audit, &off), None, "an audit row with no stream configured");
    assert_eq!(pass_after_response(true, telegram, &off), Some(true));
    assert_eq!(pass_after_response(false, telegram, &on), None, "a failed answer");
    // What the statements wrote, read from the SQL and the changed rows.
    assert!(Queued::default().with("INSERT INTO audit_events (id) VALUES (?1)", 1).audit);
    assert!(!Queued::default().with("INSERT INTO audit_events (id) SELECT ?1 WHERE 0", 0).any(), "a guard that failed");
    assert!(Queued::default().with("  insert into notifications (id) SELECT 1", 2).notifications);
    assert!(Queued::default().with("INSERT INTO emails (id) VALUES (?1)", 1).emails);
    assert!(!Queued::default().with("UPDATE sessions SET revoked_at = 1", 1).any());
    assert!(!Queued::default().with("INSERT INTO emails_archive (id) VALUES (1)", 1).any());
}

// ---- 6: the CRM push lease ----

#[test]
fn a_push_that_lost_its_lease_moves_no_cursor_records_no_failure_and_stops() {
    let (app, admin) = hooked();
    crm_events(&app, &admin, 3);
    let before = cursor(&app);
    // While the first event is on its way, another run takes the push (the first outlived its lease).
    *app.ports.outbound_script.borrow_mut() =
        Some("UPDATE outbox_cursors SET lease_token = 'another-run', lease_until = 9999999999 WHERE name = 'crm_webhook'".into());
    app.ports.outbound_status.set(500);
    app.exec("UPDATE outbox_cursors SET attempts = 4 WHERE name = 'crm_webhook'");
    let report = deliver(&app, &admin)["crm_webhook"].clone();
    assert_eq!(report["lease_lost"], true, "{report}");
    assert_eq!(app.ports.outbound.borrow().iter().filter(|(u, _)| u == HOOK_URL).count(), 1, "stopped after the send it could not save");
    assert_eq!(cursor(&app), before, "the cursor did not move");
    assert_eq!(app.sql_count("SELECT count(*) FROM crm_push_failures"), 0, "no failure recorded by a run without the lease");
    assert_eq!(app.sql_count("SELECT count(*) FROM outbox_cursors WHERE lease_token = 'another-run'"), 1, "the other run's lease stands");
}

#[test]
fn a_push_stops_taking_events_after_its_time_budget_and_the_next_run_goes_on() {
    let (app, admin) = hooked();
    crm_events(&app, &admin, 20);
    // Every send takes 5 s (a receiver at its timeout): 60 s hold twelve of them.
    app.ports.outbound_delay_ms.set(5_000.0);
    let report = deliver(&app, &admin)["crm_webhook"].clone();
    assert_eq!((report["sent"].as_u64(), report["budget_spent"].as_bool()), (Some(12), Some(true)), "{report}");
    assert_eq!(app.sql_count("SELECT lease_until FROM outbox_cursors WHERE name = 'crm_webhook'"), 0, "released at the end");
    let pending = app.sql_count("SELECT count(*) FROM audit_events WHERE seq > (SELECT seq FROM outbox_cursors WHERE name = 'crm_webhook') AND action LIKE 'link.%'");
    assert!(pending > 0);
    let report = deliver(&app, &admin)["crm_webhook"].clone();
    assert_eq!(report["sent"].as_i64(), Some(pending), "{report}");
}

// ---- 7: retention ----

#[test]
fn a_plain_http_crm_webhook_is_refused_but_loopback_is_allowed() {
    let with = |url: &str| Config::from_lookup(|n| match n {
        "JWT_SIGNING_KEYS" => Some(TEST_SIGNING_KEYS.into()),
        "CRM_WEBHOOK_URL" => Some(url.into()),
        "CRM_WEBHOOK_SECRET" => Some(HOOK_SECRET.into()),
        _ => None,
    });
    for bad in ["http://crm.example/hook", "http://localhost.evil.example/x", "http://127.0.0.1@evil.example/x"] {
        assert_eq!(with(bad).unwrap_err().name, "CRM_WEBHOOK_URL", "{bad}");
    }
    for good in ["https://crm.example/hook", "http://127.0.0.1:8899/hooks", "http://localhost/x"] {
        assert!(with(good).is_ok(), "{good}");
    }
}

#[test]
fn audit_retention_is_a_validated_var_with_a_default_of_400_days() {
    let with = |v: Option<&str>| Config::from_lookup(|n| match n {
        "JWT_SIGNING_KEYS" => Some(TEST_SIGNING_KEYS.into()),
        "AUDIT_RETENTION_DAYS" => v.map(str::to_owned),
        _ => None,
    });
    assert_eq!(with(None).unwrap().audit_retention_days, 400);
    assert_eq!(with(Some("90")).unwrap().audit_retention_days, 90);
    for bad in ["29", "3651", "x"] {
        assert_eq!(with(Some(bad)).unwrap_err().name, "AUDIT_RETENTION_DAYS");
    }
}

#[test]
fn the_cron_purges_old_audit_rows_emails_notifications_and_failures_keeping_the_newest() {
    let app = TestApp::new().with_emily_active();
    let now = app.now.get().timestamp();
    let old = now - 500 * 86400;
    let recent = now - 40 * 86400;
    app.exec(&format!(
        "DELETE FROM audit_events;
         INSERT INTO audit_events (id, created_at, actor_kind, action, seq) VALUES ('a1', {old}, 'system', 'x.old', 1), ('a2', {old}, 'system', 'x.old', 2), ('a3', {recent}, 'system', 'x.recent', 3);
         UPDATE outbox_cursors SET seq = 3;
         INSERT INTO emails (id, kind, to_address, status, next_attempt_at, created_at) VALUES
           ('e1', 'password_changed', 'a@x.example', 'sent', 0, {recent}), ('e2', 'password_changed', 'a@x.example', 'failed', 0, {recent}),
           ('e3', 'password_changed', 'a@x.example', 'pending', 0, {old}), ('e4', 'password_changed', 'a@x.example', 'sent', 0, {now});
         INSERT INTO crm_push_failures (seq, event_id, type, attempts, last_error, failed_at) VALUES (1, 'a1', 'x', 5, 'e', {recent}), (3, 'a3', 'x', 5, 'e', {now});"
    ));
    let report = pollster::block_on(run_cron(&app.ports, Some(&app.config), app.now.get()));
    let m = report.maintenance.unwrap();
    assert_eq!((m.audit_events_purged, m.emails_purged, m.crm_push_failures_purged, m.notifications_purged), (2, 2, 1, 0), "{m:?}");
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE id = 'a3'"), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM emails WHERE id IN ('e3', 'e4')"), 2, "pending and recent stay");

    // The newest row is never purged, whatever its age, so seq goes on from it.
    app.advance(3650 * 86400);
    let m = pollster::block_on(run_cron(&app.ports, Some(&app.config), app.now.get())).maintenance.unwrap();
    assert_eq!(app.sql_count("SELECT max(seq) FROM audit_events"), 3, "{m:?}");
}

#[test]
fn the_push_and_the_replay_never_send_events_older_than_the_retention() {
    let (app, admin) = hooked();
    crm_events(&app, &admin, 2);
    // Past the 30-day retention before the push ever saw them.
    app.exec("UPDATE audit_events SET created_at = created_at - 40 * 86400");
    assert_eq!(deliver(&app, &admin)["crm_webhook"]["sent"], 0, "the push skips them");
    crm_events(&app, &admin, 1);
    let fresh = app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action LIKE 'link.%' AND created_at > {}", app.now.get().timestamp() - 86400));
    app.ports.outbound.borrow_mut().clear();
    let resp = app.send_auth("POST", "/api/admin/crm/events/replay", &admin, Some(json!({"after": "0"})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let replayed = json(&resp);
    assert_eq!((replayed["queued"].as_i64(), replayed["push"]["sent"].as_i64()), (Some(fresh), Some(fresh)), "{replayed}");
    assert_eq!(app.ports.outbound.borrow().len() as i64, fresh, "only the fresh events went out");
}

#[test]
fn a_replay_is_audited_with_who_and_the_range() {
    let (app, admin) = hooked();
    crm_events(&app, &admin, 1);
    let max = app.sql_count("SELECT max(seq) FROM audit_events");
    let resp = app.send_auth("POST", "/api/admin/crm/events/replay", &admin, Some(json!({"after": "0"})));
    assert_eq!(resp.status(), 200);
    let row = app.sql_count(&format!(
        "SELECT count(*) FROM audit_events WHERE action = 'crm.events_replayed' AND actor_kind = 'employee' \
         AND actor_id = (SELECT id FROM users WHERE login_key = 'admin') AND json_extract(details, '$.from_seq') = 0 \
         AND json_extract(details, '$.to_seq') = {max}"
    ));
    assert_eq!(row, 1);
}

// ---- 10: bootstrap ----

fn boot_body(token: &str) -> Value {
    json!({"token": token, "login": "root", "password": "ledger winter copper 42", "first_name": "Ada", "last_name": "Admin"})
}

#[test]
fn a_short_bootstrap_token_is_a_config_error_naming_it() {
    let err = Config::from_lookup(|n| match n {
        "JWT_SIGNING_KEYS" => Some(TEST_SIGNING_KEYS.into()),
        "BOOTSTRAP_TOKEN" => Some("bootstrap-secret-for-tests".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(err.name, "BOOTSTRAP_TOKEN");
    assert!(!err.problem.contains("bootstrap-secret"), "{}", err.problem);
}

#[test]
fn bootstrap_is_throttled_before_the_token_is_compared() {
    let app = TestApp::new();
    app.ports.throttle_budget.set(Some(2));
    assert_eq!(app.post_json("/api/admin/bootstrap", boot_body("guess-1"), &[]).status(), 403);
    assert_eq!(app.post_json("/api/admin/bootstrap", boot_body("guess-2"), &[]).status(), 403);
    let resp = app.post_json("/api/admin/bootstrap", boot_body(BOOT), &[]);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (429, "rate_limited".into()), "even the right token waits");
}

#[test]
fn once_bootstrapped_the_token_is_not_compared_and_not_throttled() {
    let app = TestApp::new();
    assert_eq!(app.post_json("/api/admin/bootstrap", boot_body(BOOT), &[]).status(), 201);
    app.ports.throttle_budget.set(Some(0));
    let wrong = app.post_json("/api/admin/bootstrap", boot_body("a wrong guess"), &[]);
    assert_eq!((wrong.status().as_u16(), error_code(&wrong)), (409, "already_bootstrapped".into()), "no 403 oracle, no throttle spent");
}

#[test]
fn bootstrap_names_a_bad_email_or_name_field() {
    let app = TestApp::new();
    for (field, value) in [("email", json!("not-an-email")), ("last_name", json!("  ")), ("first_name", json!("Ada\u{0007}"))] {
        let mut body = boot_body(BOOT);
        body[field] = value;
        let resp = app.post_json("/api/admin/bootstrap", body, &[]);
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some(field)), "{field}");
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE role = 'admin'"), 0);
}

// ---- 11: hardening ----

#[test]
fn a_client_sent_country_never_survives_the_edge() {
    use extranet::http::transport::edge_request;
    let sent = [("cf-ipcountry", "XX"), ("CF-IPCountry", "YY"), ("user-agent", "t")];
    let req = edge_request("GET", "https://portal.test/api/me", sent.iter().copied(), Some("NO"), Vec::new()).unwrap();
    let countries: Vec<_> = req.headers().get_all("cf-ipcountry").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(countries, vec!["NO".to_owned()]);
    let req = edge_request("GET", "https://portal.test/api/me", sent.iter().copied(), None, Vec::new()).unwrap();
    assert!(req.headers().get("cf-ipcountry").is_none(), "no cf country: none at all");
    assert_eq!(req.headers().get("user-agent").unwrap(), "t");
}

#[test]
fn the_signature_memory_is_keyed_on_a_32_byte_hash_and_verification_still_works() {
    use extranet::auth::jwt::{signature_cache_key, signature_cached};
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let key = signature_cache_key(&[7u8; 32], &access);
    assert_eq!(key.len(), 32);
    assert_eq!(signature_cache_key(&[7u8; 32], &"x".repeat(50_000)).len(), 32, "fixed size for a huge token");
    assert_ne!(key, signature_cache_key(&[8u8; 32], &access), "another key, another entry");
    assert_eq!(app.get_auth("/api/me", &access).status(), 200);
    assert!(signature_cached(&app.config.signing_keys, &access));
    assert_eq!(app.get_auth("/api/me", &access).status(), 200, "a remembered signature still verifies");
    let mut tampered = access.clone();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(app.get_auth("/api/me", &tampered).status(), 401);
}

#[test]
fn the_openapi_document_is_built_once_per_isolate() {
    use extranet::http::handlers::health::{openapi_builds, openapi_bytes};
    let app = TestApp::new();
    let first = app.get("/openapi.json");
    let second = app.get("/openapi.json");
    assert_eq!(first.body(), second.body());
    assert!(std::rc::Rc::ptr_eq(&openapi_bytes(), &openapi_bytes()), "the same bytes, not a rebuild");
    assert_eq!(openapi_builds(), 1);
}

#[test]
fn the_bookmark_goes_only_to_authenticated_answers() {
    let app = TestApp::new().with_emily_active();
    *app.ports.bookmark.borrow_mut() = Some("0000000a-00000001-00004e2f-abcdef".into());
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let bookmark = |resp: &extranet::http::Resp| header(resp, "x-d1-bookmark").map(str::to_owned);
    assert!(bookmark(&app.get_auth("/api/me", &access)).is_some(), "an authenticated read");
    assert!(bookmark(&app.login(EMILY_LOGIN, EMILY_PASSWORD)).is_some(), "a sign-in that opened a session");
    assert_eq!(bookmark(&app.login(EMILY_LOGIN, "a wrong password here")), None, "a failed sign-in");
    assert_eq!(bookmark(&app.get("/api/branding")), None, "a public read");
    assert_eq!(bookmark(&app.get("/health")), None);
    assert_eq!(bookmark(&app.get_auth("/api/me", "not.a.token")), None, "a refused token");
    assert_eq!(bookmark(&app.post_json("/api/auth/logout", json!({"refresh_token": "x.y"}), &[])), None);
    let _ = CRM;
}
