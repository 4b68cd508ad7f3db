//! Requests, chats, calls and request attachments over HTTP, the client's side and the team's.
//! Emily's link holds Northern Light (full policy) and, where a test adds it, Blue Harbor (a
//! narrower one); Cedar Works is never on her link and its objects must stay invisible.

use crate::support::*;
use base64::Engine;
use serde_json::{json, Value};

const CEDAR: &str = "0190a000-0000-7000-8000-000000000003";
const SUPPORT: &str = "0190a000-0000-7000-8000-0000000000a1";
const PROJECTS: &str = "0190a000-0000-7000-8000-0000000000a2";
const HARBOR: &str = "0190a000-0000-7000-8000-0000000000a3";
const INTERNAL: &str = "0190a000-0000-7000-8000-0000000000a4";
const CEDAR_REQUEST: &str = "0190a000-0000-7000-8000-0000000000c1";
const MANAGER: &str = "0190a000-0000-7000-8000-0000000000e1";
const ADMIN_PASSWORD: &str = "ledger winter copper 42";

/// Pipelines (stages new -> doing -> done, done final; Support declares request fields), Cedar
/// Works with a request, and Northern Light's policy: everything, pipelines Support and Projects.
fn portal() -> TestApp {
    let app = TestApp::new().with_emily_active();
    let now = app.now.get().timestamp();
    let fields = json!([
        {"key": "summary", "label": "Summary", "type": "text", "required": true},
        {"key": "budget", "label": "Budget", "type": "number", "required": false},
        {"key": "due", "label": "Due date", "type": "date", "required": false},
        {"key": "size", "label": "Size", "type": "choice", "required": false, "choices": ["S", "M", "L"]}
    ]);
    let mut sql = format!("INSERT INTO companies (id, name, status, created_at, updated_at) VALUES ('{CEDAR}', 'Cedar Works', 'active', {now}, {now});");
    for (i, (id, name, f)) in [(SUPPORT, "Support", fields.to_string()), (PROJECTS, "Projects", "[]".into()), (HARBOR, "Harbor works", "[]".into()), (INTERNAL, "Internal", "[]".into())].iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO pipelines (id, name, fields, position, created_at, updated_at) VALUES ('{id}', '{name}', '{f}', {i}, {now}, {now});
             INSERT INTO pipeline_stages (pipeline_id, id, name, is_final, position) VALUES ('{id}', 'new', 'New', 0, 0), ('{id}', 'doing', 'In progress', 0, 1), ('{id}', 'done', 'Done', 1, 2);"
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, created_at, updated_at) VALUES ('{CEDAR_REQUEST}', '{CEDAR}', '{SUPPORT}', 'new', 'Cedar secret', {now}, {now});
         INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, allowed_pipelines, updated_at) \
           VALUES ('{CEDAR}', 1, 1, 1, 1, 1, '[\"{SUPPORT}\"]', {now});"
    ));
    app.exec(&sql);
    set_policy(&app, NORTHERN_LIGHT, [1, 1, 1, 1, 1], &[SUPPORT, PROJECTS]);
    app
}

/// Writes a company policy: [create_requests, read_request_chat, send_request_chat, general_chat,
/// calls] and the allowed pipelines; bumps the policy version of the links that hold the company,
/// as governance does.
fn set_policy(app: &TestApp, company: &str, p: [u8; 5], pipelines: &[&str]) {
    let now = app.now.get().timestamp();
    let list = serde_json::to_string(pipelines).unwrap();
    app.exec(&format!(
        "INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, allowed_pipelines, updated_at) \
           VALUES ('{company}', {}, {}, {}, {}, {}, '{list}', {now}) \
         ON CONFLICT (company_id) DO UPDATE SET create_requests = excluded.create_requests, read_request_chat = excluded.read_request_chat, \
           send_request_chat = excluded.send_request_chat, general_chat = excluded.general_chat, calls = excluded.calls, \
           allowed_pipelines = excluded.allowed_pipelines;
         UPDATE links SET policy_version = policy_version + 1 WHERE id IN (SELECT link_id FROM link_companies WHERE company_id = '{company}');",
        p[0], p[1], p[2], p[3], p[4]
    ));
}

/// Blue Harbor joins Emily's link: requests and reading the chat in the Harbor pipeline only.
fn add_blue_harbor(app: &TestApp) {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', {now});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now});"
    ));
    set_policy(app, BLUE_HARBOR, [1, 1, 0, 0, 0], &[HARBOR]);
}

fn emily(app: &TestApp) -> String {
    app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0
}

fn emily_pair(app: &TestApp) -> (String, String) {
    app.login_ok(EMILY_LOGIN, EMILY_PASSWORD)
}

fn refresh(app: &TestApp, refresh_token: &str) -> (String, String) {
    let resp = app.post_json("/api/auth/refresh", json!({"refresh_token": refresh_token, "refresh_transport": "body"}), &[]);
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    let body = json(&resp);
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

/// A manager whose scope is Blue Harbor only, with the admin's password (so the admin must
/// exist: pass its token as proof).
fn manager(app: &TestApp, _admin: &str) -> String {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO users (id, kind, status, role, login, login_key, email, first_name, last_name, password_hash, created_at, updated_at) \
           SELECT '{MANAGER}', 'employee', 'active', 'manager', 'mara', 'mara', 'mara@vector.example', 'Mara', 'Manager', password_hash, {now}, {now} \
           FROM users WHERE login_key = 'admin';
         INSERT INTO employee_companies (user_id, company_id, created_at) VALUES ('{MANAGER}', '{BLUE_HARBOR}', {now});"
    ));
    app.login_ok("mara", ADMIN_PASSWORD).0
}

fn create(app: &TestApp, token: &str, company: &str, pipeline: &str, title: &str, fields: Value) -> Resp {
    app.send_auth("POST", "/api/requests", token, Some(json!({"company_id": company, "pipeline_id": pipeline, "title": title, "description": "", "fields": fields})))
}

fn create_ok(app: &TestApp, token: &str, company: &str, pipeline: &str, title: &str) -> String {
    let fields = if pipeline == SUPPORT { json!({"summary": "details"}) } else { json!({}) };
    let resp = create(app, token, company, pipeline, title, fields);
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    json(&resp)["id"].as_str().unwrap().to_owned()
}

type Resp = extranet::http::Resp;

fn status_and_code(resp: &Resp) -> (u16, String) {
    let code = if resp.status().is_success() { String::new() } else { error_code(resp) };
    (resp.status().as_u16(), code)
}

fn denied(resp: &Resp) -> (u16, String, String) {
    let body = json(resp);
    (resp.status().as_u16(), body["error"]["code"].as_str().unwrap_or("").into(), body["error"]["permission"].as_str().unwrap_or("").into())
}

fn bad_field(resp: &Resp) -> (u16, String) {
    (resp.status().as_u16(), json(resp)["error"]["field"].as_str().unwrap_or("").into())
}

fn titles(resp: &Resp) -> Vec<String> {
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    json(resp)["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_owned()).collect()
}

fn png() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n not really a picture")
}

// ---------------------------------------------------------------------------------------------
// Pipelines and requests
// ---------------------------------------------------------------------------------------------

#[test]
fn pipelines_are_those_the_policy_allows_with_stages_in_order_and_fields() {
    let app = portal();
    let token = emily(&app);
    let resp = app.get_auth("/api/pipelines", &token);
    assert_eq!(resp.status(), 200);
    let body = json(&resp);
    assert_eq!(body["company_id"], NORTHERN_LIGHT, "the default company when none is given");
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Support", "Projects"], "Harbor works and Internal are not allowed at Northern Light");
    let support = &body["items"][0];
    assert_eq!(support["stages"], json!([{"id": "new", "name": "New", "is_final": false}, {"id": "doing", "name": "In progress", "is_final": false}, {"id": "done", "name": "Done", "is_final": true}]));
    assert_eq!(support["fields"][3]["choices"], json!(["S", "M", "L"]));
    assert_eq!(support["can_create"], true);

    // Blue Harbor is not on the link (yet), Cedar never: both 404, like a company that does not exist.
    for company in [BLUE_HARBOR, CEDAR, "0190a000-0000-7000-8000-00000000ffff"] {
        assert_eq!(status_and_code(&app.get_auth(&format!("/api/pipelines?company={company}"), &token)), (404, "not_found".into()));
    }
    assert_eq!(bad_field(&app.get_auth("/api/pipelines?company=nope", &token)), (400, "company".into()));
    assert_eq!(app.get("/api/pipelines").status(), 401);
}

