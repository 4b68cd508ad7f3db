//! The security review of 7199a2c, findings 1 to 3: an invitation sets the password of the whole
//! user, so it needs an employee who governs the whole user; a reset's token reaches the user's
//! own inbox only and its activation tells them; login never guesses between two links; audit
//! events about a user reach the managers of every company the user is in; a TOTP enrolment code
//! is counted against the lockout. The two-link state is built directly in the database (the
//! wizard keeps one link per user today; a CRM merge or a later feature may not).

use crate::support::*;
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "ledger winter copper 42";
const MANAGER_A: &str = "0190a000-0000-7000-8000-0000000000a1";
const MANAGER_B: &str = "0190a000-0000-7000-8000-0000000000b1";
const EMILY_AT_B: &str = "0190a000-0000-7000-8000-000000000013";
const LINK_B: &str = "0190a000-0000-7000-8000-000000000032";

/// Emily with a password, her link L1 at Northern Light (company A) and a second live link L2 at
/// Blue Harbor (company B, through another contact record), made a day later; a manager of each
/// company; email on. Returns the app and the admin's token.
fn two_links() -> (TestApp, String) {
    let app = TestApp::new().with_emily_active().with_email();
    let now = app.now.get().timestamp();
    let later = now + 86_400;
    app.exec(&format!(
        "INSERT INTO contacts (id, first_name, last_name, email, state, created_at, updated_at) \
           VALUES ('{EMILY_AT_B}', 'Emily', 'Carter', '{EMILY_LOGIN}', 'active', {now}, {now});
         INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_AT_B}', '{BLUE_HARBOR}', {now});
         INSERT INTO links (id, user_id, contact_id, default_company_id, status, review_at, created_at, updated_at) \
           VALUES ('{LINK_B}', '{EMILY_USER}', '{EMILY_AT_B}', '{BLUE_HARBOR}', 'active', {review}, {later}, {later});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{LINK_B}', '{BLUE_HARBOR}', {now});",
        review = now + 90 * 86_400,
    ));
    let admin = app.admin_token();
    for (id, login, company) in [(MANAGER_A, "ma", NORTHERN_LIGHT), (MANAGER_B, "mb", BLUE_HARBOR)] {
        app.exec(&format!(
            "INSERT INTO users (id, kind, status, role, login, login_key, email, first_name, last_name, password_hash, created_at, updated_at) \
               SELECT '{id}', 'employee', 'active', 'manager', '{login}', '{login}', '{login}@vector.example', 'M', '{login}', password_hash, {now}, {now} \
               FROM users WHERE login_key = 'admin';
             INSERT INTO employee_companies (user_id, company_id, created_at) VALUES ('{id}', '{company}', {now});"
        ));
    }
    (app, admin)
}

fn issue(app: &TestApp, token: &str, link: &str, body: Option<Value>) -> extranet::http::Resp {
    app.send_auth("POST", &format!("/api/admin/links/{link}/invitations"), token, body)
}

fn login_body(password: &str, link: Option<&str>) -> Value {
    let mut body = json!({"login": EMILY_LOGIN, "password": password, "refresh_transport": "body"});
    if let Some(link) = link {
        body["link_id"] = json!(link);
    }
    body
}

/// The link a session was opened on.
fn session_link(app: &TestApp, session_id: &str) -> String {
    let rows = app.sql_count(&format!("SELECT count(*) FROM sessions WHERE id = '{session_id}' AND link_id = '{LINK_B}'"));
    if rows == 1 { LINK_B.to_owned() } else { EMILY_LINK.to_owned() }
}

