//! Documents: the team uploads, publishes, asks for a signature and withdraws; the client sees only
//! what is published for them, downloads it safely, and acts once, with evidence.

use crate::support::*;
use serde_json::{json, Value};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const OTHER_CONTACT: &str = "0190a000-0000-7000-8000-000000000012";
const MANAGER: &str = "0190a000-0000-7000-8000-000000000051";
const UNKNOWN: &str = "0190a000-0000-7000-8000-0000000000ff";
const ADMIN_PASSWORD: &str = "ledger winter copper 42";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct World {
    app: TestApp,
    admin: String,
    emily: String,
}

/// Emily (Northern Light) signed in; an admin; a second contact of Northern Light.
fn world() -> World {
    let app = TestApp::new().with_emily_active();
    let now = app.now.get().timestamp();
    app.exec(&format!(
        "INSERT INTO contacts (id, first_name, last_name, email, state, created_at, updated_at) \
           VALUES ('{OTHER_CONTACT}', 'Oskar', 'Berg', 'oskar@northernlight.example', 'active', {now}, {now});
         INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{OTHER_CONTACT}', '{NORTHERN_LIGHT}', {now});"
    ));
    let admin = app.admin_token();
    let emily = app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    World { app, admin, emily }
}

impl World {
    fn upload(&self, body: Value) -> Resp {
        self.app.send_auth("POST", "/api/admin/documents", &self.admin, Some(body))
    }

    /// Uploads bytes as a draft and returns its id.
    fn draft(&self, company: &str, contact: Option<&str>, title: &str, content_type: &str, bytes: &[u8]) -> String {
        let resp = self.upload(json!({"company_id": company, "contact_id": contact, "title": title, "content_type": content_type, "content_base64": b64(bytes)}));
        assert_eq!(resp.status(), 201, "{}", body_text(&resp));
        let doc = json(&resp);
        assert_eq!(doc["status"], "draft");
        doc["id"].as_str().unwrap().to_owned()
    }

    fn team(&self, id: &str, what: &str, body: Option<Value>) -> Resp {
        self.app.send_auth("POST", &format!("/api/admin/documents/{id}/{what}"), &self.admin, body)
    }

    /// A published PDF for Northern Light (and optionally one contact) expecting `action`.
    fn published(&self, contact: Option<&str>, action: &str) -> String {
        let id = self.draft(NORTHERN_LIGHT, contact, "Service agreement", "application/pdf", PDF);
        let resp = self.team(&id, "publish", Some(json!({"required_action": action})));
        assert_eq!(resp.status(), 200, "{}", body_text(&resp));
        id
    }

    fn act(&self, id: &str, body: Value) -> Resp {
        self.app.call(request(
            "POST",
            &format!("/api/documents/{id}/actions"),
            Some(body),
            &[("authorization", &format!("Bearer {}", self.emily)), ("user-agent", "Firefox/140 test"), ("cf-connecting-ip", "203.0.113.7"), ("cf-ipcountry", "NO")],
        ))
    }

    fn sign(&self, id: &str, password: &str) -> Resp {
        self.act(id, json!({"action": "signed", "signature_name": "Emily Carter", "password": password}))
    }

