//! Client links and invitations over HTTP: the wizard's problems and warnings, link changes,
//! invitations, manager scope, search and review dates; each rule with a test that tries to break
//! it, and the seed's example end to end.

use crate::support::*;
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "ledger winter copper 42";
const OLD_MILL: &str = "0190b000-0000-7000-8000-000000000003";
const OLIVER_CONTACT: &str = "0190b000-0000-7000-8000-000000000012";
const DANA_DRAFT: &str = "0190b000-0000-7000-8000-000000000013";
const EMILY_DUPLICATE: &str = "0190b000-0000-7000-8000-000000000014";
const NOAH_CONTACT: &str = "0190b000-0000-7000-8000-000000000015";
const STAFF_USER: &str = "0190b000-0000-7000-8000-000000000022";
const BLOCKED_USER: &str = "0190b000-0000-7000-8000-000000000023";
const LIAM_USER: &str = "0190b000-0000-7000-8000-000000000024";
const MANAGER: &str = "0190b000-0000-7000-8000-000000000025";
const UNKNOWN: &str = "0190b000-0000-7000-8000-0000000000ff";

/// Northern Light and Blue Harbor, and Emily Carter's contact at Northern Light: the same rows
/// `with_emily_invited` writes, without her user and link.
fn directory(app: &TestApp) {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO companies (id, name, status, created_at, updated_at) VALUES ('{NORTHERN_LIGHT}', 'Northern Light', 'active', {now}, {now}), \
           ('{BLUE_HARBOR}', 'Blue Harbor', 'active', {now}, {now});
         INSERT INTO contacts (id, first_name, last_name, email, state, created_at, updated_at) \
           VALUES ('{EMILY_CONTACT}', 'Emily', 'Carter', '{EMILY_LOGIN}', 'active', {now}, {now});
         INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{NORTHERN_LIGHT}', {now});"
    ));
}

/// Everything else the rules need: an archived company, an active, a draft and a duplicate
/// contact, an employee, a blocked user, a user without password or link, and a policy for
/// Northern Light (Blue Harbor has none).
fn extras(app: &TestApp) {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO companies (id, name, status, created_at, updated_at) VALUES ('{OLD_MILL}', 'Old Mill', 'archived', {now}, {now});
         INSERT INTO contacts (id, first_name, last_name, email, state, duplicate_of, created_at, updated_at) VALUES
           ('{OLIVER_CONTACT}', 'Oliver', 'Grant', 'oliver@northernlight.example', 'active', NULL, {now}, {now}),
           ('{DANA_DRAFT}', 'Dana', 'Draft', 'dana@northernlight.example', 'draft', NULL, {now}, {now}),
           ('{EMILY_DUPLICATE}', 'Emily', 'Carter', 'e.carter@northernlight.example', 'duplicate', '{EMILY_CONTACT}', {now}, {now}),
           ('{NOAH_CONTACT}', 'Noah', 'Brooks', 'noah@blueharbor.example', 'active', NULL, {now}, {now});
         INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES
           ('{OLIVER_CONTACT}', '{NORTHERN_LIGHT}', {now}), ('{OLIVER_CONTACT}', '{BLUE_HARBOR}', {now}), ('{OLIVER_CONTACT}', '{OLD_MILL}', {now}),
           ('{DANA_DRAFT}', '{NORTHERN_LIGHT}', {now}), ('{EMILY_DUPLICATE}', '{NORTHERN_LIGHT}', {now}), ('{NOAH_CONTACT}', '{BLUE_HARBOR}', {now});
         INSERT INTO users (id, kind, status, login, login_key, email, first_name, last_name, created_at, updated_at) VALUES
           ('{STAFF_USER}', 'employee', 'active', 'sam.staff', 'sam.staff', 'sam@vector.example', 'Sam', 'Staff', {now}, {now}),
           ('{BLOCKED_USER}', 'external', 'blocked', 'bob.blocked', 'bob.blocked', 'bob@example.com', 'Bob', 'Blocked', {now}, {now}),
           ('{LIAM_USER}', 'external', 'active', 'liam', 'liam', 'liam@example.com', 'Liam', 'Stone', {now}, {now});
         INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, updated_at) \
           VALUES ('{NORTHERN_LIGHT}', 1, 1, 1, {now});"
    ));
}

/// A fresh world with Emily's contact but no user, and the admin's token.
fn world() -> (TestApp, String) {
    let app = TestApp::new().with_email();
    directory(&app);
    extras(&app);
    let admin = app.admin_token();
    (app, admin)
}

/// Emily has an active link (Northern Light) and a password; the admin's token.
fn world_with_emily() -> (TestApp, String) {
    // Email on: a password reset for Emily is emailed to her, and only there.
    let app = TestApp::new().with_emily_active().with_email();
    extras(&app);
    let admin = app.admin_token();
    (app, admin)
}

/// A manager of the given companies (same password as the admin); their access token.
fn manager_token(app: &TestApp, companies: &[&str]) -> String {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO users (id, kind, status, role, login, login_key, email, first_name, last_name, password_hash, created_at, updated_at) \
         SELECT '{MANAGER}', 'employee', 'active', 'manager', 'morgan', 'morgan', 'morgan@vector.example', 'Morgan', 'Manager', password_hash, {now}, {now} \
         FROM users WHERE login_key = 'admin';"
    ));
    for c in companies {
        app.exec(&format!("INSERT INTO employee_companies (user_id, company_id, created_at) VALUES ('{MANAGER}', '{c}', {now});"));
    }
    app.login_ok("morgan", ADMIN_PASSWORD).0
}

fn body_of(resp: &extranet::http::Resp) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