#[test]
fn a_manager_of_one_of_two_companies_cannot_reset_the_user_and_take_over_the_other() {
    let (app, _admin) = two_links();
    let ma = app.login_ok("ma", ADMIN_PASSWORD).0;
    // The takeover: a reset on L1, copied (send_email: false), activated by MA, then L1 disabled.
    for body in [Some(json!({"send_email": false})), None] {
        let resp = issue(&app, &ma, EMILY_LINK, body);
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "user_outside_scope".to_owned()), "{}", String::from_utf8_lossy(resp.body()));
        assert!(!String::from_utf8_lossy(resp.body()).contains("Blue Harbor"), "the refusal names no company MA may not see");
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM invitations WHERE status = 'pending'"), 0, "nothing was issued");
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'invitation.issued'"), 0);
    // Emily's own password keeps working, on both of her links.
    app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let resp = app.post_json("/api/auth/login", login_body(EMILY_PASSWORD, Some(LINK_B)), &[]);
    assert_eq!(resp.status(), 200);
    // MB is in the same position; a manager of both companies, or an admin, may send it.
    let mb = app.login_ok("mb", ADMIN_PASSWORD).0;
    assert_eq!(error_code(&issue(&app, &mb, LINK_B, None)), "user_outside_scope");
    app.exec(&format!("INSERT INTO employee_companies (user_id, company_id, created_at) VALUES ('{MANAGER_A}', '{BLUE_HARBOR}', 0)"));
    let ma = app.login_ok("ma", ADMIN_PASSWORD).0;
    assert_eq!(issue(&app, &ma, EMILY_LINK, None).status(), 201, "MA now governs every company Emily is in");
}

#[test]
fn a_reset_reaches_only_the_users_inbox_tells_them_and_shows_in_every_company() {
    let (app, admin) = two_links();
    let resp = issue(&app, &admin, EMILY_LINK, None);
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    let issued = json(&resp);
    assert_eq!((issued["password_reset"].as_bool(), issued["email"].as_str(), issued["emailed_to"].as_str()), (Some(true), Some("queued"), Some(EMILY_LOGIN)));
    assert!(issued["activation_url"].is_null(), "the issuer never holds a reset's token: {issued}");
    assert!(!resp.body().windows(9).any(|w| w == b"activate#"), "no URL anywhere in the answer");
    let refused = issue(&app, &admin, EMILY_LINK, Some(json!({"send_email": false})));
    assert_eq!((refused.status().as_u16(), error_code(&refused)), (409, "reset_needs_email".to_owned()));

    let issued = json(&issue(&app, &admin, EMILY_LINK, None));
    let token = app.emailed_token();
    let resp = app.call(request(
        "POST",
        "/api/invitations/activate",
        Some(json!({"token": token, "password": "a wholly new passphrase 2027", "refresh_transport": "body"})),
        &[("cf-connecting-ip", "198.51.100.23"), ("cf-ipcountry", "PT")],
    ));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    // Emily hears of it, with where it came from.
    app.emailed_token();
    let mails = app.ports.emails.borrow().clone();
    let told = mails.iter().find(|m| m.subject.contains("set through a reset link")).expect("the reset is reported to Emily");
    assert_eq!(told.to, EMILY_LOGIN);
    assert!(told.text.contains("198.51.100.23 (PT)") && told.text.contains("If this was not you"), "{}", told.text);
    // How the password was set is on her row, for the signing evidence.
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM users WHERE id = '{EMILY_USER}' AND password_set_via = 'reset' AND password_set_by IS NOT NULL")), 1);

    // Both companies' managers see the issue and the activation.
    for manager in ["ma", "mb"] {
        let token = app.login_ok(manager, ADMIN_PASSWORD).0;
        for action in ["invitation.issued", "invitation.activated"] {
            let seen = json(&app.get_auth(&format!("/api/admin/audit?action={action}"), &token));
            let items = seen["items"].as_array().unwrap();
            let both = |e: &Value| e["company_ids"].to_string().contains(NORTHERN_LIGHT) && e["company_ids"].to_string().contains(BLUE_HARBOR);
            assert!(items.iter().any(both), "{manager} sees {action} with both companies: {seen}");
        }
    }
    assert!(issued["id"].is_string());
}

