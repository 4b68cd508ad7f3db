//! Authentication over HTTP: every security rule of the login, refresh and activation flows, each
//! with a test that tries to break it.

use crate::support::*;
use serde_json::json;

fn failure_body(resp: &extranet::http::Resp) -> (u16, String) {
    (resp.status().as_u16(), String::from_utf8_lossy(resp.body()).into_owned())
}

#[test]
fn activation_opens_a_session_and_login_works_after() {
    let app = TestApp::new().with_emily_active();
    let (access, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert!(refresh.starts_with(char::is_alphanumeric));
    let resp = app.get_auth("/api/me/sessions", &access);
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let items = json(&resp)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "the activation session and the login session");
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
}

#[test]
fn wrong_password_unknown_login_locked_blocked_and_linkless_answer_alike() {
    let app = TestApp::new().with_emily_active();
    let wrong = failure_body(&app.login(EMILY_LOGIN, "not her password at all"));
    let unknown = failure_body(&app.login("nobody@nowhere.example", EMILY_PASSWORD));
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong, unknown);
    assert!(wrong.1.contains("invalid_credentials"));

    app.exec(&format!("UPDATE users SET status = 'blocked' WHERE id = '{EMILY_USER}'"));
    assert_eq!(failure_body(&app.login(EMILY_LOGIN, EMILY_PASSWORD)), wrong, "blocked, right password");
    app.exec(&format!("UPDATE users SET status = 'active' WHERE id = '{EMILY_USER}'"));

    app.exec(&format!("UPDATE links SET status = 'disabled' WHERE id = '{EMILY_LINK}'"));
    assert_eq!(failure_body(&app.login(EMILY_LOGIN, EMILY_PASSWORD)), wrong, "disabled link, right password");
    app.exec(&format!("UPDATE links SET status = 'active' WHERE id = '{EMILY_LINK}'"));

    app.exec(&format!("UPDATE users SET locked_until = {} WHERE id = '{EMILY_USER}'", app.now.get().timestamp() + 600));
    assert_eq!(failure_body(&app.login(EMILY_LOGIN, EMILY_PASSWORD)), wrong, "locked, right password");
}

#[test]
fn auth_routes_carry_no_server_timing() {
    let app = TestApp::new().with_emily_active();
    let resp = app.login(EMILY_LOGIN, "wrong password here");
    assert!(header(&resp, "server-timing").is_none());
}

#[test]
fn fifty_parallel_guesses_verify_at_most_five_and_lock_the_account() {
    let app = TestApp::new().with_emily_active();
    let guesses: Vec<_> = (0..50)
        .map(|i| app.send(request("POST", "/api/auth/login", Some(json!({"login": EMILY_LOGIN, "password": format!("guess number {i:03}")})), &[])))
        .collect();
    let answers = join_all(guesses);
    assert!(answers.iter().all(|r| r.status() == 401));
    let verified = app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'login.failed' AND json_extract(details, '$.reason') = 'wrong_password'");
    let refused_locked = app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'login.failed' AND json_extract(details, '$.reason') = 'locked'");
    assert!(verified <= 5, "{verified} guesses were checked against the hash");
    assert_eq!(verified + refused_locked, 50, "every guess is in the audit log");
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'account.locked'"), 1);
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401, "the right password is refused while locked");
    app.advance(15 * 60 + 1);
    app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.sql_count(&format!("SELECT failed_logins FROM users WHERE id = '{EMILY_USER}'")), 0, "success resets the counter");
}

#[test]
fn twenty_parallel_activations_of_one_invitation_open_exactly_one_session() {
    let app = TestApp::new().with_emily_invited();
    let attempts: Vec<_> = (0..20)
        .map(|i| app.send(request("POST", "/api/invitations/activate", Some(json!({"token": EMILY_TOKEN, "password": format!("{EMILY_PASSWORD} {i}")})), &[])))
        .collect();
    let answers = join_all(attempts);
    let ok: Vec<_> = answers.iter().filter(|r| r.status() == 200).collect();
    assert_eq!(ok.len(), 1);
    assert!(answers.iter().filter(|r| r.status() != 200).all(|r| r.status() == 410 && error_code(r) == "invitation_used"));
    assert_eq!(app.sql_count("SELECT count(*) FROM sessions"), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM refresh_tokens"), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'invitation.activated'"), 1);
}

