//! The directory: CRM upserts (companies, contacts, pipelines) by the CRM's credential or an admin,
//! lists within a manager's scope, blocking users, MFA reset, employees with their invitation, the
//! last-admin rule, and branding. Each test tries to break one rule through HTTP.

use crate::support::*;
use extranet::http::Resp;
use serde_json::{json, Value};

const CRM_TOKEN: &str = "crm-sync-secret-for-tests";
const AURORA: &str = "0190b000-0000-7000-8000-000000000001";
const CONTACT_2: &str = "0190b000-0000-7000-8000-000000000011";
const PIPELINE_SUPPORT: &str = "0190b000-0000-7000-8000-000000000021";
const PIPELINE_OTHER: &str = "0190b000-0000-7000-8000-000000000022";
const MANAGER_ID: &str = "0190b000-0000-7000-8000-000000000031";
const SECOND_ADMIN_ID: &str = "0190b000-0000-7000-8000-000000000032";
const OLIVER_USER: &str = "0190b000-0000-7000-8000-000000000041";
const OLIVER_CONTACT: &str = "0190b000-0000-7000-8000-000000000042";
const OLIVER_LINK: &str = "0190b000-0000-7000-8000-000000000043";
const UNA_USER: &str = "0190b000-0000-7000-8000-000000000051";
const STAFF_PASSWORD: &str = "harbor lantern violet 77";

fn body_text(resp: &Resp) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

fn crm(app: &TestApp, path: &str, body: Value) -> Resp {
    app.send_auth("PUT", path, CRM_TOKEN, Some(body))
}

fn status_and_code(resp: &Resp) -> (u16, String) {
    (resp.status().as_u16(), error_code(resp))
}

fn field_of(resp: &Resp) -> String {
    assert_eq!(resp.status(), 400, "{}", body_text(resp));
    assert_eq!(error_code(resp), "invalid_input");
    json(resp)["error"]["field"].as_str().unwrap_or_default().to_owned()
}

fn pipeline_body(stages: Value) -> Value {
    json!({"name": "Support", "stages": stages, "fields": [
        {"key": "priority", "label": "Priority", "type": "choice", "required": true, "choices": ["low", "high"]},
        {"key": "site", "label": "Site", "type": "text", "required": false}
    ]})
}

fn support_stages() -> Value {
    json!([{"id": "new", "name": "New", "is_final": false}, {"id": "doing", "name": "In progress", "is_final": false},
           {"id": "done", "name": "Done", "is_final": true}])
}

/// Creates an employee through the API, activates the invitation it returns and answers the
/// employee's access token.
fn employee(app: &TestApp, admin: &str, id: &str, login: &str, role: &str, companies: &[&str]) -> String {
    let body = json!({"login": login, "email": format!("{login}@vector.example"), "first_name": "Mara", "last_name": "Stone",
                      "role": role, "company_ids": companies});
    let resp = app.send_auth("PUT", &format!("/api/admin/employees/{id}"), admin, Some(body));
    assert_eq!(resp.status(), 201, "{}", body_text(&resp));
    let url = json(&resp)["invitation"]["activation_url"].as_str().unwrap().to_owned();
    let token = url.split_once('#').unwrap().1.to_owned();
    let resp = app.post_json("/api/invitations/activate", json!({"token": token, "password": STAFF_PASSWORD, "refresh_transport": "body"}), &[]);
    assert_eq!(resp.status(), 200, "{}", body_text(&resp));
    json(&resp)["access_token"].as_str().unwrap().to_owned()
}

fn me_id(app: &TestApp, token: &str) -> String {
    json(&app.get_auth("/api/me", token))["user"]["id"].as_str().unwrap().to_owned()
}

fn ids(resp: &Resp) -> Vec<String> {
    assert_eq!(resp.status(), 200, "{}", body_text(resp));
    json(resp)["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

fn policy_version(app: &TestApp, link: &str) -> i64 {
    app.sql_count(&format!("SELECT policy_version FROM links WHERE id = '{link}'"))
}

fn refresh(app: &TestApp, refresh_token: &str) -> Resp {
    app.post_json("/api/auth/refresh", json!({"refresh_token": refresh_token, "refresh_transport": "body"}), &[])
}

/// Oliver: a Blue Harbor client with a live link; Una: an external user with no link at all; and
/// a contact related to Blue Harbor only.
fn with_blue_harbor_client(app: &TestApp) {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO contacts (id, first_name, last_name, email, state, created_at, updated_at) \
           VALUES ('{OLIVER_CONTACT}', 'Oliver', 'Reed', 'oliver@blueharbor.example', 'active', {now}, {now});
         INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{OLIVER_CONTACT}', '{BLUE_HARBOR}', {now});
         INSERT INTO users (id, kind, status, login, login_key, email, first_name, last_name, created_at, updated_at) VALUES \
           ('{OLIVER_USER}', 'external', 'active', 'oliver@blueharbor.example', 'oliver@blueharbor.example', 'oliver@blueharbor.example', 'Oliver', 'Reed', {now}, {now}), \
           ('{UNA_USER}', 'external', 'active', 'una@newclient.example', 'una@newclient.example', 'una@newclient.example', 'Una', 'New', {now}, {now});
         INSERT INTO links (id, user_id, contact_id, default_company_id, status, review_at, created_at, updated_at) \
           VALUES ('{OLIVER_LINK}', '{OLIVER_USER}', '{OLIVER_CONTACT}', '{BLUE_HARBOR}', 'active', {review}, {now}, {now});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{OLIVER_LINK}', '{BLUE_HARBOR}', {now});",
        review = now + 90 * 86400
    ));
}

