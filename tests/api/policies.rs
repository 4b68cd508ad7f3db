//! Company and contact policies and the link's policy view: the contact policy never widens the
//! company policy, every change makes outstanding client tokens stale, input is validated before
//! anything is written, managers only reach their companies, and every change is audited.

use crate::support::*;
use serde_json::{json, Value};

pub const SUPPORT: &str = "0190a000-0000-7000-8000-000000000051";
pub const SALES: &str = "0190a000-0000-7000-8000-000000000052";
pub const OLD: &str = "0190a000-0000-7000-8000-000000000053";
pub const ADMIN_PASSWORD: &str = "ledger winter copper 42";

/// Three pipelines (Support, Sales, and an archived one placed first) with stages new ->
/// in_progress -> done (final).
pub fn with_pipelines(app: &TestApp) {
    let now = app.now.get().timestamp();
    let mut sql = String::new();
    for (id, name, archived, position) in [(OLD, "Old", 1, 0), (SUPPORT, "Support", 0, 1), (SALES, "Sales", 0, 2)] {
        sql.push_str(&format!(
            "INSERT INTO pipelines (id, name, archived, position, created_at, updated_at) VALUES ('{id}', '{name}', {archived}, {position}, {now}, {now});
             INSERT INTO pipeline_stages (pipeline_id, id, name, is_final, position) VALUES ('{id}', 'new', 'New', 0, 0), \
               ('{id}', 'in_progress', 'In progress', 0, 1), ('{id}', 'done', 'Done', 1, 2);"
        ));
    }
    app.exec(&sql);
}

/// A manager of `companies` (same password as the admin); returns their access token.
pub fn manager_token(app: &TestApp, login: &str, companies: &[&str]) -> String {
    app.admin_token();
    let now = app.now.get().timestamp();
    let id = format!("0190a000-0000-7000-8000-{}", &extranet::auth::refresh::sha256_hex(login.as_bytes())[..12]);
    let mut sql = format!(
        "INSERT INTO users (id, kind, status, role, login, login_key, first_name, last_name, password_hash, created_at, updated_at) \
         SELECT '{id}', 'employee', 'active', 'manager', '{login}', '{login}', 'Mia', 'Manager', password_hash, {now}, {now} FROM users WHERE login_key = 'admin';"
    );
    for c in companies {
        sql.push_str(&format!("INSERT INTO employee_companies (user_id, company_id, created_at) VALUES ('{id}', '{c}', {now});"));
    }
    app.exec(&sql);
    app.login_ok(login, ADMIN_PASSWORD).0
}

pub fn put(app: &TestApp, token: &str, path: &str, body: Value) -> extranet::http::Resp {
    app.send_auth("PUT", path, token, Some(body))
}

pub fn body_of(resp: &extranet::http::Resp) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

pub fn company_policy_path(company: &str) -> String {
    format!("/api/admin/companies/{company}/policy")
}

pub fn contact_policy_path(contact: &str) -> String {
    format!("/api/admin/contacts/{contact}/policy")
}

/// Sets Northern Light's policy through the API and asserts it was saved.
pub fn set_company_policy(app: &TestApp, token: &str, company: &str, policy: Value) -> Value {
    let resp = put(app, token, &company_policy_path(company), policy);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    json(&resp)
}

pub fn set_contact_policy(app: &TestApp, token: &str, contact: &str, policy: Value) -> Value {
    let resp = put(app, token, &contact_policy_path(contact), policy);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    json(&resp)
}

type Pending<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = extranet::http::Resp> + 'a>>;

