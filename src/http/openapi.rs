//! The OpenAPI 3.1 document, generated from the route table so it always lists exactly the routes
//! the dispatcher serves.

use super::routes::{Guard, Route, ROUTES};
use http::Method;
use super::ApiError;
use crate::app::delivery::crm_events::EVENT_TYPES;
use serde_json::{json, Map, Value};

pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(ops) = entry {
            ops.insert(route.method.as_str().to_ascii_lowercase(), operation(route));
        }
    }
    describe_crm_feed(&mut paths);
    add_links(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Extranet API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The external-access side of a CRM: client portal, governance and webhooks."
        },
        "paths": paths,
        "webhooks": {"crmEvent": crm_webhook()},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {
                "CrmEvent": crm_event_schema(),
                "CrmEventFeed": {
                    "type": "object",
                    "required": ["items", "next_cursor", "has_more"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/CrmEvent"}},
                        "next_cursor": {"type": "string", "pattern": "^[0-9]+$", "description": "Pass as `after` to read on; the same cursor when nothing is new."},
                        "has_more": {"type": "boolean"}
                    }
                },
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

/// One client action or access change, as the feed lists it and the webhook carries it.
fn crm_event_schema() -> Value {
    json!({
        "type": "object",
        "required": ["id", "cursor", "type", "occurred_at", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "Stable across retries and replays: the webhook-id, the key to dedupe on."},
            "cursor": {"type": "string", "pattern": "^[0-9]+$", "description": "Position in commit order; `after=` it reads what follows."},
            "type": {"type": "string", "enum": EVENT_TYPES.as_slice()},
            "occurred_at": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "required": ["actor", "target", "company_ids", "details"],
                "properties": {
                    "actor": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["external", "employee", "crm", "system", "anonymous"]}, "id": {"type": ["string", "null"]}}},
                    "target": {"type": ["object", "null"], "properties": {"kind": {"type": "string"}, "id": {"type": ["string", "null"]}}},
                    "company_ids": {"type": "array", "items": {"type": "string"}},
                    "details": {"type": "object", "description": "What the audit log records for this action (never secrets or tokens)."}
                }
            }
        }
    })
}

/// Path parameters, in order: `/api/requests/{id}/attachments/{aid}` -> `["id", "aid"]`.
fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

/// Where a created object's id is used beyond the paths nested under its creator: (creating
/// operation's method and path, the path prefix of the operations that take it, where the id is in
/// the creator's answer).
const CROSS_LINKS: &[(&str, &str, &str, &str)] = &[
    ("POST", "/api/admin/links/{id}/invitations", "/api/admin/invitations/{id}", "$response.body#/id"),
    ("POST", "/api/channels/widget", "/api/channels/{id}", "$response.body#/id"),
    ("POST", "/api/admin/links", "/api/admin/users/{id}", "$response.body#/user/id"),
    ("POST", "/api/admin/documents", "/api/admin/documents/{id}", "$response.body#/id"),
    ("POST", "/api/requests/{id}/attachments", "/api/requests/{id}/attachments/{aid}", "$response.body#/id"),
];

/// OpenAPI links from the operations that create or name an object to those that take its id, so
/// a stateful run walks real objects: a POST to `P` feeds `P/{x}...` (x from the answer's `id`), an
/// upsert `PUT P/{id}` feeds the other operations on `P/{id}...` (the same id), plus `CROSS_LINKS`.
fn add_links(paths: &mut Map<String, Value>) {
    for source in ROUTES.iter().filter(|r| r.method == Method::POST || r.method == Method::PUT) {
        let own = path_params(source.path);
        let mut links = Map::new();
        for target in ROUTES.iter().filter(|t| !std::ptr::eq(*t, source)) {
            let wanted = path_params(target.path);
            let mut parameters = Map::new();
            let nested_create = source.method == Method::POST && target.path.starts_with(&format!("{}/{{", source.path));
            let same_object = source.method == Method::PUT
                && source.path.ends_with('}')
                && (target.path == source.path || target.path.starts_with(&format!("{}/", source.path)));
            let cross = CROSS_LINKS
                .iter()
                .find(|(m, from, to, _)| *m == source.method.as_str() && *from == source.path && target.path.starts_with(to));
            if nested_create && wanted.len() == own.len() + 1 {
                for p in &own {
                    parameters.insert((*p).to_owned(), json!(format!("$request.path.{p}")));
                }
                if let Some(new) = wanted.last() {
                    parameters.insert((*new).to_owned(), json!("$response.body#/id"));
                }
            } else if same_object && wanted.iter().all(|w| own.contains(w)) {
                for p in &wanted {
                    parameters.insert((*p).to_owned(), json!(format!("$request.path.{p}")));
                }
            } else if let Some((_, _, to, expression)) = cross {
                let taken = path_params(to);
                if wanted.len() != taken.len() {
                    continue;
                }
                for p in &wanted[..wanted.len().saturating_sub(1)] {
                    parameters.insert((*p).to_owned(), json!(format!("$request.path.{p}")));
                }
                if let Some(new) = wanted.last() {
                    parameters.insert((*new).to_owned(), json!(expression));
                }
            } else {
                continue;
            }
            links.insert(operation_id(target), json!({"operationId": operation_id(target), "parameters": parameters}));
        }
        if links.is_empty() {
            continue;
        }
        if let Some(op) = paths.get_mut(source.path).and_then(|p| p.get_mut(source.method.as_str().to_ascii_lowercase())) {
            for status in ["200", "201"] {
                op["responses"][status]["links"] = Value::Object(links.clone());
            }
        }
    }
}