    fn client_ids(&self, query: &str) -> Vec<String> {
        let resp = self.app.get_auth(&format!("/api/documents{query}"), &self.emily);
        assert_eq!(resp.status(), 200, "{}", body_text(&resp));
        json(&resp)["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
    }

    /// Every client route on the document answers 404.
    fn assert_invisible(&self, id: &str) {
        for path in [format!("/api/documents/{id}"), format!("/api/documents/{id}/file")] {
            let resp = self.app.get_auth(&path, &self.emily);
            assert_eq!(resp.status(), 404, "{path}: {}", body_text(&resp));
        }
        assert_eq!(self.act(id, json!({"action": "reviewed"})).status(), 404);
        assert!(!self.client_ids("").contains(&id.to_owned()), "{id} listed");
        assert!(!self.client_ids(&format!("?company={NORTHERN_LIGHT}")).contains(&id.to_owned()), "{id} listed");
    }

    /// A manager of Northern Light only; returns their token.
    fn manager(&self) -> String {
        let now = self.app.now.get().timestamp();
        self.app.exec(&format!(
            "INSERT INTO users (id, kind, status, role, login, login_key, email, first_name, last_name, password_hash, created_at, updated_at) \
               SELECT '{MANAGER}', 'employee', 'active', 'manager', 'mia', 'mia', 'mia@vector.example', 'Mia', 'Manager', password_hash, {now}, {now} \
               FROM users WHERE login_key = 'admin';
             INSERT INTO employee_companies (user_id, company_id, created_at) VALUES ('{MANAGER}', '{NORTHERN_LIGHT}', {now});"
        ));
        self.app.login_ok("mia", ADMIN_PASSWORD).0
    }
}

fn body_text(resp: &Resp) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

fn field(resp: &Resp) -> String {
    json(resp)["error"]["field"].as_str().unwrap_or_default().to_owned()
}

use extranet::http::Resp;

#[test]
fn the_full_signing_flow_leaves_evidence_of_the_exact_file() {
    let w = world();
    let id = w.draft(NORTHERN_LIGHT, None, "Service agreement 2027", "application/pdf", PDF);
    assert_eq!(w.app.sql_count(&format!("SELECT size FROM documents WHERE id = '{id}'")), PDF.len() as i64);
    let published = w.team(&id, "publish", Some(json!({"required_action": "review"})));
    assert_eq!(published.status(), 200, "{}", body_text(&published));
    assert_eq!(json(&published)["status"], "published");
    let asked = w.team(&id, "request-signature", None);
    assert_eq!(asked.status(), 200, "{}", body_text(&asked));
    assert_eq!(json(&asked)["required_action"], "sign");

    let seen = w.app.get_auth(&format!("/api/documents/{id}"), &w.emily);
    assert_eq!(seen.status(), 200, "{}", body_text(&seen));
    let seen = json(&seen);
    assert_eq!(seen["required_action"], "sign");
    assert_eq!(seen["expected_actions"], json!(["signed"]));
    assert_eq!(seen["completed_action"], Value::Null);
    let expected_sha = extranet::auth::refresh::sha256_hex(PDF);
    assert_eq!(seen["sha256"], expected_sha.as_str());

    let signed = w.sign(&id, EMILY_PASSWORD);
    assert_eq!(signed.status(), 200, "{}", body_text(&signed));
    let signed = json(&signed);
    assert_eq!(signed["document"]["completed_action"], "signed");
    assert_eq!(signed["document"]["completed_by"], EMILY_USER);
    assert!(signed["document"]["completed_at"].as_str().is_some());
    assert_eq!(signed["action"]["document_sha256"], expected_sha.as_str());

    // The first matching action completed it: a second signature is refused.
    let again = w.sign(&id, EMILY_PASSWORD);
    assert_eq!(again.status(), 409, "{}", body_text(&again));
    assert_eq!(error_code(&again), "action_not_expected");

    // The evidence row: the SHA-256 of the uploaded bytes, where from, which session and link.
    assert_eq!(w.app.sql_count(&format!("SELECT COUNT(*) FROM document_actions WHERE document_id = '{id}'")), 1);
    assert_eq!(
        w.app.sql_count(&format!(
            "SELECT COUNT(*) FROM document_actions WHERE document_id = '{id}' AND action = 'signed' AND document_sha256 = '{expected_sha}' \
             AND ip = '203.0.113.7' AND country = 'NO' AND user_agent = 'Firefox/140 test' AND signature_name = 'Emily Carter' \
             AND user_id = '{EMILY_USER}' AND link_id = '{EMILY_LINK}' AND session_id IS NOT NULL AND created_at = {}",
            w.app.now.get().timestamp()
        )),
        1
    );
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM audit_events WHERE action = 'document.signed' AND outcome = 'success'"), 1);

    // The team sees the evidence; a signed document cannot be asked to sign again.
    let detail = json(&w.app.get_auth(&format!("/api/admin/documents/{id}"), &w.admin));
    assert_eq!(detail["completed_action"], "signed");
    assert_eq!(detail["actions"][0]["document_sha256"], expected_sha.as_str());
    assert_eq!(detail["actions"][0]["ip"], "203.0.113.7");
    assert_eq!(detail["actions"][0]["user_agent"], "Firefox/140 test");
    let resign = w.team(&id, "request-signature", None);
    assert_eq!(resign.status(), 409);
    assert_eq!(error_code(&resign), "document_signed");
    for action in ["document.uploaded", "document.published", "document.signature_requested"] {
        assert_eq!(w.app.sql_count(&format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND target_id = '{id}'")), 1, "{action}");
    }
}

#[test]
fn a_wrong_password_is_refused_and_counts_toward_the_lockout() {
    let w = world();
    let id = w.published(None, "sign");
    let resp = w.sign(&id, "not my password at all");
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(&resp), "invalid_input");
    assert_eq!(field(&resp), "password");
    assert_eq!(w.app.sql_count(&format!("SELECT COUNT(*) FROM document_actions WHERE document_id = '{id}'")), 0);
    assert_eq!(json(&w.app.get_auth(&format!("/api/documents/{id}"), &w.emily))["completed_action"], Value::Null);
    assert_eq!(w.app.sql_count(&format!("SELECT failed_logins FROM users WHERE id = '{EMILY_USER}'")), 1, "a step-up guess counts like a login guess");
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM audit_events WHERE action = 'document.sign_failed' AND outcome = 'failure'"), 1);
    // Still expected: the right password signs, and a complete success resets the counter.
    assert_eq!(w.sign(&id, EMILY_PASSWORD).status(), 200);
    assert_eq!(w.app.sql_count(&format!("SELECT failed_logins FROM users WHERE id = '{EMILY_USER}'")), 0);
}

#[test]
fn a_stolen_token_cannot_guess_the_password_through_signing() {
    let w = world();
    let id = w.published(None, "sign");
    for i in 0..5 {
        assert_eq!(w.sign(&id, &format!("guess number {i}")).status(), 400);
    }
    let locked = w.sign(&id, EMILY_PASSWORD);
    assert_eq!(locked.status(), 429, "after five wrong step-ups even the right password waits");
    assert_eq!(w.app.login(EMILY_LOGIN, EMILY_PASSWORD).status(), 401, "and the account is locked for login too");
    assert_eq!(w.app.sql_count(&format!("SELECT COUNT(*) FROM document_actions WHERE document_id = '{id}'")), 0);
}

#[test]
fn signing_needs_a_fresh_code_where_the_user_has_totp() {
    let w = world();
    let secret = extranet::auth::totp::TotpSecret::from_bytes([7u8; 20]);
    w.app.exec(&format!("UPDATE users SET totp_secret = '{}' WHERE id = '{EMILY_USER}'", secret.to_base32()));
    let id = w.published(None, "sign");
    let sign = |totp: Option<&str>| w.act(&id, json!({"action": "signed", "signature_name": "Emily Carter", "password": EMILY_PASSWORD, "totp": totp}));
    let missing = sign(None);
    assert_eq!((missing.status().as_u16(), field(&missing)), (400, "totp".to_owned()));
    let wrong = sign(Some("000000"));
    let step = extranet::auth::totp::step_at(w.app.now.get().timestamp());
    let code = extranet::auth::totp::code_at_step(&secret, step);
    if code != "000000" {
        assert_eq!((wrong.status().as_u16(), field(&wrong)), (400, "totp".to_owned()));
    }
    let ok = sign(Some(&code));
    assert_eq!(ok.status(), 200, "{}", body_text(&ok));
    assert_eq!(w.app.sql_count(&format!("SELECT totp_last_step FROM users WHERE id = '{EMILY_USER}'")), step);
}

#[test]
fn a_document_for_another_contact_of_the_same_company_is_invisible() {
    let w = world();
    let theirs = w.published(Some(OTHER_CONTACT), "review");
    let mine = w.published(Some(EMILY_CONTACT), "review");
    let everyone = w.published(None, "none");
    w.assert_invisible(&theirs);
    let listed = w.client_ids("");
    assert!(listed.contains(&mine) && listed.contains(&everyone), "{listed:?}");
    assert_eq!(listed.len(), 2);
    assert_eq!(w.app.get_auth(&format!("/api/documents/{mine}"), &w.emily).status(), 200);
}

#[test]
fn another_companys_document_is_404_and_not_listed() {
    let w = world();
    let id = w.draft(BLUE_HARBOR, None, "Harbor plan", "application/pdf", PDF);
    assert_eq!(w.team(&id, "publish", None).status(), 200);
    w.assert_invisible(&id);
    let other_company = w.app.get_auth(&format!("/api/documents?company={BLUE_HARBOR}"), &w.emily);
    assert_eq!(other_company.status(), 404);
    let bad = w.app.get_auth("/api/documents?company=nope", &w.emily);
    assert_eq!((bad.status().as_u16(), field(&bad)), (400, "company".to_owned()));
}

#[test]
fn drafts_and_withdrawn_documents_are_invisible() {
    let w = world();
    let id = w.draft(NORTHERN_LIGHT, None, "Draft terms", "application/pdf", PDF);
    w.assert_invisible(&id);
    assert_eq!(w.team(&id, "publish", Some(json!({"required_action": "approve"}))).status(), 200);
    assert_eq!(w.client_ids(""), vec![id.clone()]);
    assert_eq!(w.app.get_auth(&format!("/api/documents/{id}/file"), &w.emily).status(), 200);
    let withdrawn = w.team(&id, "withdraw", None);
    assert_eq!(withdrawn.status(), 200);
    assert_eq!(json(&withdrawn)["status"], "withdrawn");
    w.assert_invisible(&id);
    // Withdrawn is final.
    assert_eq!(error_code(&w.team(&id, "withdraw", None)), "document_withdrawn");
    assert_eq!(error_code(&w.team(&id, "publish", None)), "document_not_draft");
    assert_eq!(error_code(&w.team(&id, "request-signature", None)), "document_not_published");
    // The team still sees it.
    let team = json(&w.app.get_auth(&format!("/api/admin/documents?company={NORTHERN_LIGHT}&status=withdrawn"), &w.admin));
    assert_eq!(team["items"][0]["id"], id.as_str());
}

#[test]
fn pages_and_scripts_are_refused_and_files_download_as_sandboxed_attachments() {
    let w = world();
    let html = b"<html><body><script>fetch('/api/me')</script></body></html>";
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>";
    for (ct, bytes) in [("text/html", &html[..]), ("image/svg+xml", &svg[..]), ("application/xhtml+xml", &html[..]), ("application/octet-stream", &html[..])] {
        let resp = w.upload(json!({"company_id": NORTHERN_LIGHT, "title": "x", "content_type": ct, "content_base64": b64(bytes)}));
        assert_eq!((resp.status().as_u16(), field(&resp)), (400, "content_type".to_owned()), "{ct}");
    }
    // A label that lies about the bytes is refused too.
    let lying = w.upload(json!({"company_id": NORTHERN_LIGHT, "title": "x", "content_type": "image/png", "content_base64": b64(html)}));
    assert_eq!((lying.status().as_u16(), field(&lying)), (400, "content_base64".to_owned()));
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM documents"), 0);
    assert!(w.app.ports.kv.is_empty(), "a refused upload left a file in KV");

    // Allowed types download as attachments with nosniff and a sandbox CSP, even text that holds markup.
    let pdf = w.draft(NORTHERN_LIGHT, None, "Offer \"final\" ../../etc", "application/pdf", PDF);
    let text = w.draft(NORTHERN_LIGHT, None, "notes", "text/plain; charset=utf-8", html);
    for id in [&pdf, &text] {
        assert_eq!(w.team(id, "publish", None).status(), 200);
    }
    for (id, ct, bytes, name) in [(&pdf, "application/pdf", PDF, "Offer _final_ .._.._etc.pdf"), (&text, "text/plain", &html[..], "notes.txt")] {
        for (path, token) in [(format!("/api/documents/{id}/file"), &w.emily), (format!("/api/admin/documents/{id}/file"), &w.admin)] {
            let resp = w.app.get_auth(&path, token);
            assert_eq!(resp.status(), 200, "{path}: {}", body_text(&resp));
            assert_eq!(resp.body().as_slice(), bytes);
            assert_eq!(header(&resp, "content-type"), Some(ct));
            let disposition = header(&resp, "content-disposition").unwrap_or_default();
            assert!(disposition.starts_with(&format!("attachment; filename=\"{name}\"")), "{disposition}");
            assert_eq!(header(&resp, "x-content-type-options"), Some("nosniff"));
            assert!(header(&resp, "content-security-policy").unwrap_or_default().starts_with("sandbox"), "{:?}", header(&resp, "content-security-policy"));
        }
    }
}

#[test]
fn an_oversize_upload_answers_413() {
    let w = world();
    let big = "A".repeat(10 * 1024 * 1024 + 16);
    let resp = w.upload(json!({"company_id": NORTHERN_LIGHT, "title": "Huge", "content_type": "text/plain", "content_base64": big}));
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(&resp), "too_large");
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM documents"), 0);
}

#[test]
fn bad_input_on_every_write_route_names_the_field() {
    let w = world();
    let good = json!({"company_id": NORTHERN_LIGHT, "title": "Agreement", "content_type": "application/pdf", "content_base64": b64(PDF)});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases = [
        (without("company_id"), "company_id"),
        (with("company_id", json!(5)), "company_id"),
        (with("company_id", json!("not-a-uuid")), "company_id"),
        (without("title"), "title"),
        (with("title", json!("   ")), "title"),
        (with("title", json!("x".repeat(201))), "title"),
        (with("title", json!(["a"])), "title"),
        (without("content_type"), "content_type"),
        (with("content_type", json!("text/html")), "content_type"),
        (without("content_base64"), "content_base64"),
        (with("content_base64", json!("%%% not base64")), "content_base64"),
        (with("content_base64", json!("")), "content_base64"),
        (with("contact_id", json!("nope")), "contact_id"),
        (with("contact_id", json!(UNKNOWN)), "contact_id"),
    ];
    for (body, name) in cases {
        let resp = w.upload(body.clone());
        assert_eq!((resp.status().as_u16(), field(&resp)), (400, name.to_owned()), "{body}: {}", body_text(&resp));
    }
    // A contact of another company is not this company's contact.
    let now = w.app.now.get().timestamp();
    w.app.exec(&format!("INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{OTHER_CONTACT}', '{BLUE_HARBOR}', {now}); \
        DELETE FROM contact_companies WHERE contact_id = '{OTHER_CONTACT}' AND company_id = '{NORTHERN_LIGHT}'"));
    let resp = w.upload(with("contact_id", json!(OTHER_CONTACT)));
    assert_eq!((resp.status().as_u16(), field(&resp)), (400, "contact_id".to_owned()));
    // Unknown and another company's ids.
    assert_eq!(w.upload(with("company_id", json!(UNKNOWN))).status(), 404);
    let mut not_json = raw_request("POST", "/api/admin/documents", "text/plain", good.to_string().into_bytes());
    not_json.headers_mut().insert("authorization", format!("Bearer {}", w.admin).parse().unwrap());
    let not_json = w.app.call(not_json);
    assert_eq!(not_json.status(), 415);

    let id = w.draft(NORTHERN_LIGHT, None, "Agreement", "application/pdf", PDF);
    let resp = w.team(&id, "publish", Some(json!({"required_action": "countersign"})));
    assert_eq!((resp.status().as_u16(), field(&resp)), (400, "required_action".to_owned()));
    let resp = w.team(&id, "publish", Some(json!({"required_action": 3})));
    assert_eq!((resp.status().as_u16(), field(&resp)), (400, "required_action".to_owned()));
    for what in ["publish", "request-signature", "withdraw"] {
        assert_eq!(w.team(UNKNOWN, what, None).status(), 404, "{what}");
        assert_eq!(w.team("not-an-id", what, None).status(), 404, "{what}");
    }
    assert_eq!(w.app.get_auth(&format!("/api/admin/documents/{UNKNOWN}"), &w.admin).status(), 404);

    assert_eq!(w.team(&id, "publish", Some(json!({"required_action": "approve"}))).status(), 200);
    let action_cases = [
        (json!({}), "action"),
        (json!({"action": "liked"}), "action"),
        (json!({"action": 1}), "action"),
        (json!({"action": "rejected"}), "comment"),
        (json!({"action": "rejected", "comment": "  "}), "comment"),
        (json!({"action": "rejected", "comment": 5}), "comment"),
        (json!({"action": "rejected", "comment": "x".repeat(2001)}), "comment"),
        (json!({"action": "signed", "password": EMILY_PASSWORD}), "signature_name"),
        (json!({"action": "signed", "signature_name": "Emily Carter"}), "password"),
        (json!({"action": "signed", "signature_name": "Emily Carter", "password": 12}), "password"),
    ];
    for (body, name) in action_cases {
        let resp = w.act(&id, body.clone());
        assert_eq!((resp.status().as_u16(), field(&resp)), (400, name.to_owned()), "{body}: {}", body_text(&resp));
    }
    assert_eq!(w.act(UNKNOWN, json!({"action": "approved"})).status(), 404);
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM document_actions"), 0);
}

#[test]
fn an_action_the_document_does_not_expect_answers_409() {
    let w = world();
    let none = w.published(None, "none");
    let review = w.published(None, "review");
    let approve = w.published(None, "approve");
    let sign = w.published(None, "sign");
    for (id, body) in [
        (&none, json!({"action": "reviewed"})),
        (&review, json!({"action": "approved"})),
        (&review, json!({"action": "signed", "signature_name": "Emily Carter", "password": EMILY_PASSWORD})),
        (&approve, json!({"action": "reviewed"})),
        (&sign, json!({"action": "approved"})),
    ] {
        let resp = w.act(id, body.clone());
        assert_eq!((resp.status().as_u16(), error_code(&resp)), (409, "action_not_expected".to_owned()), "{body}");
    }
    assert_eq!(w.act(&review, json!({"action": "reviewed"})).status(), 200);
    assert_eq!(error_code(&w.act(&review, json!({"action": "reviewed"}))), "action_not_expected");
    let rejected = w.act(&approve, json!({"action": "rejected", "comment": "The amount is wrong."}));
    assert_eq!(rejected.status(), 200, "{}", body_text(&rejected));
    assert_eq!(json(&rejected)["document"]["completed_action"], "rejected");
    assert_eq!(error_code(&w.act(&approve, json!({"action": "approved"}))), "action_not_expected");
    assert_eq!(
        w.app.sql_count(&format!("SELECT COUNT(*) FROM document_actions WHERE document_id = '{approve}' AND comment = 'The amount is wrong.'")),
        1
    );
}

#[test]
fn asking_for_a_signature_after_a_review_resets_it_and_keeps_the_evidence() {
    let w = world();
    let id = w.published(None, "review");
    assert_eq!(w.act(&id, json!({"action": "reviewed"})).status(), 200);
    let asked = json(&w.team(&id, "request-signature", None));
    assert_eq!(asked["required_action"], "sign");
    assert_eq!(asked["completed_action"], Value::Null);
    // Asking again while it waits changes nothing.
    assert_eq!(w.team(&id, "request-signature", None).status(), 200);
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM audit_events WHERE action = 'document.signature_requested'"), 1);
    assert_eq!(w.sign(&id, EMILY_PASSWORD).status(), 200);
    assert_eq!(w.app.sql_count(&format!("SELECT COUNT(*) FROM document_actions WHERE document_id = '{id}'")), 2);
}

#[test]
fn concurrent_signatures_complete_once() {
    let w = world();
    let id = w.published(None, "sign");
    let reqs: Vec<_> = (0..4)
        .map(|_| {
            request(
                "POST",
                &format!("/api/documents/{id}/actions"),
                Some(json!({"action": "signed", "signature_name": "Emily Carter", "password": EMILY_PASSWORD})),
                &[("authorization", &format!("Bearer {}", w.emily))],
            )
        })
        .collect();
    let results = join_all(reqs.into_iter().map(|r| w.app.send(r)).collect());
    let statuses: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 3, "{statuses:?}");
    assert_eq!(w.app.sql_count(&format!("SELECT COUNT(*) FROM document_actions WHERE document_id = '{id}'")), 1);
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM audit_events WHERE action = 'document.signed'"), 1);
}

