//! Diagnostics (each whole-link, permission, pipeline and document denial explained at its level,
//! and the verdict equal to the access engine's on random policies), what a link sees,
//! offboarding, unlock, an admin's session revoke, the audit query and channel links.

use crate::policies::{body_of, manager_token, set_company_policy, set_contact_policy, with_pipelines, OLD, SALES, SUPPORT};
use crate::support::*;
use extranet::access::{
    verdict, CompanyFacts, CompanyStatus, ContactFacts, ContactState, DocumentFacts, LinkFacts, LinkRecord, LinkStatus, Object,
    PipelineFacts, Refused, RequestFacts, UserFacts, UserStatus, Verdict,
};
use extranet::domain::policy::{CompanyPolicy, ContactPolicy, Permission, Rule};
use serde_json::{json, Value};
use uuid::Uuid;

const OLIVER_CONTACT: &str = "0190a000-0000-7000-8000-000000000012";
const R_SUPPORT: &str = "0190a000-0000-7000-8000-000000000061";
const R_SALES: &str = "0190a000-0000-7000-8000-000000000062";
const R_DONE: &str = "0190a000-0000-7000-8000-000000000063";
const R_BLUE: &str = "0190a000-0000-7000-8000-000000000064";
const R_OLD: &str = "0190a000-0000-7000-8000-000000000065";
const D_ALL: &str = "0190a000-0000-7000-8000-000000000071";
const D_EMILY: &str = "0190a000-0000-7000-8000-000000000072";
const D_OLIVER: &str = "0190a000-0000-7000-8000-000000000073";
const D_DRAFT: &str = "0190a000-0000-7000-8000-000000000074";
const D_WITHDRAWN: &str = "0190a000-0000-7000-8000-000000000075";
const D_BLUE: &str = "0190a000-0000-7000-8000-000000000076";
const NOWHERE: &str = "0190a000-0000-7000-8000-0000000000ee";

const OPEN_POLICY: &str = r#"{"create_requests": true, "read_request_chat": true, "send_request_chat": true, "general_chat": true,
    "calls": true, "telegram": true, "widget": true, "allowed_pipelines": ["0190a000-0000-7000-8000-000000000051", "0190a000-0000-7000-8000-000000000052"]}"#;

fn open_policy() -> Value {
    serde_json::from_str(OPEN_POLICY).unwrap()
}

/// Another contact of Northern Light, requests (Support open, Sales open, Support done by Emily;
/// Blue Harbor; one in the archived pipeline), and documents (for everyone, for Emily, for
/// Oliver, a draft, a withdrawn one, and one of Blue Harbor).
fn with_work(app: &TestApp) {
    with_pipelines(app);
    let now = app.now.get().timestamp();
    let mut sql = format!(
        "INSERT INTO contacts (id, first_name, last_name, email, state, created_at, updated_at) \
           VALUES ('{OLIVER_CONTACT}', 'Oliver', 'Reed', 'oliver@northernlight.example', 'active', {now}, {now});
         INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{OLIVER_CONTACT}', '{NORTHERN_LIGHT}', {now});"
    );
    let requests = [
        (R_SUPPORT, NORTHERN_LIGHT, SUPPORT, "new", "Broken invoice export", 1),
        (R_SALES, NORTHERN_LIGHT, SALES, "in_progress", "New licence", 2),
        (R_DONE, NORTHERN_LIGHT, SUPPORT, "done", "Password question", 3),
        (R_BLUE, BLUE_HARBOR, SUPPORT, "new", "Harbor request", 4),
        (R_OLD, NORTHERN_LIGHT, OLD, "new", "Legacy request", 5),
    ];
    for (id, company, pipeline, stage, title, age) in requests {
        sql.push_str(&format!(
            "INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, created_by, created_at, updated_at) \
             VALUES ('{id}', '{company}', '{pipeline}', '{stage}', '{title}', '{EMILY_USER}', {t}, {t});",
            t = now - 1000 + age
        ));
    }
    let documents = [
        (D_ALL, NORTHERN_LIGHT, None, "published"),
        (D_EMILY, NORTHERN_LIGHT, Some(EMILY_CONTACT), "published"),
        (D_OLIVER, NORTHERN_LIGHT, Some(OLIVER_CONTACT), "published"),
        (D_DRAFT, NORTHERN_LIGHT, None, "draft"),
        (D_WITHDRAWN, NORTHERN_LIGHT, None, "withdrawn"),
        (D_BLUE, BLUE_HARBOR, None, "published"),
    ];
    for (id, company, contact, status) in documents {
        let contact = contact.map_or("NULL".to_owned(), |c| format!("'{c}'"));
        let published = if status == "draft" { "NULL".to_owned() } else { now.to_string() };
        sql.push_str(&format!(
            "INSERT INTO documents (id, company_id, contact_id, title, content_type, size, sha256, kv_key, status, created_at, updated_at, published_at) \
             VALUES ('{id}', '{company}', {contact}, 'Document {id}', 'application/pdf', 10, 'abc', 'doc/{id}', '{status}', {now}, {now}, {published});"
        ));
    }
    app.exec(&sql);
}

fn diag(app: &TestApp, token: &str, query: &str) -> Value {
    let resp = app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/diagnostics?{query}"), token);
    assert_eq!(resp.status(), 200, "{query}: {}", body_of(&resp));
    json(&resp)
}

fn first_fail(diagnosis: &Value) -> Value {
    diagnosis["chain"].as_array().unwrap().iter().find(|s| s["outcome"] == "fail").cloned().unwrap_or(Value::Null)
}

/// (verdict, permission, level of the first failing step, its reason).
fn summary(d: &Value) -> (String, Option<String>, Option<String>, String) {
    let fail = first_fail(d);
    (
        d["verdict"].as_str().unwrap_or_default().to_owned(),
        d["permission"].as_str().map(str::to_owned),
        fail["level"].as_str().map(str::to_owned),
        fail["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

fn add_blue_harbor_to_link(app: &TestApp) {
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{BLUE_HARBOR}', {now});
         INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now});"
    ));
}