#[test]
fn login_never_guesses_between_two_links() {
    let (app, _admin) = two_links();
    // The oldest link first, the other offered as a switch.
    let first = json(&app.post_json("/api/auth/login", login_body(EMILY_PASSWORD, None), &[]));
    assert_eq!(session_link(&app, first["session_id"].as_str().unwrap()), EMILY_LINK);
    let others = first["other_links"].as_array().expect("the other link is named");
    assert_eq!((others.len(), others[0]["link_id"].as_str(), others[0]["company_name"].as_str()), (1, Some(LINK_B), Some("Blue Harbor")));
    // Asked for, the other one; and from then on it is the one used last.
    app.advance(60);
    let switched = json(&app.post_json("/api/auth/login", login_body(EMILY_PASSWORD, Some(LINK_B)), &[]));
    assert_eq!(session_link(&app, switched["session_id"].as_str().unwrap()), LINK_B);
    assert_eq!(switched["other_links"][0]["link_id"], EMILY_LINK);
    app.advance(60);
    let again = json(&app.post_json("/api/auth/login", login_body(EMILY_PASSWORD, None), &[]));
    assert_eq!(session_link(&app, again["session_id"].as_str().unwrap()), LINK_B, "the last one used");
    // A link that is not hers (or not active) opens nothing, and says no more than a wrong password.
    app.exec(&format!("UPDATE links SET status = 'disabled' WHERE id = '{LINK_B}'"));
    let resp = app.post_json("/api/auth/login", login_body(EMILY_PASSWORD, Some(LINK_B)), &[]);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (401, "invalid_credentials".to_owned()));
    let resp = app.post_json("/api/auth/login", login_body(EMILY_PASSWORD, Some("not-a-uuid")), &[]);
    assert_eq!(json(&resp)["error"]["field"], "link_id");
    // With one active link left, the answer names no other.
    let one = json(&app.post_json("/api/auth/login", login_body(EMILY_PASSWORD, None), &[]));
    assert!(one.get("other_links").is_none(), "{one}");
}

#[test]
fn a_login_failure_of_a_user_reaches_the_managers_of_all_their_companies() {
    let (app, _admin) = two_links();
    assert_eq!(app.login(EMILY_LOGIN, "not her password at all").status(), 401);
    let mb = app.login_ok("mb", ADMIN_PASSWORD).0;
    let seen = json(&app.get_auth(&format!("/api/admin/audit?action=login.failed&target={EMILY_USER}"), &mb));
    assert_eq!(seen["items"].as_array().map(Vec::len), Some(1), "{seen}");
}

#[test]
fn a_totp_enrolment_code_is_counted_against_the_lockout() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let resp = app.send_auth("POST", "/api/me/mfa/totp", &access, Some(json!({"current_password": EMILY_PASSWORD})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let secret = json(&resp)["secret"].as_str().unwrap().to_owned();
    let right = extranet::auth::totp::code_at_step(&extranet::auth::totp::TotpSecret::from_base32(&secret).unwrap(), extranet::auth::totp::step_at(app.now.get().timestamp()));
    let wrong = if right == "000000" { "111111" } else { "000000" };
    for attempt in 1..=5 {
        let resp = app.send_auth("POST", "/api/me/mfa/totp/confirm", &access, Some(json!({"code": wrong})));
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some("code")), "attempt {attempt}");
    }
    let resp = app.send_auth("POST", "/api/me/mfa/totp/confirm", &access, Some(json!({"code": right})));
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (429, "rate_limited".to_owned()), "locked: even the right code waits");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM users WHERE id = '{EMILY_USER}' AND totp_secret IS NULL")), 1);
}

#[test]
fn a_responsible_employee_whose_scope_no_longer_covers_the_link_hears_nothing_of_its_client() {
    let (app, _admin) = two_links();
    app.exec(&format!("UPDATE links SET responsible_id = '{MANAGER_A}' WHERE id = '{EMILY_LINK}'"));
    let lock_out = |app: &TestApp| {
        for _ in 0..5 {
            app.login(EMILY_LOGIN, "not her password at all");
        }
        app.deliver_outbox();
    };
    lock_out(&app);
    let to_ma = |app: &TestApp| app.ports.emails.borrow().iter().filter(|m| m.to == "ma@vector.example" && m.subject.contains("locked out")).count();
    assert_eq!(to_ma(&app), 1, "MA answers for the link and governs it");
    // MA loses Northern Light: the next lockout is not theirs to hear of.
    app.exec(&format!("DELETE FROM employee_companies WHERE user_id = '{MANAGER_A}'; UPDATE users SET locked_until = NULL, failed_logins = 0 WHERE id = '{EMILY_USER}'"));
    app.advance(3600);
    lock_out(&app);
    assert_eq!(to_ma(&app), 1, "no client's login or IP after the scope changed");
}
