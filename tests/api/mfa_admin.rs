//! TOTP enrolment and login, the MFA-enrolment-only session, the first-admin bootstrap and the
//! admin-only security settings.

use crate::support::*;
use extranet::auth::totp::{code_at_step, step_at, TotpSecret};
use serde_json::json;

fn code(secret: &str, now: i64) -> String {
    code_at_step(&TotpSecret::from_base32(secret).unwrap(), step_at(now))
}

/// Enrols Emily in TOTP and returns the base32 secret.
fn enrol(app: &TestApp, access: &str) -> String {
    let resp = app.send_auth("POST", "/api/me/mfa/totp", access, Some(json!({"current_password": EMILY_PASSWORD})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let body = json(&resp);
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(body["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    let now = app.now.get().timestamp();
    let resp = app.send_auth("POST", "/api/me/mfa/totp/confirm", access, Some(json!({"code": code(&secret, now)})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    secret
}

fn login_with(app: &TestApp, password: &str, totp: Option<&str>) -> extranet::http::Resp {
    let mut body = json!({"login": EMILY_LOGIN, "password": password, "refresh_transport": "body"});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    app.post_json("/api/auth/login", body, &[])
}

#[test]
fn a_totp_code_works_once_and_a_missing_one_is_asked_for() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let secret = enrol(&app, &access);
    app.advance(30);
    let asked = login_with(&app, EMILY_PASSWORD, None);
    assert_eq!((asked.status().as_u16(), error_code(&asked)), (401, "mfa_required".into()));
    let wrong_password = login_with(&app, "not the password", None);
    assert_eq!(error_code(&wrong_password), "invalid_credentials", "no hint that a code would be needed");

    let c = code(&secret, app.now.get().timestamp());
    assert_eq!(login_with(&app, EMILY_PASSWORD, Some(&c)).status(), 200);
    let replay = login_with(&app, EMILY_PASSWORD, Some(&c));
    assert_eq!((replay.status().as_u16(), error_code(&replay)), (401, "invalid_credentials".into()));
    assert_eq!(login_with(&app, EMILY_PASSWORD, Some("000000")).status(), 401);
}

#[test]
fn two_logins_racing_with_one_code_open_one_session() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let secret = enrol(&app, &access);
    app.advance(30);
    let sessions_before = app.sql_count("SELECT count(*) FROM sessions");
    let c = code(&secret, app.now.get().timestamp());
    let racers: Vec<_> = (0..5)
        .map(|_| app.send(request("POST", "/api/auth/login", Some(json!({"login": EMILY_LOGIN, "password": EMILY_PASSWORD, "totp": c})), &[])))
        .collect();
    let answers = join_all(racers);
    assert_eq!(answers.iter().filter(|r| r.status() == 200).count(), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM sessions") - sessions_before, 1);
}

#[test]
fn wrong_codes_count_toward_the_lockout() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let secret = enrol(&app, &access);
    for _ in 0..5 {
        assert_eq!(login_with(&app, EMILY_PASSWORD, Some("123456")).status(), 401);
    }
    app.advance(30);
    let c = code(&secret, app.now.get().timestamp());
    assert_eq!(login_with(&app, EMILY_PASSWORD, Some(&c)).status(), 401, "locked after five wrong codes");
}

#[test]
fn replacing_a_secret_needs_a_current_code() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let secret = enrol(&app, &access);
    let fresh = json(&app.send_auth("POST", "/api/me/mfa/totp/confirm", &access, Some(json!({"code": "1"}))));
    assert!(fresh["error"].is_object());
    app.advance(30);
    let (access, _) = {
        let c = code(&secret, app.now.get().timestamp());
        let resp = login_with(&app, EMILY_PASSWORD, Some(&c));
        let body = json(&resp);
        (body["access_token"].as_str().unwrap().to_owned(), ())
    };
    let resp = app.send_auth("POST", "/api/me/mfa/totp", &access, None);
    assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str().unwrap().to_owned()), (400, "current_code".into()));
    app.advance(30);
    let c = code(&secret, app.now.get().timestamp());
    let resp = app.send_auth("POST", "/api/me/mfa/totp", &access, Some(json!({"current_code": c})));
    assert_eq!(resp.status(), 200);
}

#[test]
fn when_mfa_is_required_a_new_client_may_only_enrol() {
    let app = TestApp::new().with_emily_invited();
    app.exec("UPDATE security_settings SET mfa_required_for_clients = 1");
    let preview = json(&app.post_json("/api/invitations/preview", json!({"token": EMILY_TOKEN}), &[]));
    assert_eq!(preview["mfa_required"], true);
    let resp = app.post_json("/api/invitations/activate", json!({"token": EMILY_TOKEN, "password": EMILY_PASSWORD, "refresh_transport": "body"}), &[]);
    let body = json(&resp);
    assert_eq!(body["mfa_enrollment_required"], true);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refused = app.get_auth("/api/me/sessions", &access);
    assert_eq!(refused.status(), 200, "listing own sessions is part of securing the account");
    let refused = app.send_auth("POST", "/api/me/password", &access, Some(json!({"current_password": EMILY_PASSWORD, "new_password": "x"})));
    assert_eq!((refused.status().as_u16(), error_code(&refused)), (403, "mfa_enrollment_required".into()));

    let resp = app.send_auth("POST", "/api/me/mfa/totp", &access, Some(json!({"current_password": EMILY_PASSWORD})));
    let secret = json(&resp)["secret"].as_str().unwrap().to_owned();
    let confirmed = app.send_auth("POST", "/api/me/mfa/totp/confirm", &access, Some(json!({"code": code(&secret, app.now.get().timestamp())})));
    assert_eq!(confirmed.status(), 200);
    let full = json(&confirmed)["access_token"].as_str().unwrap().to_owned();
    let resp = app.send_auth("POST", "/api/me/password", &full, Some(json!({"current_password": "wrong", "new_password": "x"})));
    assert_eq!(error_code(&resp), "invalid_input", "a full session reaches the step-up check");
}

#[test]
fn bootstrap_needs_the_secret_and_works_once() {
    let app = TestApp::new();
    let body = |token: &str| json!({"token": token, "login": "root", "password": "ledger winter copper 42", "first_name": "Ada", "last_name": "Admin"});
    assert_eq!(app.post_json("/api/admin/bootstrap", body("guess"), &[]).status(), 403);
    assert_eq!(app.post_json("/api/admin/bootstrap", body("bootstrap-secret-for-tests-0123456789abcdef"), &[]).status(), 201);
    let again = app.post_json("/api/admin/bootstrap", body("bootstrap-secret-for-tests-0123456789abcdef"), &[]);
    assert_eq!((again.status().as_u16(), error_code(&again)), (409, "already_bootstrapped".into()));
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE role = 'admin'"), 1);
}

#[test]
fn security_settings_are_for_admins_validated_and_audited() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let resp = app.get_auth("/api/admin/security", &admin);
    assert_eq!(resp.status(), 200);
    let mut settings = json(&resp);
    assert_eq!(settings["lockout"]["max_failed_attempts"], 5);

    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.get_auth("/api/admin/security", &emily).status(), 403, "a client is not an employee");

    settings["sessions"]["access_ttl_seconds"] = json!(5);
    let bad = app.send_auth("PUT", "/api/admin/security", &admin, Some(settings.clone()));
    assert_eq!((bad.status().as_u16(), json(&bad)["error"]["field"].as_str().unwrap().to_owned()), (400, "sessions.access_ttl_seconds".into()));
    settings["sessions"]["access_ttl_seconds"] = json!("long");
    let bad = app.send_auth("PUT", "/api/admin/security", &admin, Some(settings.clone()));
    assert_eq!(json(&bad)["error"]["field"], "sessions.access_ttl_seconds");

    settings["sessions"]["access_ttl_seconds"] = json!(300);
    settings["password"]["min_length"] = json!(14);
    let ok = app.send_auth("PUT", "/api/admin/security", &admin, Some(settings.clone()));
    assert_eq!(ok.status(), 200, "{}", String::from_utf8_lossy(ok.body()));
    assert_eq!(json(&app.get_auth("/api/admin/security", &admin))["password"]["min_length"], 14);
    let audit = app.sql_count(
        "SELECT count(*) FROM audit_events WHERE action = 'security_settings.updated' \
         AND json_extract(details, '$.before.password.min_length') = 12 AND json_extract(details, '$.after.password.min_length') = 14",
    );
    assert_eq!(audit, 1);
    // Every link's policy version moved: Emily's outstanding token must refresh.
    let stale = app.get_auth("/api/me/sessions", &emily);
    assert_eq!((stale.status().as_u16(), error_code(&stale)), (401, "token_stale".into()));
}