#[test]
fn a_manager_works_only_inside_their_companies() {
    let w = world();
    let theirs = w.draft(BLUE_HARBOR, None, "Harbor plan", "application/pdf", PDF);
    let manager = w.manager();
    let upload = |company: &str| {
        w.app.send_auth("POST", "/api/admin/documents", &manager, Some(json!({"company_id": company, "title": "Plan", "content_type": "application/pdf", "content_base64": b64(PDF)})))
    };
    assert_eq!(upload(BLUE_HARBOR).status(), 404);
    let mine = upload(NORTHERN_LIGHT);
    assert_eq!(mine.status(), 201, "{}", body_text(&mine));
    let mine = json(&mine)["id"].as_str().unwrap().to_owned();
    for what in ["publish", "request-signature", "withdraw"] {
        assert_eq!(w.app.send_auth("POST", &format!("/api/admin/documents/{theirs}/{what}"), &manager, None).status(), 404, "{what}");
    }
    for path in [format!("/api/admin/documents/{theirs}"), format!("/api/admin/documents/{theirs}/file"), format!("/api/admin/documents?company={BLUE_HARBOR}")] {
        assert_eq!(w.app.get_auth(&path, &manager).status(), 404, "{path}");
    }
    let listed = json(&w.app.get_auth("/api/admin/documents", &manager));
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![mine.as_str()]);
    assert_eq!(w.app.send_auth("POST", &format!("/api/admin/documents/{mine}/publish"), &manager, None).status(), 200);
    // The admin sees both.
    assert_eq!(json(&w.app.get_auth("/api/admin/documents", &w.admin))["items"].as_array().unwrap().len(), 2);
    let event = w.app.sql_count(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'document.published' AND actor_id = '{MANAGER}' AND company_ids LIKE '%{NORTHERN_LIGHT}%'"
    ));
    assert_eq!(event, 1);
}