/// Pending once, then ready: lets the other future of a `join_all` run up to its next yield.
pub struct YieldOnce(pub bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

fn policy_version(app: &TestApp) -> i64 {
    app.sql_count(&format!("SELECT policy_version FROM links WHERE id = '{EMILY_LINK}'"))
}

#[test]
fn a_company_without_a_policy_is_denied_everything_and_offered_the_minimum() {
    let app = TestApp::new().with_emily_invited();
    with_pipelines(&app);
    let admin = app.admin_token();
    let resp = app.get_auth(&company_policy_path(NORTHERN_LIGHT), &admin);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    let body = json(&resp);
    assert_eq!(body["is_default"], true);
    for field in ["create_requests", "read_request_chat", "send_request_chat", "general_chat", "calls", "telegram", "widget"] {
        assert_eq!(body[field], false, "{field} is denied by default");
    }
    assert_eq!(body["allowed_pipelines"], json!([]));
    let preset = &body["recommended_minimum"];
    assert_eq!((preset["create_requests"].clone(), preset["read_request_chat"].clone(), preset["send_request_chat"].clone()), (json!(true), json!(true), json!(true)));
    assert_eq!(preset["calls"], false);
    assert_eq!(preset["allowed_pipelines"], json!([SUPPORT]), "the first pipeline that is not archived");
    assert_eq!(app.sql_count("SELECT count(*) FROM company_policies"), 0, "the preset is offered, never applied");

    // Applying the preset is an explicit PUT.
    let saved = set_company_policy(&app, &admin, NORTHERN_LIGHT, preset.clone());
    assert_eq!(saved["is_default"], false);
    let again = json(&app.get_auth(&company_policy_path(NORTHERN_LIGHT), &admin));
    assert_eq!((again["is_default"].clone(), again["create_requests"].clone(), again["allowed_pipelines"].clone()), (json!(false), json!(true), json!([SUPPORT])));
}

#[test]
fn a_contact_allow_never_widens_a_company_deny() {
    let app = TestApp::new().with_emily_active();
    with_pipelines(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true, "read_request_chat": true, "allowed_pipelines": [SUPPORT]}));
    let saved = set_contact_policy(&app, &admin, EMILY_CONTACT, json!({"calls": "allow", "create_requests": "allow", "allowed_pipelines": [SUPPORT, SALES]}));
    assert_eq!(saved["calls"], "allow", "the intent is stored as given");
    let warnings = saved["warnings"].as_array().unwrap();
    let calls = warnings.iter().find(|w| w["field"] == "calls").unwrap_or_else(|| panic!("a warning names calls: {warnings:?}"));
    assert_eq!((calls["code"].as_str(), calls["level"].as_str(), calls["company_id"].as_str()), (Some("allow_under_company_deny"), Some("company_policy"), Some(NORTHERN_LIGHT)));
    assert!(warnings.iter().all(|w| w["field"] != "create_requests"), "an allow the company also allows is no problem: {warnings:?}");
    assert!(warnings.iter().any(|w| w["field"] == "allowed_pipelines" && w["pipeline_id"] == SALES), "Sales is not in the company's list: {warnings:?}");

    // The link's view names the company policy as the level that denies calls.
    let view = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/policy"), &admin));
    let company = &view["companies"][0];
    assert_eq!(company["company_id"], NORTHERN_LIGHT);
    assert_eq!(company["company_name"], "Northern Light");
    assert_eq!(company["contact_policy"]["calls"], "allow");
    assert_eq!(company["effective"]["calls"], false);
    assert_eq!(company["effective"]["create_requests"], true);
    assert_eq!(company["effective"]["allowed_pipelines"], json!([SUPPORT]));
    let denial = company["effective"]["denials"].as_array().unwrap().iter().find(|d| d["field"] == "calls").cloned().unwrap();
    assert_eq!(denial["level"], "company_policy");
    assert!(denial["reason"].as_str().unwrap().contains("cannot widen"), "{denial}");

    // What the client gets and what diagnostics says agree.
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let me = json(&app.get_auth("/api/me", &emily));
    assert_eq!(me["companies"][0]["effective_policy"]["calls"], false);
    let diag = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/diagnostics?object=company:{NORTHERN_LIGHT}&action=calls"), &admin));
    assert_eq!((diag["verdict"].as_str(), diag["permission"].as_str()), (Some("policy_denied"), Some("calls")));
    let first_fail = diag["chain"].as_array().unwrap().iter().find(|s| s["outcome"] == "fail").cloned().unwrap();
    assert_eq!(first_fail["level"], "company_policy", "{diag}");
}

#[test]
fn a_policy_change_makes_outstanding_client_tokens_stale() {
    let app = TestApp::new().with_emily_active();
    with_pipelines(&app);
    let admin = app.admin_token();
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.get_auth("/api/me", &emily).status(), 200);
    let before = policy_version(&app);
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true, "allowed_pipelines": [SUPPORT]}));
    assert_eq!(policy_version(&app), before + 1);
    let stale = app.get_auth("/api/me", &emily);
    assert_eq!((stale.status().as_u16(), error_code(&stale)), (401, "token_stale".into()));

    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(json(&app.get_auth("/api/me", &emily))["companies"][0]["effective_policy"]["create_requests"], true);
    set_contact_policy(&app, &admin, EMILY_CONTACT, json!({"create_requests": "deny"}));
    assert_eq!(policy_version(&app), before + 2);
    let stale = app.get_auth("/api/me", &emily);
    assert_eq!((stale.status().as_u16(), error_code(&stale)), (401, "token_stale".into()));
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(json(&app.get_auth("/api/me", &emily))["companies"][0]["effective_policy"]["create_requests"], false);

    // Another company's policy leaves Emily's link alone.
    set_company_policy(&app, &admin, BLUE_HARBOR, json!({"calls": true}));
    assert_eq!(policy_version(&app), before + 2);
    assert_eq!(app.get_auth("/api/me", &emily).status(), 200);
}

