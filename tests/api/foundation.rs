//! The foundation: health, the error table's 404/405/413/415 answers, security headers, timing,
//! and the OpenAPI document kept equal to the route table.

use crate::support::*;
use extranet::http::routes::ROUTES;

#[test]
fn health_answers_without_touching_the_database() {
    let app = TestApp::new();
    let resp = app.get("/health");
    assert_eq!(resp.status(), 200);
    let body = json(&resp);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(header(&resp, "server-timing").unwrap().contains("0 queries"));
}

#[test]
fn deep_health_makes_exactly_one_round_trip() {
    let app = TestApp::new();
    let resp = app.get("/health?deep=1");
    assert_eq!(resp.status(), 200);
    assert_eq!(json(&resp)["checks"]["db"], "ok");
    assert!(header(&resp, "server-timing").unwrap().contains("\"1 queries\""), "{:?}", header(&resp, "server-timing"));
    let all = app.get("/health?deep=all");
    assert_eq!(json(&all)["checks"]["kv"], "ok");
}

#[test]
fn unknown_route_is_a_json_404() {
    let app = TestApp::new();
    let resp = app.get("/api/nope");
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(&resp), "not_found");
    assert!(json(&resp)["error"]["message"].is_string());
}

#[test]
fn wrong_method_is_a_405_with_allow() {
    let app = TestApp::new();
    let resp = app.call(request("DELETE", "/health", None, &[]));
    assert_eq!(resp.status(), 405);
    assert_eq!(error_code(&resp), "method_not_allowed");
    assert_eq!(header(&resp, "allow"), Some("GET"));
}

#[test]
fn oversize_body_is_a_413_before_any_handler() {
    let app = TestApp::new();
    let resp = app.call(raw_request("GET", "/health", "application/json", vec![b' '; 1024 * 1024 + 1]));
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(&resp), "too_large");
}

#[test]
fn api_responses_carry_security_headers_and_a_request_id() {
    let app = TestApp::new();
    for resp in [app.get("/health"), app.get("/api/nope")] {
        assert_eq!(header(&resp, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&resp, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&resp, "cache-control"), Some("no-store"));
        assert!(header(&resp, "content-security-policy").unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(header(&resp, "x-request-id").map(str::len), Some(16));
    }
}

#[test]
fn head_answers_like_get_without_a_body() {
    let app = TestApp::new();
    let resp = app.call(request("HEAD", "/health", None, &[]));
    assert_eq!(resp.status(), 200);
    assert!(resp.body().is_empty());
}

#[test]
fn openapi_lists_exactly_the_route_table() {
    let app = TestApp::new();
    let resp = app.get("/openapi.json");
    assert_eq!(resp.status(), 200);
    let doc = json(&resp);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            documented += 1;
            let route = ROUTES
                .iter()
                .find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method))
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            assert_eq!(op["summary"], route.summary);
        }
    }
    assert_eq!(documented, ROUTES.len(), "every routed operation is documented once");
}

#[test]
fn openapi_names_every_error_code_a_client_can_receive() {
    let app = TestApp::new();
    let doc = json(&app.get("/openapi.json"));
    let listed: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the error code is an enum")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let codes = extranet::app::ApiError::all_codes();
    assert_eq!(listed, codes);
    for code in ["invalid_input", "unauthenticated", "token_stale", "forbidden", "policy_denied", "not_found", "link_changed",
                 "link_problems", "policy_not_saved", "last_admin", "invitation_used", "invitation_expired", "rate_limited", "internal"] {
        assert!(listed.contains(&code), "{code} is documented");
    }
    // A code the app answers with is one of them: the wrong method, an unknown path, a bad body.
    for resp in [app.call(request("DELETE", "/health", None, &[])), app.get("/nowhere"), app.post_json("/api/auth/login", serde_json::json!({}), &[])] {
        assert!(listed.contains(&error_code(&resp).as_str()), "{}", error_code(&resp));
    }
}