/// Found by schemathesis: the document says `integer`, and JSON Schema counts `600.0` as one; the
/// settings refused it as "expected u32". A whole float is now the same number, a fraction is not.
#[test]
fn security_settings_take_whole_numbers_written_as_floats() {
    let app = TestApp::new();
    let admin = app.admin_token();
    let mut settings = json(&app.get_auth("/api/admin/security", &admin));
    settings["sessions"]["access_ttl_seconds"] = json!(900.0);
    settings["password"]["min_length"] = json!(13.0);
    let ok = app.send_auth("PUT", "/api/admin/security", &admin, Some(settings.clone()));
    assert_eq!(ok.status(), 200, "{}", String::from_utf8_lossy(ok.body()));
    let saved = json(&app.get_auth("/api/admin/security", &app.admin_token()));
    assert_eq!((saved["sessions"]["access_ttl_seconds"].clone(), saved["password"]["min_length"].clone()), (json!(900), json!(13)));
    settings["sessions"]["access_ttl_seconds"] = json!(900.5);
    let bad = app.send_auth("PUT", "/api/admin/security", &app.admin_token(), Some(settings));
    assert_eq!((bad.status().as_u16(), json(&bad)["error"]["field"].as_str().unwrap_or_default().to_owned()), (400, "sessions.access_ttl_seconds".into()));
}

