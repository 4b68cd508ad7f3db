//! The request bodies and query parameters the OpenAPI document describes, as strictly as the
//! handlers read them: every route that reads a body (the `signed` document action aside, which
//! needs the signer's password and code), with required fields, formats, enums, lengths and no
//! other properties. Names and texts are described by a safe character set narrower than what the
//! handlers take (any printable text), so that generated values are ones a person would type; ids
//! that must exist (companies, pipelines) cannot be said in a schema and are refused by state, and
//! so is a wrong password or code on the own-credential routes (`/api/me/...`).
//! Each body comes with an example the handler accepts (`tests/api/foundation.rs` sends every one).

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

/// An uploaded file's type and content. Every other allowed type must start with its signature
/// (magic bytes), so only `text/plain` and `text/csv` are described, whose bytes must be UTF-8
/// without NUL: each group of four base64 characters here decodes to three ASCII bytes from 1 to
/// 127 (the character classes keep each byte's top bit clear and each byte non-zero), so every
/// value is text the check accepts.
fn text_file() -> (Value, Value) {
    let content_type = json!({"type": "string", "enum": ["text/plain", "text/csv"]});
    let content_base64 = json!({"type": "string", "pattern": "^([B-Za-f][B-HR-Xh-nx-z0-3][ABEFIJMNQRUVYZcdghklopstwx014589][B-Za-z0-9+/]){1,64}$"});
    (content_type, content_base64)
}

/// A stage of a described pipeline: its id and whether it is final are fixed (see the pipeline body).
fn stage(id: &str, is_final: bool) -> Value {
    object(&["id", "name", "is_final"], json!({"id": {"type": "string", "const": id}, "name": text(200), "is_final": {"type": "boolean", "const": is_final}}))
}