#[test]
fn clients_and_employees_stay_on_their_own_side() {
    let w = world();
    let id = w.published(None, "review");
    assert_eq!(w.app.get_auth("/api/admin/documents", &w.emily).status(), 403);
    assert_eq!(w.app.send_auth("POST", &format!("/api/admin/documents/{id}/withdraw"), &w.emily, None).status(), 403);
    assert_eq!(w.app.get_auth("/api/documents", &w.admin).status(), 403);
    assert_eq!(w.app.get_auth(&format!("/api/documents/{id}"), &w.admin).status(), 403);
    assert_eq!(w.app.get("/api/documents").status(), 401);
}

#[test]
fn a_policy_change_makes_the_token_stale_and_a_disabled_link_sees_nothing() {
    let w = world();
    let id = w.published(None, "review");
    w.app.exec(&format!("UPDATE links SET policy_version = policy_version + 1 WHERE id = '{EMILY_LINK}'"));
    for resp in [w.app.get_auth("/api/documents", &w.emily), w.act(&id, json!({"action": "reviewed"}))] {
        assert_eq!(resp.status(), 401);
        assert_eq!(error_code(&resp), "token_stale");
    }
    let fresh = w.app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    assert_eq!(w.app.get_auth("/api/documents", &fresh).status(), 200);
    w.app.exec(&format!("UPDATE links SET status = 'disabled' WHERE id = '{EMILY_LINK}'"));
    assert_eq!(w.app.get_auth(&format!("/api/documents/{id}"), &fresh).status(), 401);
    assert_eq!(w.app.sql_count("SELECT COUNT(*) FROM document_actions"), 0);
}