fn new_user(login: &str, first: &str, last: &str) -> Value {
    json!({"login": login, "email": format!("{}@example.com", login.replace('@', ".")), "first_name": first, "last_name": last})
}

fn wizard(user: Value, contact: &str, companies: &[&str], default: Option<&str>) -> Value {
    json!({"user": user, "contact_id": contact, "company_ids": companies, "default_company_id": default})
}

fn emily_wizard() -> Value {
    wizard(
        json!({"login": "Emily.Carter@NorthernLight.example", "email": EMILY_LOGIN, "first_name": "Emily", "last_name": "Carter"}),
        EMILY_CONTACT,
        &[NORTHERN_LIGHT],
        Some(NORTHERN_LIGHT),
    )
}

fn preview(app: &TestApp, token: &str, body: Value) -> Value {
    let resp = app.send_auth("POST", "/api/admin/links/preview", token, Some(body));
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    json(&resp)
}

fn confirm(app: &TestApp, token: &str, body: Value) -> extranet::http::Resp {
    app.send_auth("POST", "/api/admin/links", token, Some(body))
}

fn created(app: &TestApp, token: &str, body: Value) -> Value {
    let resp = confirm(app, token, body);
    assert_eq!(resp.status(), 201, "{}", body_of(&resp));
    json(&resp)
}

fn codes(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|n| n["code"].as_str().unwrap().to_owned()).collect()
}

fn patch(app: &TestApp, token: &str, link: &str, body: Value) -> extranet::http::Resp {
    app.send_auth("PATCH", &format!("/api/admin/links/{link}"), token, Some(body))
}

fn patched(app: &TestApp, token: &str, link: &str, body: Value) -> Value {
    let resp = patch(app, token, link, body);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    json(&resp)
}

fn invite(app: &TestApp, token: &str, link: &str) -> extranet::http::Resp {
    app.send_auth("POST", &format!("/api/admin/links/{link}/invitations"), token, None)
}

/// Issues an invitation and returns (its JSON, the token from the activation URL's fragment).
fn invited(app: &TestApp, token: &str, link: &str) -> (Value, String) {
    let resp = invite(app, token, link);
    assert_eq!(resp.status(), 201, "{}", body_of(&resp));
    let body = json(&resp);
    if body["activation_url"].is_null() {
        assert_eq!((body["password_reset"].as_bool(), body["email"].as_str()), (Some(true), Some("queued")), "only a reset is withheld: {body}");
        return (body, app.emailed_token());
    }
    let url = body["activation_url"].as_str().unwrap().to_owned();
    let (base, fragment) = url.split_once('#').expect("the token travels in the fragment");
    assert_eq!(base, "https://portal.test/activate", "no token in the path or query");
    (body, fragment.to_owned())
}

fn activate(app: &TestApp, token: &str, password: &str) -> extranet::http::Resp {
    app.post_json("/api/invitations/activate", json!({"token": token, "password": password, "refresh_transport": "body"}), &[])
}