#[test]
fn crm_upserts_take_the_crm_token_or_an_admin_and_nobody_else() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let manager = employee(&app, &admin, MANAGER_ID, "mara", "manager", &[NORTHERN_LIGHT]);
    let (client, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let path = format!("/api/admin/companies/{AURORA}");
    let body = json!({"name": "Aurora Labs"});

    let none = app.call(request("PUT", &path, Some(body.clone()), &[]));
    assert_eq!(status_and_code(&none), (401, "unauthenticated".into()));
    let wrong = app.send_auth("PUT", &path, "crm-sync-secret-for-tests-but-wrong", Some(body.clone()));
    assert_eq!(status_and_code(&wrong), (401, "unauthenticated".into()));
    let as_client = app.send_auth("PUT", &path, &client, Some(body.clone()));
    assert_eq!(status_and_code(&as_client), (403, "forbidden".into()));
    let as_manager = app.send_auth("PUT", &path, &manager, Some(body.clone()));
    assert_eq!(status_and_code(&as_manager), (403, "forbidden".into()), "CRM data is admins' business");
    let contact = json!({"first_name": "Nora", "last_name": "Lind", "email": "nora@northernlight.example", "company_ids": [NORTHERN_LIGHT]});
    assert_eq!(app.send_auth("PUT", &format!("/api/admin/contacts/{CONTACT_2}"), &manager, Some(contact)).status(), 403);
    let pipeline = pipeline_body(support_stages());
    assert_eq!(app.send_auth("PUT", &format!("/api/admin/pipelines/{PIPELINE_SUPPORT}"), &manager, Some(pipeline)).status(), 403);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM companies WHERE id = '{AURORA}'")), 0, "refused calls wrote nothing");

    let created = crm(&app, &path, body);
    assert_eq!(created.status(), 201, "{}", body_text(&created));
    assert_eq!(json(&created)["status"], "active");
    let updated = app.send_auth("PUT", &path, &admin, Some(json!({"name": "Aurora Labs Ltd", "crm_ref": "CRM-77"})));
    assert_eq!(updated.status(), 200, "{}", body_text(&updated));
    assert_eq!((json(&updated)["name"].clone(), json(&updated)["crm_ref"].clone()), (json!("Aurora Labs Ltd"), json!("CRM-77")));

    let actors = |action: &str| app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = '{action}' AND target_id = '{AURORA}'"));
    assert_eq!(actors("company.created"), 1);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = 'company.created' AND actor_kind = 'crm' AND actor_id IS NULL AND company_ids = '[\"{AURORA}\"]'")), 1);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'company.updated' AND actor_kind = 'employee'"), 1);
}