#[test]
fn a_new_request_starts_in_the_first_stage_and_reads_back_with_its_fields() {
    let app = portal();
    let token = emily(&app);
    let resp = create(&app, &token, NORTHERN_LIGHT, SUPPORT, "  Leaking roof ", json!({"summary": "Water in the hall", "budget": 1200, "due": "2026-12-01", "size": "M", "ignored": true}));
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    let created = json(&resp);
    assert_eq!(created["status"], "new");
    assert_eq!(created["status_name"], "New");
    assert_eq!(created["is_open"], true);
    assert_eq!(created["title"], "Leaking roof");
    assert_eq!(created["fields"], json!({"summary": "Water in the hall", "budget": 1200, "due": "2026-12-01", "size": "M"}));
    assert_eq!(created["created_at"], "2026-11-23T09:00:00Z");
    let id = created["id"].as_str().unwrap();

    let got = app.get_auth(&format!("/api/requests/{id}"), &token);
    assert_eq!(got.status(), 200);
    assert_eq!(json(&got), created);
    assert_eq!(titles(&app.get_auth("/api/requests", &token)), ["Leaking roof"]);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM requests WHERE id = '{id}' AND created_by = '{EMILY_USER}'")), 1);
}

#[test]
fn the_list_is_newest_first_filters_and_pages_in_one_round_trip() {
    let app = portal();
    let token = emily(&app);
    for i in 0..5 {
        create_ok(&app, &token, NORTHERN_LIGHT, if i % 2 == 0 { SUPPORT } else { PROJECTS }, &format!("r{i}"));
        app.advance(60);
    }
    let all = app.get_auth("/api/requests", &token);
    assert_eq!(titles(&all), ["r4", "r3", "r2", "r1", "r0"]);
    assert!(header(&all, "server-timing").unwrap().contains("\"1 queries\""), "the session check and the list travel in one batch");

    let mut seen = Vec::new();
    let mut path = "/api/requests?limit=2".to_owned();
    loop {
        let resp = app.get_auth(&path, &token);
        seen.extend(titles(&resp));
        match json(&resp)["next_cursor"].as_str() {
            Some(c) => path = format!("/api/requests?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["r4", "r3", "r2", "r1", "r0"]);

    assert_eq!(titles(&app.get_auth(&format!("/api/requests?pipeline={PROJECTS}"), &token)), ["r3", "r1"]);
    assert_eq!(titles(&app.get_auth(&format!("/api/requests?company={NORTHERN_LIGHT}&status=new"), &token)).len(), 5);
    assert!(titles(&app.get_auth("/api/requests?status=done", &token)).is_empty());
    assert!(titles(&app.get_auth("/api/requests?open=false", &token)).is_empty());
    assert_eq!(bad_field(&app.get_auth("/api/requests?cursor=forged", &token)), (400, "cursor".into()));
    assert_eq!(bad_field(&app.get_auth("/api/requests?open=maybe", &token)), (400, "open".into()));
    assert_eq!(bad_field(&app.get_auth("/api/requests?limit=500", &token)), (400, "limit".into()));
    assert_eq!(status_and_code(&app.get_auth(&format!("/api/requests?company={CEDAR}"), &token)), (404, "not_found".into()));
    assert!(titles(&app.get_auth(&format!("/api/requests?pipeline={INTERNAL}"), &token)).is_empty());
}

#[test]
fn a_client_with_two_companies_sees_only_what_each_policy_allows() {
    let app = portal();
    add_blue_harbor(&app);
    let token = emily(&app);
    let nl = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "northern");
    app.advance(1);
    let bh = create_ok(&app, &token, BLUE_HARBOR, HARBOR, "harbor");

    // Each company's pipelines are its own.
    let harbor = json(&app.get_auth(&format!("/api/pipelines?company={BLUE_HARBOR}"), &token));
    assert_eq!(harbor["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect::<Vec<_>>(), [HARBOR]);
    assert_eq!(denied(&create(&app, &token, BLUE_HARBOR, SUPPORT, "x", json!({"summary": "s"}))), (403, "policy_denied".into(), "pipeline".into()));
    assert_eq!(denied(&create(&app, &token, NORTHERN_LIGHT, HARBOR, "x", json!({}))), (403, "policy_denied".into(), "pipeline".into()));

    assert_eq!(titles(&app.get_auth("/api/requests", &token)), ["harbor", "northern"]);
    assert_eq!(titles(&app.get_auth(&format!("/api/requests?company={BLUE_HARBOR}"), &token)), ["harbor"]);
    assert_eq!(titles(&app.get_auth(&format!("/api/requests?company={NORTHERN_LIGHT}"), &token)), ["northern"]);

    // Blue Harbor: reading the chat yes, sending no; no general chat, no calls.
    assert_eq!(app.get_auth(&format!("/api/requests/{bh}/messages"), &token).status(), 200);
    assert_eq!(denied(&app.send_auth("POST", &format!("/api/requests/{bh}/messages"), &token, Some(json!({"body": "hi"})))), (403, "policy_denied".into(), "send_request_chat".into()));
    assert_eq!(app.send_auth("POST", &format!("/api/requests/{nl}/messages"), &token, Some(json!({"body": "hi"}))).status(), 201);
    assert_eq!(denied(&app.get_auth(&format!("/api/chat/messages?company={BLUE_HARBOR}"), &token)), (403, "policy_denied".into(), "general_chat".into()));
    assert_eq!(app.get_auth("/api/chat/messages", &token).status(), 200, "the default company's chat");
    assert_eq!(denied(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": BLUE_HARBOR})))), (403, "policy_denied".into(), "calls".into()));
    assert_eq!(denied(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": BLUE_HARBOR, "request_id": bh})))), (403, "policy_denied".into(), "calls".into()));
    assert_eq!(app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT, "request_id": nl}))).status(), 201);
    // A request of one company is no thread of the other.
    assert_eq!(status_and_code(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT, "request_id": bh})))), (404, "not_found".into()));
}

#[test]
fn a_pipeline_removed_from_the_policy_takes_its_requests_out_of_sight() {
    let app = portal();
    let (token, refresh_token) = emily_pair(&app);
    let kept = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "kept");
    let gone = create_ok(&app, &token, NORTHERN_LIGHT, PROJECTS, "gone");
    app.send_auth("POST", &format!("/api/requests/{gone}/messages"), &token, Some(json!({"body": "before"})));

    set_policy(&app, NORTHERN_LIGHT, [1, 1, 1, 1, 1], &[SUPPORT]);
    // The old token carries the old scope: it hears token_stale first, on reads and writes.
    for resp in [
        app.get_auth("/api/requests", &token),
        app.get_auth(&format!("/api/requests/{gone}"), &token),
        app.get_auth(&format!("/api/requests/{gone}/messages"), &token),
        app.send_auth("POST", &format!("/api/requests/{gone}/messages"), &token, Some(json!({"body": "x"}))),
        app.get_auth("/api/pipelines", &token),
    ] {
        assert_eq!(status_and_code(&resp), (401, "token_stale".into()));
    }

    let (token, _) = refresh(&app, &refresh_token);
    assert_eq!(titles(&app.get_auth("/api/requests", &token)), ["kept"]);
    assert!(titles(&app.get_auth(&format!("/api/requests?pipeline={PROJECTS}"), &token)).is_empty());
    for path in [format!("/api/requests/{gone}"), format!("/api/requests/{gone}/messages"), format!("/api/requests/{gone}/attachments")] {
        assert_eq!(status_and_code(&app.get_auth(&path, &token)), (404, "not_found".into()), "{path}");
    }
    assert_eq!(status_and_code(&app.send_auth("POST", &format!("/api/requests/{gone}/messages"), &token, Some(json!({"body": "x"})))), (404, "not_found".into()));
    assert_eq!(status_and_code(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT, "request_id": gone})))), (404, "not_found".into()));
    assert_eq!(denied(&create(&app, &token, NORTHERN_LIGHT, PROJECTS, "again", json!({}))), (403, "policy_denied".into(), "pipeline".into()));
    assert_eq!(app.get_auth(&format!("/api/requests/{kept}"), &token).status(), 200);
    // The team still sees it.
    let admin = app.admin_token();
    assert_eq!(app.get_auth(&format!("/api/admin/requests/{gone}"), &admin).status(), 200);
}