fn list_ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let resp = app.get_auth(&format!("/api/admin/links{query}"), token);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    json(&resp)["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

fn links_count(app: &TestApp) -> i64 {
    app.sql_count("SELECT count(*) FROM links")
}

#[test]
fn the_seed_example_vector_links_emily_with_northern_light_as_default() {
    let (app, admin) = world();
    let now = app.now.get().timestamp();
    app.exec(&format!("INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', {now});"));
    let body = wizard(
        json!({"login": "Emily.Carter@NorthernLight.example", "email": EMILY_LOGIN, "first_name": "Emily", "last_name": "Carter"}),
        EMILY_CONTACT,
        &[NORTHERN_LIGHT, BLUE_HARBOR],
        Some(NORTHERN_LIGHT),
    );

    let review = preview(&app, &admin, body.clone());
    assert_eq!(review["ok"], true, "{review}");
    assert_eq!(review["user"]["new"], true);
    assert_eq!(review["contact"]["name"], "Emily Carter");
    assert_eq!(review["default_company_id"], NORTHERN_LIGHT);
    let defaults: Vec<&Value> = review["companies"].as_array().unwrap().iter().filter(|c| c["is_default"] == true).collect();
    assert_eq!((defaults.len(), defaults[0]["name"].as_str()), (1, Some("Northern Light")));
    assert_eq!(codes(&review["warnings"]), vec!["company_without_policy", "invitation_needed"], "Blue Harbor has no policy yet");
    assert!(review["warnings"][0]["message"].as_str().unwrap().contains("recommended minimum"));
    assert_eq!(review["warnings"][0]["company_id"], BLUE_HARBOR);
    assert_eq!(links_count(&app), 0, "the preview writes nothing");
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE kind = 'external'"), 2, "only the fixture's users");

    let link = created(&app, &admin, body);
    let link_id = link["id"].as_str().unwrap().to_owned();
    assert_eq!(link["status"], "active");
    assert_eq!(link["default_company_id"], NORTHERN_LIGHT);
    assert_eq!(link["policy_version"], 1);
    assert_eq!(link["review_at"], "2027-02-21T09:00:00Z", "90 days after creation");
    assert_eq!(link["review_due"], false);
    assert_eq!(link["user"]["has_password"], false);
    let user_id = link["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.sql_count(&format!(
            "SELECT count(*) FROM users WHERE id = '{user_id}' AND kind = 'external' AND password_hash IS NULL \
             AND login = 'Emily.Carter@NorthernLight.example' AND login_key = 'emily.carter@northernlight.example'"
        )),
        1,
        "a new external user, no usable password, login keyed in lowercase"
    );
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM link_companies WHERE link_id = '{link_id}'")), 2);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = 'link.created' AND target_id = '{link_id}'")), 1);
    assert_eq!(app.login("Emily.Carter@NorthernLight.example", "any password at all").status(), 401, "no password to sign in with before activation");

    let (invitation, token) = invited(&app, &admin, &link_id);
    assert_eq!((invitation["status"].as_str(), invitation["password_reset"].as_bool()), (Some("pending"), Some(false)));
    assert_eq!(invitation["expires_at"], "2026-11-26T09:00:00Z", "72 hours by default");
    let hash = extranet::auth::refresh::sha256_hex(token.as_bytes());
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM invitations WHERE token_hash = '{hash}'")), 1, "only the hash is kept");
    let detail = json(&app.get_auth(&format!("/api/admin/links/{link_id}"), &admin));
    assert!(!detail.to_string().contains(&token), "the token is shown once, at issue");

    let preview_inv = app.post_json("/api/invitations/preview", json!({"token": token}), &[]);
    assert_eq!(json(&preview_inv)["first_name"], "Emily");
    let session = activate(&app, &token, EMILY_PASSWORD);
    assert_eq!(session.status(), 200, "{}", body_of(&session));
    let access = json(&session)["access_token"].as_str().unwrap().to_owned();
    let me = json(&app.get_auth("/api/me", &access));
    assert_eq!(me["link"]["id"], link_id.as_str());
    assert_eq!(me["link"]["default_company_id"], NORTHERN_LIGHT);
    let default: Vec<&Value> = me["companies"].as_array().unwrap().iter().filter(|c| c["is_default"] == true).collect();
    assert_eq!(default.len(), 1);
    assert_eq!((default[0]["id"].as_str(), default[0]["name"].as_str()), (Some(NORTHERN_LIGHT), Some("Northern Light")));
    assert_eq!(me["companies"].as_array().unwrap().len(), 2);

    let after = json(&app.get_auth(&format!("/api/admin/links/{link_id}"), &admin));
    assert_eq!(after["invitations"][0]["status"], "used");
    assert_eq!(after["user"]["has_password"], true);

    // The guide: after the client's first login, the access is checked once more. The first
    // activation makes the link review-due now; "reviewed" moves the date on 90 days.
    assert_eq!((after["review_due"].as_bool(), after["review_at"].as_str()), (Some(true), Some("2026-11-23T09:00:00Z")));
    assert_eq!(list_ids(&app, &admin, "?review_due=true"), vec![link_id.clone()]);
    let reviewed = patched(&app, &admin, &link_id, json!({"reviewed": true}));
    assert_eq!((reviewed["review_due"].as_bool(), reviewed["review_at"].as_str()), (Some(false), Some("2027-02-21T09:00:00Z")));
    // A later invitation (a password reset) is not a first login: the review date stays.
    let (_, reset) = invited(&app, &admin, &link_id);
    assert_eq!(activate(&app, &reset, "another long passphrase for spring").status(), 200);
    let later = json(&app.get_auth(&format!("/api/admin/links/{link_id}"), &admin));
    assert_eq!((later["review_due"].as_bool(), later["review_at"].as_str()), (Some(false), Some("2027-02-21T09:00:00Z")));
}

#[test]
fn every_problem_blocks_both_the_preview_and_the_confirmation() {
    let (app, admin) = world_with_emily();
    let oliver = |companies: &[&str], default: Option<&str>| wizard(new_user("oliver.grant", "Oliver", "Grant"), OLIVER_CONTACT, companies, default);
    let cases: Vec<(&str, Value)> = vec![
        ("contact_draft", wizard(new_user("dana", "Dana", "Draft"), DANA_DRAFT, &[NORTHERN_LIGHT], Some(NORTHERN_LIGHT))),
        ("contact_duplicate", wizard(new_user("emily2", "Emily", "Carter"), EMILY_DUPLICATE, &[NORTHERN_LIGHT], Some(NORTHERN_LIGHT))),
        ("contact_not_in_company", wizard(new_user("emily2", "Emily", "Carter"), EMILY_CONTACT, &[BLUE_HARBOR], Some(BLUE_HARBOR))),
        ("company_archived", oliver(&[NORTHERN_LIGHT, OLD_MILL], Some(NORTHERN_LIGHT))),
        ("no_companies", oliver(&[], None)),
        ("default_company_missing", oliver(&[NORTHERN_LIGHT, BLUE_HARBOR], None)),
        ("default_company_not_in_companies", oliver(&[NORTHERN_LIGHT], Some(BLUE_HARBOR))),
        ("login_taken", wizard(new_user("EMILY.Carter@northernlight.example", "Emily", "Carter"), OLIVER_CONTACT, &[NORTHERN_LIGHT], None)),
        ("user_is_employee", wizard(json!({"id": STAFF_USER}), OLIVER_CONTACT, &[NORTHERN_LIGHT], None)),
        ("user_blocked", wizard(json!({"id": BLOCKED_USER}), OLIVER_CONTACT, &[NORTHERN_LIGHT], None)),
        ("user_linked_to_other_contact", wizard(json!({"id": EMILY_USER}), OLIVER_CONTACT, &[NORTHERN_LIGHT], None)),
        ("link_exists", wizard(json!({"id": EMILY_USER}), EMILY_CONTACT, &[NORTHERN_LIGHT], None)),
    ];
    let before = links_count(&app);
    for (code, body) in cases {
        let review = preview(&app, &admin, body.clone());
        assert_eq!(review["ok"], false, "{code}: {review}");
        assert!(codes(&review["problems"]).contains(&code.to_owned()), "{code}: {review}");
        let resp = confirm(&app, &admin, body);
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "link_problems".to_owned()), "{code}");
        assert!(codes(&json(&resp)["error"]["problems"]).contains(&code.to_owned()), "{code}: {}", body_of(&resp));
    }
    assert_eq!(links_count(&app), before, "nothing was linked");
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE login_key IN ('dana', 'emily2', 'oliver.grant')"), 0, "nor any user created");

    // The duplicate says which contact it duplicates; the existing link is named.
    let dup = preview(&app, &admin, wizard(new_user("emily2", "Emily", "Carter"), EMILY_DUPLICATE, &[NORTHERN_LIGHT], None));
    let problem = dup["problems"].as_array().unwrap().iter().find(|p| p["code"] == "contact_duplicate").unwrap().clone();
    assert_eq!(problem["contact_id"], EMILY_CONTACT);
    assert!(problem["message"].as_str().unwrap().contains("Emily Carter"));
    let exists = preview(&app, &admin, wizard(json!({"id": EMILY_USER}), EMILY_CONTACT, &[NORTHERN_LIGHT], None));
    assert_eq!(exists["problems"][0]["link_id"], EMILY_LINK);

    // A disabled link is as live as an active one.
    patched(&app, &admin, EMILY_LINK, json!({"status": "disabled"}));
    let still = preview(&app, &admin, wizard(json!({"id": EMILY_USER}), EMILY_CONTACT, &[NORTHERN_LIGHT], None));
    assert_eq!(codes(&still["problems"]), vec!["link_exists"]);
}

