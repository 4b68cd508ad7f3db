//! The request bodies the OpenAPI document describes, as strictly as the handlers read them, for
//! the routes listed here (the others still say nothing about their body): required fields,
//! formats, enums, lengths and no other properties. Names and texts are described by a safe
//! character set narrower than what the handlers take (any printable text), so that generated
//! values are ones a person would type; ids that must exist (companies, pipelines) cannot be said
//! in a schema and are refused by state.
//! Each comes with an example the handler accepts (`tests/api/foundation.rs` sends every one).

use serde_json::{json, Value};

/// A single-line text of letters, digits and common punctuation (what the handlers' text rules
/// accept whatever their exact limits).
fn text(max: u32) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": "^[A-Za-z0-9][A-Za-z0-9 .,'-]*$"})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties, "additionalProperties": false})
}

/// (method, path, body schema, an example the handler takes).
pub fn bodies() -> Vec<(&'static str, &'static str, Value, Value)> {
    let message = object(&["body"], json!({"body": text(500)}));
    let message_example = json!({"body": "Thanks, see you Monday"});
    let company_only = object(&["company_id"], json!({"company_id": uuid()}));
    let company_example = json!({"company_id": "0190a000-0000-7000-8000-000000000001"});
    let call = object(&["company_id"], json!({"company_id": uuid(), "request_id": uuid()}));
    let email = json!({"type": "string", "pattern": "^[a-z][a-z0-9]{0,15}@[a-z][a-z0-9]{0,15}\\.example$"});
    let login = json!({"type": "string", "pattern": "^[a-z][a-z0-9.]{2,20}$"});
    let new_user = object(&["login", "email", "first_name", "last_name"], json!({
        "login": login.clone(), "email": email.clone(), "first_name": text(60), "last_name": text(60)
    }));
    vec![
        (
            "POST",
            "/api/invitations/activate",
            object(&["token", "password"], json!({
                "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
                "password": {"type": "string", "minLength": 12, "maxLength": 128},
                "refresh_transport": {"type": "string", "enum": ["cookie", "body"]}
            })),
            json!({"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password": "quiet copper lanterns", "refresh_transport": "body"}),
        ),
        (
            "POST",
            "/api/requests",
            object(&["company_id", "pipeline_id", "title", "description"], json!({
                "company_id": uuid(), "pipeline_id": uuid(), "title": text(120),
                "description": {"type": "string", "maxLength": 500, "pattern": "^[A-Za-z0-9 .,'-]*$"}
            })),
            json!({"company_id": "0190a000-0000-7000-8000-000000000001", "pipeline_id": "0190a000-0000-7000-8000-0000000000a1", "title": "Leaking roof", "description": ""}),
        ),
        (
            "POST",
            "/api/admin/links/preview",
            object(&["user", "contact_id", "company_ids", "default_company_id"], json!({
                "user": new_user, "contact_id": uuid(), "company_ids": {"type": "array", "items": uuid(), "minItems": 1, "maxItems": 3, "uniqueItems": true},
                "default_company_id": uuid()
            })),
            json!({"user": {"login": "emily.c", "email": "emily@northernlight.example", "first_name": "Emily", "last_name": "Carter"},
                "contact_id": "0190a000-0000-7000-8000-000000000011", "company_ids": ["0190a000-0000-7000-8000-000000000001"],
                "default_company_id": "0190a000-0000-7000-8000-000000000001"}),
        ),
        (
            "POST",
            "/api/auth/login",
            object(&["login", "password"], json!({
                "login": {"type": "string", "minLength": 1, "maxLength": 100},
                "password": {"type": "string", "minLength": 1, "maxLength": 200},
                "totp": {"type": "string", "pattern": "^[0-9]{6}$"},
                "refresh_transport": {"type": "string", "enum": ["cookie", "body"]}
            })),
            json!({"login": "nobody@example.test", "password": "not the password", "refresh_transport": "body"}),
        ),
        (
            "POST",
            "/api/invitations/preview",
            object(&["token"], json!({"token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}})),
            json!({"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        ),
        (
            "PUT",
            "/api/admin/companies/{id}",
            object(&["name"], json!({"name": text(100), "crm_ref": text(60), "status": {"type": "string", "enum": ["active", "archived"]}})),
            json!({"name": "Northern Light", "crm_ref": "NL-1", "status": "active"}),
        ),
        (
            "PUT",
            "/api/admin/contacts/{id}",
            object(&["first_name", "last_name", "email", "company_ids"], json!({
                "first_name": text(60), "last_name": text(60), "email": email,
                "state": {"type": "string", "enum": ["active", "draft"]},
                "company_ids": {"type": "array", "items": uuid(), "maxItems": 3, "uniqueItems": true}
            })),
            json!({"first_name": "Emily", "last_name": "Carter", "email": "emily@northernlight.example", "company_ids": []}),
        ),
        (
            "PATCH",
            "/api/admin/users/{id}",
            object(&["status"], json!({"status": {"type": "string", "enum": ["active", "blocked"]}})),
            json!({"status": "active"}),
        ),
        (
            "PATCH",
            "/api/admin/links/{id}",
            object(&[], json!({"status": {"type": "string", "enum": ["active", "disabled"]}, "reviewed": {"type": "boolean", "const": true}})),
            json!({"reviewed": true}),
        ),
        (
            "POST",
            "/api/admin/links/{id}/offboard",
            object(&["mode"], json!({"mode": {"type": "string", "enum": ["disable", "revoke"]}})),
            json!({"mode": "disable"}),
        ),
        ("POST", "/api/requests/{id}/messages", message.clone(), message_example.clone()),
        ("POST", "/api/admin/requests/{id}/messages", message.clone(), message_example.clone()),
        ("POST", "/api/chat/messages", message, message_example),
        ("POST", "/api/calls", call.clone(), company_example.clone()),
        ("POST", "/api/admin/calls", call, company_example.clone()),
        ("POST", "/api/channels/telegram", company_only.clone(), company_example.clone()),
        ("POST", "/api/channels/widget", company_only, company_example),
        (
            "POST",
            "/api/admin/documents/{id}/publish",
            object(&[], json!({"required_action": {"type": "string", "enum": ["review", "approve", "sign"]}})),
            json!({"required_action": "review"}),
        ),
        (
            "POST",
            "/api/documents/{id}/actions",
            object(&["action"], json!({"action": {"type": "string", "enum": ["reviewed", "approved", "rejected"]}, "comment": text(200)})),
            json!({"action": "reviewed"}),
        ),
        (
            "PUT",
            "/api/admin/branding",
            object(&["portal_name", "logo_url", "primary_color"], json!({
                "portal_name": text(60), "logo_url": {"type": "null"},
                "primary_color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"}
            })),
            json!({"portal_name": "Client portal", "logo_url": null, "primary_color": "#1f6feb"}),
        ),
        (
            "POST",
            "/api/admin/crm/events/replay",
            object(&[], json!({"after": {"type": "string", "pattern": "^[0-9]{1,15}$"}})),
            json!({"after": "0"}),
        ),
    ]
}

/// The body of one route, if described here.
pub fn body_of(method: &str, path: &str) -> Option<(Value, Value)> {
    bodies().into_iter().find(|(m, p, _, _)| *m == method && *p == path).map(|(_, _, schema, example)| (schema, example))
}