#[test]
fn bad_policies_are_refused_naming_the_field_and_nothing_is_written() {
    let app = TestApp::new().with_emily_invited();
    with_pipelines(&app);
    let admin = app.admin_token();
    let path = company_policy_path(NORTHERN_LIGHT);
    let version = policy_version(&app);
    let events = app.sql_count("SELECT count(*) FROM audit_events WHERE action LIKE 'policy.%'");
    let cases = [
        (json!({"create_requests": true, "allowed_pipelines": ["0190a000-0000-7000-8000-0000000000ff"]}), "allowed_pipelines"),
        (json!({"allowed_pipelines": [OLD]}), "allowed_pipelines"),
        (json!({"allowed_pipelines": ["support"]}), "allowed_pipelines[0]"),
        (json!({"create_requests": "yes"}), "create_requests"),
        (json!({"allowed_pipelines": SUPPORT}), "allowed_pipelines"),
    ];
    for (body, field) in cases {
        let resp = put(&app, &admin, &path, body.clone());
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (400, "invalid_input".into()), "{body}: {}", body_of(&resp));
        assert_eq!(json(&resp)["error"]["field"], field, "{body}");
    }
    let cases = [
        (json!({"calls": "sometimes"}), "calls"),
        (json!({"allowed_pipelines": [OLD]}), "allowed_pipelines"),
        (json!({"create_requests": true}), "create_requests"),
    ];
    for (body, field) in cases {
        let resp = put(&app, &admin, &contact_policy_path(EMILY_CONTACT), body.clone());
        assert_eq!(resp.status(), 400, "{body}: {}", body_of(&resp));
        assert_eq!(json(&resp)["error"]["field"], field, "{body}");
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM company_policies") + app.sql_count("SELECT count(*) FROM contact_policies"), 0);
    assert_eq!(policy_version(&app), version);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action LIKE 'policy.%'"), events);

    let unknown = "0190a000-0000-7000-8000-0000000000ee";
    assert_eq!(put(&app, &admin, &company_policy_path(unknown), json!({})).status(), 404);
    assert_eq!(put(&app, &admin, &contact_policy_path(unknown), json!({})).status(), 404);
    assert_eq!(app.get_auth(&company_policy_path("not-a-uuid"), &admin).status(), 404);
    assert_eq!(app.get_auth(&format!("/api/admin/links/{unknown}/policy"), &admin).status(), 404);

    // Saved, but the employee is told what does not do what it says.
    let saved = set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"send_request_chat": true, "allowed_pipelines": [SUPPORT, SUPPORT]}));
    assert_eq!(saved["allowed_pipelines"], json!([SUPPORT]), "duplicates collapse");
    let warning = saved["warnings"].as_array().unwrap().iter().find(|w| w["field"] == "send_request_chat").cloned().unwrap_or_default();
    assert!(warning["message"].as_str().unwrap_or_default().contains("read_request_chat"), "{saved}");
    let view = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/policy"), &admin));
    assert_eq!(view["companies"][0]["effective"]["send_request_chat"], false, "the effective policy denies it");
    let saved = set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true}));
    assert!(saved["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "no_pipeline"), "{saved}");
}

#[test]
fn managers_reach_only_their_companies_and_clients_none() {
    let app = TestApp::new().with_emily_active();
    with_pipelines(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true, "allowed_pipelines": [SUPPORT]}));
    let outsider = manager_token(&app, "blue.manager", &[BLUE_HARBOR]);
    let insider = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);

    let paths = [company_policy_path(NORTHERN_LIGHT), contact_policy_path(EMILY_CONTACT), format!("/api/admin/links/{EMILY_LINK}/policy")];
    for path in &paths {
        let resp = app.get_auth(path, &outsider);
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (404, "not_found".into()), "{path}");
        assert_eq!(app.get_auth(path, &insider).status(), 200, "{path}");
    }
    let version = policy_version(&app);
    assert_eq!(put(&app, &outsider, &company_policy_path(NORTHERN_LIGHT), json!({"calls": true})).status(), 404);
    assert_eq!(put(&app, &outsider, &contact_policy_path(EMILY_CONTACT), json!({"calls": "deny"})).status(), 404);
    assert_eq!(policy_version(&app), version, "nothing changed");
    assert_eq!(json(&app.get_auth(&company_policy_path(NORTHERN_LIGHT), &admin))["calls"], false);
    assert_eq!(put(&app, &outsider, &company_policy_path(BLUE_HARBOR), json!({"calls": true})).status(), 200, "their own company");
    assert_eq!(put(&app, &insider, &company_policy_path(NORTHERN_LIGHT), json!({"calls": true, "allowed_pipelines": [SUPPORT]})).status(), 200);
    assert_eq!(put(&app, &insider, &contact_policy_path(EMILY_CONTACT), json!({"calls": "deny"})).status(), 200);

    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let resp = app.get_auth(&company_policy_path(NORTHERN_LIGHT), &emily);
    assert_eq!((resp.status().as_u16(), error_code(&resp)), (403, "forbidden".into()));
    assert_eq!(put(&app, &emily, &contact_policy_path(EMILY_CONTACT), json!({"calls": "allow"})).status(), 403);
    assert_eq!(app.get(&company_policy_path(NORTHERN_LIGHT)).status(), 401);
}