#[test]
fn warnings_do_not_block_and_a_returning_client_gets_a_new_link() {
    let (app, admin) = world_with_emily();
    patched(&app, &admin, EMILY_LINK, json!({"status": "revoked"}));
    let body = wizard(json!({"id": EMILY_USER}), EMILY_CONTACT, &[NORTHERN_LIGHT], None);
    let review = preview(&app, &admin, body.clone());
    assert_eq!(review["ok"], true, "{review}");
    assert_eq!(codes(&review["warnings"]), vec!["previous_link_revoked"], "she has a password, Northern Light a policy");
    assert_eq!(review["warnings"][0]["link_id"], EMILY_LINK);
    let link = created(&app, &admin, body);
    assert_ne!(link["id"], EMILY_LINK);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM links WHERE user_id = '{EMILY_USER}'")), 2);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM links WHERE id = '{EMILY_LINK}' AND status = 'revoked'")), 1, "the old link stays revoked");

    // An existing user without a password needs an invitation; a company without policy is named.
    let liam = preview(&app, &admin, wizard(json!({"id": LIAM_USER}), NOAH_CONTACT, &[BLUE_HARBOR], None));
    assert_eq!(liam["ok"], true);
    assert_eq!(codes(&liam["warnings"]), vec!["company_without_policy", "invitation_needed"]);
    assert_eq!(created(&app, &admin, wizard(json!({"id": LIAM_USER}), NOAH_CONTACT, &[BLUE_HARBOR], None))["default_company_id"], BLUE_HARBOR);
}

#[test]
fn unknown_ids_and_bad_input_answer_400_naming_the_field() {
    let (app, admin) = world();
    let cases = vec![
        ("contact_id", wizard(new_user("zoe", "Zoe", "Z"), UNKNOWN, &[NORTHERN_LIGHT], None)),
        ("company_ids", wizard(new_user("zoe", "Zoe", "Z"), EMILY_CONTACT, &[NORTHERN_LIGHT, UNKNOWN], Some(NORTHERN_LIGHT))),
        ("default_company_id", wizard(new_user("zoe", "Zoe", "Z"), EMILY_CONTACT, &[NORTHERN_LIGHT], Some(UNKNOWN))),
        ("user.id", wizard(json!({"id": UNKNOWN}), EMILY_CONTACT, &[NORTHERN_LIGHT], None)),
        ("user.login", wizard(json!({"login": "a b", "email": "z@example.com", "first_name": "Z", "last_name": "Z"}), EMILY_CONTACT, &[NORTHERN_LIGHT], None)),
        ("user.email", wizard(json!({"login": "zoe", "first_name": "Z", "last_name": "Z"}), EMILY_CONTACT, &[NORTHERN_LIGHT], None)),
        ("user.first_name", wizard(json!({"login": "zoe", "email": "z@example.com", "first_name": " ", "last_name": "Z"}), EMILY_CONTACT, &[NORTHERN_LIGHT], None)),
        ("contact_id", json!({"user": {"id": LIAM_USER}, "contact_id": "not-a-uuid", "company_ids": []})),
    ];
    for (field, body) in cases {
        for path in ["/api/admin/links/preview", "/api/admin/links"] {
            let resp = app.send_auth("POST", path, &admin, Some(body.clone()));
            assert_eq!(resp.status(), 400, "{path} {field}: {}", body_of(&resp));
            assert_eq!(json(&resp)["error"]["field"], field, "{path}");
        }
    }
    assert_eq!(links_count(&app), 0);
}

#[test]
fn concurrent_confirmations_make_exactly_one_link() {
    let (app, admin) = world();
    let auth = format!("Bearer {admin}");
    let send = |body: &Value| app.send(request("POST", "/api/admin/links", Some(body.clone()), &[("authorization", auth.as_str())]));

    let existing = wizard(json!({"id": LIAM_USER}), OLIVER_CONTACT, &[NORTHERN_LIGHT], None);
    let answers = join_all((0..5).map(|_| send(&existing)).collect());
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    for r in answers.iter().filter(|r| r.status() != 201) {
        assert_eq!((r.status().as_u16(), error_code(r)), (409, "link_problems".to_owned()));
        assert!(codes(&json(r)["error"]["problems"]).contains(&"link_exists".to_owned()), "{}", body_of(r));
    }
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM links WHERE user_id = '{LIAM_USER}'")), 1);

    let fresh = emily_wizard();
    let answers = join_all((0..4).map(|_| send(&fresh)).collect());
    assert_eq!(answers.iter().filter(|r| r.status() == 201).count(), 1);
    assert!(answers.iter().all(|r| r.status() == 201 || error_code(r) == "link_problems"));
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE login_key = 'emily.carter@northernlight.example'"), 1, "one user");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM links WHERE contact_id = '{EMILY_CONTACT}'")), 1, "one link");
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'link.created'"), 2, "one event per link made");
}