#[test]
fn upserts_create_then_update_and_absent_status_keeps_the_stored_one() {
    let app = TestApp::new().with_emily_active();
    let path = format!("/api/admin/companies/{AURORA}");
    assert_eq!(crm(&app, &path, json!({"name": "Aurora", "status": "archived"})).status(), 201);
    let again = crm(&app, &path, json!({"name": "Aurora Labs"}));
    assert_eq!(again.status(), 200);
    assert_eq!(json(&again)["status"], "archived", "a CRM that omits status does not un-archive");

    let contact = format!("/api/admin/contacts/{CONTACT_2}");
    let body = json!({"first_name": "Nora", "last_name": "Lind", "email": "nora@northernlight.example", "state": "draft", "company_ids": [NORTHERN_LIGHT]});
    assert_eq!(crm(&app, &contact, body).status(), 201);
    let resp = crm(&app, &contact, json!({"first_name": "Nora", "last_name": "Lindqvist", "email": "nora@northernlight.example", "company_ids": [NORTHERN_LIGHT]}));
    assert_eq!(resp.status(), 200, "{}", body_text(&resp));
    assert_eq!((json(&resp)["last_name"].clone(), json(&resp)["state"].clone()), (json!("Lindqvist"), json!("draft")));

    let pipeline = format!("/api/admin/pipelines/{PIPELINE_SUPPORT}");
    let created = crm(&app, &pipeline, pipeline_body(support_stages()));
    assert_eq!(created.status(), 201, "{}", body_text(&created));
    let p = json(&created);
    let stage_ids: Vec<&str> = p["stages"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(stage_ids, ["new", "doing", "done"], "stages keep their order: the first is where requests start");
    assert_eq!(p["stages"][2]["is_final"], true);
    assert_eq!(p["fields"][0]["choices"], json!(["low", "high"]));
    assert_eq!(p["archived"], false);
    let reordered = json!([{"id": "new", "name": "Received", "is_final": false}, {"id": "done", "name": "Done", "is_final": true}]);
    let updated = crm(&app, &pipeline, json!({"name": "Customer support", "stages": reordered, "archived": true}));
    assert_eq!(updated.status(), 200, "{}", body_text(&updated));
    let p = json(&updated);
    assert_eq!((p["name"].clone(), p["archived"].clone(), p["fields"].clone()), (json!("Customer support"), json!(true), json!([])));
    assert_eq!(p["stages"][0]["name"], "Received");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM pipeline_stages WHERE pipeline_id = '{PIPELINE_SUPPORT}'")), 2, "an unused stage is dropped");

    let admin = app.admin_token();
    let listed = app.get_auth("/api/admin/pipelines", &admin);
    assert_eq!(ids(&listed), [PIPELINE_SUPPORT]);
    assert_eq!(json(&listed)["items"][0]["stages"][1]["id"], "done");
}

#[test]
fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let app = TestApp::new().with_emily_active();
    let company = format!("/api/admin/companies/{AURORA}");
    let contact = format!("/api/admin/contacts/{CONTACT_2}");
    let pipeline = format!("/api/admin/pipelines/{PIPELINE_SUPPORT}");
    let person = |extra: Value| {
        let mut b = json!({"first_name": "Nora", "last_name": "Lind", "email": "nora@northernlight.example", "company_ids": [NORTHERN_LIGHT]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let unknown_company = "0190ffff-0000-7000-8000-000000000001";
    let cases: Vec<(&str, Value, &str)> = vec![
        (&company, json!({"name": "   "}), "name"),
        (&company, json!({"name": 5}), "name"),
        (&company, json!({"name": "Aurora", "status": "closed"}), "status"),
        (&contact, person(json!({"first_name": ""})), "first_name"),
        (&contact, person(json!({"last_name": " "})), "last_name"),
        (&contact, person(json!({"email": "not-an-email"})), "email"),
        (&contact, json!({"first_name": "Nora", "last_name": "Lind", "email": "nora@northernlight.example"}), "company_ids"),
        (&contact, person(json!({"company_ids": [NORTHERN_LIGHT, unknown_company]})), "company_ids"),
        (&contact, person(json!({"company_ids": ["not-a-uuid"]})), "company_ids[0]"),
        (&contact, person(json!({"state": "archived"})), "state"),
        (&contact, person(json!({"duplicate_of": EMILY_CONTACT})), "duplicate_of"),
        (&contact, person(json!({"state": "duplicate", "duplicate_of": unknown_company})), "duplicate_of"),
        (&contact, person(json!({"state": "duplicate", "duplicate_of": CONTACT_2})), "duplicate_of"),
        (&pipeline, json!({"name": "", "stages": support_stages()}), "name"),
        (&pipeline, json!({"name": "Support", "stages": []}), "stages"),
        (&pipeline, json!({"name": "Support"}), "stages"),
        (&pipeline, json!({"name": "Support", "stages": [{"id": "a", "name": "A", "is_final": false}, {"id": "a", "name": "B", "is_final": true}]}), "stages[1].id"),
        (&pipeline, json!({"name": "Support", "stages": [{"id": "a", "name": "A", "is_final": false}, {"id": "b", "name": "B", "is_final": false}]}), "stages"),
        (&pipeline, json!({"name": "Support", "stages": [{"id": "a", "name": "A", "is_final": true}, {"id": "b", "name": "B", "is_final": false}]}), "stages[0].is_final"),
        (&pipeline, json!({"name": "Support", "stages": [{"id": " ", "name": "A", "is_final": false}]}), "stages[0].id"),
        (&pipeline, json!({"name": "Support", "stages": [{"id": "a", "name": "A", "is_final": "no"}]}), "stages[0].is_final"),
        (&pipeline, json!({"name": "Support", "stages": support_stages(), "fields": [
            {"key": "site", "label": "Site", "type": "text", "required": false}, {"key": "site", "label": "Again", "type": "text", "required": true}]}), "fields[1].key"),
        (&pipeline, json!({"name": "Support", "stages": support_stages(), "fields": [
            {"key": "priority", "label": "Priority", "type": "choice", "required": true}]}), "fields[0].choices"),
        (&pipeline, json!({"name": "Support", "stages": support_stages(), "fields": [
            {"key": "priority", "label": "Priority", "type": "choice", "required": true, "choices": []}]}), "fields[0].choices"),
        (&pipeline, json!({"name": "Support", "stages": support_stages(), "fields": [
            {"key": "site", "label": "Site", "type": "text", "required": false, "choices": ["a"]}]}), "fields[0].choices"),
        (&pipeline, json!({"name": "Support", "stages": support_stages(), "fields": [
            {"key": "colour", "label": "Colour", "type": "colour", "required": false}]}), "fields[0].type"),
        (&pipeline, json!({"name": "Support", "stages": support_stages(), "fields": [
            {"key": "has space", "label": "Site", "type": "text", "required": false}]}), "fields[0].key"),
    ];
    for (path, body, field) in cases {
        let resp = crm(&app, path, body.clone());
        assert_eq!(field_of(&resp), field, "{path} {body}");
    }
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM companies WHERE id = '{AURORA}'")), 0);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM contacts WHERE id = '{CONTACT_2}'")), 0);
    assert_eq!(app.sql_count("SELECT count(*) FROM pipelines"), 0);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action LIKE 'company.%' OR action LIKE 'contact.%' OR action LIKE 'pipeline.%'"), 0);

    // A duplicate pointing at another existing contact is fine; turning it active again drops the pointer.
    let dup = crm(&app, &contact, person(json!({"state": "duplicate", "duplicate_of": EMILY_CONTACT})));
    assert_eq!(dup.status(), 201, "{}", body_text(&dup));
    assert_eq!(json(&dup)["duplicate_of"], EMILY_CONTACT);
    let active = crm(&app, &contact, person(json!({"state": "active"})));
    assert_eq!((json(&active)["state"].clone(), json(&active)["duplicate_of"].clone()), (json!("active"), Value::Null));
}