#[test]
fn each_whole_link_denial_is_explained_at_its_level() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, open_policy());
    let query = format!("object=request:{R_SUPPORT}&action=read_request_chat");
    let ok = diag(&app, &admin, &query);
    assert_eq!((ok["verdict"].as_str(), first_fail(&ok)), (Some("allow"), Value::Null), "{ok}");
    let levels: Vec<&str> = ok["chain"].as_array().unwrap().iter().map(|s| s["level"].as_str().unwrap()).collect();
    let mut sorted = levels.clone();
    let order = ["user", "link", "contact", "company", "company_policy", "contact_policy", "effective", "object"];
    sorted.sort_by_key(|l| order.iter().position(|o| o == l));
    assert_eq!(levels, sorted, "the chain runs user -> link -> contact -> company -> policies -> effective -> object");
    for level in order {
        assert!(levels.contains(&level), "{level} is part of the chain: {levels:?}");
    }

    let cases = [
        ("UPDATE links SET status = 'disabled'", "UPDATE links SET status = 'active'", "link", "disabled"),
        ("UPDATE users SET status = 'blocked' WHERE kind = 'external'", "UPDATE users SET status = 'active'", "user", "blocked"),
        (
            &*format!("UPDATE contacts SET state = 'draft' WHERE id = '{EMILY_CONTACT}'"),
            &*format!("UPDATE contacts SET state = 'active' WHERE id = '{EMILY_CONTACT}'"),
            "contact",
            "draft",
        ),
        (
            &*format!("UPDATE contacts SET state = 'duplicate', duplicate_of = '{OLIVER_CONTACT}' WHERE id = '{EMILY_CONTACT}'"),
            &*format!("UPDATE contacts SET state = 'active', duplicate_of = NULL WHERE id = '{EMILY_CONTACT}'"),
            "contact",
            "duplicate",
        ),
        (
            &*format!("UPDATE companies SET status = 'archived' WHERE id = '{NORTHERN_LIGHT}'"),
            &*format!("UPDATE companies SET status = 'active' WHERE id = '{NORTHERN_LIGHT}'"),
            "company",
            "archived",
        ),
    ];
    for (break_it, mend_it, level, word) in cases {
        app.exec(break_it);
        let d = diag(&app, &admin, &query);
        let (verdict, permission, fail_level, reason) = summary(&d);
        assert_eq!((verdict.as_str(), permission, fail_level.as_deref()), ("not_visible", None, Some(level)), "{break_it}: {d}");
        assert!(reason.contains(word), "{break_it}: {reason}");
        app.exec(mend_it);
    }
    // A company that is not on the link: Blue Harbor's request.
    let d = diag(&app, &admin, &format!("object=request:{R_BLUE}"));
    let (verdict, _, level, reason) = summary(&d);
    assert_eq!((verdict.as_str(), level.as_deref()), ("not_visible", Some("company")));
    assert!(reason.contains("not on the link"), "{reason}");
    assert_eq!(diag(&app, &admin, &query)["verdict"], "allow", "everything mended");
}

#[test]
fn each_permission_denial_names_the_permission_and_its_level() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    let admin = app.admin_token();
    let request = |action: &str| format!("object=request:{R_SUPPORT}&action={action}");
    let company = |action: &str| format!("object=company:{NORTHERN_LIGHT}&action={action}");

    // Denied by the company policy, one permission at a time.
    for permission in ["read_request_chat", "calls", "general_chat", "telegram", "widget"] {
        let mut policy = open_policy();
        policy[permission] = json!(false);
        set_company_policy(&app, &admin, NORTHERN_LIGHT, policy);
        let query = if permission == "read_request_chat" { request(permission) } else { company(permission) };
        let (verdict, denied, level, _) = summary(&diag(&app, &admin, &query));
        assert_eq!((verdict.as_str(), denied.as_deref(), level.as_deref()), ("policy_denied", Some(permission), Some("company_policy")), "{permission}");
    }
    // create_requests on a pipeline the company allows.
    let mut policy = open_policy();
    policy["create_requests"] = json!(false);
    set_company_policy(&app, &admin, NORTHERN_LIGHT, policy);
    let (verdict, denied, level, _) = summary(&diag(&app, &admin, &format!("object=pipeline:{SUPPORT}&action=create_request")));
    assert_eq!((verdict.as_str(), denied.as_deref(), level.as_deref()), ("policy_denied", Some("create_requests"), Some("company_policy")));

    // Denied by the contact policy under a company allow.
    set_company_policy(&app, &admin, NORTHERN_LIGHT, open_policy());
    set_contact_policy(&app, &admin, EMILY_CONTACT, json!({"calls": "deny", "read_request_chat": "deny"}));
    let (verdict, denied, level, _) = summary(&diag(&app, &admin, &request("calls")));
    assert_eq!((verdict.as_str(), denied.as_deref(), level.as_deref()), ("policy_denied", Some("calls"), Some("contact_policy")));
    // Send is allowed at both levels, but needs read, which the contact policy denies.
    let (verdict, denied, level, reason) = summary(&diag(&app, &admin, &request("send_request_chat")));
    assert_eq!((verdict.as_str(), denied.as_deref(), level.as_deref()), ("policy_denied", Some("send_request_chat"), Some("effective")));
    assert!(reason.contains("requires read_request_chat"), "{reason}");
    // Viewing the request itself needs no permission.
    assert_eq!(diag(&app, &admin, &request("view"))["verdict"], "allow");
    // The permission's name works as the action's name too.
    assert_eq!(diag(&app, &admin, &format!("object=pipeline:{SUPPORT}&action=create_requests"))["verdict"], "allow");
}