#[test]
fn lists_page_newest_first() {
    let w = world();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(w.published(None, "none"));
        w.app.advance(1);
    }
    let emily = w.app.login_ok(EMILY_LOGIN, EMILY_PASSWORD).0;
    let first = json(&w.app.get_auth("/api/documents?limit=2", &emily));
    let page: Vec<&str> = first["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json(&w.app.get_auth(&format!("/api/documents?limit=2&cursor={cursor}"), &emily));
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    assert_eq!(second["next_cursor"], Value::Null);
    let bad = w.app.get_auth("/api/documents?cursor=zzz", &emily);
    assert_eq!((bad.status().as_u16(), field(&bad)), (400, "cursor".to_owned()));
    let team = json(&w.app.get_auth("/api/admin/documents?limit=1", &w.admin));
    assert_eq!(team["items"][0]["id"], ids[2].as_str());
    assert!(team["next_cursor"].as_str().is_some());
    assert_eq!(field(&w.app.get_auth("/api/admin/documents?status=lost", &w.admin)), "status");
}

/// A form part: name, file name, content type, bytes.
type FormPart<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

fn multipart(w: &World, parts: &[FormPart<'_>]) -> Resp {
    let mut body = Vec::new();
    for (name, filename, content_type, data) in parts {
        body.extend_from_slice(b"--b0undary\r\n");
        let filename = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"{filename}\r\n").as_bytes());
        if let Some(ct) = content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b0undary--\r\n");
    let mut req = raw_request("POST", "/api/admin/documents", "multipart/form-data; boundary=b0undary", body);
    req.headers_mut().insert("authorization", format!("Bearer {}", w.admin).parse().unwrap());
    w.app.call(req)
}