#[test]
fn a_contacts_companies_are_replaced_not_merged() {
    let app = TestApp::new().with_emily_active();
    let contact = format!("/api/admin/contacts/{CONTACT_2}");
    let body = |companies: Value| json!({"first_name": "Nora", "last_name": "Lind", "email": "nora@northernlight.example", "company_ids": companies});
    let both = crm(&app, &contact, body(json!([NORTHERN_LIGHT, BLUE_HARBOR, BLUE_HARBOR])));
    let mut got: Vec<String> = json(&both)["company_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    got.sort();
    assert_eq!(got, [NORTHERN_LIGHT, BLUE_HARBOR]);
    let one = crm(&app, &contact, body(json!([BLUE_HARBOR])));
    assert_eq!(json(&one)["company_ids"], json!([BLUE_HARBOR]));
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM contact_companies WHERE contact_id = '{CONTACT_2}'")), 1);
    let none = crm(&app, &contact, body(json!([])));
    assert_eq!(json(&none)["company_ids"], json!([]));
    let details = app.sql_count(&format!(
        "SELECT count(*) FROM audit_events WHERE action = 'contact.updated' AND target_id = '{CONTACT_2}' AND company_ids LIKE '%{NORTHERN_LIGHT}%'"
    ));
    assert_eq!(details, 1, "the update that removed Northern Light is visible in its audit trail");
}

#[test]
fn archiving_a_company_makes_emilys_token_stale_and_denies_her_there_as_a_whole() {
    let app = TestApp::new().with_emily_active();
    let (access, refresh_token) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let company = format!("/api/admin/companies/{NORTHERN_LIGHT}");
    let renamed = crm(&app, &company, json!({"name": "Northern Light AS", "status": "active"}));
    assert_eq!(renamed.status(), 200);
    assert_eq!(app.get_auth("/api/me", &access).status(), 200, "a rename changes no policy: the token stays good");
    assert_eq!(json(&app.get_auth("/api/me", &access))["companies"][0]["effective_policy"]["denied_as_a_whole"], Value::Null);

    let pv = policy_version(&app, EMILY_LINK);
    let archived = crm(&app, &company, json!({"name": "Northern Light AS", "status": "archived"}));
    assert_eq!(archived.status(), 200, "{}", body_text(&archived));
    assert_eq!(policy_version(&app, EMILY_LINK), pv + 1);
    let stale = app.get_auth("/api/me", &access);
    assert_eq!(status_and_code(&stale), (401, "token_stale".into()));

    let fresh = refresh(&app, &refresh_token);
    assert_eq!(fresh.status(), 200, "{}", body_text(&fresh));
    let access = json(&fresh)["access_token"].as_str().unwrap().to_owned();
    let me = json(&app.get_auth("/api/me", &access));
    let company = &me["companies"][0];
    assert_eq!(company["id"], NORTHERN_LIGHT);
    assert!(company["effective_policy"]["denied_as_a_whole"].is_object(), "{me}");
    assert_eq!(company["effective_policy"]["create_requests"], false);
}

#[test]
fn a_contact_state_change_bumps_the_contacts_links_and_nothing_else_does() {
    let app = TestApp::new().with_emily_active();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let contact = format!("/api/admin/contacts/{EMILY_CONTACT}");
    let body = |state: &str| json!({"first_name": "Emily", "last_name": "Carter", "email": EMILY_LOGIN, "state": state, "company_ids": [NORTHERN_LIGHT]});
    assert_eq!(crm(&app, &contact, body("active")).status(), 200);
    assert_eq!(app.get_auth("/api/me", &access).status(), 200, "same state: no bump");
    assert_eq!(crm(&app, &contact, body("draft")).status(), 200);
    assert_eq!(status_and_code(&app.get_auth("/api/me", &access)), (401, "token_stale".into()));
}

#[test]
fn archiving_a_pipeline_bumps_the_links_whose_company_policy_names_it() {
    let app = TestApp::new().with_emily_active();
    for id in [PIPELINE_SUPPORT, PIPELINE_OTHER] {
        assert_eq!(crm(&app, &format!("/api/admin/pipelines/{id}"), pipeline_body(support_stages())).status(), 201);
    }
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO company_policies (company_id, create_requests, allowed_pipelines, updated_at) VALUES ('{NORTHERN_LIGHT}', 1, '[\"{PIPELINE_SUPPORT}\"]', {now});
         UPDATE links SET policy_version = policy_version + 1 WHERE id = '{EMILY_LINK}';"
    ));
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let archive = |id: &str| crm(&app, &format!("/api/admin/pipelines/{id}"), json!({"name": "Support", "stages": support_stages(), "archived": true}));
    assert_eq!(archive(PIPELINE_OTHER).status(), 200);
    assert_eq!(app.get_auth("/api/me", &access).status(), 200, "no policy of Emily's companies names the other pipeline");
    assert_eq!(archive(PIPELINE_SUPPORT).status(), 200);
    assert_eq!(status_and_code(&app.get_auth("/api/me", &access)), (401, "token_stale".into()));
}

#[test]
fn a_stage_still_used_by_requests_cannot_be_dropped() {
    let app = TestApp::new().with_emily_active();
    let path = format!("/api/admin/pipelines/{PIPELINE_SUPPORT}");
    assert_eq!(crm(&app, &path, pipeline_body(support_stages())).status(), 201);
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, created_at, updated_at) \
         VALUES ('0190b000-0000-7000-8000-0000000000a1', '{NORTHERN_LIGHT}', '{PIPELINE_SUPPORT}', 'doing', 'Broken lamp', {now}, {now})"
    ));
    let without_doing = json!([{"id": "new", "name": "New", "is_final": false}, {"id": "done", "name": "Done", "is_final": true}]);
    let refused = crm(&app, &path, json!({"name": "Support v2", "stages": without_doing}));
    assert_eq!(status_and_code(&refused), (409, "stage_in_use".into()));
    assert!(json(&refused)["error"]["message"].as_str().unwrap().contains("doing"));
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM pipeline_stages WHERE pipeline_id = '{PIPELINE_SUPPORT}'")), 3);
    assert_eq!(app.sql_count(&"SELECT count(*) FROM pipelines WHERE name = 'Support v2'".to_string()), 0, "nothing of the refused upsert stays");

    let without_new = json!([{"id": "doing", "name": "Working on it", "is_final": false}, {"id": "done", "name": "Done", "is_final": true}]);
    let ok = crm(&app, &path, json!({"name": "Support v2", "stages": without_new}));
    assert_eq!(ok.status(), 200, "an unused stage may go, a used one may be renamed: {}", body_text(&ok));
}