#[test]
fn a_manager_losing_the_company_between_read_and_write_changes_nothing() {
    let app = TestApp::new().with_emily_invited();
    with_pipelines(&app);
    let manager = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    let version = policy_version(&app);
    // The scope is withdrawn after the PUT's read and before its write (the native adapter
    // yields before each batch): the write's own guard sees it.
    let put_fut: Pending = Box::pin(app.send(request(
        "PUT",
        &company_policy_path(NORTHERN_LIGHT),
        Some(json!({"calls": true})),
        &[("authorization", &format!("Bearer {manager}"))],
    )));
    let withdraw: Pending = Box::pin(async {
        YieldOnce(false).await;
        app.exec(&format!("DELETE FROM employee_companies WHERE company_id = '{NORTHERN_LIGHT}'"));
        extranet::http::Resp::default()
    });
    let answers = join_all(vec![put_fut, withdraw]);
    assert_eq!((answers[0].status().as_u16(), error_code(&answers[0])), (409, "policy_not_saved".into()));
    assert_eq!(app.sql_count("SELECT count(*) FROM company_policies"), 0);
    assert_eq!(policy_version(&app), version);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'policy.company.updated'"), 0);
}

#[test]
fn policy_changes_are_audited_with_before_and_after() {
    let app = TestApp::new().with_emily_invited();
    with_pipelines(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true, "allowed_pipelines": [SUPPORT]}));
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true, "calls": true, "allowed_pipelines": [SUPPORT, SALES]}));
    set_contact_policy(&app, &admin, EMILY_CONTACT, json!({"calls": "deny"}));

    let page = json(&app.get_auth("/api/admin/audit?action=policy.company.updated", &admin));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let latest = &items[0];
    assert_eq!(latest["target_kind"], "company_policy");
    assert_eq!(latest["target_id"], NORTHERN_LIGHT);
    assert_eq!(latest["company_ids"], json!([NORTHERN_LIGHT]));
    assert_eq!(latest["actor_kind"], "employee");
    assert_eq!(latest["details"]["before"]["calls"], false);
    assert_eq!(latest["details"]["after"]["calls"], true);
    assert_eq!(latest["details"]["after"]["allowed_pipelines"], json!([SUPPORT, SALES]));
    assert_eq!(items[1]["details"]["before_is_default"], true);

    let contact = json(&app.get_auth("/api/admin/audit?action=policy.contact.updated", &admin));
    let event = &contact["items"][0];
    assert_eq!(event["target_id"], EMILY_CONTACT);
    assert_eq!(event["details"]["before"], Value::Null);
    assert_eq!(event["details"]["after"]["calls"], "deny");
    assert_eq!(event["company_ids"], json!([NORTHERN_LIGHT]), "the contact's companies, for the managers' view");
    let got = json(&app.get_auth(&contact_policy_path(EMILY_CONTACT), &admin));
    assert_eq!((got["calls"].as_str(), got["create_requests"].as_str(), got["is_default"].as_bool()), (Some("deny"), Some("inherit"), Some(false)));
    assert_eq!(got["allowed_pipelines"], Value::Null, "null inherits the company's pipelines");
}