#[test]
fn pipeline_denials_are_explained() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true, "read_request_chat": true, "allowed_pipelines": [SUPPORT]}));

    // A request in a pipeline the company does not allow is not visible at all.
    let (verdict, _, level, reason) = summary(&diag(&app, &admin, &format!("object=request:{R_SALES}")));
    assert_eq!((verdict.as_str(), level.as_deref()), ("not_visible", Some("company_policy")));
    assert!(reason.contains(SALES), "{reason}");
    // Creating in it is refused by name (the client sees the pipeline list, so 403, not 404).
    let (verdict, denied, level, _) = summary(&diag(&app, &admin, &format!("object=pipeline:{SALES}&action=create_request")));
    assert_eq!((verdict.as_str(), denied.as_deref(), level.as_deref()), ("policy_denied", Some("pipeline"), Some("company_policy")));
    assert_eq!(diag(&app, &admin, &format!("object=pipeline:{SUPPORT}&action=create_request"))["verdict"], "allow");

    // The contact's list narrows it.
    set_contact_policy(&app, &admin, EMILY_CONTACT, json!({"allowed_pipelines": []}));
    let (verdict, denied, level, _) = summary(&diag(&app, &admin, &format!("object=pipeline:{SUPPORT}&action=create_request")));
    assert_eq!((verdict.as_str(), denied.as_deref(), level.as_deref()), ("policy_denied", Some("pipeline"), Some("contact_policy")));
    let (verdict, _, level, _) = summary(&diag(&app, &admin, &format!("object=request:{R_SUPPORT}")));
    assert_eq!((verdict.as_str(), level.as_deref()), ("not_visible", Some("contact_policy")));
    set_contact_policy(&app, &admin, EMILY_CONTACT, json!({}));

    // A pipeline archived after the policy named it: denied at the object.
    app.exec(&format!("UPDATE pipelines SET archived = 1 WHERE id = '{SUPPORT}'"));
    let d = diag(&app, &admin, &format!("object=request:{R_SUPPORT}"));
    let pipeline_step = d["chain"].as_array().unwrap().iter().find(|s| s["level"] == "object" && s["outcome"] == "fail").cloned().unwrap();
    assert_eq!(d["verdict"], "not_visible");
    assert!(pipeline_step["reason"].as_str().unwrap().contains("archived"), "{d}");
    assert!(d["chain"].as_array().unwrap().iter().filter(|s| s["level"] == "company_policy").all(|s| s["outcome"] == "pass"), "the policies allow it: {d}");
    app.exec(&format!("UPDATE pipelines SET archived = 0 WHERE id = '{SUPPORT}'"));

    // A pipeline that does not exist: the chain ends at the object, no 404.
    let d = diag(&app, &admin, &format!("object=pipeline:{NOWHERE}&action=create_request"));
    let last = d["chain"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!((d["verdict"].as_str(), last["level"].as_str(), last["outcome"].as_str(), last["reason"].as_str()), (Some("not_visible"), Some("object"), Some("fail"), Some("no such pipeline")));
}

#[test]
fn documents_are_visible_by_status_and_contact() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, open_policy());
    let cases = [
        (D_ALL, "allow", ""),
        (D_EMILY, "allow", ""),
        (D_OLIVER, "not_visible", "another contact"),
        (D_DRAFT, "not_visible", "not published"),
        (D_WITHDRAWN, "not_visible", "not published"),
        (D_BLUE, "not_visible", "not on the link"),
    ];
    for (doc, expected, why) in cases {
        for action in ["view", "act_on_document"] {
            let d = diag(&app, &admin, &format!("object=document:{doc}&action={action}"));
            let (verdict, _, _, reason) = summary(&d);
            assert_eq!(verdict, expected, "{doc} {action}: {d}");
            assert!(reason.contains(why), "{doc}: {reason}");
        }
    }
    let seen = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/visible"), &admin));
    let mut docs: Vec<&str> = seen["companies"][0]["documents"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    docs.sort_unstable();
    assert_eq!(docs, vec![D_ALL, D_EMILY], "the same rule in the list");
}

#[test]
fn unknown_objects_bad_queries_and_scope() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    add_blue_harbor_to_link(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, open_policy());

    for kind in ["request", "document"] {
        let d = diag(&app, &admin, &format!("object={kind}:{NOWHERE}"));
        let last = d["chain"].as_array().unwrap().last().cloned().unwrap();
        assert_eq!((last["level"].as_str(), last["outcome"].as_str()), (Some("object"), Some("fail")));
        assert_eq!(last["reason"].as_str().unwrap(), format!("no such {kind}"));
        assert_eq!(d["verdict"], "not_visible");
        assert_eq!(d["chain"][0]["level"], "user", "the link's own checks come first");
    }
    let bad = [
        ("object=ticket:1", "object"),
        ("object=request:not-a-uuid", "object"),
        ("object=request", "object"),
        ("object=request:{R}&action=fly", "action"),
        ("object=request:{R}&action=general_chat", "action"),
        ("action=create_request", "object"),
        ("company=north", "company"),
    ];
    for (query, field) in bad {
        let query = query.replace("{R}", R_SUPPORT);
        let resp = app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/diagnostics?{query}"), &admin);
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some(field)), "{query}");
    }
    assert_eq!(app.get_auth(&format!("/api/admin/links/{NOWHERE}/diagnostics"), &admin).status(), 404);

    // A manager of Northern Light diagnoses Emily there, but Blue Harbor's objects do not exist for them.
    let north = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    assert_eq!(diag(&app, &north, &format!("object=request:{R_SUPPORT}"))["verdict"], "allow");
    for query in [format!("object=request:{R_BLUE}"), format!("object=document:{D_BLUE}"), format!("object=company:{BLUE_HARBOR}&action=calls")] {
        let resp = app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/diagnostics?{query}"), &north);
        assert_eq!(resp.status(), 404, "{query}");
    }
    let whole = diag(&app, &north, "");
    let companies: Vec<&str> = whole["companies"].as_array().unwrap().iter().map(|c| c["company_id"].as_str().unwrap()).collect();
    assert_eq!(companies, vec![NORTHERN_LIGHT], "only the manager's companies are explained");
    // A manager of none of the link's companies does not see the link.
    let other = manager_token(&app, "other.manager", &[]);
    assert_eq!(app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/diagnostics"), &other).status(), 404);
    let (emily, _) = {
        app.exec(&format!("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE login_key = 'admin') WHERE id = '{EMILY_USER}'"));
        app.login_ok(EMILY_LOGIN, crate::policies::ADMIN_PASSWORD)
    };
    assert_eq!(app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/diagnostics"), &emily).status(), 403, "clients have no governance access");
}

#[test]
fn without_an_object_every_company_is_explained_down_to_the_effective_policy() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    add_blue_harbor_to_link(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, open_policy());
    let d = diag(&app, &admin, "");
    assert_eq!((d["object"].clone(), d["company_id"].as_str(), d["verdict"].as_str()), (Value::Null, Some(NORTHERN_LIGHT), Some("allow")));
    let companies = d["companies"].as_array().unwrap();
    assert_eq!(companies.len(), 2);
    let north = companies.iter().find(|c| c["company_id"] == NORTHERN_LIGHT).unwrap();
    let steps = north["chain"].as_array().unwrap();
    for permission in Permission::ALL {
        assert!(steps.iter().any(|s| s["level"] == "effective" && s["subject"] == permission.as_str()), "{permission} is explained");
    }
    assert_eq!(north["effective"]["calls"], true);
    let blue = companies.iter().find(|c| c["company_id"] == BLUE_HARBOR).unwrap();
    assert_eq!(blue["effective"]["calls"], false, "no policy row: everything denied");
    let denial = blue["effective"]["denials"].as_array().unwrap().iter().find(|x| x["field"] == "calls").cloned().unwrap();
    assert_eq!(denial["level"], "company_policy");

    let chat = diag(&app, &admin, "action=general_chat");
    let verdicts: Vec<(String, String)> = chat["companies"].as_array().unwrap().iter().map(|c| (c["company_id"].as_str().unwrap().to_owned(), c["verdict"].as_str().unwrap().to_owned())).collect();
    assert!(verdicts.contains(&(NORTHERN_LIGHT.to_owned(), "allow".to_owned())), "{verdicts:?}");
    assert!(verdicts.contains(&(BLUE_HARBOR.to_owned(), "policy_denied".to_owned())), "{verdicts:?}");
    let blue_only = diag(&app, &admin, &format!("action=general_chat&company={BLUE_HARBOR}"));
    assert_eq!((blue_only["verdict"].as_str(), blue_only["permission"].as_str()), (Some("policy_denied"), Some("general_chat")));
}