#[test]
fn a_used_revoked_or_expired_invitation_is_gone_and_unknown_is_404() {
    let app = TestApp::new().with_emily_invited();
    let preview = app.post_json("/api/invitations/preview", json!({"token": EMILY_TOKEN}), &[]);
    assert_eq!(preview.status(), 200);
    let body = json(&preview);
    assert_eq!(body["login"], EMILY_LOGIN);
    assert_eq!(body["password_policy"]["min_length"], 12);

    let unknown = app.post_json("/api/invitations/preview", json!({"token": "x".repeat(43)}), &[]);
    assert_eq!(unknown.status(), 404);

    app.advance(72 * 3600 + 1);
    let expired = app.post_json("/api/invitations/activate", json!({"token": EMILY_TOKEN, "password": EMILY_PASSWORD}), &[]);
    assert_eq!((expired.status().as_u16(), error_code(&expired)), (410, "invitation_expired".into()));

    let app = TestApp::new().with_emily_invited();
    app.exec("UPDATE invitations SET status = 'revoked', revoked_at = 1");
    let revoked = app.post_json("/api/invitations/preview", json!({"token": EMILY_TOKEN}), &[]);
    assert_eq!((revoked.status().as_u16(), error_code(&revoked)), (410, "invitation_revoked".into()));

    let app = TestApp::new().with_emily_active();
    let used = app.post_json("/api/invitations/activate", json!({"token": EMILY_TOKEN, "password": EMILY_PASSWORD}), &[]);
    assert_eq!((used.status().as_u16(), error_code(&used)), (410, "invitation_used".into()));
}