#[test]
fn a_blocked_user_is_out_at_once_and_cannot_sign_in() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let (access, refresh_token) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let path = format!("/api/admin/users/{EMILY_USER}");
    assert_eq!(field_of(&app.send_auth("PATCH", &path, &admin, Some(json!({"status": "frozen"})))), "status");
    let pv = policy_version(&app, EMILY_LINK);

    let blocked = app.send_auth("PATCH", &path, &admin, Some(json!({"status": "blocked"})));
    assert_eq!(blocked.status(), 200, "{}", body_text(&blocked));
    assert_eq!(json(&blocked)["status"], "blocked");
    assert_eq!(status_and_code(&app.get_auth("/api/me", &access)), (401, "unauthenticated".into()));
    assert_eq!(refresh(&app, &refresh_token).status(), 401);
    assert_eq!(status_and_code(&app.login(EMILY_LOGIN, EMILY_PASSWORD)), (401, "invalid_credentials".into()));
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE user_id = '{EMILY_USER}' AND revoked_at IS NULL")), 0);
    assert!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE user_id = '{EMILY_USER}' AND revoked_reason = 'blocked'")) >= 1);
    assert_eq!(policy_version(&app, EMILY_LINK), pv + 1);
    assert_eq!(
        app.sql_count(&format!(
            "SELECT count(*) FROM audit_events WHERE action = 'user.blocked' AND target_id = '{EMILY_USER}' AND company_ids = '[\"{NORTHERN_LIGHT}\"]'"
        )),
        1
    );

    let again = app.send_auth("PATCH", &path, &admin, Some(json!({"status": "blocked"})));
    assert_eq!(again.status(), 200);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'user.blocked'"), 1, "a no-op is not audited twice");

    let unblocked = app.send_auth("PATCH", &path, &admin, Some(json!({"status": "active"})));
    assert_eq!(json(&unblocked)["status"], "active");
    assert_eq!(policy_version(&app, EMILY_LINK), pv + 2);
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 200);
    assert_eq!(app.send_auth("PATCH", "/api/admin/users/0190ffff-0000-7000-8000-00000000ffff", &admin, Some(json!({"status": "blocked"}))).status(), 404);
}

#[test]
fn a_manager_sees_and_changes_only_their_companies() {
    let app = TestApp::new().with_emily_active();
    with_blue_harbor_client(&app);
    let admin = app.admin_token();
    let manager = employee(&app, &admin, MANAGER_ID, "mara", "manager", &[NORTHERN_LIGHT]);

    assert_eq!(ids(&app.get_auth("/api/admin/companies", &manager)), [NORTHERN_LIGHT]);
    assert_eq!(ids(&app.get_auth("/api/admin/companies", &admin)).len(), 2);
    assert_eq!(ids(&app.get_auth("/api/admin/contacts", &manager)), [EMILY_CONTACT]);
    assert_eq!(ids(&app.get_auth("/api/admin/contacts", &admin)).len(), 2);

    let users = app.get_auth("/api/admin/users", &manager);
    let mut seen = ids(&users);
    seen.sort();
    assert_eq!(seen, [EMILY_USER, UNA_USER], "linked to her companies, or not linked at all; no employees");
    let emily = json(&users)["items"].as_array().unwrap().iter().find(|u| u["id"] == EMILY_USER).unwrap().clone();
    assert_eq!(emily["links"][0]["company_ids"], json!([NORTHERN_LIGHT]));
    assert_eq!((emily["has_password"].clone(), emily["locked"].clone(), emily["mfa_enrolled"].clone()), (json!(true), json!(false), json!(false)));
    assert_eq!(ids(&app.get_auth("/api/admin/users", &admin)).len(), 5, "admins see everyone, employees included");
    assert_eq!(ids(&app.get_auth("/api/admin/users?q=oliver", &admin)), [OLIVER_USER]);

    let admin_id = me_id(&app, &admin);
    for target in [OLIVER_USER, admin_id.as_str()] {
        let blocked = app.send_auth("PATCH", &format!("/api/admin/users/{target}"), &manager, Some(json!({"status": "blocked"})));
        assert_eq!(status_and_code(&blocked), (404, "not_found".into()), "{target}");
        assert_eq!(app.send_auth("POST", &format!("/api/admin/users/{target}/mfa/reset"), &manager, None).status(), 404);
    }
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE status = 'blocked'"), 0);
    let ok = app.send_auth("PATCH", &format!("/api/admin/users/{EMILY_USER}"), &manager, Some(json!({"status": "blocked"})));
    assert_eq!(ok.status(), 200, "{}", body_text(&ok));

    // Emily also linked at Blue Harbor: no longer all in Mara's scope.
    let now = app.now.get().timestamp();
    app.exec(&format!("INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now})"));
    let out_of_scope = app.send_auth("PATCH", &format!("/api/admin/users/{EMILY_USER}"), &manager, Some(json!({"status": "active"})));
    assert_eq!(out_of_scope.status(), 404);
    assert_eq!(json(&app.get_auth("/api/admin/users?q=emily", &manager))["items"][0]["links"][0]["company_ids"], json!([NORTHERN_LIGHT]), "she sees only her companies on the link");

    let admin_only = [
        ("PUT", format!("/api/admin/companies/{NORTHERN_LIGHT}"), Some(json!({"name": "x"}))),
        ("PUT", format!("/api/admin/employees/{MANAGER_ID}"), Some(json!({"login": "mara", "email": "mara@vector.example",
            "first_name": "Mara", "last_name": "Stone", "role": "admin", "company_ids": []}))),
        ("GET", "/api/admin/branding".to_owned(), None),
        ("PUT", "/api/admin/branding".to_owned(), Some(json!({"portal_name": "x", "logo_url": null, "primary_color": "#000000"}))),
    ];
    for (method, path, body) in admin_only {
        assert_eq!(status_and_code(&app.send_auth(method, &path, &manager, body)), (403, "forbidden".into()), "{method} {path}");
    }
    let (oliver_like, _) = {
        app.exec(&format!("UPDATE users SET status = 'active' WHERE id = '{EMILY_USER}'"));
        app.login_ok(EMILY_LOGIN, EMILY_PASSWORD)
    };
    assert_eq!(status_and_code(&app.get_auth("/api/admin/users", &oliver_like)), (403, "forbidden".into()), "a client is not an employee");
    assert_eq!(app.get_auth("/api/admin/users", "not-a-token").status(), 401);
}