#[test]
fn a_manager_works_only_inside_their_companies() {
    let (app, admin) = world_with_emily();
    // Oliver at Blue Harbor, made by the admin: outside the Northern Light manager's scope.
    let oliver = created(&app, &admin, wizard(new_user("oliver.grant", "Oliver", "Grant"), OLIVER_CONTACT, &[NORTHERN_LIGHT, BLUE_HARBOR], Some(BLUE_HARBOR)));
    let oliver_id = oliver["id"].as_str().unwrap().to_owned();
    let manager = manager_token(&app, &[NORTHERN_LIGHT]);

    let noah = wizard(json!({"id": LIAM_USER}), NOAH_CONTACT, &[BLUE_HARBOR], None);
    for path in ["/api/admin/links/preview", "/api/admin/links"] {
        assert_eq!(app.send_auth("POST", path, &manager, Some(noah.clone())).status(), 404, "{path}");
    }
    let sneaky_default = wizard(json!({"id": LIAM_USER}), OLIVER_CONTACT, &[NORTHERN_LIGHT], Some(BLUE_HARBOR));
    assert_eq!(app.send_auth("POST", "/api/admin/links/preview", &manager, Some(sneaky_default)).status(), 404);
    assert_eq!(app.get_auth(&format!("/api/admin/links/{oliver_id}"), &manager).status(), 404, "one company out of scope is enough");
    assert_eq!(patch(&app, &manager, &oliver_id, json!({"status": "disabled"})).status(), 404);
    assert_eq!(invite(&app, &manager, &oliver_id).status(), 404);
    assert_eq!(list_ids(&app, &manager, ""), vec![EMILY_LINK.to_owned()]);

    // Inside the scope the manager can do the work, but cannot widen a link beyond it.
    assert_eq!(app.get_auth(&format!("/api/admin/links/{EMILY_LINK}"), &manager).status(), 200);
    app.exec(&format!("INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', 0);"));
    assert_eq!(patch(&app, &manager, EMILY_LINK, json!({"company_ids": [NORTHERN_LIGHT, BLUE_HARBOR]})).status(), 404);
    let (_, _) = invited(&app, &manager, EMILY_LINK);
    let liam = created(&app, &manager, wizard(json!({"id": LIAM_USER}), OLIVER_CONTACT, &[NORTHERN_LIGHT], None));
    assert_eq!(liam["companies"].as_array().unwrap().len(), 1);
    invited(&app, &admin, &oliver_id);
    let seen = json(&app.get_auth("/api/admin/invitations", &manager));
    assert!(seen["items"].as_array().unwrap().iter().all(|i| i["link_id"] == EMILY_LINK), "{seen}");
    let all = json(&app.get_auth("/api/admin/invitations", &admin));
    assert!(all["items"].as_array().unwrap().iter().any(|i| i["link_id"] == oliver_id.as_str()));

    // A client has no business on the governance API.
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.get_auth("/api/admin/links", &emily).status(), 403);
    assert_eq!(app.send_auth("POST", "/api/admin/links/preview", &emily, Some(emily_wizard())).status(), 403);
}

#[test]
fn the_default_company_must_be_one_of_the_links_companies() {
    let (app, admin) = world_with_emily();
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let refused = patch(&app, &admin, EMILY_LINK, json!({"default_company_id": BLUE_HARBOR}));
    assert_eq!((refused.status().as_u16(), json(&refused)["error"]["field"].as_str()), (400, Some("default_company_id")));
    let refused = patch(&app, &admin, EMILY_LINK, json!({"company_ids": [BLUE_HARBOR], "default_company_id": BLUE_HARBOR}));
    assert_eq!((refused.status().as_u16(), json(&refused)["error"]["field"].as_str()), (400, Some("company_ids")), "not her company in the CRM");
    let refused = patch(&app, &admin, EMILY_LINK, json!({"company_ids": []}));
    assert_eq!(refused.status(), 400);
    assert_eq!(app.get_auth("/api/me", &emily).status(), 200, "nothing changed, her token still works");

    app.exec(&format!("INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', 0);"));
    let link = patched(&app, &admin, EMILY_LINK, json!({"company_ids": [NORTHERN_LIGHT, BLUE_HARBOR], "default_company_id": BLUE_HARBOR}));
    assert_eq!((link["default_company_id"].as_str(), link["policy_version"].as_i64()), (Some(BLUE_HARBOR), Some(2)));
    assert_eq!(link["companies"].as_array().unwrap().len(), 2);
    let stale = app.get_auth("/api/me", &emily);
    assert_eq!((stale.status().as_u16(), error_code(&stale)), (401, "token_stale".to_owned()), "the policy changed: refresh");
    let refused = patch(&app, &admin, EMILY_LINK, json!({"company_ids": [NORTHERN_LIGHT]}));
    assert_eq!(json(&refused)["error"]["field"], "default_company_id", "dropping the default company needs a new default");
    let link = patched(&app, &admin, EMILY_LINK, json!({"company_ids": [NORTHERN_LIGHT], "default_company_id": NORTHERN_LIGHT}));
    assert_eq!((link["companies"].as_array().unwrap().len(), link["policy_version"].as_i64()), (1, Some(3)));
    let event = app.sql_count(&format!(
        "SELECT count(*) FROM audit_events WHERE action = 'link.updated' AND target_id = '{EMILY_LINK}' \
         AND json_extract(details, '$.before.default_company_id') = '{BLUE_HARBOR}' AND json_extract(details, '$.after.default_company_id') = '{NORTHERN_LIGHT}' \
         AND json_array_length(company_ids) = 2"
    ));
    assert_eq!(event, 1, "audited with before, after and every company touched");
    app.exec(&format!("UPDATE companies SET status = 'archived' WHERE id = '{BLUE_HARBOR}'"));
    let refused = patch(&app, &admin, EMILY_LINK, json!({"company_ids": [NORTHERN_LIGHT, BLUE_HARBOR]}));
    assert_eq!(json(&refused)["error"]["field"], "company_ids", "an archived company is not added");
}