#[test]
fn every_weak_password_rule_is_named() {
    let app = TestApp::new().with_emily_invited();
    app.exec("UPDATE security_settings SET require_lower = 1, require_upper = 1, require_digit = 1, require_special = 1");
    let cases = [
        ("short", "min_length"),
        ("ALL UPPER CASE 123 !!", "require_lower"),
        ("all lower case 123 !!", "require_upper"),
        ("No Digits Here At All!", "require_digit"),
        ("NoSpecialsHere12345abc", "require_special"),
        (&"Aa1!".repeat(65), "max_length"),
    ];
    for (password, rule) in cases {
        let resp = app.post_json("/api/invitations/activate", json!({"token": EMILY_TOKEN, "password": password}), &[]);
        assert_eq!(resp.status(), 400, "{password}");
        let body = json(&resp);
        assert_eq!(body["error"]["code"], "weak_password");
        assert_eq!(body["error"]["rule"], rule, "{password}");
        assert_eq!(body["error"]["field"], "password");
    }
    app.exec("UPDATE security_settings SET require_lower = 0, require_upper = 0, require_digit = 0, require_special = 0");
    for (password, rule) in [("password1234", "common_password"), ("emily.carter@northernlight.example!", "contains_login")] {
        let resp = app.post_json("/api/invitations/activate", json!({"token": EMILY_TOKEN, "password": password}), &[]);
        assert_eq!(json(&resp)["error"]["rule"], rule, "{password}");
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM invitations WHERE status = 'pending'"), 1, "a refused password leaves the invitation usable");
}

#[test]
fn without_the_blocklist_a_new_password_is_refused_not_let_through_and_the_invitation_stays() {
    let app = TestApp::new().with_emily_invited();
    app.ports.blocklist_available.set(false);
    let resp = app.post_json("/api/invitations/activate", json!({"token": EMILY_TOKEN, "password": EMILY_PASSWORD}), &[]);
    assert_eq!(resp.status(), 503);
    assert_eq!(json(&resp)["error"]["code"], "unavailable");
    assert_eq!(app.sql_count("SELECT count(*) FROM invitations WHERE status = 'pending'"), 1);
    app.ports.blocklist_available.set(true);
    let resp = app.post_json("/api/invitations/activate", json!({"token": EMILY_TOKEN, "password": EMILY_PASSWORD}), &[]);
    assert_eq!(resp.status(), 200, "once the list is back, the same invitation works");
}

#[test]
fn refresh_rotates_and_a_reused_token_ends_the_session_with_its_newer_tokens() {
    let app = TestApp::new().with_emily_active();
    let (_, first) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": first, "refresh_transport": "body"}), &[]);
    assert_eq!(resp.status(), 200);
    let second = json(&resp)["refresh_token"].as_str().unwrap().to_owned();
    let access2 = json(&resp)["access_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);

    // Within the grace window the token used just before is a concurrent refresh: 409, no harm.
    let race = app.post_json("/api/auth/refresh", json!({"refresh_token": first, "refresh_transport": "body"}), &[]);
    assert_eq!((race.status().as_u16(), error_code(&race)), (409, "refresh_conflict".into()));
    assert_eq!(app.get_auth("/api/me/sessions", &access2).status(), 200);

    // Later, the same used token is theft: the whole session ends, newer tokens included.
    app.advance(11);
    let reuse = app.post_json("/api/auth/refresh", json!({"refresh_token": first, "refresh_transport": "body"}), &[]);
    assert_eq!(reuse.status(), 401);
    let newer = app.post_json("/api/auth/refresh", json!({"refresh_token": second, "refresh_transport": "body"}), &[]);
    assert_eq!(newer.status(), 401, "the newer token died with its session");
    assert_eq!(app.get_auth("/api/me/sessions", &access2).status(), 401, "and so did the access token");
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'refresh.reused'"), 1);
}

#[test]
fn an_unknown_refresh_secret_revokes_nothing() {
    let app = TestApp::new().with_emily_active();
    let (access, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (sid, _) = refresh.split_once('.').unwrap();
    let guess = format!("{sid}.{}", "A".repeat(43));
    let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": guess, "refresh_transport": "body"}), &[]);
    assert_eq!(resp.status(), 401);
    assert_eq!(app.get_auth("/api/me/sessions", &access).status(), 200);
    let ok = app.post_json("/api/auth/refresh", json!({"refresh_token": refresh, "refresh_transport": "body"}), &[]);
    assert_eq!(ok.status(), 200, "the real token still works");
}

#[test]
fn sessions_expire_when_idle_and_at_their_absolute_age() {
    let app = TestApp::new().with_emily_active();
    let (_, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    app.advance(86_400 + 1);
    let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": refresh, "refresh_transport": "body"}), &[]);
    assert_eq!(resp.status(), 401, "idle past refresh_ttl");

    let (_, mut refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let started = app.now.get();
    for _ in 0..40 {
        app.advance(86_000);
        let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": refresh, "refresh_transport": "body"}), &[]);
        if resp.status() != 200 {
            let lived = (app.now.get() - started).num_seconds();
            assert!(lived > 29 * 86_400 && lived <= 30 * 86_400 + 86_000, "ended after {lived} s");
            return;
        }
        refresh = json(&resp)["refresh_token"].as_str().unwrap().to_owned();
    }
    panic!("a session refreshed daily must still end at session_max_age (30 days)");
}

#[test]
fn cookie_transport_sets_a_strict_http_only_cookie_and_checks_origin() {
    let app = TestApp::new().with_emily_active();
    let resp = app.post_json("/api/auth/login", json!({"login": EMILY_LOGIN, "password": EMILY_PASSWORD}), &[]);
    assert_eq!(resp.status(), 200);
    assert!(json(&resp)["refresh_token"].is_null(), "the page never sees the refresh token");
    let cookie = header(&resp, "set-cookie").unwrap().to_owned();
    for part in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();
    let foreign = app.call(request("POST", "/api/auth/refresh", None, &[("cookie", &pair), ("origin", "https://evil.example")]));
    assert_eq!(foreign.status(), 403);
    let none = app.call(request("POST", "/api/auth/refresh", None, &[("cookie", &pair)]));
    assert_eq!(none.status(), 403);
    let own = app.call(request("POST", "/api/auth/refresh", None, &[("cookie", &pair), ("origin", "https://portal.test")]));
    assert_eq!(own.status(), 200);
    assert!(header(&own, "set-cookie").is_some());
}

#[test]
fn disabling_the_link_or_changing_the_password_cuts_off_an_outstanding_access_token() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.get_auth("/api/me/sessions", &access).status(), 200);
    app.exec(&format!("UPDATE links SET status = 'disabled' WHERE id = '{EMILY_LINK}'"));
    assert_eq!(app.get_auth("/api/me/sessions", &access).status(), 401, "disabled link, same token");
    app.exec(&format!("UPDATE links SET status = 'active' WHERE id = '{EMILY_LINK}'"));

    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (other, other_refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    app.advance(1);
    let new_password = "a brand new passphrase 77";
    let resp = app.send_auth("POST", "/api/me/password", &access, Some(json!({"current_password": EMILY_PASSWORD, "new_password": new_password, "refresh_transport": "body"})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let fresh = json(&resp)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_auth("/api/me/sessions", &access).status(), 401, "the old token stops working");
    assert_eq!(app.get_auth("/api/me/sessions", &other).status(), 401, "tokens issued before the change stop working");
    assert_eq!(app.get_auth("/api/me/sessions", &fresh).status(), 200);
    let thief = app.post_json("/api/auth/refresh", json!({"refresh_token": other_refresh, "refresh_transport": "body"}), &[]);
    assert_eq!(thief.status(), 401, "the other session cannot refresh into a new access token either");
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401);
    app.login_ok(EMILY_LOGIN, new_password);
}

#[test]
fn a_refresh_after_the_credentials_changed_is_refused_even_when_the_session_was_left_open() {
    // An admin resets the user's authenticator (tokens_valid_after moves on) while a session that
    // was opened before is still alive in the table: its refresh token is over.
    let app = TestApp::new().with_emily_active();
    let (_, refresh_token) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    app.advance(5);
    app.exec(&format!("UPDATE users SET tokens_valid_after = {} WHERE id = '{EMILY_USER}'", app.now.get().timestamp()));
    let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": refresh_token, "refresh_transport": "body"}), &[]);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (401, "unauthenticated".into()));
    assert_eq!(app.sql_count("SELECT count(*) FROM sessions WHERE revoked_reason = 'credentials_changed'"), 1);
    app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
}

#[test]
fn a_cookie_refresh_answers_with_a_cookie_whatever_the_body_asks() {
    let app = TestApp::new().with_emily_active();
    let resp = app.post_json("/api/auth/login", json!({"login": EMILY_LOGIN, "password": EMILY_PASSWORD}), &[]);
    let cookie = header(&resp, "set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let refreshed = app.post_json("/api/auth/refresh", json!({"refresh_transport": "body"}),
        &[("cookie", &cookie), ("origin", "https://portal.test")]);
    assert_eq!(refreshed.status(), 200, "{}", String::from_utf8_lossy(refreshed.body()));
    assert_eq!(json(&refreshed)["refresh_token"], serde_json::Value::Null, "the HttpOnly token never reaches a script");
    assert!(header(&refreshed, "set-cookie").is_some_and(|c| c.starts_with("__Host-extranet_refresh=")));
}

#[test]
fn changing_the_password_needs_the_current_one() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let resp = app.send_auth("POST", "/api/me/password", &access, Some(json!({"current_password": "wrong one", "new_password": "another good passphrase"})));
    assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str().unwrap().to_owned()), (400, "current_password".to_owned()));
    assert_eq!(app.get_auth("/api/me/sessions", &access).status(), 200, "a failed step-up changes nothing");
}

#[test]
fn expired_tampered_wrong_audience_and_wrong_key_tokens_are_refused() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);

    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    let mut payload = parts[1].clone();
    payload.replace_range(5..6, if &payload[5..6] == "A" { "B" } else { "A" });
    parts[1] = payload;
    let tampered = parts.join(".");
    assert_eq!(error_code(&app.get_auth("/api/me/sessions", &tampered)), "unauthenticated");

    let other_keys = extranet::config::Config::from_lookup(|n| match n {
        "JWT_SIGNING_KEYS" => Some("k1:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA".into()),
        _ => None,
    })
    .unwrap();
    let forged = sign_like(&other_keys, &access);
    assert_eq!(error_code(&app.get_auth("/api/me/sessions", &forged)), "unauthenticated", "another key, same kid");

    let other_audience = extranet::config::Config::from_lookup(|n| match n {
        "JWT_SIGNING_KEYS" => Some(TEST_SIGNING_KEYS.into()),
        "TOKEN_AUDIENCE" => Some("another-app".into()),
        _ => None,
    })
    .unwrap();
    let wrong_aud = sign_like(&other_audience, &access);
    assert_eq!(error_code(&app.get_auth("/api/me/sessions", &wrong_aud)), "unauthenticated");

    app.advance(601);
    let expired = app.get_auth("/api/me/sessions", &access);
    assert_eq!((expired.status().as_u16(), error_code(&expired)), (401, "token_expired".into()));
}