#[test]
fn multipart_uploads_carry_files_up_to_10_mib() {
    let w = world();
    // Nearly 10 MiB: more than a JSON body could carry as base64.
    let mut big = PDF.to_vec();
    big.resize(10 * 1024 * 1024 - 4096, b'x');
    let resp = multipart(&w, &[("company_id", None, None, NORTHERN_LIGHT.as_bytes()), ("file", Some("Big offer.pdf"), Some("application/pdf"), &big)]);
    assert_eq!(resp.status(), 201, "{}", body_text(&resp));
    let doc = json(&resp);
    assert_eq!(doc["title"], "Big offer.pdf");
    assert_eq!(doc["content_type"], "application/pdf");
    assert_eq!(doc["sha256"], extranet::auth::refresh::sha256_hex(&big).as_str());
    let file = w.app.get_auth(&format!("/api/admin/documents/{}/file", doc["id"].as_str().unwrap()), &w.admin);
    assert_eq!(file.body().len(), big.len());
    assert!(file.body().as_slice() == big.as_slice());

    let fields = [("company_id", None, None, NORTHERN_LIGHT.as_bytes()), ("title", None, None, b"Notes".as_slice())];
    let no_file = multipart(&w, &fields);
    assert_eq!((no_file.status().as_u16(), field(&no_file)), (400, "file".to_owned()));
    let html = multipart(&w, &[fields[0], fields[1], ("file", Some("x.html"), Some("text/html"), b"<script>alert(1)</script>".as_slice())]);
    assert_eq!((html.status().as_u16(), field(&html)), (400, "content_type".to_owned()));
    let no_company = multipart(&w, &[fields[1], ("file", Some("a.pdf"), Some("application/pdf"), PDF)]);
    assert_eq!((no_company.status().as_u16(), field(&no_company)), (400, "company_id".to_owned()));
    let mut too_big = big.clone();
    too_big.resize(10 * 1024 * 1024 + 1, b'x');
    assert_eq!(multipart(&w, &[fields[0], ("file", Some("a.pdf"), Some("application/pdf"), &too_big)]).status(), 413);
    let mut broken = raw_request("POST", "/api/admin/documents", "multipart/form-data; boundary=b0undary", b"--b0undary\r\nno end".to_vec());
    broken.headers_mut().insert("authorization", format!("Bearer {}", w.admin).parse().unwrap());
    let broken = w.app.call(broken);
    assert_eq!((broken.status().as_u16(), field(&broken)), (400, "body".to_owned()));
}