#[test]
fn revoking_is_final_and_its_invitations_and_sessions_die() {
    let (app, admin) = world_with_emily();
    let (emily, emily_refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let (_, pending) = invited(&app, &admin, EMILY_LINK);
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, external_id, external_label, created_at, updated_at) \
         VALUES ('0190b000-0000-7000-8000-0000000000c1', 'telegram', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', 'active', '42', '@emily', {now}, {now});"
    ));

    let link = patched(&app, &admin, EMILY_LINK, json!({"status": "revoked"}));
    assert_eq!(link["status"], "revoked");
    assert_eq!(link["revoked_at"], "2026-11-23T09:00:00Z");
    assert_eq!(link["invitations"][0]["status"], "revoked");
    assert_eq!(link["channel_links"][0]["status"], "revoked");
    assert_eq!(app.get_auth("/api/me", &emily).status(), 401);
    assert_eq!(app.post_json("/api/auth/refresh", json!({"refresh_token": emily_refresh, "refresh_transport": "body"}), &[]).status(), 401);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE link_id = '{EMILY_LINK}' AND revoked_at IS NULL")), 0);
    assert!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE link_id = '{EMILY_LINK}' AND revoked_reason = 'link_revoked'")) >= 2);
    let dead = app.post_json("/api/invitations/preview", json!({"token": pending}), &[]);
    assert_eq!((dead.status().as_u16(), error_code(&dead)), (410, "invitation_revoked".to_owned()));
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401);

    for change in [json!({"status": "active"}), json!({"status": "disabled"}), json!({"reviewed": true}), json!({"status": "revoked"})] {
        let resp = patch(&app, &admin, EMILY_LINK, change.clone());
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "link_revoked".to_owned()), "{change}");
    }
    let resp = invite(&app, &admin, EMILY_LINK);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "link_not_active".to_owned()));
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = 'link.revoked' AND target_id = '{EMILY_LINK}'")), 1);
}

#[test]
fn disabling_pauses_access_and_enabling_restores_it() {
    let (app, admin) = world_with_emily();
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let link = patched(&app, &admin, EMILY_LINK, json!({"status": "disabled"}));
    assert_eq!((link["status"].as_str(), link["policy_version"].as_i64()), (Some("disabled"), Some(2)));
    let out = app.get_auth("/api/me", &emily);
    assert_eq!((out.status().as_u16(), error_code(&out)), (401, "unauthenticated".to_owned()), "the outstanding token stops at once");
    assert!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE link_id = '{EMILY_LINK}' AND revoked_reason = 'link_disabled'")) >= 1);
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401);
    assert_eq!(error_code(&invite(&app, &admin, EMILY_LINK)), "link_not_active");

    let link = patched(&app, &admin, EMILY_LINK, json!({"status": "active"}));
    assert_eq!((link["status"].as_str(), link["policy_version"].as_i64()), (Some("active"), Some(3)));
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.get_auth("/api/me", &emily).status(), 200);
    let actions = app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE target_id = '{EMILY_LINK}' AND action IN ('link.disabled', 'link.enabled')"));
    assert_eq!(actions, 2);
}

#[test]
fn an_old_invitation_stops_working_when_a_new_one_is_issued() {
    let app = TestApp::new().with_emily_invited();
    extras(&app);
    let admin = app.admin_token();
    let (fresh, token) = invited(&app, &admin, EMILY_LINK);
    assert_eq!(fresh["password_reset"], false);
    let old = app.post_json("/api/invitations/preview", json!({"token": EMILY_TOKEN}), &[]);
    assert_eq!((old.status().as_u16(), error_code(&old)), (410, "invitation_revoked".to_owned()));
    let old = activate(&app, EMILY_TOKEN, EMILY_PASSWORD);
    assert_eq!((old.status().as_u16(), error_code(&old)), (410, "invitation_revoked".to_owned()));
    assert_eq!(activate(&app, &token, EMILY_PASSWORD).status(), 200);

    let listed = json(&app.get_auth(&format!("/api/admin/invitations?link={EMILY_LINK}"), &admin));
    let statuses: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["used", "revoked"], "newest first");
    assert!(!listed.to_string().contains("token"), "no token or hash in the list");
    let used = json(&app.get_auth("/api/admin/invitations?status=used", &admin));
    assert_eq!(used["items"].as_array().unwrap().len(), 1);
    assert_eq!(used["items"][0]["id"], fresh["id"]);
}