/// A 6-digit authenticator code.
fn totp_code() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{6}$"})
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
    let wizard = object(&["user", "contact_id", "company_ids", "default_company_id"], json!({
        "user": new_user, "contact_id": uuid(), "company_ids": {"type": "array", "items": uuid(), "minItems": 1, "maxItems": 3, "uniqueItems": true},
        "default_company_id": uuid()
    }));
    let wizard_example = json!({"user": {"login": "emily.c", "email": "emily@northernlight.example", "first_name": "Emily", "last_name": "Carter"},
        "contact_id": "0190a000-0000-7000-8000-000000000011", "company_ids": ["0190a000-0000-7000-8000-000000000001"],
        "default_company_id": "0190a000-0000-7000-8000-000000000001"});
    let company_ids = json!({"type": "array", "items": uuid(), "maxItems": 3, "uniqueItems": true});
    // Unknown pipelines are refused naming `allowed_pipelines` (by state: a schema cannot say which exist).
    let pipelines = json!({"type": "array", "items": uuid(), "maxItems": 3, "uniqueItems": true});
    let (file_type, file_base64) = text_file();
    let upload = object(&["file_name", "content_type", "content_base64"], json!({
        "file_name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,60}\\.(txt|csv)$"},
        "content_type": file_type.clone(), "content_base64": file_base64.clone()
    }));
    let upload_example = json!({"file_name": "note.txt", "content_type": "text/plain", "content_base64": "YSBub3Rl"});
    // A refresh token: `<session uuid>.<43 base64url characters>` (a malformed one is a 401 like an unknown one).
    let refresh_token = json!({"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.[A-Za-z0-9_-]{43}$"});
    let refresh_example = "0190a000-0000-7000-8000-0000000000b1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let refresh_transport = json!({"type": "string", "enum": ["cookie", "body"]});
    let rule = json!({"type": "string", "enum": ["inherit", "allow", "deny"]});
    let flag = json!({"type": "boolean"});
    let range = |min: u32, max: u32| json!({"type": "integer", "minimum": min, "maximum": max});
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
            wizard.clone(),
            wizard_example.clone(),
        ),
        (
            "POST",
            "/api/auth/login",
            object(&["login", "password"], json!({
                "login": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
                "password": {"type": "string", "minLength": 1, "maxLength": 200},
                "totp": {"type": "string", "pattern": "^[0-9]{6}$"},
                "refresh_transport": {"type": "string", "enum": ["cookie", "body"]},
                "link_id": {"type": "string", "format": "uuid"}
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
                "first_name": text(60), "last_name": text(60), "email": email.clone(),
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
            // At least one change: an empty PATCH is refused as "nothing to change".
            json!({"type": "object", "minProperties": 1, "additionalProperties": false,
                "properties": {"status": {"type": "string", "enum": ["active", "disabled"]}, "reviewed": {"type": "boolean", "const": true}}}),
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
        // Files: text only (see `text_file`); the stored name takes the checked type's extension.
        ("POST", "/api/requests/{id}/attachments", upload.clone(), upload_example.clone()),
        ("POST", "/api/admin/requests/{id}/attachments", upload, upload_example),
        (
            "PATCH",
            "/api/admin/requests/{id}",
            // A stage of the request's pipeline, or 400 naming `status`: the stage ids every
            // pipeline described below has (and the schemathesis seed's).
            object(&["status"], json!({"status": {"type": "string", "enum": ["new", "done"]}})),
            json!({"status": "done"}),
        ),
        (
            "POST",
            "/api/admin/chat/messages",
            // The company comes in `?company=` or in the body; the body is what this describes.
            object(&["body", "company_id"], json!({"body": text(500), "company_id": uuid()})),
            json!({"body": "Thanks, see you Monday", "company_id": "0190a000-0000-7000-8000-000000000001"}),
        ),
        (
            "POST",
            "/api/admin/documents",
            // `contact_id` is left out: one not of the company is refused naming it.
            object(&["company_id", "title", "content_type", "content_base64"], json!({
                "company_id": uuid(), "title": text(200), "content_type": file_type, "content_base64": file_base64
            })),
            json!({"company_id": "0190a000-0000-7000-8000-000000000001", "title": "Contract", "content_type": "text/plain", "content_base64": "YSBub3Rl"}),
        ),
        ("POST", "/api/admin/links", wizard, wizard_example),
        ("POST", "/api/admin/links/{id}/invitations", object(&[], json!({"send_email": flag.clone()})), json!({"send_email": false})),
        (
            "PUT",
            "/api/admin/companies/{id}/policy",
            object(&[], json!({
                "create_requests": flag.clone(), "read_request_chat": flag.clone(), "send_request_chat": flag.clone(), "general_chat": flag.clone(),
                "calls": flag.clone(), "telegram": flag.clone(), "widget": flag.clone(), "allowed_pipelines": pipelines.clone()
            })),
            json!({"create_requests": true, "read_request_chat": true, "send_request_chat": true, "general_chat": false,
                "calls": false, "telegram": false, "widget": false, "allowed_pipelines": []}),
        ),
        (
            "PUT",
            "/api/admin/contacts/{id}/policy",
            object(&[], json!({
                "create_requests": rule.clone(), "read_request_chat": rule.clone(), "send_request_chat": rule.clone(), "general_chat": rule.clone(),
                "calls": rule.clone(), "telegram": rule.clone(), "widget": rule,
                "allowed_pipelines": {"type": ["array", "null"], "items": uuid(), "maxItems": 3, "uniqueItems": true}
            })),
            json!({"create_requests": "inherit", "general_chat": "deny", "allowed_pipelines": null}),
        ),
        (
            "POST",
            "/api/admin/users/{id}/sessions/revoke",
            object(&[], json!({"session_id": uuid()})),
            json!({"session_id": "0190a000-0000-7000-8000-0000000000c1"}),
        ),
        (
            "PUT",
            "/api/admin/pipelines/{id}",
            // Stage ids must be unique, one stage final and the first not: a schema cannot say the
            // first two, so the stages are fixed to an open `new` then a final `done` (names free).
            // One request field at most (keys must be unique), of a type without choices.
            object(&["name", "stages"], json!({
                "name": text(200),
                "stages": {"type": "array", "minItems": 2, "maxItems": 2, "prefixItems": [stage("new", false), stage("done", true)], "items": false},
                "fields": {"type": "array", "maxItems": 1, "items": object(&["key", "label", "type", "required"], json!({
                    "key": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,63}$"}, "label": text(200),
                    "type": {"type": "string", "enum": ["text", "number", "date"]}, "required": flag.clone()
                }))},
                "archived": flag.clone()
            })),
            json!({"name": "Support", "stages": [{"id": "new", "name": "New", "is_final": false}, {"id": "done", "name": "Done", "is_final": true}],
                "fields": [{"key": "order_ref", "label": "Order reference", "type": "text", "required": false}], "archived": false}),
        ),
        (
            "PUT",
            "/api/admin/employees/{id}",
            // Unknown companies are refused naming `company_ids` (by state).
            object(&["login", "email", "first_name", "last_name", "role", "company_ids"], json!({
                "login": login.clone(), "email": email.clone(), "first_name": text(60), "last_name": text(60),
                "role": {"type": "string", "enum": ["admin", "manager"]}, "company_ids": company_ids,
                "status": {"type": "string", "enum": ["active", "blocked"]}, "send_email": flag.clone()
            })),
            json!({"login": "max.m", "email": "max@vector.example", "first_name": "Max", "last_name": "Manager", "role": "manager",
                "company_ids": ["0190a000-0000-7000-8000-000000000001"], "send_email": false}),
        ),
        (
            "PUT",
            "/api/admin/security",
            // Every field, in its validated range; the session's maximum age must be at least the
            // refresh lifetime, so the two ranges meet at one day instead of overlapping.
            object(&["password", "lockout", "sessions", "mfa"], json!({
                "password": object(&["min_length", "require_lower", "require_upper", "require_digit", "require_special"], json!({
                    "min_length": range(8, 128), "require_lower": flag.clone(), "require_upper": flag.clone(),
                    "require_digit": flag.clone(), "require_special": flag.clone()
                })),
                "lockout": object(&["max_failed_attempts", "lockout_minutes"], json!({"max_failed_attempts": range(3, 20), "lockout_minutes": range(1, 24 * 60)})),
                "sessions": object(&["access_ttl_seconds", "refresh_ttl_seconds", "session_max_age_seconds", "invitation_ttl_hours"], json!({
                    "access_ttl_seconds": range(60, 3600), "refresh_ttl_seconds": range(600, 86_400),
                    "session_max_age_seconds": range(86_400, 365 * 86_400), "invitation_ttl_hours": range(1, 30 * 24)
                })),
                "mfa": object(&["required_for_clients", "required_for_employees"], json!({"required_for_clients": flag.clone(), "required_for_employees": flag.clone()}))
            })),
            json!({
                "password": {"min_length": 12, "require_lower": false, "require_upper": false, "require_digit": false, "require_special": false},
                "lockout": {"max_failed_attempts": 5, "lockout_minutes": 15},
                "sessions": {"access_ttl_seconds": 600, "refresh_ttl_seconds": 86_400, "session_max_age_seconds": 2_592_000, "invitation_ttl_hours": 72},
                "mfa": {"required_for_clients": false, "required_for_employees": false}
            }),
        ),
        (
            "POST",
            "/api/admin/bootstrap",
            object(&["token", "login", "password", "first_name", "last_name"], json!({
                "token": {"type": "string", "minLength": 1, "maxLength": 200}, "login": login, "password": {"type": "string", "minLength": 12, "maxLength": 128},
                "first_name": text(60), "last_name": text(60), "email": email
            })),
            json!({"token": "not-the-bootstrap-secret", "login": "ada.admin", "password": "quiet copper lanterns", "first_name": "Ada", "last_name": "Admin", "email": "ada@northernlight.example"}),
        ),
        // The signed-in user's own credentials: a wrong password or code is refused naming it (after
        // parsing). The code is required where the handler reads it only when an authenticator is
        // enrolled, so the body is complete either way.
        ("POST", "/api/me/mfa/totp/confirm", object(&["code"], json!({"code": totp_code()})), json!({"code": "123456"})),
        (
            "POST",
            "/api/me/mfa/totp",
            object(&["current_password", "current_code"], json!({"current_password": {"type": "string", "minLength": 1, "maxLength": 200}, "current_code": totp_code()})),
            json!({"current_password": "not the password", "current_code": "123456"}),
        ),
        (
            "POST",
            "/api/me/password",
            object(&["current_password", "new_password", "totp"], json!({
                "current_password": {"type": "string", "minLength": 1, "maxLength": 200}, "new_password": {"type": "string", "minLength": 12, "maxLength": 128},
                "totp": totp_code(), "sign_out_other_sessions": flag, "refresh_transport": refresh_transport.clone()
            })),
            json!({"current_password": "not the password", "new_password": "quiet copper lanterns", "totp": "123456", "sign_out_other_sessions": false, "refresh_transport": "body"}),
        ),
        // The body form (the cookie form sends no body); logout with the token in the body ends
        // that token's session, never the caller's by its access token.
        (
            "POST",
            "/api/auth/refresh",
            object(&["refresh_token"], json!({"refresh_token": refresh_token.clone(), "refresh_transport": refresh_transport})),
            json!({"refresh_token": refresh_example, "refresh_transport": "body"}),
        ),
        ("POST", "/api/auth/logout", object(&["refresh_token"], json!({"refresh_token": refresh_token})), json!({"refresh_token": refresh_example})),
        (
            "POST",
            "/webhooks/widget/{id}",
            // Only `message` events carry a text (other types are acknowledged and refused).
            object(&["id", "type", "text"], json!({
                "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}, "type": {"type": "string", "enum": ["message"]},
                "text": text(500), "request_id": uuid()
            })),
            json!({"id": "evt-1", "type": "message", "text": "Is the invoice ready"}),
        ),
        (
            "POST",
            "/webhooks/telegram",
            // The part of an Update the handler reads (it ignores, never refuses, the rest).
            object(&["update_id"], json!({
                "update_id": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647u32},
                "message": object(&["message_id", "chat"], json!({
                    "message_id": {"type": "integer", "minimum": 1, "maximum": 2_147_483_647u32},
                    "chat": object(&["id", "type"], json!({
                        "id": {"type": "integer", "minimum": -1_000_000_000_000i64, "maximum": 1_000_000_000_000i64},
                        "type": {"type": "string", "enum": ["private", "group", "supergroup"]}
                    })),
                    "from": object(&[], json!({"username": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{4,31}$"}, "first_name": text(60), "last_name": text(60)})),
                    "text": text(500)
                }))
            })),
            json!({"update_id": 1, "message": {"message_id": 1, "chat": {"id": 42, "type": "private"}, "from": {"first_name": "Emily"}, "text": "Hello"}}),
        ),
    ]
}

/// The body of one route, if described here.
pub fn body_of(method: &str, path: &str) -> Option<(Value, Value)> {
    bodies().into_iter().find(|(m, p, _, _)| *m == method && *p == path).map(|(_, _, schema, example)| (schema, example))
}

/// The query parameters of the reads that need one to answer at all (a company's general chat) or
/// page newest first; the other reads take optional filters their summaries name.
pub fn query_of(method: &str, path: &str) -> Vec<Value> {
    let param = |name: &str, required: bool, schema: Value, description: &str| {
        json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
    };
    let company = |required: bool| param("company", required, uuid(), "The company whose general chat; the link's default company when absent (clients)");
    let order = param("order", false, json!({"type": "string", "enum": ["newest"]}), "The latest page first, its cursor leading to older messages");
    let limit = param("limit", false, json!({"type": "integer", "minimum": 1, "maximum": 200}), "Page size (default 50)");
    match (method, path) {
        ("GET", "/api/admin/chat/messages") => vec![company(true), order, limit],
        ("GET", "/api/chat/messages") => vec![company(false), order, limit],
        ("GET", "/api/requests/{id}/messages") | ("GET", "/api/admin/requests/{id}/messages") => vec![order, limit],
        _ => Vec::new(),
    }
}