#[test]
fn a_role_or_scope_change_takes_effect_on_the_next_request() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let manager = employee(&app, &admin, MANAGER_ID, "mara", "manager", &[NORTHERN_LIGHT]);
    assert_eq!(ids(&app.get_auth("/api/admin/companies", &manager)), [NORTHERN_LIGHT]);
    let change = |role: &str, companies: Value| {
        app.send_auth("PUT", &format!("/api/admin/employees/{MANAGER_ID}"), &admin, Some(json!({
            "login": "mara", "email": "mara@vector.example", "first_name": "Mara", "last_name": "Stone", "role": role, "company_ids": companies})))
    };
    let moved = change("manager", json!([BLUE_HARBOR]));
    assert_eq!(moved.status(), 200, "{}", body_text(&moved));
    assert_eq!(json(&moved)["invitation"], Value::Null);
    assert_eq!(json(&moved)["company_ids"], json!([BLUE_HARBOR]));
    assert_eq!(ids(&app.get_auth("/api/admin/companies", &manager)), [BLUE_HARBOR], "the same token, the new scope");
    assert_eq!(app.get_auth("/api/admin/branding", &manager).status(), 403);
    assert_eq!(change("admin", json!([])).status(), 200);
    assert_eq!(app.get_auth("/api/admin/branding", &manager).status(), 200, "promoted: admin rights at once");

    let blocked = app.send_auth("PUT", &format!("/api/admin/employees/{MANAGER_ID}"), &admin, Some(json!({
        "login": "mara", "email": "mara@vector.example", "first_name": "Mara", "last_name": "Stone", "role": "manager",
        "company_ids": [], "status": "blocked"})));
    assert_eq!(json(&blocked)["status"], "blocked");
    assert_eq!(app.get_auth("/api/admin/companies", &manager).status(), 401, "a blocked employee is out at once");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM sessions WHERE user_id = '{MANAGER_ID}' AND revoked_at IS NULL")), 0);
    assert_eq!(app.login("mara", STAFF_PASSWORD).status(), 401);
}

#[test]
fn two_admins_stepping_down_at_once_leave_one_admin() {
    let app = TestApp::new();
    let first = app.admin_token();
    let first_id = me_id(&app, &first);
    let second = employee(&app, &first, SECOND_ADMIN_ID, "grace", "admin", &[]);
    let demote = |token: &str, id: &str, login: &str| {
        let body = json!({"login": login, "email": format!("{login}@vector.example"), "first_name": "A", "last_name": "B", "role": "manager", "company_ids": []});
        app.send(request("PUT", &format!("/api/admin/employees/{id}"), Some(body), &[("authorization", &format!("Bearer {token}"))]))
    };
    // Each read "another admin exists" before either wrote: only the guard inside the write can tell.
    let answers = join_all(vec![Box::pin(demote(&first, &first_id, "admin")), Box::pin(demote(&second, SECOND_ADMIN_ID, "grace"))]);
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{}", answers.iter().map(body_text).collect::<Vec<_>>().join(" | "));
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE role = 'admin' AND status = 'active'"), 1);
}

#[test]
fn the_last_active_admin_cannot_demote_or_block_themselves() {
    let app = TestApp::new();
    let admin = app.admin_token();
    let admin_id = me_id(&app, &admin);
    let as_manager = json!({"login": "admin", "email": "admin@vector.example", "first_name": "Ada", "last_name": "Admin", "role": "manager", "company_ids": []});
    let demote = app.send_auth("PUT", &format!("/api/admin/employees/{admin_id}"), &admin, Some(as_manager.clone()));
    assert_eq!(status_and_code(&demote), (409, "last_admin".into()));
    let block = app.send_auth("PATCH", &format!("/api/admin/users/{admin_id}"), &admin, Some(json!({"status": "blocked"})));
    assert_eq!(status_and_code(&block), (409, "last_admin".into()));
    let block_by_put = json!({"login": "admin", "email": "admin@vector.example", "first_name": "Ada", "last_name": "Admin", "role": "admin", "company_ids": [], "status": "blocked"});
    assert_eq!(status_and_code(&app.send_auth("PUT", &format!("/api/admin/employees/{admin_id}"), &admin, Some(block_by_put))), (409, "last_admin".into()));
    assert_eq!(app.sql_count("SELECT count(*) FROM users WHERE role = 'admin' AND status = 'active'"), 1);

    let second = employee(&app, &admin, SECOND_ADMIN_ID, "grace", "admin", &[]);
    let demoted = app.send_auth("PUT", &format!("/api/admin/employees/{admin_id}"), &admin, Some(as_manager));
    assert_eq!(demoted.status(), 200, "another active admin exists: {}", body_text(&demoted));
    assert_eq!(json(&demoted)["role"], "manager");
    assert_eq!(app.get_auth("/api/admin/branding", &admin).status(), 403, "the demotion holds from the next request");
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'employee.updated'"), 1);

    let self_block = app.send_auth("PATCH", &format!("/api/admin/users/{SECOND_ADMIN_ID}"), &second, Some(json!({"status": "blocked"})));
    assert_eq!(status_and_code(&self_block), (409, "last_admin".into()), "now Grace is the last one");
}