#[test]
fn what_the_link_sees_is_what_the_policies_allow() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    add_blue_harbor_to_link(&app);
    let admin = app.admin_token();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"create_requests": true, "read_request_chat": true, "allowed_pipelines": [SUPPORT]}));
    let seen = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/visible?company={NORTHERN_LIGHT}"), &admin));
    let companies = seen["companies"].as_array().unwrap();
    assert_eq!(companies.len(), 1, "filtered by company");
    let north = &companies[0];
    assert_eq!(north["visible"], true);
    assert_eq!(north["permitted_actions"], json!(["create_requests", "read_request_chat"]));
    let pipelines = north["pipelines"].as_array().unwrap();
    assert_eq!(pipelines.len(), 1);
    assert_eq!(pipelines[0]["id"], SUPPORT);
    let stages: Vec<&str> = pipelines[0]["stages"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(stages, vec!["new", "in_progress", "done"]);
    assert_eq!(pipelines[0]["stages"][2]["is_final"], true);
    let requests = north["requests"].as_array().unwrap();
    let ids: Vec<&str> = requests.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![R_DONE, R_SUPPORT], "Support only, newest first");
    assert_eq!((requests[0]["status"].as_str(), requests[0]["open"].as_bool()), (Some("done"), Some(false)));
    assert_eq!((requests[1]["status"].as_str(), requests[1]["open"].as_bool()), (Some("new"), Some(true)));

    let all = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/visible"), &admin));
    let blue = all["companies"].as_array().unwrap().iter().find(|c| c["company_id"] == BLUE_HARBOR).cloned().unwrap();
    assert_eq!(blue["visible"], true, "on the link, but its policy allows nothing");
    assert_eq!((blue["requests"].clone(), blue["pipelines"].clone(), blue["permitted_actions"].clone()), (json!([]), json!([]), json!([])));
    assert_eq!(blue["documents"].as_array().unwrap().len(), 1, "published documents need no permission");

    // A disabled link sees nothing at all.
    app.exec("UPDATE links SET status = 'disabled'");
    let none = json(&app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/visible"), &admin));
    for c in none["companies"].as_array().unwrap() {
        assert_eq!((c["visible"].as_bool(), c["requests"].as_array().unwrap().len(), c["documents"].as_array().unwrap().len()), (Some(false), 0, 0));
        assert_eq!(c["effective"]["denied_as_a_whole"]["level"], "link");
    }
    let north_manager = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    assert_eq!(app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/visible?company={BLUE_HARBOR}"), &north_manager).status(), 404);
    let resp = app.get_auth(&format!("/api/admin/links/{EMILY_LINK}/visible?company={NOWHERE}"), &admin);
    assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some("company")));
}

fn offboard(app: &TestApp, token: &str, mode: &str) -> extranet::http::Resp {
    app.send_auth("POST", &format!("/api/admin/links/{EMILY_LINK}/offboard"), token, Some(json!({"mode": mode})))
}

fn live_sessions(app: &TestApp) -> i64 {
    let now = app.now.get().timestamp();
    app.sql_count(&format!(
        "SELECT count(*) FROM sessions WHERE link_id = '{EMILY_LINK}' AND revoked_at IS NULL AND idle_expires_at > {now} AND absolute_expires_at > {now}"
    ))
}