#[test]
fn a_link_disabled_mid_conversation_stops_the_next_message() {
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "talk");
    assert_eq!(app.send_auth("POST", &format!("/api/requests/{id}/messages"), &token, Some(json!({"body": "first"}))).status(), 201);
    app.exec(&format!("UPDATE links SET status = 'disabled', policy_version = policy_version + 1 WHERE id = '{EMILY_LINK}'"));
    let next = app.send_auth("POST", &format!("/api/requests/{id}/messages"), &token, Some(json!({"body": "second"})));
    assert_eq!(next.status(), 401);
    assert_eq!(app.get_auth(&format!("/api/requests/{id}/messages"), &token).status(), 401);
    assert_eq!(app.send_auth("POST", "/api/chat/messages", &token, Some(json!({"body": "x"}))).status(), 401);
    assert_eq!(app.sql_count("SELECT count(*) FROM messages"), 1, "nothing after the link was disabled");

    // Even with the policy version untouched, the link's status is read on every request.
    app.exec(&format!("UPDATE links SET status = 'active' WHERE id = '{EMILY_LINK}'"));
    let token = emily(&app);
    app.exec(&format!("UPDATE links SET status = 'disabled' WHERE id = '{EMILY_LINK}'"));
    assert_eq!(app.send_auth("POST", &format!("/api/requests/{id}/messages"), &token, Some(json!({"body": "third"}))).status(), 401);
    assert_eq!(app.get_auth("/api/requests", &token).status(), 401);
}

#[test]
fn another_companys_ids_answer_404_on_every_route() {
    let app = portal();
    let token = emily(&app);
    let mine = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "mine");
    let admin = app.admin_token();
    let upload = json!({"file_name": "a.png", "content_type": "image/png", "content_base64": png()});
    let resp = app.send_auth("POST", &format!("/api/admin/requests/{CEDAR_REQUEST}/attachments"), &admin, Some(upload.clone()));
    assert_eq!(resp.status(), 201);
    let cedar_file = json(&resp)["id"].as_str().unwrap().to_owned();
    let mine_file = json(&app.send_auth("POST", &format!("/api/requests/{mine}/attachments"), &token, Some(upload.clone())))["id"].as_str().unwrap().to_owned();

    let r = CEDAR_REQUEST;
    let attempts: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/requests/{r}"), None),
        ("GET", format!("/api/requests/{r}/messages"), None),
        ("POST", format!("/api/requests/{r}/messages"), Some(json!({"body": "hello"}))),
        ("GET", format!("/api/requests/{r}/attachments"), None),
        ("POST", format!("/api/requests/{r}/attachments"), Some(upload.clone())),
        ("GET", format!("/api/requests/{r}/attachments/{cedar_file}"), None),
        // Another request's file through my own request.
        ("GET", format!("/api/requests/{mine}/attachments/{cedar_file}"), None),
        ("GET", format!("/api/requests/{r}/attachments/{mine_file}"), None),
        ("POST", "/api/calls".into(), Some(json!({"company_id": CEDAR, "request_id": r}))),
        ("POST", "/api/calls".into(), Some(json!({"company_id": NORTHERN_LIGHT, "request_id": r}))),
        ("POST", "/api/calls".into(), Some(json!({"company_id": CEDAR}))),
        ("GET", format!("/api/calls?company={CEDAR}"), None),
        ("GET", format!("/api/chat/messages?company={CEDAR}"), None),
        ("POST", format!("/api/chat/messages?company={CEDAR}"), Some(json!({"body": "hello"}))),
        ("POST", "/api/requests".into(), Some(json!({"company_id": CEDAR, "pipeline_id": SUPPORT, "title": "t", "description": "", "fields": {"summary": "s"}}))),
        ("GET", format!("/api/requests?company={CEDAR}"), None),
        ("GET", format!("/api/pipelines?company={CEDAR}"), None),
        // Unknown and malformed ids answer the same.
        ("GET", "/api/requests/0190a000-0000-7000-8000-00000000dead".into(), None),
        ("GET", "/api/requests/not-a-uuid/messages".into(), None),
        ("GET", format!("/api/requests/{mine}/attachments/0190a000-0000-7000-8000-00000000dead"), None),
    ];
    for (method, path, body) in attempts {
        let resp = app.send_auth(method, &path, &token, body);
        assert_eq!(status_and_code(&resp), (404, "not_found".into()), "{method} {path}");
    }
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM messages WHERE company_id = '{CEDAR}'")), 0);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM calls WHERE company_id = '{CEDAR}'")), 0);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM attachments WHERE request_id = '{CEDAR_REQUEST}'")), 1);
}

#[test]
fn refused_actions_name_the_permission() {
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "t");
    set_policy(&app, NORTHERN_LIGHT, [0, 0, 1, 0, 0], &[SUPPORT]);
    let token = emily(&app);
    let cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", format!("/api/requests/{id}/messages"), None, "read_request_chat"),
        // send is granted by the company but needs read: the engine refuses it.
        ("POST", format!("/api/requests/{id}/messages"), Some(json!({"body": "x"})), "send_request_chat"),
        ("GET", "/api/chat/messages".into(), None, "general_chat"),
        ("POST", format!("/api/chat/messages?company={NORTHERN_LIGHT}"), Some(json!({"body": "x"})), "general_chat"),
        ("POST", "/api/calls".into(), Some(json!({"company_id": NORTHERN_LIGHT})), "calls"),
        ("POST", "/api/calls".into(), Some(json!({"company_id": NORTHERN_LIGHT, "request_id": id})), "calls"),
        ("GET", "/api/calls".into(), None, "calls"),
        ("POST", "/api/requests".into(), Some(json!({"company_id": NORTHERN_LIGHT, "pipeline_id": SUPPORT, "title": "t", "description": "", "fields": {"summary": "s"}})), "create_requests"),
        // Neither create_requests nor send_request_chat: no files either.
        ("POST", format!("/api/requests/{id}/attachments"), Some(json!({"file_name": "a.txt", "content_type": "text/plain", "content_base64": "aGk="})), "create_requests"),
    ];
    for (method, path, body, permission) in cases {
        let resp = app.send_auth(method, &path, &token, body);
        assert_eq!(denied(&resp), (403, "policy_denied".into(), permission.into()), "{method} {path}");
    }
    // Seeing the request needs no permission.
    assert_eq!(app.get_auth(&format!("/api/requests/{id}"), &token).status(), 200);
    assert_eq!(app.get_auth(&format!("/api/requests/{id}/attachments"), &token).status(), 200);
    assert_eq!(app.sql_count("SELECT count(*) FROM messages") + app.sql_count("SELECT count(*) FROM calls") + app.sql_count("SELECT count(*) FROM attachments"), 0);

    // Only sending (with reading): a client who can talk can also answer with a file.
    set_policy(&app, NORTHERN_LIGHT, [0, 1, 1, 0, 0], &[SUPPORT]);
    let token = emily(&app);
    let resp = app.send_auth("POST", &format!("/api/requests/{id}/attachments"), &token, Some(json!({"file_name": "a.txt", "content_type": "text/plain", "content_base64": "aGk="})));
    assert_eq!(resp.status(), 201);
    // An employee has no client portal.
    let admin = app.admin_token();
    assert_eq!(status_and_code(&app.get_auth("/api/requests", &admin)), (403, "forbidden".into()));
    assert_eq!(status_and_code(&app.get_auth("/api/pipelines", &admin)), (403, "forbidden".into()));
    // And a client has no team routes.
    assert_eq!(status_and_code(&app.get_auth("/api/admin/requests", &token)), (403, "forbidden".into()));
}