/// Re-signs the claims of `token` with another configuration's key and audience.
fn sign_like(config: &extranet::config::Config, token: &str) -> String {
    let verifier = TestApp::new().config;
    let now = TestApp::new().now.get();
    let claims = extranet::app::kit::credentials::verify_access(&verifier, token, now).unwrap();
    extranet::app::kit::credentials::sign_access(config, &claims, now).unwrap()
}

#[test]
fn logout_ends_the_session() {
    let app = TestApp::new().with_emily_active();
    let (access, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let resp = app.send_auth("POST", "/api/auth/logout", &access, None);
    assert_eq!(resp.status(), 204);
    assert_eq!(app.get_auth("/api/me/sessions", &access).status(), 401);
    let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": refresh, "refresh_transport": "body"}), &[]);
    assert_eq!(resp.status(), 401);
}

#[test]
fn a_user_signs_out_own_sessions_but_not_anothers() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (other, other_refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (other_sid, _) = other_refresh.split_once('.').unwrap();
    let resp = app.send_auth("DELETE", &format!("/api/me/sessions/{other_sid}"), &access, None);
    assert_eq!(resp.status(), 204);
    assert_eq!(app.get_auth("/api/me/sessions", &other).status(), 401);

    let admin = app.admin_token();
    let (_, emily_refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (emily_sid, _) = emily_refresh.split_once('.').unwrap();
    let resp = app.send_auth("DELETE", &format!("/api/me/sessions/{emily_sid}"), &admin, None);
    assert_eq!(resp.status(), 404, "another user's session is not found, not forbidden");
}

#[test]
fn the_login_throttle_answers_429_with_retry_after() {
    let app = TestApp::new().with_emily_active();
    app.ports.throttle_budget.set(Some(2));
    assert_eq!(app.login(EMILY_LOGIN, "wrong one here").status(), 401);
    assert_eq!(app.login(EMILY_LOGIN, "wrong one here").status(), 401);
    let resp = app.login(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), Some("60"));
}

#[test]
fn bad_login_input_names_the_field() {
    let app = TestApp::new();
    let resp = app.post_json("/api/auth/login", json!({"login": 42, "password": "x"}), &[]);
    assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str().unwrap().to_owned()), (400, "login".into()));
    let resp = app.post_json("/api/auth/login", json!({"login": "a"}), &[]);
    assert_eq!(json(&resp)["error"]["field"], "password");
    let resp = app.call(raw_request("POST", "/api/auth/login", "text/plain", b"login=a".to_vec()));
    assert_eq!(resp.status(), 415);
}