#[test]
fn invitations_expire_on_read_and_only_pending_ones_can_be_revoked() {
    let (app, admin) = world_with_emily();
    app.exec("UPDATE security_settings SET invitation_ttl_hours = 2");
    let (first, _) = invited(&app, &admin, EMILY_LINK);
    assert_eq!(first["expires_at"], "2026-11-23T11:00:00Z", "the lifetime comes from the security settings");
    assert_eq!(first["password_reset"], true, "Emily has a password: this invitation resets it");
    app.advance(2 * 3600);
    let admin = app.admin_token();
    let expired = json(&app.get_auth("/api/admin/invitations?status=expired", &admin));
    assert_eq!(expired["items"][0]["id"], first["id"], "expired before the cron writes it");
    assert_eq!(json(&app.get_auth("/api/admin/invitations?status=pending", &admin))["items"].as_array().unwrap().len(), 0);
    let first_id = first["id"].as_str().unwrap();
    let resp = app.send_auth("POST", &format!("/api/admin/invitations/{first_id}/revoke"), &admin, None);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "invitation_not_pending".to_owned()));

    let (second, token) = invited(&app, &admin, EMILY_LINK);
    let second_id = second["id"].as_str().unwrap();
    let resp = app.send_auth("POST", &format!("/api/admin/invitations/{second_id}/revoke"), &admin, None);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    assert_eq!(json(&resp)["status"], "revoked");
    let again = app.send_auth("POST", &format!("/api/admin/invitations/{second_id}/revoke"), &admin, None);
    assert_eq!((again.status().as_u16(), error_code(&again)), (409, "invitation_not_pending".to_owned()));
    assert_eq!(error_code(&activate(&app, &token, "a brand new passphrase 7")), "invitation_revoked");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = 'invitation.revoked' AND target_id = '{second_id}'")), 1);
    assert_eq!(app.send_auth("POST", &format!("/api/admin/invitations/{UNKNOWN}/revoke"), &admin, None).status(), 404);
    assert_eq!(json(&app.get_auth("/api/admin/invitations?status=nope", &admin))["error"]["field"], "status");
}

#[test]
fn a_reset_invitation_replaces_the_password_and_a_blocked_user_gets_none() {
    let (app, admin) = world_with_emily();
    let (_, token) = invited(&app, &admin, EMILY_LINK);
    assert_eq!(activate(&app, &token, "a completely new passphrase").status(), 200);
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401, "the old password is gone");
    app.login_ok(EMILY_LOGIN, "a completely new passphrase");

    app.exec(&format!("UPDATE users SET status = 'blocked' WHERE id = '{EMILY_USER}'"));
    let resp = invite(&app, &admin, EMILY_LINK);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "user_blocked".to_owned()));
    assert_eq!(invite(&app, &admin, UNKNOWN).status(), 404);
}

#[test]
fn search_filters_review_due_and_reviewed() {
    let (app, admin) = world_with_emily();
    let oliver = created(&app, &admin, wizard(new_user("ogrant", "Ollie", "G"), OLIVER_CONTACT, &[NORTHERN_LIGHT, BLUE_HARBOR], Some(BLUE_HARBOR)));
    let oliver = oliver["id"].as_str().unwrap().to_owned();
    let noah = created(&app, &admin, wizard(json!({"id": LIAM_USER}), NOAH_CONTACT, &[BLUE_HARBOR], None));
    let noah = noah["id"].as_str().unwrap().to_owned();
    patched(&app, &admin, &noah, json!({"status": "revoked"}));
    let emily = EMILY_LINK.to_owned();

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(list_ids(&app, &admin, "")), sorted(vec![emily.clone(), oliver.clone(), noah.clone()]));
    assert_eq!(list_ids(&app, &admin, "?q=EMILY"), vec![emily.clone()], "user login, any case");
    assert_eq!(list_ids(&app, &admin, "?q=Grant"), vec![oliver.clone()], "contact name");
    assert_eq!(list_ids(&app, &admin, "?q=Liam%20Stone"), vec![noah.clone()], "user's full name");
    assert_eq!(list_ids(&app, &admin, "?q=liam%40example"), vec![noah.clone()], "user email");
    assert_eq!(sorted(list_ids(&app, &admin, "?q=harbor")), sorted(vec![oliver.clone(), noah.clone()]), "company name");
    assert_eq!(list_ids(&app, &admin, "?q=%25").len(), 0, "a literal %, not a wildcard");
    assert_eq!(list_ids(&app, &admin, "?status=revoked"), vec![noah.clone()]);
    assert_eq!(sorted(list_ids(&app, &admin, &format!("?company={BLUE_HARBOR}&status=active"))), vec![oliver.clone()]);

    let item = json(&app.get_auth("/api/admin/links?q=Grant", &admin))["items"][0].clone();
    assert_eq!(item["user"]["login"], "ogrant");
    assert_eq!(item["contact"]["name"], "Oliver Grant");
    assert_eq!(item["default_company_id"], BLUE_HARBOR);
    assert_eq!(item["companies"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(), vec!["Blue Harbor", "Northern Light"]);
    assert_eq!((item["review_at"].as_str(), item["review_due"].as_bool()), (Some("2027-02-21T09:00:00Z"), Some(false)));

    // Review due is computed live: the cron has not marked anything yet.
    let past = app.now.get().timestamp() - 60;
    app.exec(&format!("UPDATE links SET review_at = {past} WHERE id IN ('{EMILY_LINK}', '{noah}')"));
    assert_eq!(list_ids(&app, &admin, "?review_due=true"), vec![emily.clone()], "a revoked link is never due");
    assert_eq!(sorted(list_ids(&app, &admin, "?review_due=false")), sorted(vec![oliver.clone(), noah.clone()]));
    let reviewed = patched(&app, &admin, EMILY_LINK, json!({"reviewed": true}));
    assert_eq!((reviewed["review_due"].as_bool(), reviewed["reviewed_at"].as_str()), (Some(false), Some("2026-11-23T09:00:00Z")));
    assert_eq!(reviewed["review_at"], "2027-02-21T09:00:00Z");
    assert_eq!(reviewed["policy_version"], 1, "a review does not change access");
    assert_eq!(app.sql_count(&format!("SELECT review_due FROM links WHERE id = '{EMILY_LINK}'")), 0);
    assert_eq!(list_ids(&app, &admin, "?review_due=true").len(), 0);
    let moved = patched(&app, &admin, &oliver, json!({"review_at": "2026-11-01T00:00:00Z"}));
    assert_eq!(moved["review_due"], true);
    assert_eq!(list_ids(&app, &admin, "?review_due=1"), vec![oliver.clone()]);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'link.reviewed'"), 1);

    // Keyset pages cover the list exactly once.
    let mut seen = Vec::new();
    let mut path = "/api/admin/links?limit=1".to_owned();
    loop {
        let page = json(&app.get_auth(&path, &admin));
        assert!(page["items"].as_array().unwrap().len() <= 1);
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/admin/links?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, list_ids(&app, &admin, ""));
    for (query, field) in [("?cursor=@@", "cursor"), ("?status=gone", "status"), ("?review_due=maybe", "review_due"), ("?company=x", "company"), ("?limit=500", "limit")] {
        assert_eq!(json(&app.get_auth(&format!("/api/admin/links{query}"), &admin))["error"]["field"], field, "{query}");
    }
}