#[test]
fn bad_input_on_every_write_route_is_refused_naming_the_field() {
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "t");
    let base = json!({"company_id": NORTHERN_LIGHT, "pipeline_id": SUPPORT, "title": "t", "description": "d", "fields": {"summary": "s"}});
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        if value.is_null() {
            b.as_object_mut().unwrap().remove(key);
        } else {
            b[key] = value;
        }
        b
    };
    let cases = vec![
        (with("title", Value::Null), "title"),
        (with("title", json!("   ")), "title"),
        (with("title", json!("x".repeat(201))), "title"),
        (with("title", json!(5)), "title"),
        (with("description", Value::Null), "description"),
        (with("description", json!("d".repeat(10_001))), "description"),
        (with("company_id", Value::Null), "company_id"),
        (with("company_id", json!("northern")), "company_id"),
        (with("pipeline_id", json!(7)), "pipeline_id"),
        (with("fields", json!([1])), "fields"),
        (with("fields", json!({})), "fields.summary"),
        (with("fields", json!({"summary": 3})), "fields.summary"),
        (with("fields", json!({"summary": "s", "budget": "a lot"})), "fields.budget"),
        (with("fields", json!({"summary": "s", "due": "01/12/2026"})), "fields.due"),
        (with("fields", json!({"summary": "s", "due": "2026-13-01"})), "fields.due"),
        (with("fields", json!({"summary": "s", "size": "XXL"})), "fields.size"),
        (with("fields", json!({"summary": "s", "size": 1})), "fields.size"),
    ];
    for (body, field) in cases {
        let resp = app.send_auth("POST", "/api/requests", &token, Some(body.clone()));
        assert_eq!(bad_field(&resp), (400, field.into()), "{body}");
    }
    assert_eq!(titles(&app.get_auth("/api/requests", &token)).len(), 1, "no bad request was stored");
    // 200 characters is fine; the exact limit holds.
    assert_eq!(app.send_auth("POST", "/api/requests", &token, Some(with("title", json!("x".repeat(200))))).status(), 201);
    // An unknown pipeline is not one the policy allows.
    assert_eq!(denied(&app.send_auth("POST", "/api/requests", &token, Some(with("pipeline_id", json!("0190a000-0000-7000-8000-00000000beef"))))), (403, "policy_denied".into(), "pipeline".into()));

    let auth = format!("Bearer {token}");
    let oversize = vec![b' '; 1024 * 1024 + 1];
    for path in ["/api/requests".to_owned(), format!("/api/requests/{id}/messages"), "/api/chat/messages".into(), "/api/calls".into()] {
        let mut req = raw_request("POST", &path, "application/json", oversize.clone());
        req.headers_mut().insert("authorization", auth.parse().unwrap());
        assert_eq!(status_and_code(&app.call(req)), (413, "too_large".into()), "{path}");
        let mut req = raw_request("POST", &path, "text/plain", b"{}".to_vec());
        req.headers_mut().insert("authorization", auth.parse().unwrap());
        assert_eq!(app.call(req).status(), 415, "{path}");
        let mut req = raw_request("POST", &path, "application/json", b"{not json".to_vec());
        req.headers_mut().insert("authorization", auth.parse().unwrap());
        assert_eq!(bad_field(&app.call(req)), (400, "body".into()), "{path}");
    }

    // Messages.
    for path in [format!("/api/requests/{id}/messages"), "/api/chat/messages".into()] {
        assert_eq!(bad_field(&app.send_auth("POST", &path, &token, Some(json!({})))), (400, "body".into()));
        assert_eq!(bad_field(&app.send_auth("POST", &path, &token, Some(json!({"body": "  "})))), (400, "body".into()));
        assert_eq!(bad_field(&app.send_auth("POST", &path, &token, Some(json!({"body": 42})))), (400, "body".into()));
        assert_eq!(bad_field(&app.send_auth("POST", &path, &token, Some(json!({"body": "b".repeat(5001)})))), (400, "body".into()));
    }
    assert_eq!(bad_field(&app.send_auth("POST", "/api/chat/messages?company=x", &token, Some(json!({"body": "b"})))), (400, "company".into()));

    // Calls.
    assert_eq!(bad_field(&app.send_auth("POST", "/api/calls", &token, Some(json!({})))), (400, "company_id".into()));
    assert_eq!(bad_field(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT, "request_id": 5})))), (400, "request_id".into()));
    assert_eq!(status_and_code(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT, "request_id": "0190a000-0000-7000-8000-00000000dead"})))), (404, "not_found".into()));

    // Attachments.
    let path = format!("/api/requests/{id}/attachments");
    let file = |name: Value, kind: Value, content: Value| json!({"file_name": name, "content_type": kind, "content_base64": content});
    let cases = vec![
        (json!({"content_type": "image/png", "content_base64": png()}), "file_name"),
        (file(json!(""), json!("image/png"), json!(png())), "file_name"),
        (file(json!("../"), json!("image/png"), json!(png())), "file_name"),
        (file(json!("a.html"), json!("text/html"), json!(png())), "content_type"),
        (file(json!("a.svg"), json!("image/svg+xml"), json!(png())), "content_type"),
        (file(json!("a.png"), json!("image/png"), json!("***")), "content_base64"),
        (file(json!("a.png"), json!("image/png"), json!("")), "content_base64"),
        (file(json!("a.png"), json!(3), json!(png())), "content_type"),
    ];
    for (body, field) in cases {
        assert_eq!(bad_field(&app.send_auth("POST", &path, &token, Some(body.clone()))), (400, field.into()), "{body}");
    }
    let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 8 * 1024 * 1024]);
    let resp = app.send_auth("POST", &path, &token, Some(file(json!("big.pdf"), json!("application/pdf"), json!(big))));
    assert_eq!(status_and_code(&resp), (413, "too_large".into()), "a body over 10 MiB");
    assert_eq!(app.sql_count("SELECT count(*) FROM attachments"), 0);
    assert_eq!(app.ports.kv.len(), 0, "no file left behind");
    let posing = base64::engine::general_purpose::STANDARD.encode(b"<html><script>alert(1)</script></html>");
    let resp = app.send_auth("POST", &path, &token, Some(file(json!("invoice.pdf"), json!("application/pdf"), json!(posing))));
    assert_eq!(bad_field(&resp), (400, "content_base64".into()), "a page posing as a PDF");
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(6 * 1024 * 1024, 7);
    let fine = base64::engine::general_purpose::STANDARD.encode(pdf);
    assert_eq!(app.send_auth("POST", &path, &token, Some(file(json!("ok.pdf"), json!("application/pdf"), json!(fine)))).status(), 201, "a large file under the limit");

    // The team's writes.
    let admin = app.admin_token();
    let team = format!("/api/admin/requests/{id}");
    assert_eq!(bad_field(&app.send_auth("PATCH", &team, &admin, Some(json!({})))), (400, "status".into()));
    assert_eq!(bad_field(&app.send_auth("PATCH", &team, &admin, Some(json!({"status": 2})))), (400, "status".into()));
    assert_eq!(bad_field(&app.send_auth("PATCH", &team, &admin, Some(json!({"status": "closed"})))), (400, "status".into()));
    assert_eq!(status_and_code(&app.send_auth("PATCH", "/api/admin/requests/0190a000-0000-7000-8000-00000000dead", &admin, Some(json!({"status": "done"})))), (404, "not_found".into()));
    assert_eq!(bad_field(&app.send_auth("POST", &format!("{team}/messages"), &admin, Some(json!({"body": ""})))), (400, "body".into()));
    assert_eq!(bad_field(&app.send_auth("POST", "/api/admin/chat/messages", &admin, Some(json!({"body": "hi"})))), (400, "company".into()));
    assert_eq!(status_and_code(&app.send_auth("POST", "/api/admin/chat/messages?company=0190a000-0000-7000-8000-00000000dead", &admin, Some(json!({"body": "hi"})))), (404, "not_found".into()));
    assert_eq!(bad_field(&app.send_auth("POST", &format!("{team}/attachments"), &admin, Some(file(json!("x.exe"), json!("application/x-msdownload"), json!(png()))))), (400, "content_type".into()));
}

// ---------------------------------------------------------------------------------------------
// The team's side
// ---------------------------------------------------------------------------------------------

#[test]
fn the_teams_status_change_moves_is_open_and_is_audited() {
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "fix it");
    let admin = app.admin_token();
    let team = json(&app.get_auth(&format!("/api/admin/requests/{id}"), &admin));
    assert_eq!(team["stages"].as_array().unwrap().len(), 3);
    assert_eq!(team["created_by_name"], "Emily Carter");

    let resp = app.send_auth("PATCH", &format!("/api/admin/requests/{id}"), &admin, Some(json!({"status": "done"})));
    assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    assert_eq!((json(&resp)["status"].clone(), json(&resp)["is_open"].clone()), (json!("done"), json!(false)));
    let seen = json(&app.get_auth(&format!("/api/requests/{id}"), &token));
    assert_eq!((seen["status"].clone(), seen["status_name"].clone(), seen["is_open"].clone()), (json!("done"), json!("Done"), json!(false)));
    assert_eq!(titles(&app.get_auth("/api/requests?open=false", &token)), ["fix it"]);
    assert!(titles(&app.get_auth("/api/requests?open=true", &token)).is_empty());
    assert_eq!(titles(&app.get_auth("/api/admin/requests?open=false", &admin)), ["fix it"]);
    assert_eq!(
        app.sql_count(&format!(
            "SELECT count(*) FROM audit_events WHERE action = 'request.status_changed' AND target_id = '{id}' \
             AND company_ids = '[\"{NORTHERN_LIGHT}\"]' AND details ->> 'from' = 'new' AND details ->> 'to' = 'done'"
        )),
        1
    );
    // Reopen; the same stage again is no change and no second event.
    assert_eq!(json(&app.send_auth("PATCH", &format!("/api/admin/requests/{id}"), &admin, Some(json!({"status": "doing"}))))["is_open"], true);
    assert_eq!(app.send_auth("PATCH", &format!("/api/admin/requests/{id}"), &admin, Some(json!({"status": "doing"}))).status(), 200);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'request.status_changed'"), 2);
    // The client cannot move it.
    assert_eq!(app.send_auth("PATCH", &format!("/api/admin/requests/{id}"), &token, Some(json!({"status": "done"}))).status(), 403);
}