#[test]
fn me_shows_the_link_contact_and_effective_policy_per_company() {
    let app = TestApp::new().with_emily_active();
    let pipeline = "0190a000-0000-7000-8000-0000000000p1".replace('p', "a");
    app.exec(&format!(
        "INSERT INTO pipelines (id, name, created_at, updated_at) VALUES ('{pipeline}', 'Support', 1, 1);
         INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, allowed_pipelines, updated_at)
           VALUES ('{NORTHERN_LIGHT}', 1, 1, 1, '[\"{pipeline}\"]', 1);
         INSERT INTO contact_policies (contact_id, send_request_chat, calls, updated_at) VALUES ('{EMILY_CONTACT}', 'deny', 'allow', 1);"
    ));
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let resp = app.get_auth("/api/me", &access);
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let me = json(&resp);
    assert_eq!(me["user"]["login"], EMILY_LOGIN);
    assert_eq!(me["link"]["status"], "active");
    assert_eq!(me["contact"]["first_name"], "Emily");
    let companies = me["companies"].as_array().unwrap();
    assert_eq!(companies.len(), 1, "Blue Harbor is not on her link");
    let nl = &companies[0];
    assert_eq!((nl["name"].as_str(), nl["is_default"].as_bool()), (Some("Northern Light"), Some(true)));
    let eff = &nl["effective_policy"];
    assert_eq!(eff["create_requests"], true);
    assert_eq!(eff["send_request_chat"], false, "the contact policy narrows");
    assert_eq!(eff["calls"], false, "an allow never widens a company deny");
    assert_eq!(eff["allowed_pipelines"], json!([pipeline]));
    let calls = eff["denials"].as_array().unwrap().iter().find(|d| d["field"] == "calls").unwrap().clone();
    assert_eq!(calls["level"], "company_policy");
}

#[test]
fn login_rehashes_a_password_stored_with_older_parameters() {
    let app = TestApp::new().with_emily_active();
    // argon2-cffi at m=8192, t=1 (see tests/auth_primitives.rs): weaker than today's parameters.
    let old = "$argon2id$v=19$m=8192,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$E00YDK579zCFKHdylDWWbt4Db/32fqyFEYPCGpqFXXw";
    app.exec(&format!("UPDATE users SET password_hash = '{old}' WHERE id = '{EMILY_USER}'"));
    app.login_ok(EMILY_LOGIN, "correct horse battery staple");
    let upgraded = app.sql_count(&format!("SELECT count(*) FROM users WHERE id = '{EMILY_USER}' AND password_hash LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'"));
    assert_eq!(upgraded, 1, "the hash was upgraded to the current parameters");
    app.login_ok(EMILY_LOGIN, "correct horse battery staple");
}