#[test]
fn offboarding_leaves_no_invitation_channel_link_or_session_and_lists_open_requests() {
    let app = TestApp::new().with_emily_active();
    with_work(&app);
    let admin = app.admin_token();
    let now = app.now.get().timestamp();
    let (emily, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    app.exec(&format!(
        "INSERT INTO invitations (id, user_id, link_id, token_hash, status, expires_at, created_at) \
           VALUES ('0190a000-0000-7000-8000-000000000042', '{EMILY_USER}', '{EMILY_LINK}', 'hash-2', 'pending', {exp}, {now});
         INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, external_id, external_label, created_at, updated_at) \
           VALUES ('0190a000-0000-7000-8000-000000000081', 'telegram', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', 'active', '5551', '@emily', {now}, {now});
         INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, secret, created_at, updated_at) \
           VALUES ('0190a000-0000-7000-8000-000000000082', 'widget', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', 'suspended', 'secret', {now}, {now});
         INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, secret, created_at, updated_at, revoked_at, revoked_reason) \
           VALUES ('0190a000-0000-7000-8000-000000000083', 'widget', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', 'revoked', 'old', {now}, {now}, {now}, 'user');
         INSERT INTO channel_link_codes (code_hash, user_id, link_id, company_id, created_at, expires_at) \
           VALUES ('code-hash', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', {now}, {exp});",
        exp = now + 3600
    ));
    assert_eq!(live_sessions(&app), 3, "activation and two logins");

    let outsider = manager_token(&app, "blue.manager", &[BLUE_HARBOR]);
    assert_eq!(offboard(&app, &outsider, "disable").status(), 404);
    let resp = offboard(&app, &admin, "pause");
    assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some("mode")));
    assert_eq!(live_sessions(&app), 3, "nothing happened");

    let resp = offboard(&app, &admin, "disable");
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    let report = json(&resp);
    assert_eq!(report["link_status"], "disabled");
    assert_eq!((report["invitations_revoked"].as_i64(), report["channel_links_revoked"].as_i64(), report["sessions_revoked"].as_i64()), (Some(1), Some(2), Some(3)));
    let open: Vec<&str> = report["open_requests"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(open, vec![R_SUPPORT, R_SALES, R_OLD], "Emily's unfinished requests at her companies, not the done one nor Blue Harbor's");
    assert_eq!(report["open_requests"][0]["status"], "new");
    assert_eq!(report["open_requests"][0]["company_id"], NORTHERN_LIGHT);

    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM invitations WHERE link_id = '{EMILY_LINK}' AND status = 'pending'")), 0);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM channel_links WHERE link_id = '{EMILY_LINK}' AND status <> 'revoked'")), 0);
    assert_eq!(live_sessions(&app), 0);
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM channel_link_codes WHERE link_id = '{EMILY_LINK}' AND used_at IS NULL AND expires_at > {now}")), 0);
    assert_eq!(app.get_auth("/api/me", &emily).status(), 401);
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401, "a disabled link lets no one in");
    let event = json(&app.get_auth(&format!("/api/admin/audit?action=link.offboarded&target={EMILY_LINK}"), &admin))["items"][0].clone();
    assert_eq!((event["details"]["mode"].as_str(), event["details"]["sessions_revoked"].as_i64(), event["details"]["channel_links_revoked"].as_i64()), (Some("disabled"), Some(3), Some(2)));
    assert_eq!(event["company_ids"], json!([NORTHERN_LIGHT]));

    // Revoking is final.
    let resp = offboard(&app, &admin, "revoke");
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    assert_eq!((json(&resp)["link_status"].as_str(), json(&resp)["sessions_revoked"].as_i64()), (Some("revoked"), Some(0)));
    assert_eq!(app.sql_count(&format!("SELECT count(*) FROM links WHERE id = '{EMILY_LINK}' AND status = 'revoked' AND revoked_at IS NOT NULL")), 1);
    for mode in ["revoke", "disable"] {
        let resp = offboard(&app, &admin, mode);
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "link_revoked".into()), "{mode}");
    }
}

#[test]
fn unlock_clears_a_lock_and_the_right_password_works_again() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    for _ in 0..5 {
        assert_eq!(app.login(EMILY_LOGIN, "not her password").status(), 401);
    }
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401, "locked");
    // The user page shows the lock and until when; a manager of other companies does not see her.
    let user = format!("/api/admin/users/{EMILY_USER}");
    let seen = json(&app.get_auth(&user, &admin));
    assert_eq!((seen["locked"].as_bool(), seen["status"].as_str()), (Some(true), Some("active")));
    let until = chrono::DateTime::parse_from_rfc3339(seen["locked_until"].as_str().unwrap()).unwrap();
    assert!(until.timestamp() > app.now.get().timestamp(), "locked into the future");
    let outsider = manager_token(&app, "blue.manager", &[BLUE_HARBOR]);
    assert_eq!(app.get_auth(&user, &outsider).status(), 404);
    assert_eq!(app.get_auth(&format!("/api/admin/users/{NOWHERE}"), &admin).status(), 404);
    assert_eq!(app.get_auth("/api/admin/users/not-a-uuid", &admin).status(), 404, "a malformed id is not found, as everywhere");
    let path = format!("/api/admin/users/{EMILY_USER}/unlock");
    assert_eq!(app.send_auth("POST", &path, &outsider, None).status(), 404);
    assert_eq!(app.send_auth("POST", &format!("/api/admin/users/{NOWHERE}/unlock"), &admin, None).status(), 404);
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401, "still locked");

    let insider = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    let resp = app.send_auth("POST", &path, &insider, None);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    assert_eq!(json(&resp)["was_locked"], true);
    assert_eq!(app.sql_count(&format!("SELECT failed_logins + COALESCE(locked_until, 0) FROM users WHERE id = '{EMILY_USER}'")), 0);
    assert_eq!(app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 200);
    let seen = json(&app.get_auth(&user, &insider));
    assert_eq!(seen["locked"], false);
    assert!(seen.get("locked_until").is_none(), "no lock, no date: {seen}");
    assert!(seen["last_login_at"].is_string(), "the sign-in just made is shown: {seen}");
    let events = json(&app.get_auth(&format!("/api/admin/audit?action=account.unlocked&target={EMILY_USER}"), &admin));
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    assert_eq!(events["items"][0]["details"]["failed_logins_before"], 5);
}