#[test]
fn a_manager_cannot_change_security_settings() {
    let app = TestApp::new();
    let _ = app.admin_token();
    app.exec(
        "UPDATE users SET role = 'manager' WHERE login_key = 'admin'; \
         INSERT INTO users (id, kind, role, login, login_key, first_name, last_name, created_at, updated_at) \
         VALUES ('0190a000-0000-7000-8000-0000000000aa', 'employee', 'admin', 'other', 'other', 'O', 'A', 1, 1);",
    );
    let manager = app.login_ok("admin", "ledger winter copper 42").0;
    assert_eq!(app.get_auth("/api/admin/security", &manager).status(), 403);
    let resp = app.send_auth("PUT", "/api/admin/security", &manager, Some(serde_json::to_value(extranet::domain::settings::SecuritySettings::default()).unwrap()));
    assert_eq!(resp.status(), 403);
}

#[test]
fn codes_outside_login_count_toward_the_lockout() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let secret = enrol(&app, &access);
    app.advance(30);
    // Replacing the authenticator with a stolen access token: each wrong current code counts.
    for _ in 0..5 {
        let resp = app.send_auth("POST", "/api/me/mfa/totp", &access, Some(json!({"current_code": "123456"})));
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (400, "invalid_input".into()));
    }
    let c = code(&secret, app.now.get().timestamp());
    let locked = app.send_auth("POST", "/api/me/mfa/totp", &access, Some(json!({"current_code": c})));
    assert_eq!((locked.status().as_u16(), error_code(&locked)), (429, "rate_limited".into()), "locked: even the right code is refused");
    assert_eq!(login_with(&app, EMILY_PASSWORD, Some(&c)).status(), 401, "and login is locked too");
    assert!(app.sql_count(&format!("SELECT count(*) FROM users WHERE id = '{EMILY_USER}' AND totp_pending_secret IS NULL")) == 1, "no new secret was staged");
}

