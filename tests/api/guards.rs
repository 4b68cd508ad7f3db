//! The route table's guards, walked route by route: every route that is not public refuses a caller
//! without a credential, and each kind of caller is refused where its kind may not go. A route added
//! to the table is covered here without anyone writing a test for it.

use crate::support::*;
use extranet::http::routes::{Guard, Route, ROUTES};
use extranet::http::Resp;
use serde_json::json;

const MANAGER_ID: &str = "0190c000-0000-7000-8000-000000000031";
const STAFF_PASSWORD: &str = "harbor lantern violet 77";
/// An id no row has: a guard must answer before any lookup could say "not found".
const NOWHERE: &str = "0190ffff-0000-7000-8000-00000000ffff";

fn concrete_path(route: &Route) -> String {
    route.path.split('/').map(|seg| if seg.starts_with('{') { NOWHERE } else { seg }).collect::<Vec<_>>().join("/")
}

/// The route called with `token` (or none) and a body that is not even JSON: a guard that runs
/// before the handler answers before the body is read.
fn call(app: &TestApp, route: &Route, token: Option<&str>) -> Resp {
    let mut builder = http::Request::builder()
        .method(route.method.clone())
        .uri(concrete_path(route))
        .header("content-type", "application/json")
        .header("origin", "http://localhost");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    app.call(builder.body(b"{not json".to_vec()).unwrap())
}

fn status_and_code(resp: &Resp) -> (u16, String) {
    (resp.status().as_u16(), error_code(resp))
}

fn manager_token(app: &TestApp, admin: &str) -> String {
    let body = json!({"login": "mara", "email": "mara@vector.example", "first_name": "Mara", "last_name": "Stone",
                      "role": "manager", "company_ids": [NORTHERN_LIGHT]});
    let resp = app.send_auth("PUT", &format!("/api/admin/employees/{MANAGER_ID}"), admin, Some(body));
    assert_eq!(resp.status(), 201);
    let url = json(&resp)["invitation"]["activation_url"].as_str().unwrap().to_owned();
    let token = url.split_once('#').unwrap().1.to_owned();
    let resp = app.post_json("/api/invitations/activate", json!({"token": token, "password": STAFF_PASSWORD, "refresh_transport": "body"}), &[]);
    assert_eq!(resp.status(), 200);
    json(&resp)["access_token"].as_str().unwrap().to_owned()
}

fn routes_with(guards: &[Guard]) -> impl Iterator<Item = &'static Route> + '_ {
    ROUTES.iter().filter(move |r| guards.contains(&r.guard))
}

#[test]
fn every_guarded_route_refuses_a_caller_without_credentials() {
    let app = TestApp::new();
    let mut walked = 0;
    for route in routes_with(&[Guard::Session, Guard::Client, Guard::Employee, Guard::Admin, Guard::CrmOrAdmin]) {
        assert_eq!(status_and_code(&call(&app, route, None)), (401, "unauthenticated".into()), "{} {}", route.method, route.path);
        assert_eq!(status_and_code(&call(&app, route, Some("forged.token.here"))), (401, "unauthenticated".into()), "{} {}", route.method, route.path);
        walked += 1;
    }
    assert!(walked > 80, "the table has its guarded routes ({walked})");
}

#[test]
fn a_client_is_refused_on_every_employee_route() {
    let app = TestApp::new().with_emily_active();
    let (client, _) = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD);
    for route in routes_with(&[Guard::Employee, Guard::Admin, Guard::CrmOrAdmin]) {
        assert_eq!(status_and_code(&call(&app, route, Some(&client))), (403, "forbidden".into()), "{} {}", route.method, route.path);
    }
    assert_eq!(app.get_auth("/api/me", &client).status(), 200, "the client's own routes still answer");
}

#[test]
fn an_employee_is_refused_on_every_client_route() {
    let app = TestApp::new();
    let admin = app.admin_token();
    for route in routes_with(&[Guard::Client]) {
        assert_eq!(status_and_code(&call(&app, route, Some(&admin))), (403, "forbidden".into()), "{} {}", route.method, route.path);
    }
}

#[test]
fn a_manager_is_refused_on_every_admin_route() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let manager = manager_token(&app, &admin);
    let admin_routes: Vec<&Route> = routes_with(&[Guard::Admin, Guard::CrmOrAdmin]).collect();
    assert!(admin_routes.len() >= 9, "security, branding, employees, CRM upserts, delivery");
    let settings = json(&app.get_auth("/api/admin/security", &admin));
    for route in admin_routes {
        // A well-formed body, so only the role can refuse it.
        let body = match (route.method.as_str(), route.path) {
            ("GET", _) => None,
            (_, "/api/admin/security") => Some(settings.clone()),
            (_, "/api/admin/crm/events/replay") => Some(json!({"after": "0"})),
            (_, "/api/admin/pipelines/{id}") => Some(json!({"name": "Support", "stages": [
                {"id": "new", "name": "New", "is_final": false}, {"id": "done", "name": "Done", "is_final": true}]})),
            _ => Some(json!({"login": "xavier", "email": "xavier@vector.example", "first_name": "X", "last_name": "Y", "role": "manager",
                              "company_ids": [], "name": "X", "portal_name": "X", "logo_url": null, "primary_color": "#000000"})),
        };
        let resp = app.send_auth(route.method.as_str(), &concrete_path(route), &manager, body);
        assert_eq!(status_and_code(&resp), (403, "forbidden".into()), "{} {}", route.method, route.path);
    }
    assert_eq!(app.get_auth("/api/admin/links", &manager).status(), 200, "the manager's own routes still answer");
}

#[test]
fn the_guard_answers_before_the_body_is_read() {
    let app = TestApp::new();
    let create = ROUTES.iter().find(|r| r.path == "/api/admin/links" && r.method == http::Method::POST).unwrap();
    assert_eq!(create.guard, Guard::Employee);
    assert_eq!(status_and_code(&call(&app, create, None)), (401, "unauthenticated".into()), "no credential: 401, not a 400 about the body");
    let admin = app.admin_token();
    assert_eq!(call(&app, create, Some(&admin)).status(), 400, "with one, the handler reads the body");
}

/// The OpenAPI document lists what each route can answer (`error_statuses` in `http::openapi`):
/// every route called with no token, a forged one, a client's, a manager's and an admin's, each
/// with a body that is not JSON, answers only statuses its operation lists (a 5xx under `5XX`).
#[test]
fn every_answer_of_the_walk_is_one_the_openapi_document_lists() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let manager = manager_token(&app, &admin);
    let emily = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    let doc = json(&app.get("/openapi.json"));
    let mut checked = 0;
    for route in ROUTES {
        let listed = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()]["responses"];
        for token in [None, Some("forged.token.here"), Some(emily.as_str()), Some(manager.as_str()), Some(admin.as_str())] {
            let resp = call(&app, route, token);
            let status = resp.status().as_u16();
            let key = if status >= 500 { "5XX".to_owned() } else { status.to_string() };
            assert!(listed.get(&key).is_some(), "{} {} answered {status} {} but lists {:?}", route.method, route.path, error_code(&resp), listed.as_object().map(|o| o.keys().collect::<Vec<_>>()));
            checked += 1;
        }
    }
    assert!(checked >= 5 * 90, "{checked}");
    // And a listed error names only codes the table sends with that status.
    let codes = &doc["paths"]["/api/admin/users/{id}"]["get"]["responses"]["401"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"];
    assert_eq!(codes, &json!(["unauthenticated", "invalid_credentials", "mfa_required", "token_expired", "token_stale"]));
}