#[test]
fn ending_one_session_leaves_the_others_and_refuses_a_session_that_is_not_hers() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let (first, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    app.advance(1);
    let (second, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    let list = json(&app.get_auth(&format!("/api/admin/users/{EMILY_USER}/sessions"), &admin));
    // Newest first: the second sign-in's session.
    let newest = list["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/admin/users/{EMILY_USER}/sessions/revoke");
    let resp = app.send_auth("POST", &path, &admin, Some(json!({"session_id": newest})));
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    assert_eq!(json(&resp)["sessions_revoked"], 1);
    assert_eq!(app.get_auth("/api/me", &second).status(), 401, "the ended session's token stops at once");
    assert_eq!(app.get_auth("/api/me", &first).status(), 200, "the other session lives on");
    // Again: it is no longer live. Another user's session, or garbage: refused without effect.
    assert_eq!(app.send_auth("POST", &path, &admin, Some(json!({"session_id": newest}))).status(), 404);
    let admin_session = json(&app.get_auth("/api/me/sessions", &admin))["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.send_auth("POST", &path, &admin, Some(json!({"session_id": admin_session}))).status(), 404, "not one of Emily's");
    assert_eq!(app.get_auth("/api/me", &admin).status(), 200);
    let bad = app.send_auth("POST", &path, &admin, Some(json!({"session_id": "nope"})));
    assert_eq!((bad.status().as_u16(), json(&bad)["error"]["field"].as_str()), (400, Some("session_id")));
    assert_eq!(app.send_auth("POST", &path, &admin, Some(json!({"sessions": "all"}))).status(), 400, "unknown fields are refused");
    let event = json(&app.get_auth("/api/admin/audit?action=sessions.revoked", &admin))["items"][0].clone();
    assert_eq!((event["details"]["session_id"].as_str(), event["details"]["sessions_revoked"].as_i64()), (Some(newest.as_str()), Some(1)));
    assert_eq!(app.get_auth("/api/me", &first).status(), 200);
}

#[test]
fn revoking_a_users_sessions_ends_outstanding_tokens() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let (emily, refresh) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    assert_eq!(app.get_auth("/api/me", &emily).status(), 200);
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO sessions (id, user_id, link_id, scope, created_at, last_seen_at, idle_expires_at, absolute_expires_at) \
         VALUES ('0190a000-0000-7000-8000-000000000091', '{EMILY_USER}', '{EMILY_LINK}', 'full', {old}, {old}, {gone}, {gone})",
        old = now - 100_000,
        gone = now - 10
    ));
    let list = json(&app.get_auth(&format!("/api/admin/users/{EMILY_USER}/sessions"), &admin));
    let statuses: Vec<&str> = list["items"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["live", "live", "expired"], "newest first");

    let resp = app.send_auth("POST", &format!("/api/admin/users/{EMILY_USER}/sessions/revoke"), &admin, None);
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    assert_eq!(json(&resp)["sessions_revoked"], 2);
    assert_eq!(app.get_auth("/api/me", &emily).status(), 401, "the outstanding access token stops working");
    assert_eq!(app.post_json("/api/auth/refresh", json!({"refresh_token": refresh, "refresh_transport": "body"}), &[]).status(), 401);

    let revoked = json(&app.get_auth(&format!("/api/admin/users/{EMILY_USER}/sessions?status=revoked"), &admin));
    for s in revoked["items"].as_array().unwrap() {
        assert_eq!((s["status"].as_str(), s["revoked_reason"].as_str()), (Some("revoked"), Some("admin")));
    }
    assert_eq!(revoked["items"].as_array().unwrap().len(), 2);
    let page = json(&app.get_auth(&format!("/api/admin/users/{EMILY_USER}/sessions?limit=2"), &admin));
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = json(&app.get_auth(&format!("/api/admin/users/{EMILY_USER}/sessions?limit=2&cursor={cursor}"), &admin));
    assert_eq!((rest["items"].as_array().unwrap().len(), rest["next_cursor"].clone()), (1, Value::Null));
    assert_eq!(app.get_auth(&format!("/api/admin/users/{EMILY_USER}/sessions?status=dead"), &admin).status(), 400);
    let event = json(&app.get_auth("/api/admin/audit?action=sessions.revoked", &admin))["items"][0].clone();
    assert_eq!((event["target_id"].as_str(), event["details"]["sessions_revoked"].as_i64()), (Some(EMILY_USER), Some(2)));

    let outsider = manager_token(&app, "blue.manager", &[BLUE_HARBOR]);
    assert_eq!(app.get_auth(&format!("/api/admin/users/{EMILY_USER}/sessions"), &outsider).status(), 404);
    let admin_id = json(&app.get_auth("/api/me", &admin))["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get_auth(&format!("/api/admin/users/{admin_id}/sessions"), &outsider).status(), 404, "employees are outside a manager's scope");
}