#[test]
fn a_manager_cannot_undo_another_managers_denies_on_a_shared_contact() {
    let app = TestApp::new().with_emily_active();
    with_pipelines(&app);
    let admin = app.admin_token();
    // Emily's link holds both companies; each has its own manager.
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', {now});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now});"
    ));
    let blue = manager_token(&app, "blue.manager", &[BLUE_HARBOR]);
    let north = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    let denies = json!({"create_requests": "deny", "read_request_chat": "deny", "calls": "deny"});
    assert_eq!(put(&app, &admin, &contact_policy_path(EMILY_CONTACT), denies).status(), 200);
    let version = policy_version(&app);

    for (name, token) in [("Northern Light's", &north), ("Blue Harbor's", &blue)] {
        let undo = put(&app, token, &contact_policy_path(EMILY_CONTACT), json!({"create_requests": "inherit", "calls": "inherit"}));
        assert_eq!((undo.status().as_u16(), error_code(&undo)), (404, "not_found".into()), "{name} manager governs only half her link");
        assert_eq!(app.get_auth(&contact_policy_path(EMILY_CONTACT), token).status(), 200, "{name} manager may still read it");
    }
    assert_eq!(policy_version(&app), version, "nothing was written");
    assert_eq!(json(&app.get_auth(&contact_policy_path(EMILY_CONTACT), &admin))["calls"], "deny");

    // A manager of both companies governs the whole link.
    let both = manager_token(&app, "both.manager", &[NORTHERN_LIGHT, BLUE_HARBOR]);
    assert_eq!(put(&app, &both, &contact_policy_path(EMILY_CONTACT), json!({"calls": "inherit"})).status(), 200);
}

#[test]
fn a_contact_policy_write_rechecks_the_links_inside_the_batch() {
    // The link gains a company of another manager between the PUT's read and its write: the
    // write's own guard refuses it.
    let app = TestApp::new().with_emily_active();
    with_pipelines(&app);
    let north = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    let now = app.now.get().timestamp();
    let put_fut: Pending = Box::pin(app.send(request(
        "PUT",
        &contact_policy_path(EMILY_CONTACT),
        Some(json!({"calls": "deny"})),
        &[("authorization", &format!("Bearer {north}"))],
    )));
    let widen: Pending = Box::pin(async {
        YieldOnce(false).await;
        app.exec(&format!("INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now})"));
        extranet::http::Resp::default()
    });
    let answers = join_all(vec![put_fut, widen]);
    assert_eq!((answers[0].status().as_u16(), error_code(&answers[0])), (409, "policy_not_saved".into()));
    assert_eq!(app.sql_count("SELECT count(*) FROM contact_policies"), 0);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'policy.contact.updated'"), 0);
}

#[test]
fn a_revoked_link_does_not_put_a_user_in_a_managers_scope() {
    let app = TestApp::new().with_emily_active();
    let now = app.now.get().timestamp();
    // Emily once had a link to Blue Harbor; it was revoked. Her live link is Northern Light's.
    app.exec(&format!(
        "INSERT INTO links (id, user_id, contact_id, default_company_id, status, review_at, created_at, updated_at, revoked_at) \
           VALUES ('0190a000-0000-7000-8000-0000000000b1', '{EMILY_USER}', '{EMILY_CONTACT}', '{BLUE_HARBOR}', 'revoked', {now}, {now}, {now}, {now});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('0190a000-0000-7000-8000-0000000000b1', '{BLUE_HARBOR}', {now});"
    ));
    let blue = manager_token(&app, "blue.manager", &[BLUE_HARBOR]);
    let north = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    let sessions = format!("/api/admin/users/{EMILY_USER}/sessions");
    for (method, path) in [("GET", sessions.clone()), ("POST", format!("{sessions}/revoke")), ("POST", format!("/api/admin/users/{EMILY_USER}/unlock"))] {
        let resp = app.send_auth(method, &path, &blue, None);
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (404, "not_found".into()), "{method} {path}");
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM sessions WHERE revoked_reason = 'admin'"), 0, "nothing ended");
    assert_eq!(app.get_auth(&sessions, &north).status(), 200, "her live link's manager governs her");

    // A live link on both companies needs a manager of both.
    app.exec(&format!("INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now})"));
    assert_eq!(app.send_auth("POST", &format!("/api/admin/users/{EMILY_USER}/unlock"), &north, None).status(), 404);
}