#[test]
fn the_wizard_shows_an_existing_user_only_to_whoever_governs_them() {
    let (app, admin) = world_with_emily();
    let now = app.now.get().timestamp();
    app.exec(&format!("INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', {now});"));
    // A Blue Harbor manager asks to link Emily's user (whose live link is Northern Light's) to Blue Harbor.
    let manager = manager_token(&app, &[BLUE_HARBOR]);
    let body = wizard(json!({"id": EMILY_USER}), EMILY_CONTACT, &[BLUE_HARBOR], Some(BLUE_HARBOR));
    let resp = app.send_auth("POST", "/api/admin/links/preview", &manager, Some(body.clone()));
    assert_eq!(resp.status(), 404, "{}", body_of(&resp));
    assert!(!body_of(&resp).contains(EMILY_LOGIN), "no login, email or links of a user outside the scope");
    assert_eq!(confirm(&app, &manager, body.clone()).status(), 404);
    let review = preview(&app, &admin, body);
    assert_eq!(review["user"]["login"], EMILY_LOGIN, "an admin sees who it is");
}

#[test]
fn a_link_has_a_responsible_employee_who_must_govern_it_and_the_list_filters_by_it() {
    let (app, admin) = world();
    let link = created(&app, &admin, emily_wizard());
    let id = link["id"].as_str().unwrap().to_owned();
    let admin_id = json(&app.get_auth("/api/me", &admin))["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(link["responsible"]["id"].as_str(), Some(admin_id.as_str()), "whoever creates a link answers for it: {link}");

    // A manager of Northern Light may answer for it; the same manager without it may not, nor a client.
    let morgan = manager_token(&app, &[NORTHERN_LIGHT]);
    let path = format!("/api/admin/links/{id}");
    let resp = app.send_auth("PATCH", &path, &admin, Some(json!({"responsible_id": MANAGER})));
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    assert_eq!((json(&resp)["responsible"]["id"].as_str(), json(&resp)["responsible"]["name"].as_str()), (Some(MANAGER), Some("Morgan Manager")));
    let mine = json(&app.get_auth(&format!("/api/admin/links?responsible={MANAGER}"), &morgan));
    assert_eq!(mine["items"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect::<Vec<_>>(), [id.as_str()]);
    assert!(json(&app.get_auth(&format!("/api/admin/links?responsible={admin_id}"), &admin))["items"].as_array().unwrap().is_empty());

    app.exec(&format!("DELETE FROM employee_companies WHERE user_id = '{MANAGER}'"));
    app.exec(&format!("UPDATE links SET responsible_id = NULL WHERE id = '{id}'"));
    let refused = app.send_auth("PATCH", &path, &admin, Some(json!({"responsible_id": MANAGER})));
    assert_eq!((refused.status().as_u16(), json(&refused)["error"]["field"].as_str()), (400, Some("responsible_id")), "{}", body_of(&refused));
    let user_id = json(&app.get_auth(&path, &admin))["user"]["id"].as_str().unwrap().to_owned();
    let client = app.send_auth("PATCH", &path, &admin, Some(json!({"responsible_id": user_id})));
    assert_eq!((client.status().as_u16(), json(&client)["error"]["field"].as_str()), (400, Some("responsible_id")));
    assert_eq!(app.send_auth("PATCH", &path, &admin, Some(json!({"responsible_id": "nope"}))).status(), 400);
    assert_eq!(app.get_auth("/api/admin/links?responsible=nope", &admin).status(), 400);
    assert!(json(&app.get_auth(&path, &admin))["responsible"].is_null(), "refused changes changed nothing");
    // An admin may answer for any link; the change is audited with before and after.
    let resp = app.send_auth("PATCH", &path, &admin, Some(json!({"responsible_id": admin_id})));
    assert_eq!(json(&resp)["responsible"]["id"].as_str(), Some(admin_id.as_str()));
    let event = json(&app.get_auth(&format!("/api/admin/audit?target={id}&action=link.updated"), &admin))["items"][0].clone();
    assert_eq!(event["details"]["after"]["responsible_id"].as_str(), Some(admin_id.as_str()));
}