#[test]
fn the_audit_trail_filters_pages_and_keeps_managers_to_their_companies() {
    let app = TestApp::new().with_emily_invited();
    with_pipelines(&app);
    let admin = app.admin_token();
    let admin_id = json(&app.get_auth("/api/me", &admin))["user"]["id"].as_str().unwrap().to_owned();
    set_company_policy(&app, &admin, NORTHERN_LIGHT, json!({"calls": true}));
    app.advance(60);
    let since = app.now.get().to_rfc3339();
    set_company_policy(&app, &admin, BLUE_HARBOR, json!({"calls": true}));
    app.advance(60);
    set_contact_policy(&app, &admin, EMILY_CONTACT, json!({"calls": "deny"}));

    let get = |query: &str| {
        let resp = app.get_auth(&format!("/api/admin/audit?{query}"), &admin);
        assert_eq!(resp.status(), 200, "{query}: {}", body_of(&resp));
        json(&resp)
    };
    let actions = |page: &Value| page["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(actions(&get("action=policy.*")), vec!["policy.contact.updated", "policy.company.updated", "policy.company.updated"], "newest first");
    assert_eq!(actions(&get("action=policy.company.updated")).len(), 2);
    assert_eq!(get(&format!("target={BLUE_HARBOR}"))["items"][0]["target_id"], BLUE_HARBOR);
    assert_eq!(get(&format!("target={BLUE_HARBOR}"))["items"].as_array().unwrap().len(), 1);
    let by_admin = get(&format!("actor={admin_id}&action=policy.*"));
    assert_eq!(by_admin["items"].as_array().unwrap().len(), 3);
    assert_eq!(get("actor=0190a000-0000-7000-8000-0000000000ee")["items"], json!([]));
    let recent = get(&format!("since={}&action=policy.*", urlencode(&since)));
    assert_eq!(actions(&recent), vec!["policy.contact.updated", "policy.company.updated"]);
    for bad in ["since=yesterday", "since=2026-13-01T00:00:00Z"] {
        let resp = app.get_auth(&format!("/api/admin/audit?{bad}"), &admin);
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some("since")), "{bad}");
    }
    assert_eq!(json(&app.get_auth("/api/admin/audit?cursor=nonsense", &admin))["error"]["field"], "cursor");

    // Keyset pages: every event once, in order.
    let all = actions(&get("action=policy.*&limit=200"));
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("action=policy.*&limit=1&cursor={c}"),
            None => "action=policy.*&limit=1".to_owned(),
        };
        let page = get(&query);
        paged.extend(actions(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // A manager sees the events of their companies only.
    let blue = manager_token(&app, "blue.manager", &[BLUE_HARBOR]);
    let theirs = json(&app.get_auth("/api/admin/audit?action=policy.*", &blue));
    let targets: Vec<&str> = theirs["items"].as_array().unwrap().iter().map(|e| e["target_id"].as_str().unwrap()).collect();
    assert_eq!(targets, vec![BLUE_HARBOR]);
    let everything = json(&app.get_auth("/api/admin/audit?limit=200", &blue));
    for event in everything["items"].as_array().unwrap() {
        assert!(event["company_ids"].as_array().unwrap().iter().any(|c| c == BLUE_HARBOR), "{event}");
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[test]
fn channel_links_are_listed_by_kind_and_status_and_revoked_in_scope() {
    let app = TestApp::new().with_emily_invited();
    add_blue_harbor_to_link(&app);
    let admin = app.admin_token();
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, external_id, external_label, created_at, updated_at) \
           VALUES ('0190a000-0000-7000-8000-000000000081', 'telegram', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', 'active', '5551', '@emily', {now}, {now});
         INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, secret, created_at, updated_at) \
           VALUES ('0190a000-0000-7000-8000-000000000082', 'widget', '{EMILY_USER}', '{EMILY_LINK}', '{NORTHERN_LIGHT}', 'active', 'top-secret-value', {t2}, {t2});
         INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, external_id, external_label, created_at, updated_at) \
           VALUES ('0190a000-0000-7000-8000-000000000084', 'telegram', '{EMILY_USER}', '{EMILY_LINK}', '{BLUE_HARBOR}', 'active', '5552', '@emily', {t3}, {t3});",
        t2 = now + 1,
        t3 = now + 2
    ));
    let list = |token: &str, query: &str| {
        let resp = app.get_auth(&format!("/api/admin/channel-links?{query}"), token);
        assert_eq!(resp.status(), 200, "{query}: {}", body_of(&resp));
        let body = json(&resp);
        assert!(!String::from_utf8_lossy(resp.body()).contains("top-secret-value"), "secrets never leave");
        body["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()[33..].to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(list(&admin, ""), vec!["084", "082", "081"]);
    assert_eq!(list(&admin, "kind=telegram"), vec!["084", "081"]);
    assert_eq!(list(&admin, "kind=widget&status=active"), vec!["082"]);
    assert_eq!(list(&admin, "status=revoked"), Vec::<String>::new());
    for (bad, field) in [("kind=fax", "kind"), ("status=gone", "status")] {
        let resp = app.get_auth(&format!("/api/admin/channel-links?{bad}"), &admin);
        assert_eq!((resp.status().as_u16(), json(&resp)["error"]["field"].as_str()), (400, Some(field)));
    }
    let north = manager_token(&app, "north.manager", &[NORTHERN_LIGHT]);
    assert_eq!(list(&north, ""), vec!["082", "081"]);
    let revoke = |token: &str, id: &str| app.send_auth("POST", &format!("/api/admin/channel-links/0190a000-0000-7000-8000-000000000{id}/revoke"), token, None);
    assert_eq!(revoke(&north, "084").status(), 404, "Blue Harbor's link is outside the manager's scope");
    let resp = revoke(&north, "081");
    assert_eq!(resp.status(), 200, "{}", body_of(&resp));
    let body = json(&resp);
    assert_eq!((body["status"].as_str(), body["revoked_reason"].as_str(), body["revoked_at"].is_string()), (Some("revoked"), Some("admin"), true));
    assert_eq!(list(&admin, "status=revoked"), vec!["081"]);
    assert_eq!(error_code(&revoke(&admin, "081")), "channel_link_revoked");
    assert_eq!(revoke(&admin, "0ee").status(), 404);
    let event = json(&app.get_auth("/api/admin/audit?action=channel_link.revoked", &admin))["items"][0].clone();
    assert_eq!((event["target_id"].as_str(), event["company_ids"].clone()), (Some("0190a000-0000-7000-8000-000000000081"), json!([NORTHERN_LIGHT])));
}

// ---------------------------------------------------------------------------------------------
// Property: the diagnostics verdict over HTTP is the engine's verdict on the same facts.

/// xorshift64*: small and deterministic, so a failing case is named by its number.
struct Rng(u64);

impl Rng {
    fn seeded(case: u64) -> Rng {
        Rng(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn pipelines(&mut self) -> Vec<Uuid> {
        [SUPPORT, SALES, OLD].into_iter().filter(|_| self.chance(1, 2)).map(|p| Uuid::parse_str(p).unwrap()).collect()
    }
}

/// A status as the database spells it.
fn s<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_value(x).unwrap().as_str().unwrap().to_owned()
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn random_company_policy(rng: &mut Rng) -> Option<CompanyPolicy> {
    if rng.chance(1, 6) {
        return None;
    }
    let mut policy = CompanyPolicy::default();
    for p in Permission::ALL {
        policy.set(p, rng.chance(2, 3));
    }
    policy.allowed_pipelines = rng.pipelines();
    Some(policy)
}

fn company_policy_sql(company: &str, policy: &Option<CompanyPolicy>) -> String {
    let Some(p) = policy else {
        return format!("DELETE FROM company_policies WHERE company_id = '{company}';");
    };
    let flags: Vec<String> = Permission::ALL.iter().map(|x| i64::from(p.allows(*x)).to_string()).collect();
    format!(
        "DELETE FROM company_policies WHERE company_id = '{company}';
         INSERT INTO company_policies (company_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, telegram, widget, allowed_pipelines, updated_at) \
         VALUES ('{company}', {}, '{}', 0);",
        flags.join(", "),
        serde_json::to_string(&p.allowed_pipelines).unwrap()
    )
}

fn contact_policy_sql(policy: &Option<ContactPolicy>) -> String {
    let Some(p) = policy else {
        return format!("DELETE FROM contact_policies WHERE contact_id = '{EMILY_CONTACT}';");
    };
    let rules: Vec<String> = Permission::ALL.iter().map(|x| format!("'{}'", p.rule(*x).as_str())).collect();
    let list = p.allowed_pipelines.as_ref().map_or("NULL".to_owned(), |l| format!("'{}'", serde_json::to_string(l).unwrap()));
    format!(
        "DELETE FROM contact_policies WHERE contact_id = '{EMILY_CONTACT}';
         INSERT INTO contact_policies (contact_id, create_requests, read_request_chat, send_request_chat, general_chat, calls, telegram, widget, allowed_pipelines, updated_at) \
         VALUES ('{EMILY_CONTACT}', {}, {list}, 0);",
        rules.join(", ")
    )
}

#[test]
fn the_diagnostics_verdict_is_the_engines_verdict_on_random_policies() {
    let app = TestApp::new().with_emily_invited();
    with_work(&app);
    let admin = app.admin_token();
    let now = app.now.get().timestamp();
    let mut checked = 0;
    for case in 0..30u64 {
        let mut rng = Rng::seeded(case + 1);
        let user = if rng.chance(1, 8) { UserStatus::Blocked } else { UserStatus::Active };
        let link = rng.pick(&[LinkStatus::Active, LinkStatus::Active, LinkStatus::Active, LinkStatus::Active, LinkStatus::Disabled]);
        let contact = rng.pick(&[ContactState::Active, ContactState::Active, ContactState::Active, ContactState::Active, ContactState::Draft]);
        let statuses = [rng.chance(1, 8), rng.chance(1, 8)].map(|archived| if archived { CompanyStatus::Archived } else { CompanyStatus::Active });
        let blue_on_link = rng.chance(1, 2);
        let policies = [random_company_policy(&mut rng), random_company_policy(&mut rng)];
        let contact_policy = rng.chance(2, 3).then(|| {
            let mut p = ContactPolicy::default();
            for x in Permission::ALL {
                p.set_rule(x, rng.pick(&[Rule::Inherit, Rule::Inherit, Rule::Allow, Rule::Deny]));
            }
            p.allowed_pipelines = rng.chance(1, 3).then(|| rng.pipelines());
            p
        });
        let archived = [rng.chance(1, 6), rng.chance(1, 6)];

        let mut sql = format!(
            "UPDATE users SET status = '{}' WHERE id = '{EMILY_USER}';
             UPDATE links SET status = '{}', revoked_at = NULL WHERE id = '{EMILY_LINK}';
             UPDATE contacts SET state = '{}' WHERE id = '{EMILY_CONTACT}';
             UPDATE companies SET status = '{}' WHERE id = '{NORTHERN_LIGHT}';
             UPDATE companies SET status = '{}' WHERE id = '{BLUE_HARBOR}';
             UPDATE pipelines SET archived = {} WHERE id = '{SUPPORT}';
             UPDATE pipelines SET archived = {} WHERE id = '{SALES}';
             DELETE FROM link_companies WHERE link_id = '{EMILY_LINK}' AND company_id = '{BLUE_HARBOR}';",
            s(&user), s(&link), s(&contact), s(&statuses[0]), s(&statuses[1]), i64::from(archived[0]), i64::from(archived[1])
        );
        if blue_on_link {
            sql.push_str(&format!("INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{BLUE_HARBOR}', {now});"));
        }
        sql.push_str(&company_policy_sql(NORTHERN_LIGHT, &policies[0]));
        sql.push_str(&company_policy_sql(BLUE_HARBOR, &policies[1]));
        sql.push_str(&contact_policy_sql(&contact_policy));
        app.exec(&sql);

        let mut companies = vec![CompanyFacts { id: uuid(NORTHERN_LIGHT), name: "Northern Light".into(), status: statuses[0], policy: policies[0].clone().unwrap_or_default() }];
        if blue_on_link {
            companies.push(CompanyFacts { id: uuid(BLUE_HARBOR), name: "Blue Harbor".into(), status: statuses[1], policy: policies[1].clone().unwrap_or_default() });
        }
        let facts = LinkFacts {
            user: UserFacts { id: uuid(EMILY_USER), status: user },
            link: LinkRecord { id: uuid(EMILY_LINK), status: link, default_company_id: uuid(NORTHERN_LIGHT) },
            contact: ContactFacts { id: uuid(EMILY_CONTACT), state: contact },
            companies,
            contact_policy: contact_policy.clone().unwrap_or_default(),
            pipelines: vec![
                PipelineFacts { id: uuid(OLD), archived: true },
                PipelineFacts { id: uuid(SUPPORT), archived: archived[0] },
                PipelineFacts { id: uuid(SALES), archived: archived[1] },
            ],
        };

        let mut probes: Vec<(String, &str, Object)> = Vec::new();
        let requests = [(R_SUPPORT, NORTHERN_LIGHT, SUPPORT), (R_SALES, NORTHERN_LIGHT, SALES), (R_OLD, NORTHERN_LIGHT, OLD), (R_BLUE, BLUE_HARBOR, SUPPORT)];
        for (id, company, pipeline) in requests {
            let object = Object::Request(RequestFacts { id: uuid(id), company_id: uuid(company), pipeline_id: uuid(pipeline) });
            for action in ["view", "read_request_chat", "send_request_chat", "calls"] {
                probes.push((format!("object=request:{id}&action={action}"), action, object));
            }
        }
        let documents = [(D_ALL, NORTHERN_LIGHT, None, true), (D_EMILY, NORTHERN_LIGHT, Some(EMILY_CONTACT), true), (D_OLIVER, NORTHERN_LIGHT, Some(OLIVER_CONTACT), true), (D_DRAFT, NORTHERN_LIGHT, None, false), (D_BLUE, BLUE_HARBOR, None, true)];
        for (id, company, contact_id, published) in documents {
            let object = Object::Document(DocumentFacts { id: uuid(id), company_id: uuid(company), contact_id: contact_id.map(uuid), published });
            for action in ["view", "act_on_document"] {
                probes.push((format!("object=document:{id}&action={action}"), action, object));
            }
        }
        for company in [NORTHERN_LIGHT, BLUE_HARBOR] {
            for pipeline in [SUPPORT, SALES, OLD] {
                let object = Object::Pipeline { company_id: uuid(company), pipeline_id: uuid(pipeline) };
                for action in ["view", "create_request"] {
                    probes.push((format!("object=pipeline:{pipeline}&company={company}&action={action}"), action, object));
                }
            }
            for action in ["view", "general_chat", "calls", "telegram", "widget"] {
                probes.push((format!("object=company:{company}&action={action}"), action, Object::Company(uuid(company))));
            }
        }
        for (query, action, object) in probes {
            let expected = verdict(&facts, extranet::access::Action::parse(action).unwrap(), &object);
            let d = diag(&app, &admin, &query);
            let (name, permission) = match expected {
                Verdict::Allow => ("allow", None),
                Verdict::NotVisible => ("not_visible", None),
                Verdict::PolicyDenied(Refused::Permission(p)) => ("policy_denied", Some(p.as_str())),
                Verdict::PolicyDenied(Refused::Pipeline) => ("policy_denied", Some("pipeline")),
            };
            assert_eq!((d["verdict"].as_str(), d["permission"].as_str()), (Some(name), permission), "case {case}: {query}\n{d}");
            // The chain agrees with its verdict: a fail somewhere exactly when not allowed.
            assert_eq!(first_fail(&d).is_null(), name == "allow", "case {case}: {query}\n{d}");
            checked += 1;
        }
    }
    assert!(checked >= 1400, "{checked} decisions compared");
}