#[test]
fn a_new_employee_activates_the_invitation_and_signs_in() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let body = json!({"login": "Mara.Stone", "email": "mara@vector.example", "first_name": "Mara", "last_name": "Stone", "role": "manager",
                      "company_ids": [NORTHERN_LIGHT]});
    let path = format!("/api/admin/employees/{MANAGER_ID}");
    let created = app.send_auth("PUT", &path, &admin, Some(body.clone()));
    assert_eq!(created.status(), 201, "{}", body_text(&created));
    let view = json(&created);
    assert_eq!((view["role"].clone(), view["kind"].clone(), view["has_password"].clone()), (json!("manager"), json!("employee"), json!(false)));
    assert_eq!(view["invitation"]["status"], "pending");
    let url = view["invitation"]["activation_url"].as_str().unwrap();
    let token = url.strip_prefix("https://portal.test/activate#").expect("PORTAL_URL/activate#<token>");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM invitations WHERE token_hash = '{token}'")), 0, "only the hash is stored");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM invitations WHERE user_id = '{MANAGER_ID}' AND link_id IS NULL AND status = 'pending'")), 1);
    assert_eq!(app.login("Mara.Stone", STAFF_PASSWORD).status(), 401, "no usable password before activation");

    let preview = app.post_json("/api/invitations/preview", json!({"token": token}), &[]);
    assert_eq!(json(&preview)["login"], "Mara.Stone");
    let activated = app.post_json("/api/invitations/activate", json!({"token": token, "password": STAFF_PASSWORD, "refresh_transport": "body"}), &[]);
    assert_eq!(activated.status(), 200, "{}", body_text(&activated));
    let (access, _) = app.login_ok("mara.stone", STAFF_PASSWORD);
    let me = json(&app.get_auth("/api/me", &access));
    assert_eq!(me["roles"], json!(["manager"]));
    assert_eq!(me["company_scope"][0]["id"], NORTHERN_LIGHT);
    assert_eq!(ids(&app.get_auth("/api/admin/companies", &access)), [NORTHERN_LIGHT]);

    let again = app.send_auth("PUT", &path, &admin, Some(body));
    assert_eq!(again.status(), 200);
    assert_eq!(json(&again)["invitation"], Value::Null, "an update issues no invitation");
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'employee.created'"), 1);

    let other = "0190b000-0000-7000-8000-0000000000e1";
    let taken = app.send_auth("PUT", &format!("/api/admin/employees/{other}"), &admin, Some(json!({
        "login": "MARA.stone", "email": "m2@vector.example", "first_name": "M", "last_name": "S", "role": "manager", "company_ids": []})));
    assert_eq!(status_and_code(&taken), (409, "login_taken".into()));
    let client = app.send_auth("PUT", &format!("/api/admin/employees/{EMILY_USER}"), &admin, Some(json!({
        "login": "emily", "email": "e@vector.example", "first_name": "E", "last_name": "C", "role": "admin", "company_ids": []})));
    assert_eq!(status_and_code(&client), (409, "not_an_employee".into()));
    let bad = |patch: Value| {
        let mut b = json!({"login": "newbie", "email": "newbie@vector.example", "first_name": "N", "last_name": "B", "role": "manager", "company_ids": []});
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        field_of(&app.send_auth("PUT", &format!("/api/admin/employees/{other}"), &admin, Some(b)))
    };
    assert_eq!(bad(json!({"company_ids": ["0190ffff-0000-7000-8000-000000000001"]})), "company_ids");
    assert_eq!(bad(json!({"role": "owner"})), "role");
    assert_eq!(bad(json!({"login": "a b"})), "login");
    assert_eq!(bad(json!({"email": "nope"})), "email");
    assert_eq!(bad(json!({"first_name": ""})), "first_name");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM users WHERE id = '{other}'")), 0);
}

#[test]
fn an_mfa_reset_clears_the_secret_ends_access_tokens_and_is_audited() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    app.exec(&format!("UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', totp_last_step = 5 WHERE id = '{EMILY_USER}'"));
    app.advance(1);
    let reset = app.send_auth("POST", &format!("/api/admin/users/{EMILY_USER}/mfa/reset"), &admin, None);
    assert_eq!(reset.status(), 200, "{}", body_text(&reset));
    assert_eq!(json(&reset)["mfa_enrolled"], false);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM users WHERE id = '{EMILY_USER}' AND totp_secret IS NULL AND totp_pending_secret IS NULL AND totp_last_step IS NULL")), 1);
    assert_eq!(app.get_auth("/api/me", &access).status(), 401, "tokens issued before the reset stop working");
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 200, "no code asked any more");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = 'mfa.reset' AND target_id = '{EMILY_USER}' AND actor_kind = 'employee'")), 1);
    let (client, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.send_auth("POST", &format!("/api/admin/users/{EMILY_USER}/mfa/reset"), &client, None).status(), 403);
}