#[test]
fn a_client_download_is_audited_in_the_batch_that_allows_it() {
    let w = world();
    let id = w.published(None, "review");
    assert_eq!(w.app.get_auth(&format!("/api/documents/{id}/file"), &w.emily).status(), 200);
    let audit = json(&w.app.get_auth(&format!("/api/admin/audit?action=document.downloaded&link={EMILY_LINK}"), &w.admin));
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{audit}");
    assert_eq!((items[0]["actor_kind"].as_str(), items[0]["target_id"].as_str()), (Some("external"), Some(id.as_str())));
    // A document she may not see is neither served nor recorded as downloaded.
    let unknown = "0190a000-0000-7000-8000-00000000dead";
    assert_eq!(w.app.get_auth(&format!("/api/documents/{unknown}/file"), &w.emily).status(), 404);
    assert_eq!(w.app.sql_count("SELECT count(*) FROM audit_events WHERE action = 'document.downloaded'"), 1);
}

// ---------------------------------------------------------------------------------------------
// The security review of 7199a2c: downloads in the audit trail (finding 9), signing evidence of
// how the password was set (finding 2), and a "document awaits you" decided at send time (8).
// ---------------------------------------------------------------------------------------------

#[test]
fn downloads_are_audited_with_their_company_for_the_companys_managers_and_a_head_is_not_a_download() {
    let w = world();
    let id = w.published(None, "review");
    let downloaded = |who: &str| w.app.sql_count(&format!("SELECT count(*) FROM audit_events WHERE action = 'document.downloaded' AND actor_kind = '{who}' AND target_id = '{id}'"));
    let head = w.app.call(request("HEAD", &format!("/api/documents/{id}/file"), None, &[("authorization", &format!("Bearer {}", w.emily))]));
    assert_eq!((head.status().as_u16(), head.body().len()), (200, 0));
    assert_eq!(downloaded("external"), 0, "a HEAD sends no file, so it is no download");
    assert_eq!(w.app.get_auth(&format!("/api/documents/{id}/file"), &w.emily).status(), 200);
    assert_eq!(downloaded("external"), 1);
    // The team's downloads are audited too.
    assert_eq!(w.app.get_auth(&format!("/api/admin/documents/{id}/file"), &w.admin).status(), 200);
    assert_eq!(downloaded("employee"), 1);
    // A manager of Northern Light sees both, with the company on each.
    let manager = w.manager();
    let seen = json(&w.app.get_auth("/api/admin/audit?action=document.downloaded", &manager));
    let items = seen["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{seen}");
    assert!(items.iter().all(|e| e["company_ids"] == json!([NORTHERN_LIGHT])), "{seen}");
}

