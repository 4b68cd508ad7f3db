//! The OpenAPI 3.1 document, generated from the route table so it always lists exactly the routes
//! the dispatcher serves.

use super::routes::{Guard, Route, ROUTES};
use super::ApiError;
use serde_json::{json, Map, Value};

pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(ops) = entry {
            ops.insert(route.method.as_str().to_ascii_lowercase(), operation(route));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Extranet API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The external-access side of a CRM: client portal, governance and webhooks."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string", "enum": ApiError::all_codes()},
                            "message": {"type": "string"},
                            "field": {"type": "string"},
                            "rule": {"type": "string"},
                            "permission": {"type": "string"}
                        }
                    }}
                }
            },
            "responses": {
                "Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        }
    })
}

fn operation(route: &Route) -> Value {
    let params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let mut op = json!({
        "operationId": operation_id(route),
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": params,
        "responses": {
            "200": {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "default": {"$ref": "#/components/responses/Error"}
        }
    });
    if !matches!(route.guard, Guard::Public | Guard::Webhook) {
        op["security"] = json!([{"bearer": []}]);
        // Who may call it, as the dispatcher enforces it (an OpenAPI extension).
        op["x-guard"] = json!(route.guard.as_str());
    }
    op
}

/// `GET /api/requests/{id}` -> `get_api_requests_id`: stable and unique per route.
pub fn operation_id(route: &Route) -> String {
    let path: String = route
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let joined = format!("{}_{}", route.method.as_str().to_ascii_lowercase(), path);
    joined.split('_').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("_")
}

/// The API reference in Markdown (`docs/api.md`), from the same table: one section per tag, one row
/// per route with who may call it. A test keeps the file equal to this.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# API reference\n\nGenerated from the route table (`src/http/routes.rs`) by `http::openapi::reference_markdown`; \
         `cargo test` fails when this file and the table differ (`UPDATE_DOCS=1 cargo test --test api docs` rewrites it). \
         The machine-readable form is `GET /openapi.json`.\n\n\
         Guards, enforced by the dispatcher before any handler runs: `public` (no credential), `session` (any access token), \
         `client` (a client's token), `employee` (an employee's token; the role is read afresh by the use case), `admin` \
         (an employee's token, and the use case requires the admin role), `crm_or_admin` (the CRM's machine credential or an admin), \
         `webhook` (the webhook checks its own signature).\n\n\
         Errors: `{\"error\": {\"code\", \"message\", \"field\"?, \"permission\"?}}` with one of these codes: ",
    );
    out.push_str(&ApiError::all_codes().iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "));
    out.push_str(".\n");
    let mut tags: Vec<&str> = Vec::new();
    for route in ROUTES {
        if !tags.contains(&route.tag) {
            tags.push(route.tag);
        }
    }
    for tag in tags {
        out.push_str(&format!("\n## {tag}\n\n| method | path | guard | what it does |\n|---|---|---|---|\n"));
        for route in ROUTES.iter().filter(|r| r.tag == tag) {
            let summary = route.summary.replace('|', "\\|");
            out.push_str(&format!("| {} | `{}` | {} | {} |\n", route.method.as_str(), route.path, route.guard.as_str(), summary));
        }
    }
    out
}