#[test]
fn branding_is_validated_versioned_audited_and_public() {
    let app = TestApp::new();
    let public = app.get("/api/branding");
    assert_eq!(public.status(), 200);
    assert_eq!(json(&public)["portal_name"], "Client portal");
    assert_eq!(header(&public, "cache-control"), Some("public, max-age=60"));
    let admin = app.admin_token();
    let good = json!({"portal_name": "Vector client portal", "logo_url": "https://cdn.vector.example/logo.svg", "primary_color": "#0A7E8C"});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("portal_name", json!("")), "portal_name"),
        (with("portal_name", json!("x".repeat(81))), "portal_name"),
        (with("logo_url", json!("http://cdn.vector.example/logo.svg")), "logo_url"),
        (with("logo_url", json!("javascript:alert(1)")), "logo_url"),
        (with("logo_url", json!("https://")), "logo_url"),
        (with("primary_color", json!("teal")), "primary_color"),
        (with("primary_color", json!("#0A7E8")), "primary_color"),
        (json!({"portal_name": "Vector", "logo_url": null}), "primary_color"),
    ];
    for (body, field) in cases {
        assert_eq!(field_of(&app.send_auth("PUT", "/api/admin/branding", &admin, Some(body.clone()))), field, "{body}");
    }
    assert_eq!(json(&app.get_auth("/api/admin/branding", &admin))["version"], 1, "refused changes bump nothing");

    let saved = app.send_auth("PUT", "/api/admin/branding", &admin, Some(good));
    assert_eq!(saved.status(), 200, "{}", body_text(&saved));
    assert_eq!((json(&saved)["version"].clone(), json(&saved)["primary_color"].clone()), (json!(2), json!("#0a7e8c")));
    let public = json(&app.get("/api/branding"));
    assert_eq!(public, json!({"portal_name": "Vector client portal", "logo_url": "https://cdn.vector.example/logo.svg", "primary_color": "#0a7e8c"}));
    let cleared = app.send_auth("PUT", "/api/admin/branding", &admin, Some(json!({"portal_name": "Vector", "logo_url": null, "primary_color": "#000000"})));
    assert_eq!(json(&cleared)["logo_url"], Value::Null);
    assert_eq!(app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'branding.updated' AND target_kind = 'branding'"), 2);
}

#[test]
fn lists_page_with_an_opaque_cursor() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    for (i, name) in ["Aurora", "Cobalt", "Delta"].iter().enumerate() {
        let id = format!("0190b000-0000-7000-8000-0000000001{i:02}");
        assert_eq!(crm(&app, &format!("/api/admin/companies/{id}"), json!({"name": name})).status(), 201);
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/admin/companies?limit=2&cursor={c}"),
            None => "/api/admin/companies?limit=2".to_owned(),
        };
        let page = json(&app.get_auth(&path, &admin));
        assert!(page["items"].as_array().unwrap().len() <= 2);
        names.extend(page["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["Aurora", "Blue Harbor", "Cobalt", "Delta", "Northern Light"]);
    assert_eq!(field_of(&app.get_auth("/api/admin/companies?cursor=garbage", &admin)), "cursor");
    assert_eq!(field_of(&app.get_auth("/api/admin/companies?limit=500", &admin)), "limit");
    assert_eq!(field_of(&app.get_auth("/api/admin/companies?status=gone", &admin)), "status");
    assert_eq!(ids(&app.get_auth("/api/admin/companies?q=harb", &admin)), [BLUE_HARBOR]);
    assert_eq!(ids(&app.get_auth("/api/admin/contacts?q=carter", &admin)), [EMILY_CONTACT]);
    assert_eq!(ids(&app.get_auth("/api/admin/contacts?state=draft", &admin)).len(), 0);
}

#[test]
fn a_company_the_crm_removes_from_a_contact_leaves_her_live_links() {
    let app = TestApp::new().with_emily_active();
    let now = app.now.get().timestamp();
    // Emily belongs to both companies; her link holds both, Blue Harbor as default.
    app.exec(&format!(
        "INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', {now});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now});
         UPDATE links SET default_company_id = '{BLUE_HARBOR}' WHERE id = '{EMILY_LINK}';"
    ));
    let (access, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let contact = format!("/api/admin/contacts/{EMILY_CONTACT}");
    let body = |companies: Value| json!({"first_name": "Emily", "last_name": "Carter", "email": EMILY_LOGIN, "company_ids": companies});

    assert_eq!(crm(&app, &contact, body(json!([NORTHERN_LIGHT]))).status(), 200);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM link_companies WHERE link_id = '{EMILY_LINK}' AND company_id = '{BLUE_HARBOR}'")), 0,
        "Blue Harbor left her link");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM links WHERE id = '{EMILY_LINK}' AND default_company_id = '{NORTHERN_LIGHT}' AND status = 'active'")), 1,
        "the default moved to the company she keeps");
    assert_eq!(status_and_code(&app.get_auth("/api/me", &access)), (401, "token_stale".into()), "her token no longer carries Blue Harbor");
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = 'link.companies_dropped_by_crm' AND target_id = '{EMILY_LINK}' \
        AND details LIKE '%{BLUE_HARBOR}%' AND actor_kind = 'crm'")), 1);
    let (fresh, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let companies: Vec<String> = json(&app.get_auth("/api/me", &fresh))["companies"].as_array().unwrap().iter()
        .map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(companies, [NORTHERN_LIGHT]);

    // Removing her last company disables the link: nothing stays reachable.
    assert_eq!(crm(&app, &contact, body(json!([]))).status(), 200);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM links WHERE id = '{EMILY_LINK}' AND status = 'disabled'")), 1);
    assert_eq!(app.get_auth("/api/me", &fresh).status(), 401);
}