#[test]
fn a_manager_works_only_in_their_companies() {
    let app = portal();
    add_blue_harbor(&app);
    let token = emily(&app);
    let nl = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "northern");
    let bh = create_ok(&app, &token, BLUE_HARBOR, HARBOR, "harbor");
    app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT})));
    let admin = app.admin_token();
    let mara = manager(&app, &admin);

    assert_eq!(titles(&app.get_auth("/api/admin/requests", &mara)), ["harbor"]);
    assert_eq!(titles(&app.get_auth("/api/admin/requests", &admin)).len(), 3, "admins see every company, Cedar's too");
    let outside: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/admin/requests/{nl}"), None),
        ("PATCH", format!("/api/admin/requests/{nl}"), Some(json!({"status": "done"}))),
        ("GET", format!("/api/admin/requests/{nl}/messages"), None),
        ("POST", format!("/api/admin/requests/{nl}/messages"), Some(json!({"body": "hi"}))),
        ("GET", format!("/api/admin/requests/{nl}/attachments"), None),
        ("POST", format!("/api/admin/requests/{nl}/attachments"), Some(json!({"file_name": "a.txt", "content_type": "text/plain", "content_base64": "aGk="}))),
        ("GET", format!("/api/admin/requests?company={NORTHERN_LIGHT}"), None),
        ("GET", format!("/api/admin/chat/messages?company={NORTHERN_LIGHT}"), None),
        ("POST", format!("/api/admin/chat/messages?company={NORTHERN_LIGHT}"), Some(json!({"body": "hi"}))),
        ("GET", format!("/api/admin/calls?company={NORTHERN_LIGHT}"), None),
        ("POST", "/api/admin/calls".into(), Some(json!({"company_id": NORTHERN_LIGHT}))),
        ("POST", "/api/admin/calls".into(), Some(json!({"company_id": NORTHERN_LIGHT, "request_id": nl}))),
        // Her own company with another company's request: no thread of it.
        ("POST", "/api/admin/calls".into(), Some(json!({"company_id": BLUE_HARBOR, "request_id": nl}))),
    ];
    for (method, path, body) in outside {
        assert_eq!(status_and_code(&app.send_auth(method, &path, &mara, body)), (404, "not_found".into()), "{method} {path}");
    }
    assert!(json(&app.get_auth("/api/admin/calls", &mara))["items"].as_array().unwrap().is_empty());
    assert_eq!(json(&app.get_auth("/api/admin/calls", &admin))["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.send_auth("PATCH", &format!("/api/admin/requests/{bh}"), &mara, Some(json!({"status": "doing"}))).status(), 200);
    assert_eq!(app.send_auth("POST", &format!("/api/admin/requests/{bh}/messages"), &mara, Some(json!({"body": "on it"}))).status(), 201);
    assert_eq!(app.get_auth(&format!("/api/admin/chat/messages?company={BLUE_HARBOR}"), &mara).status(), 200);
    // The team starts a call on its request: the client sees it in the portal with the same join link.
    let call = app.send_auth("POST", "/api/admin/calls", &mara, Some(json!({"company_id": BLUE_HARBOR, "request_id": bh})));
    assert_eq!(call.status(), 201, "{}", String::from_utf8_lossy(call.body()));
    let call = json(&call);
    assert!(call["join_url"].as_str().unwrap().starts_with("https://"), "{call}");
    assert_eq!((call["request_id"].as_str(), call["status"].as_str(), call["created_by_name"].as_str()), (Some(bh.as_str()), Some("open"), Some("Mara Manager")));
    let unknown = "0190a000-0000-7000-8000-00000000dead";
    assert_eq!(status_and_code(&app.send_auth("POST", "/api/admin/calls", &admin, Some(json!({"company_id": unknown})))), (404, "not_found".into()), "an unknown company, even for an admin");
    assert_eq!(bad_field(&app.send_auth("POST", "/api/admin/calls", &admin, Some(json!({"company_id": "nope"})))), (400, "company_id".into()));
    assert_eq!(app.sql_count("SELECT count(*) FROM messages WHERE company_id <> (SELECT company_id FROM requests WHERE title = 'harbor')"), 0);
}

#[test]
fn the_inbox_is_newest_activity_first_and_shows_what_waits_for_the_team() {
    let app = portal();
    let token = emily(&app);
    let admin = app.admin_token();
    let first = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "first");
    app.advance(10);
    let second = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "second");
    let inbox = |query: &str| json(&app.get_auth(&format!("/api/admin/requests?company={NORTHERN_LIGHT}{query}"), &admin));
    let titles_of = |page: &Value| page["items"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(titles_of(&inbox("")), ["second", "first"]);
    assert_eq!(titles_of(&inbox("&waiting=true")), ["second", "first"], "a client's new request waits for the team");

    // The team answers the second: it no longer waits.
    app.advance(10);
    assert_eq!(app.send_auth("POST", &format!("/api/admin/requests/{second}/messages"), &admin, Some(json!({"body": "on it"}))).status(), 201);
    assert_eq!(titles_of(&inbox("&waiting=true")), ["first"]);
    assert_eq!(titles_of(&inbox("&waiting=false")), ["second"]);
    // The client writes on the first: it moves to the top, waiting since her first unanswered word.
    app.advance(10);
    let created_first = inbox("")["items"][1]["waiting_since"].as_str().unwrap().to_owned();
    assert_eq!(app.send_auth("POST", &format!("/api/requests/{first}/messages"), &token, Some(json!({"body": "any news?"}))).status(), 201);
    let page = inbox("");
    assert_eq!(titles_of(&page), ["first", "second"], "newest activity first");
    assert_eq!((page["items"][0]["waiting_for_team"].as_bool(), page["items"][0]["waiting_since"].as_str()), (Some(true), Some(created_first.as_str())));
    assert_eq!(page["items"][1]["waiting_for_team"], false);
    // A client's reply to the team starts a new wait.
    app.advance(10);
    assert_eq!(app.send_auth("POST", &format!("/api/requests/{second}/messages"), &token, Some(json!({"body": "thanks, and?"}))).status(), 201);
    assert_eq!(titles_of(&inbox("&waiting=true")), ["second", "first"]);
    let one = json(&app.get_auth(&format!("/api/admin/requests/{second}"), &admin));
    assert_eq!(one["waiting_for_team"], true);
    assert_eq!(bad_field(&app.get_auth("/api/admin/requests?waiting=maybe", &admin)), (400, "waiting".into()));
}

#[test]
fn a_thread_reads_newest_first_with_older_pages_on_demand_on_both_sides() {
    let app = portal();
    let token = emily(&app);
    let admin = app.admin_token();
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "long talk");
    for n in 1..=5 {
        app.advance(1);
        assert_eq!(app.send_auth("POST", &format!("/api/requests/{id}/messages"), &token, Some(json!({"body": format!("m{n}")}))).status(), 201);
    }
    let bodies = |page: &Value| page["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    for base in [format!("/api/requests/{id}/messages"), format!("/api/admin/requests/{id}/messages")] {
        let who = if base.starts_with("/api/admin") { &admin } else { &token };
        let first = json(&app.get_auth(&format!("{base}?order=newest&limit=2"), who));
        assert_eq!(bodies(&first), ["m5", "m4"], "{base}");
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = json(&app.get_auth(&format!("{base}?order=newest&limit=2&cursor={cursor}"), who));
        assert_eq!(bodies(&second), ["m3", "m2"]);
        let cursor = second["next_cursor"].as_str().unwrap();
        let last = json(&app.get_auth(&format!("{base}?order=newest&limit=2&cursor={cursor}"), who));
        assert_eq!((bodies(&last), last["next_cursor"].clone()), (vec!["m1".to_owned()], Value::Null));
        assert_eq!(bodies(&json(&app.get_auth(&format!("{base}?limit=2"), who))), ["m1", "m2"], "oldest first stays the default");
        assert_eq!(bad_field(&app.get_auth(&format!("{base}?order=sideways"), who)), (400, "order".into()));
    }
}