#[test]
fn the_access_log_is_off_by_default_and_when_on_is_one_json_line_without_the_query() {
    let mut app = TestApp::new();
    assert_eq!(app.get("/health?deep=1").status(), 200);
    assert!(app.ports.logs.borrow().is_empty(), "no line by default: {:?}", app.ports.logs.borrow());

    app.config.access_log = extranet::config::AccessLog::ALL;
    let resp = app.get("/health?deep=1&token=should-not-be-logged");
    assert_eq!(resp.status(), 200);
    let line = app.ports.logs.borrow().last().cloned().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(parsed["path"], "/health");
    assert_eq!(parsed["status"], 200);
    assert_eq!(parsed["request_id"].as_str(), header(&resp, "x-request-id"));
    assert!(!line.contains("should-not-be-logged"));
}

#[test]
fn with_the_access_log_off_a_failure_still_writes_its_error_line() {
    let app = TestApp::new();
    app.ports.sqlite().exec_script("DROP TABLE branding;").unwrap();
    let resp = app.get("/api/branding");
    assert_eq!(resp.status(), 500);
    let logs = app.ports.logs.borrow();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let parsed: serde_json::Value = serde_json::from_str(&logs[0]).unwrap();
    assert_eq!(parsed["level"], "error");
    assert_eq!(parsed["request_id"].as_str(), header(&resp, "x-request-id"));
    assert!(!String::from_utf8_lossy(resp.body()).contains("branding"), "the internals stay in the log");
}

#[test]
fn docs_api_md_is_the_route_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md");
    let expected = extranet::http::openapi::reference_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(on_disk == expected, "docs/api.md differs from the route table: run UPDATE_DOCS=1 cargo test --test api docs");
    for route in ROUTES {
        assert!(on_disk.contains(&format!("`{}`", route.path)), "{} is documented", route.path);
    }
}

/// Every request body the OpenAPI document describes: its example passes the handler's parsing
/// (whatever the state then says: a generated id is not found, a wrong password is refused).
#[test]
fn every_described_body_example_passes_the_handlers_parsing() {
    let app = TestApp::new().with_emily_active();
    let admin = app.admin_token();
    let emily = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    let described = extranet::http::openapi_bodies::bodies();
    assert!(described.len() >= 15);
    for (method, path, schema, example) in described {
        let route = extranet::http::routes::ROUTES.iter().find(|r| r.method.as_str() == method && r.path == path).unwrap_or_else(|| panic!("{method} {path} is not a route"));
        let token = if route.guard == extranet::http::routes::Guard::Client { &emily } else { &admin };
        let concrete = path.replace("{id}", "0190a000-0000-7000-8000-00000000dead");
        let resp = app.send_auth(method, &concrete, token, Some(example.clone()));
        let code = if resp.status().is_success() { String::new() } else { error_code(&resp) };
        // The own-credential routes refuse a wrong password or code as invalid_input naming it,
        // after parsing: an example cannot know the signed-in user's password.
        let credential = path.starts_with("/api/me/")
            && code == "invalid_input"
            && matches!(json(&resp)["error"]["field"].as_str(), Some("current_password" | "current_code" | "totp" | "code"));
        assert!((code != "invalid_input" || credential) && resp.status() != 415 && resp.status() != 413, "{method} {path} refused its example {example}: {}", String::from_utf8_lossy(resp.body()));
        // The schema names every property the example uses, and forbids the rest.
        assert_eq!(schema["additionalProperties"], false, "{path}");
        for key in example.as_object().unwrap().keys() {
            assert!(schema["properties"].get(key).is_some(), "{method} {path}: {key} is not described");
        }
    }
    let doc = json(&app.get("/openapi.json"));
    assert_eq!(doc["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"], serde_json::json!(["login", "password"]));
    // A read that cannot answer without its query says so: the team's general chat needs a company.
    let params = doc["paths"]["/api/admin/chat/messages"]["get"]["parameters"].as_array().unwrap().clone();
    let company = params.iter().find(|p| p["name"] == "company").expect("company is described");
    assert_eq!((company["in"].as_str(), company["required"].as_bool(), company["schema"]["format"].as_str()), (Some("query"), Some(true), Some("uuid")));
    let without = app.get_auth("/api/admin/chat/messages", &admin);
    assert_eq!((without.status().as_u16(), json(&without)["error"]["field"].clone()), (400, serde_json::json!("company")));
}