#[test]
fn a_right_password_with_a_wrong_code_does_not_reset_the_counter() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    enrol(&app, &access);
    app.advance(30);
    let change = json!({"current_password": EMILY_PASSWORD, "new_password": "a brand new passphrase 2027", "totp": "123456"});
    for _ in 0..4 {
        let resp = app.send_auth("POST", "/api/me/password", &access, Some(change.clone()));
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (400, "invalid_input".into()));
    }
    assert_eq!(app.sql_count(&format!("SELECT failed_logins FROM users WHERE id = '{EMILY_USER}'")), 4, "each wrong code counted");
    assert_eq!(login_with(&app, EMILY_PASSWORD, Some("654321")).status(), 401);
    let resp = app.send_auth("POST", "/api/me/password", &access, Some(change));
    assert_eq!(error_code(&resp), "rate_limited", "the fifth failure locked the account");
}

/// A reset invitation for Emily's link, as a manager would issue it: the token from the email it
/// went to (a reset's link is never shown to whoever issues it).
fn reset_invitation(app: &TestApp) -> String {
    let admin = app.admin_token();
    let resp = app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/invitations"), &admin, None);
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    assert!(json(&resp)["activation_url"].is_null(), "the issuer never holds a reset's token");
    app.emailed_token()
}

#[test]
fn a_reset_invitation_does_not_skip_an_enrolled_second_factor() {
    let app = TestApp::new().with_emily_active().with_email();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let secret = enrol(&app, &access);
    app.advance(30);
    let token = reset_invitation(&app);
    let preview = json(&app.post_json("/api/invitations/preview", json!({"token": token}), &[]));
    assert_eq!((preview["password_reset"].as_bool(), preview["totp_required"].as_bool()), (Some(true), Some(true)));

    let activate = |totp: Option<&str>| {
        let mut body = json!({"token": token, "password": "a brand new passphrase 2027", "refresh_transport": "body"});
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        app.post_json("/api/invitations/activate", body, &[])
    };
    let sessions = app.sql_count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL");
    for (attempt, refused) in [("no code", activate(None)), ("a wrong code", activate(Some("000000")))] {
        assert_eq!((refused.status().as_u16(), error_code(&refused)), (400, "invalid_input".into()), "{attempt}");
        assert_eq!(json(&refused)["error"]["field"], "totp", "{attempt}");
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL"), sessions, "no session for the link alone");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM invitations WHERE status = 'pending' AND link_id = '{EMILY_LINK}'")), 1, "still usable");
    assert_eq!(app.sql_count(&format!("SELECT failed_logins FROM users WHERE id = '{EMILY_USER}'")), 1, "the wrong code counted");

    let c = code(&secret, app.now.get().timestamp());
    let ok = activate(Some(&c));
    assert_eq!(ok.status(), 200, "{}", String::from_utf8_lossy(ok.body()));
    assert_eq!(json(&ok)["mfa_enrollment_required"], false);
    assert_eq!(login_with(&app, "a brand new passphrase 2027", Some(&c)).status(), 401, "the code was used by the activation");
}

#[test]
fn a_first_enrolment_needs_the_password_so_a_stolen_token_cannot_bind_an_authenticator() {
    let app = TestApp::new().with_emily_active();
    let (stolen, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let start = |body: serde_json::Value| app.send_auth("POST", "/api/me/mfa/totp", &stolen, Some(body));
    let without = start(json!({}));
    assert_eq!((without.status().as_u16(), json(&without)["error"]["field"].as_str().unwrap().to_owned()), (400, "current_password".into()));
    for _ in 0..4 {
        assert_eq!(json(&start(json!({"current_password": "a guess at the password"})))["error"]["field"], "current_password");
    }
    assert_eq!(app.sql_count(&format!("SELECT failed_logins FROM users WHERE id = '{EMILY_USER}'")), 4, "each guess counted");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM users WHERE id = '{EMILY_USER}' AND totp_pending_secret IS NOT NULL")), 0, "nothing staged");
    assert_eq!(start(json!({"current_password": EMILY_PASSWORD})).status(), 200, "the owner, who knows the password, enrols");
}
