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