#[test]
fn messages_keep_their_order_and_author_kinds_on_both_sides() {
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "thread");
    let admin = app.admin_token();
    let path = format!("/api/requests/{id}/messages");
    app.advance(1);
    assert_eq!(app.send_auth("POST", &path, &token, Some(json!({"body": "from the portal"}))).status(), 201);
    app.advance(1);
    let reply = app.send_auth("POST", &format!("/api/admin/requests/{id}/messages"), &admin, Some(json!({"body": "from the team"})));
    assert_eq!(reply.status(), 201);
    assert_eq!(json(&reply)["author_kind"], "employee");
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO channel_links (id, kind, user_id, link_id, company_id, external_id, created_at, updated_at) VALUES \
           ('0190a000-0000-7000-8000-0000000000f1', 'telegram', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', '555', {now}, {now}), \
           ('0190a000-0000-7000-8000-0000000000f2', 'widget', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', NULL, {now}, {now});
         INSERT INTO messages (id, company_id, request_id, author_kind, author_user_id, channel_link_id, body, created_at) VALUES \
           ('0190a000-0000-7000-8000-0000000000b3', '{NORTHERN_LIGHT}', '{id}', 'telegram', '{EMILY_USER}', '0190a000-0000-7000-8000-0000000000f1', 'from telegram', {}), \
           ('0190a000-0000-7000-8000-0000000000b4', '{NORTHERN_LIGHT}', '{id}', 'widget', NULL, '0190a000-0000-7000-8000-0000000000f2', 'from the widget', {});",
        now + 1,
        now + 2
    ));
    app.advance(3);
    app.send_auth("POST", &path, &token, Some(json!({"body": "last"})));

    let thread = json(&app.get_auth(&path, &token));
    let got: Vec<(&str, &str, &str)> = thread["items"].as_array().unwrap().iter().map(|m| (m["body"].as_str().unwrap(), m["author_kind"].as_str().unwrap(), m["author_name"].as_str().unwrap())).collect();
    assert_eq!(
        got,
        [
            ("from the portal", "client", "Emily Carter"),
            ("from the team", "employee", "Ada Admin"),
            ("from telegram", "telegram", "Emily Carter"),
            ("from the widget", "widget", "Website widget"),
            ("last", "client", "Emily Carter"),
        ]
    );
    assert!(thread["items"][1].get("author_user_id").is_none(), "clients do not see user ids");
    let team = json(&app.get_auth(&format!("/api/admin/requests/{id}/messages"), &admin));
    assert_eq!(team["items"][0]["author_user_id"], EMILY_USER);
    assert_eq!(team["items"].as_array().unwrap().len(), 5);

    // Paging keeps the order, oldest first.
    let mut bodies = Vec::new();
    let mut next = format!("{path}?limit=2");
    loop {
        let page = json(&app.get_auth(&next, &token));
        bodies.extend(page["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => next = format!("{path}?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(bodies, ["from the portal", "from the team", "from telegram", "from the widget", "last"]);

    // The general chat is separate from the threads, both sides write to it.
    app.send_auth("POST", "/api/chat/messages", &token, Some(json!({"body": "hello team"})));
    app.advance(1);
    app.send_auth("POST", &format!("/api/admin/chat/messages?company={NORTHERN_LIGHT}"), &admin, Some(json!({"body": "hello Emily"})));
    let general = json(&app.get_auth(&format!("/api/chat/messages?company={NORTHERN_LIGHT}"), &token));
    let got: Vec<(&str, &str)> = general["items"].as_array().unwrap().iter().map(|m| (m["body"].as_str().unwrap(), m["author_kind"].as_str().unwrap())).collect();
    assert_eq!(got, [("hello team", "client"), ("hello Emily", "employee")]);
    assert!(general["items"][0]["request_id"].is_null());
    assert_eq!(json(&app.get_auth(&format!("/api/admin/chat/messages?company={NORTHERN_LIGHT}"), &admin))["items"].as_array().unwrap().len(), 2);
}

#[test]
fn files_travel_both_ways_and_download_safely() {
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "with files");
    let bytes = b"<html><script>alert(1)</script></html>".to_vec();
    let resp = app.send_auth(
        "POST",
        &format!("/api/requests/{id}/attachments"),
        &token,
        Some(json!({"file_name": "../evil\"name.txt", "content_type": "text/plain", "content_base64": base64::engine::general_purpose::STANDARD.encode(&bytes)})),
    );
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    let file = json(&resp);
    assert_eq!(file["file_name"], "evil_name.txt", "stored under its safe name");
    assert_eq!(file["sha256"], extranet::auth::refresh::sha256_hex(&bytes));
    assert_eq!(file["uploaded_by_kind"], "client");
    assert_eq!(file["size"], bytes.len());

    let download = app.get_auth(&format!("/api/requests/{id}/attachments/{}", file["id"].as_str().unwrap()), &token);
    assert_eq!(download.status(), 200);
    assert_eq!(download.body(), &bytes);
    assert_eq!(header(&download, "content-type"), Some("text/plain"));
    assert_eq!(header(&download, "x-content-type-options"), Some("nosniff"));
    assert!(header(&download, "content-security-policy").unwrap().starts_with("sandbox"));
    let disposition = header(&download, "content-disposition").unwrap();
    assert!(disposition.starts_with("attachment; filename=\"evil_name.txt\""), "{disposition}");

    let admin = app.admin_token();
    app.advance(1);
    let team_file = app.send_auth("POST", &format!("/api/admin/requests/{id}/attachments"), &admin, Some(json!({"file_name": "offer.pdf", "content_type": "application/pdf", "content_base64": "JVBERi0xLjQ="})));
    assert_eq!(team_file.status(), 201);
    let list = json(&app.get_auth(&format!("/api/requests/{id}/attachments"), &token));
    let kinds: Vec<(&str, &str)> = list["items"].as_array().unwrap().iter().map(|a| (a["file_name"].as_str().unwrap(), a["uploaded_by_kind"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("evil_name.txt", "client"), ("offer.pdf", "employee")]);
    let team_download = app.get_auth(&format!("/api/admin/requests/{id}/attachments/{}", file["id"].as_str().unwrap()), &admin);
    assert_eq!(team_download.body(), &bytes);
    let pdf = app.get_auth(&format!("/api/requests/{id}/attachments/{}", json(&team_file)["id"].as_str().unwrap()), &token);
    assert_eq!((pdf.body().as_slice(), header(&pdf, "content-type")), (&b"%PDF-1.4"[..], Some("application/pdf")));
    // The bytes live in KV under a random key, the metadata in D1.
    assert_eq!(app.sql_count("SELECT count(*) FROM attachments WHERE kv_key LIKE 'att:%' AND length(sha256) = 64"), 2);
}

#[test]
fn calls_get_a_random_room_and_list_by_visible_thread() {
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "call me");
    let on_request = app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT, "request_id": id})));
    assert_eq!(on_request.status(), 201, "{}", String::from_utf8_lossy(on_request.body()));
    let call = json(&on_request);
    assert_eq!(call["status"], "open");
    let url = call["join_url"].as_str().unwrap();
    let room = url.strip_prefix("https://meet.jit.si/extranet-").unwrap();
    assert_eq!(room.len(), 32);
    assert!(room.chars().all(|c| c.is_ascii_hexdigit()));
    app.advance(1);
    let general = json(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": NORTHERN_LIGHT}))));
    assert_ne!(general["join_url"], call["join_url"]);
    assert!(general["request_id"].is_null());

    let list = json(&app.get_auth("/api/calls", &token));
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [general["id"].as_str().unwrap(), call["id"].as_str().unwrap()]);
    let admin = app.admin_token();
    assert_eq!(json(&app.get_auth(&format!("/api/admin/calls?company={NORTHERN_LIGHT}"), &admin))["items"].as_array().unwrap().len(), 2);

    // A call on a request whose pipeline leaves the policy leaves the client's list with it.
    set_policy(&app, NORTHERN_LIGHT, [1, 1, 1, 1, 1], &[PROJECTS]);
    let token = emily(&app);
    let list = json(&app.get_auth("/api/calls", &token));
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["items"][0]["request_id"].is_null());
}

// ---------------------------------------------------------------------------------------------
// Property: random policies and requests; no client ever reads, lists or writes outside its
// visibility, and every allowed action succeeds.
// ---------------------------------------------------------------------------------------------

/// splitmix64: small, deterministic, good enough to pick cases.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next().is_multiple_of(2)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True three times out of four: most grants given, so allowed actions come up often too.
    fn likely(&mut self) -> bool {
        self.below(4) > 0
    }
}

/// The model of DESIGN.md's rules, written independently of the engine: a company policy
/// narrowed by a contact policy; send needs read; pipelines intersected, minus archived ones.
#[derive(Debug, Clone)]
struct Model {
    on_link: Vec<&'static str>,
    company: Vec<(&'static str, [bool; 5], Vec<&'static str>)>,
    /// Per permission: None inherit, Some(true) allow, Some(false) deny; and the pipeline list.
    contact: Option<([Option<bool>; 5], Option<Vec<&'static str>>)>,
    archived: Vec<&'static str>,
}

const PERMS: [&str; 5] = ["create_requests", "read_request_chat", "send_request_chat", "general_chat", "calls"];

impl Model {
    fn allows(&self, company: &str, perm: usize) -> bool {
        if !self.on_link.contains(&company) {
            return false;
        }
        let Some((_, grants, _)) = self.company.iter().find(|(c, _, _)| *c == company) else { return false };
        let own = |i: usize| grants[i] && self.contact.as_ref().is_none_or(|(rules, _)| rules[i] != Some(false));
        match perm {
            2 => own(2) && own(1),
            i => own(i),
        }
    }