/// The feed's query and answer, which the generic operation leaves open.
fn describe_crm_feed(paths: &mut Map<String, Value>) {
    if let Some(op) = paths.get_mut("/api/crm/events").and_then(|p| p.get_mut("get")) {
        op["parameters"] = json!([
            {"name": "after", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"}, "description": "A cursor from this feed; 0 or absent for the oldest event kept."},
            {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}
        ]);
        op["responses"]["200"] = json!({"description": "Events after the cursor, oldest first", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CrmEventFeed"}}}});
    }
}

/// The push to CRM_WEBHOOK_URL (Standard Webhooks), one event per delivery.
fn crm_webhook() -> Value {
    let header = |name: &str, description: &str| json!({"name": name, "in": "header", "required": true, "schema": {"type": "string"}, "description": description});
    json!({"post": {
        "operationId": "crm_event_webhook",
        "summary": "One CRM event pushed to CRM_WEBHOOK_URL, signed per Standard Webhooks",
        "description": "Sent after the response that caused it, in commit order, one at a time. A non-2xx answer or no answer within 5 s is retried after 1, 2, 4 and 8 minutes with the same webhook-id, holding back the events after it; after the fifth failure the event is listed in the console's Delivery page and the push moves on. `POST /api/admin/crm/events/replay` sends every event after a cursor again. Verify: HMAC-SHA256 keyed with the base64 after `whsec_` of CRM_WEBHOOK_SECRET, over `{webhook-id}.{webhook-timestamp}.{body}`.",
        "parameters": [
            header("webhook-id", "The event's id: the same on every retry and replay."),
            header("webhook-timestamp", "Unix seconds when this delivery was signed."),
            header("webhook-signature", "`v1,<base64 HMAC-SHA256>`.")
        ],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"type": "string", "enum": EVENT_TYPES.as_slice()},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": {"$ref": "#/components/schemas/CrmEvent"}
            }
        }}}},
        "responses": {"2XX": {"description": "Received: the push moves on to the next event."}}
    }})
}

fn operation(route: &Route) -> Value {
    let params: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .chain(super::openapi_bodies::query_of(route.method.as_str(), route.path))
        .collect();
    let mut op = json!({
        "operationId": operation_id(route),
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": params,
        // The success statuses every route may use (201 for what it created, 204 for nothing to
        // say); which one a route answers is in its summary and docs/api.md.
        "responses": {
            "200": {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "201": {"description": "Created", "content": {"application/json": {"schema": {"type": "object"}}}},
            "204": {"description": "Done, nothing to return"},
            "5XX": {"$ref": "#/components/responses/Error"}
        }
    });
    for status in error_statuses(route) {
        op["responses"][status.to_string()] = error_response(status);
    }
    if let Some((schema, example)) = super::openapi_bodies::body_of(route.method.as_str(), route.path) {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema, "example": example}}});
    }
    if !matches!(route.guard, Guard::Public | Guard::Webhook) {
        op["security"] = json!([{"bearer": []}]);
        // Who may call it, as the dispatcher enforces it (an OpenAPI extension).
        op["x-guard"] = json!(route.guard.as_str());
    }
    op
}

/// The error answers a route can give, from what the route table says of it: bad input (400) and
/// a missing or hidden object (404) anywhere but the three static reads; no or a stale token (401)
/// behind every guard, and from the routes that check a credential themselves; the wrong role or a
/// policy (403) behind a role guard; state (409, 410) and the body's size and type (413, 415) on
/// writes; attempts counted toward the throttle or the lockout (429). Anything else is a 5XX.
/// schemathesis checks every answer it gets against this list (`status_code_conformance`).
fn error_statuses(route: &Route) -> Vec<u16> {
    use super::routes::RouteId as R;
    if matches!(route.id, R::Health | R::OpenApi | R::PublicBranding) {
        return Vec::new();
    }
    let write = route.method != Method::GET;
    let checks_a_credential = matches!(route.id, R::Login | R::Refresh | R::Logout) || route.guard == Guard::Webhook;
    let role_guard = !matches!(route.guard, Guard::Public | Guard::Webhook);
    let counted = matches!(route.id, R::Login | R::InvitationPreview | R::InvitationActivate | R::ChangePassword | R::StartTotp | R::ConfirmTotp | R::ActOnDocument);
    let mut statuses = vec![400];
    if role_guard || checks_a_credential {
        statuses.push(401);
    }
    if role_guard || route.id == R::Bootstrap {
        statuses.push(403);
    }
    statuses.push(404);
    if write {
        statuses.push(409);
    }
    if write || route.id == R::CrmEvents {
        statuses.push(410);
    }
    if write {
        statuses.extend([413, 415]);
    }
    if counted {
        statuses.push(429);
    }
    statuses
}

/// An error answer whose code is one of those the error table sends with its status.
fn error_response(status: u16) -> Value {
    let description = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    json!({"description": description, "content": {"application/json": {"schema": {"allOf": [
        {"$ref": "#/components/schemas/Error"},
        {"properties": {"error": {"properties": {"code": {"enum": ApiError::codes_with_status(status)}}}}}
    ]}}}})
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