#[test]
fn a_signature_records_how_the_signer_last_set_their_password() {
    let w = world();
    let id = w.published(None, "review");
    assert_eq!(w.team(&id, "request-signature", None).status(), 200);
    assert_eq!(w.sign(&id, EMILY_PASSWORD).status(), 200);
    let detail = json(&w.app.get_auth(&format!("/api/admin/documents/{id}"), &w.admin));
    let credentials = &detail["actions"][0]["credentials"];
    assert_eq!(credentials["via"], "invitation", "Emily set it through her first invitation: {detail}");
    assert!(credentials["at"].is_i64() || credentials["at"].is_f64(), "{credentials}");
    let event = json(&w.app.get_auth("/api/admin/audit?action=document.signed", &w.admin));
    assert_eq!(event["items"][0]["details"]["credentials"]["via"], "invitation");
    // After a reset the evidence says so, and who issued it.
    w.app.exec(&format!("UPDATE users SET password_set_via = 'reset', password_set_by = (SELECT id FROM users WHERE login_key = 'admin') WHERE id = '{EMILY_USER}'"));
    let second = w.published(None, "review");
    assert_eq!(w.team(&second, "request-signature", None).status(), 200);
    assert_eq!(w.sign(&second, EMILY_PASSWORD).status(), 200);
    let detail = json(&w.app.get_auth(&format!("/api/admin/documents/{second}"), &w.admin));
    assert_eq!(detail["actions"][0]["credentials"]["via"], "reset");
    assert!(detail["actions"][0]["credentials"]["by"].is_string());
}

#[test]
fn a_document_awaiting_email_is_dropped_when_the_company_is_denied_as_a_whole_by_send_time() {
    let World { app, admin, emily } = world();
    let w = World { app: app.with_email(), admin, emily };
    let id = w.published(None, "review");
    // Between the event and the send, Northern Light is archived: Emily's link there is denied as a whole.
    w.app.exec(&format!("UPDATE companies SET status = 'archived' WHERE id = '{NORTHERN_LIGHT}'"));
    let resp = w.app.send_auth("POST", "/api/admin/outbox/deliver", &w.admin, None);
    assert_eq!(resp.status(), 200, "{}", body_text(&resp));
    assert!(w.app.ports.emails.borrow().iter().all(|m| !m.subject.contains("awaits")), "nothing about the document left");
    assert_eq!(w.app.sql_count(&format!("SELECT count(*) FROM emails WHERE kind = 'document_awaiting' AND status = 'failed' AND last_error LIKE 'dropped: %' AND data LIKE '%{id}%'")), 1);
    // With the company back, a new document's notice goes out.
    w.app.exec(&format!("UPDATE companies SET status = 'active' WHERE id = '{NORTHERN_LIGHT}'"));
    w.published(None, "review");
    assert_eq!(w.app.send_auth("POST", "/api/admin/outbox/deliver", &w.admin, None).status(), 200);
    assert!(w.app.ports.emails.borrow().iter().any(|m| m.subject.contains("awaits your review")), "sent when visible");
}