    fn pipeline_allowed(&self, company: &str, pipeline: &str) -> bool {
        if !self.on_link.contains(&company) || self.archived.contains(&pipeline) {
            return false;
        }
        let Some((_, _, list)) = self.company.iter().find(|(c, _, _)| *c == company) else { return false };
        list.contains(&pipeline) && self.contact.as_ref().and_then(|(_, l)| l.as_ref()).is_none_or(|l| l.contains(&pipeline))
    }
}

fn random_model(rng: &mut Prng) -> Model {
    let pipelines = [SUPPORT, PROJECTS, HARBOR, INTERNAL];
    let pick = |rng: &mut Prng| pipelines.iter().copied().filter(|_| rng.likely()).collect::<Vec<_>>();
    let mut on_link = vec![NORTHERN_LIGHT];
    if rng.coin() {
        on_link.push(BLUE_HARBOR);
    }
    let mut company = Vec::new();
    for c in [NORTHERN_LIGHT, BLUE_HARBOR, CEDAR] {
        if rng.below(5) > 0 {
            let grants = [rng.likely(), rng.likely(), rng.likely(), rng.likely(), rng.likely()];
            company.push((c, grants, pick(rng)));
        }
    }
    let contact = if rng.coin() {
        let rule = |rng: &mut Prng| match rng.below(5) {
            0 | 1 => None,
            2 | 3 => Some(true),
            _ => Some(false),
        };
        let rules = [rule(rng), rule(rng), rule(rng), rule(rng), rule(rng)];
        let list = if rng.coin() { Some(pick(rng)) } else { None };
        Some((rules, list))
    } else {
        None
    };
    let archived = if rng.below(4) == 0 { vec![pipelines[rng.below(4) as usize]] } else { vec![] };
    Model { on_link, company, contact, archived }
}

fn apply_model(app: &TestApp, model: &Model) {
    let now = app.now.get().timestamp();
    let mut sql = String::new();
    if model.on_link.contains(&BLUE_HARBOR) {
        sql.push_str(&format!("INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now});"));
    }
    sql.push_str("DELETE FROM company_policies;");
    for (c, g, list) in &model.company {
        let b = |x: bool| u8::from(x);
        sql.push_str(&format!(
            "INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, allowed_pipelines, updated_at) \
             VALUES ('{c}', {}, {}, {}, {}, {}, '{}', {now});",
            b(g[0]), b(g[1]), b(g[2]), b(g[3]), b(g[4]), serde_json::to_string(list).unwrap()
        ));
    }
    if let Some((rules, list)) = &model.contact {
        let r = |x: Option<bool>| match x {
            None => "inherit",
            Some(true) => "allow",
            Some(false) => "deny",
        };
        let list = list.as_ref().map_or("NULL".to_owned(), |l| format!("'{}'", serde_json::to_string(l).unwrap()));
        sql.push_str(&format!(
            "INSERT INTO contact_policies (contact_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, allowed_pipelines, updated_at) \
             VALUES ('{EMILY_CONTACT}', '{}', '{}', '{}', '{}', '{}', {list}, {now});",
            r(rules[0]), r(rules[1]), r(rules[2]), r(rules[3]), r(rules[4])
        ));
    }
    for p in &model.archived {
        sql.push_str(&format!("UPDATE pipelines SET archived = 1 WHERE id = '{p}';"));
    }
    app.exec(&sql);
}

#[test]
fn property_no_client_reaches_outside_its_visibility_and_every_allowed_action_succeeds() {
    let companies = [NORTHERN_LIGHT, BLUE_HARBOR, CEDAR];
    let pipelines = [SUPPORT, PROJECTS, HARBOR, INTERNAL];
    // How often each outcome came up: the property is only worth something if all of them did.
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    for seed in 0..32u64 {
        let mut rng = Prng(seed.wrapping_mul(7919) + 1);
        let app = portal();
        app.exec("DELETE FROM requests");
        let model = random_model(&mut rng);
        apply_model(&app, &model);
        // Random requests anywhere, visible or not.
        let now = app.now.get().timestamp();
        let mut requests = Vec::new();
        for i in 0..8 {
            // Mostly the link's companies, so visible requests are common; Cedar's now and then.
            let c = [NORTHERN_LIGHT, NORTHERN_LIGHT, BLUE_HARBOR, CEDAR][rng.below(4) as usize];
            let p = pipelines[rng.below(4) as usize];
            let id = format!("0190a000-0000-7000-8000-{:012x}", 0x5000 + i);
            app.exec(&format!(
                "INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, created_at, updated_at) VALUES ('{id}', '{c}', '{p}', 'new', 'r{i}', {}, {})",
                now - i64::from(i),
                now - i64::from(i)
            ));
            requests.push((id, c, p));
        }
        let token = emily(&app);
        let ctx = format!("seed {seed}: {model:?}");
        let visible = |c: &str, p: &str| model.pipeline_allowed(c, p);

        // Lists: exactly the visible requests, newest first; per company too.
        let expected: Vec<String> = requests.iter().filter(|(_, c, p)| visible(c, p)).map(|(id, _, _)| id.clone()).collect();
        let listed: Vec<String> = json(&app.get_auth("/api/requests", &token))["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(listed, expected, "{ctx}");
        for c in companies {
            let resp = app.get_auth(&format!("/api/requests?company={c}"), &token);
            if model.on_link.contains(&c) {
                assert_eq!(resp.status(), 200, "{ctx}");
                let got: Vec<String> = json(&resp)["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
                let want: Vec<String> = requests.iter().filter(|(_, rc, p)| *rc == c && visible(rc, p)).map(|(id, _, _)| id.clone()).collect();
                assert_eq!(got, want, "{ctx} company {c}");
            } else {
                assert_eq!(resp.status(), 404, "{ctx} company {c}");
            }
            // Pipelines listed are exactly the allowed ones.
            let resp = app.get_auth(&format!("/api/pipelines?company={c}"), &token);
            if model.on_link.contains(&c) {
                let got: Vec<String> = json(&resp)["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
                let want: Vec<String> = pipelines.iter().filter(|p| visible(c, p)).map(|p| p.to_string()).collect();
                assert_eq!(got, want, "{ctx} pipelines at {c}");
            } else {
                assert_eq!(resp.status(), 404, "{ctx}");
            }
        }

        // Every request, every route.
        for (id, c, p) in &requests {
            let seen = visible(c, p);
            let mut expect = |resp: &Resp, allowed: bool, permission: &str, what: &str| {
                let got = status_and_code(resp);
                *outcomes.entry(format!("{what}: {}", if !seen { "hidden" } else if allowed { "allowed" } else { "denied" })).or_default() += 1;
                if !seen {
                    assert_eq!(got, (404, "not_found".into()), "{ctx} {what} on {id}");
                } else if allowed {
                    assert!(resp.status().is_success(), "{ctx} {what} on {id}: {got:?} {}", String::from_utf8_lossy(resp.body()));
                } else {
                    assert_eq!(denied(resp), (403, "policy_denied".into(), permission.into()), "{ctx} {what} on {id}");
                }
            };
            expect(&app.get_auth(&format!("/api/requests/{id}"), &token), true, "", "get");
            expect(&app.get_auth(&format!("/api/requests/{id}/attachments"), &token), true, "", "attachments");
            expect(&app.get_auth(&format!("/api/requests/{id}/messages"), &token), model.allows(c, 1), "read_request_chat", "read chat");
            expect(&app.send_auth("POST", &format!("/api/requests/{id}/messages"), &token, Some(json!({"body": "hi"}))), model.allows(c, 2), "send_request_chat", "send");
            expect(&app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": c, "request_id": id}))), model.allows(c, 4), "calls", "call");
            let may_attach = model.allows(c, 0) || model.allows(c, 2);
            expect(
                &app.send_auth("POST", &format!("/api/requests/{id}/attachments"), &token, Some(json!({"file_name": "a.txt", "content_type": "text/plain", "content_base64": "aGk="}))),
                may_attach,
                "create_requests",
                "attach",
            );
        }
        // Nothing was written where the client may not write.
        for (id, c, p) in &requests {
            let messages = app.sql_count(&format!("SELECT count(*) FROM messages WHERE request_id = '{id}'"));
            assert_eq!(messages, i64::from(visible(c, p) && model.allows(c, 2)), "{ctx} messages on {id}");
            let calls = app.sql_count(&format!("SELECT count(*) FROM calls WHERE request_id = '{id}'"));
            assert_eq!(calls, i64::from(visible(c, p) && model.allows(c, 4)), "{ctx} calls on {id}");
        }

        // Company-level actions and creating in every (company, pipeline).
        for c in companies {
            for (perm, resp) in [
                (3, app.get_auth(&format!("/api/chat/messages?company={c}"), &token)),
                (3, app.send_auth("POST", &format!("/api/chat/messages?company={c}"), &token, Some(json!({"body": "hi"})))),
                (4, app.send_auth("POST", "/api/calls", &token, Some(json!({"company_id": c})))),
                (4, app.get_auth(&format!("/api/calls?company={c}"), &token)),
            ] {
                if !model.on_link.contains(&c) {
                    assert_eq!(status_and_code(&resp), (404, "not_found".into()), "{ctx} {} at {c}", PERMS[perm]);
                } else if model.allows(c, perm) {
                    assert!(resp.status().is_success(), "{ctx} {} at {c}", PERMS[perm]);
                } else {
                    assert_eq!(denied(&resp), (403, "policy_denied".into(), PERMS[perm].into()), "{ctx} at {c}");
                }
            }
            for p in pipelines {
                let fields = if p == SUPPORT { json!({"summary": "s"}) } else { json!({}) };
                let resp = create(&app, &token, c, p, "new one", fields);
                if !model.on_link.contains(&c) {
                    assert_eq!(status_and_code(&resp), (404, "not_found".into()), "{ctx} create at {c}");
                } else if !model.allows(c, 0) {
                    assert_eq!(denied(&resp), (403, "policy_denied".into(), "create_requests".into()), "{ctx} create at {c} in {p}");
                } else if !visible(c, p) {
                    assert_eq!(denied(&resp), (403, "policy_denied".into(), "pipeline".into()), "{ctx} create at {c} in {p}");
                } else {
                    assert_eq!(resp.status(), 201, "{ctx} create at {c} in {p}");
                    assert_eq!(json(&resp)["status"], "new");
                }
            }
        }
    }
    for what in ["get", "attachments", "read chat", "send", "call", "attach"] {
        for outcome in ["hidden", "allowed", "denied"] {
            if (what == "get" || what == "attachments")
                && outcome == "denied" {
                    continue;
                }
            assert!(outcomes.get(&format!("{what}: {outcome}")).copied().unwrap_or(0) > 0, "never saw {what}: {outcome} in {outcomes:?}");
        }
    }
}

#[test]
fn an_attachment_cannot_disguise_its_type_by_name_or_bytes() {
    use base64::Engine;
    let app = portal();
    let token = emily(&app);
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "files");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let upload = |name: &str, content_type: &str, bytes: &[u8]| {
        app.send_auth("POST", &format!("/api/requests/{id}/attachments"), &token,
            Some(json!({"file_name": name, "content_type": content_type, "content_base64": b64(bytes)})))
    };
    // An executable labelled as text is refused by its bytes.
    assert_eq!(bad_field(&upload("notes.txt", "text/plain", b"MZ\x90\x00\x03\x00\x00\x00")), (400, "content_base64".into()));
    assert_eq!(bad_field(&upload("table.csv", "text/csv", &[0xff, 0xfe, b'a', 0])), (400, "content_base64".into()));

    // A text file named like a program, or with a right-to-left override, keeps the type's extension.
    for (given, stored) in [("Invoice.pdf.exe", "Invoice.pdf.txt"), ("Invoice\u{202E}fdp.exe", "Invoicefdp.txt"), ("../../boot.ini", "boot.txt")] {
        let resp = upload(given, "text/plain", b"plain words");
        assert_eq!(resp.status(), 201, "{given}");
        let view = json(&resp);
        assert_eq!(view["file_name"], stored, "{given}");
        let file = app.get_auth(&format!("/api/requests/{id}/attachments/{}", view["id"].as_str().unwrap()), &token);
        assert_eq!(file.status(), 200);
        let disposition = header(&file, "content-disposition").unwrap().to_owned();
        assert!(disposition.contains(&format!("filename=\"{stored}\"")), "{disposition}");
        assert!(!disposition.contains("exe") && !disposition.contains("%E2%80%AE"), "{disposition}");
        assert_eq!(header(&file, "content-type"), Some("text/plain"));
        assert_eq!(header(&file, "x-content-type-options"), Some("nosniff"));
    }
}

#[test]
fn the_clients_own_actions_sign_ins_and_new_countries_are_in_the_audit() {
    let app = portal();
    let admin = app.admin_token();
    let login_from = |country: &str| {
        let resp = app.post_json("/api/auth/login", json!({"login": EMILY_LOGIN, "password": EMILY_PASSWORD, "refresh_transport": "body"}),
            &[("cf-ipcountry", country), ("cf-connecting-ip", "203.0.113.9")]);
        assert_eq!(resp.status(), 200);
        json(&resp)["access_token"].as_str().unwrap().to_owned()
    };
    let token = login_from("NO");
    let id = create_ok(&app, &token, NORTHERN_LIGHT, SUPPORT, "Leaking roof");
    assert_eq!(app.send_auth("POST", &format!("/api/requests/{id}/messages"), &token, Some(json!({"body": "Any news?"}))).status(), 201);
    let upload = json!({"file_name": "a.png", "content_type": "image/png", "content_base64": png()});
    let file = json(&app.send_auth("POST", &format!("/api/requests/{id}/attachments"), &token, Some(upload.clone())))["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get_auth(&format!("/api/requests/{id}/attachments/{file}"), &token).status(), 200);
    // Another company's file is neither served nor recorded as downloaded.
    let cedar = app.send_auth("POST", &format!("/api/admin/requests/{CEDAR_REQUEST}/attachments"), &admin, Some(upload));
    let cedar_file = json(&cedar)["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get_auth(&format!("/api/requests/{CEDAR_REQUEST}/attachments/{cedar_file}"), &token).status(), 404);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'attachment.downloaded'"), 1);
    app.advance(60);
    login_from("NO");
    app.advance(60);
    login_from("BR");

    let audit = |query: &str| -> Vec<String> {
        let resp = app.get_auth(&format!("/api/admin/audit?{query}"), &admin);
        assert_eq!(resp.status(), 200, "{query}");
        json(&resp)["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
    };
    let by_emily = audit(&format!("link={EMILY_LINK}&kind=external"));
    for action in ["request.created", "message.sent", "attachment.downloaded", "login.succeeded"] {
        assert!(by_emily.contains(&action.to_owned()), "{action} in {by_emily:?}");
    }
    assert!(audit("kind=employee").iter().all(|a| !a.starts_with("request.") && !a.starts_with("message.")), "the kind filter holds");
    let flagged = app.get_auth("/api/admin/audit?new_country=true", &admin);
    let flagged = json(&flagged)["items"].as_array().unwrap().clone();
    assert_eq!(flagged.len(), 1, "only the sign-in from a country never used before: {flagged:?}");
    assert_eq!((flagged[0]["action"].as_str(), flagged[0]["country"].as_str()), (Some("login.succeeded"), Some("BR")));
    assert_eq!(json(&app.get_auth("/api/admin/audit?kind=robot", &admin))["error"]["field"], "kind");

    let link = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}"), &admin));
    assert_eq!(link["last_sign_in"]["country"], "BR", "{link}");
    assert!(link["last_sign_in"]["at"].as_str().is_some());
}

#[test]
fn the_general_chat_also_reads_newest_first_with_older_pages_on_demand() {
    let app = portal();
    let token = emily(&app);
    let admin = app.admin_token();
    for n in 1..=5 {
        app.advance(1);
        let resp = app.send_auth("POST", &format!("/api/chat/messages?company={NORTHERN_LIGHT}"), &token, Some(json!({"body": format!("g{n}")})));
        assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
    }
    let bodies = |page: &Value| page["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    for (base, who) in [("/api/chat/messages", &token), ("/api/admin/chat/messages", &admin)] {
        let first = json(&app.get_auth(&format!("{base}?company={NORTHERN_LIGHT}&order=newest&limit=3"), who));
        assert_eq!(bodies(&first), ["g5", "g4", "g3"], "{base}");
        let cursor = first["next_cursor"].as_str().unwrap();
        let older = json(&app.get_auth(&format!("{base}?company={NORTHERN_LIGHT}&order=newest&limit=3&cursor={cursor}"), who));
        assert_eq!((bodies(&older), older["next_cursor"].clone()), (vec!["g2".to_owned(), "g1".to_owned()], Value::Null));
        assert_eq!(bodies(&json(&app.get_auth(&format!("{base}?company={NORTHERN_LIGHT}&limit=2"), who))), ["g1", "g2"], "oldest first stays the default");
        assert_eq!(bad_field(&app.get_auth(&format!("{base}?company={NORTHERN_LIGHT}&order=up"), who)), (400, "order".into()));
    }
    // Without `company=`, the client reads the chat of the link's default company.
    assert_eq!(bodies(&json(&app.get_auth("/api/chat/messages?order=newest&limit=1", &token))), ["g5"]);
}
