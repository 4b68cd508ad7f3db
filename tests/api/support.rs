//! Test support: an app over fresh native ports, and small request/response helpers.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use extranet::app::kit::native::NativePorts;
use extranet::config::Config;
use extranet::http::{handle, Req, Resp};
use serde_json::Value;
use std::cell::Cell;

pub const TEST_SIGNING_KEYS: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

pub struct TestApp {
    pub ports: NativePorts,
    pub config: Config,
    pub now: Cell<DateTime<Utc>>,
}

/// The vars and secrets every test app has.
fn base_var(name: &str) -> Option<String> {
    match name {
        "JWT_SIGNING_KEYS" => Some(TEST_SIGNING_KEYS.into()),
        "BOOTSTRAP_TOKEN" => Some("bootstrap-secret-for-tests-0123456789abcdef".into()),
        "CRM_SYNC_TOKEN" => Some("crm-sync-secret-for-tests".into()),
        "PORTAL_URL" => Some("https://portal.test".into()),
        _ => None,
    }
}

impl TestApp {
    /// The same app with more vars and secrets (CRM_WEBHOOK_URL, EMAIL_FROM, ...).
    pub fn with_vars(mut self, vars: &[(&str, &str)]) -> TestApp {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.config = Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| base_var(name))).expect("test config");
        self
    }

    /// Email on (a sender and the binding): password resets can go out, to the captured outbox.
    pub fn with_email(self) -> TestApp {
        let app = self.with_vars(&[("EMAIL_FROM", "portal@mail.vector.example")]);
        app.ports.email_binding.set(true);
        app
    }

    /// Delivers the outbox (as the admin) and returns the token of the newest activation link emailed:
    /// a password reset's token reaches the user's inbox only.
    pub fn emailed_token(&self) -> String {
        let admin = self.admin_token();
        let resp = self.send_auth("POST", "/api/admin/outbox/deliver", &admin, None);
        assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
        let mails = self.ports.emails.borrow();
        let text = mails.iter().rev().map(|m| m.text.clone()).find(|t| t.contains("/activate#")).expect("an activation link was emailed");
        let after = text.split_once("/activate#").map(|(_, rest)| rest).unwrap_or_default();
        after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
    }

    /// Delivers the outbox (as the admin), for tests that read what was emailed.
    pub fn deliver_outbox(&self) {
        let admin = self.admin_token();
        let resp = self.send_auth("POST", "/api/admin/outbox/deliver", &admin, None);
        assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
    }

    pub fn new() -> TestApp {
        let config = Config::from_lookup(base_var).expect("test config");
        TestApp {
            ports: NativePorts::new_seeded(42).expect("migrated database"),
            config,
            now: Cell::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("time")),
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.now.set(self.now.get() + chrono::Duration::seconds(seconds));
    }

    pub async fn send(&self, req: Req) -> Resp {
        handle(&self.ports, &self.config, self.now.get(), req).await
    }

    pub fn call(&self, req: Req) -> Resp {
        pollster::block_on(self.send(req))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call(request("GET", path, None, &[]))
    }

    pub fn post_json(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        self.call(request("POST", path, Some(body), headers))
    }
}

pub fn request(method: &str, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Req {
    let mut b = http::Request::builder().method(method).uri(format!("https://portal.test{path}"));
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.map(|v| v.to_string().into_bytes()).unwrap_or_default()).expect("request")
}

pub fn raw_request(method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Req {
    http::Request::builder()
        .method(method)
        .uri(format!("https://portal.test{path}"))
        .header("content-type", content_type)
        .body(body)
        .expect("request")
}

pub fn json(resp: &Resp) -> Value {
    serde_json::from_slice(resp.body()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(resp.body())))
}

pub fn error_code(resp: &Resp) -> String {
    json(resp)["error"]["code"].as_str().unwrap_or_default().to_owned()
}

pub fn header<'a>(resp: &'a Resp, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Polls every future in turn until all are done: requests "in parallel" on one thread, which
/// interleave at each database call (the native adapter yields before each one).
pub fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Unpin,
{
    use std::pin::Pin;
    use std::task::{Context, Poll};
    struct JoinAll<F: std::future::Future> {
        futures: Vec<Option<Pin<Box<F>>>>,
        outputs: Vec<Option<F::Output>>,
    }
    impl<F: std::future::Future> std::future::Future for JoinAll<F>
    where
        F::Output: Unpin,
    {
        type Output = Vec<F::Output>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.get_mut();
            let mut pending = false;
            for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
                if let Some(f) = slot {
                    match f.as_mut().poll(cx) {
                        Poll::Ready(v) => {
                            *out = Some(v);
                            *slot = None;
                        }
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(this.outputs.iter_mut().map(|o| o.take().expect("output")).collect())
            }
        }
    }
    let n = futures.len();
    pollster::block_on(JoinAll { futures: futures.into_iter().map(|f| Some(Box::pin(f))).collect(), outputs: (0..n).map(|_| None).collect() })
}

pub const NORTHERN_LIGHT: &str = "0190a000-0000-7000-8000-000000000001";
pub const BLUE_HARBOR: &str = "0190a000-0000-7000-8000-000000000002";
pub const EMILY_CONTACT: &str = "0190a000-0000-7000-8000-000000000011";
pub const EMILY_USER: &str = "0190a000-0000-7000-8000-000000000021";
pub const EMILY_LINK: &str = "0190a000-0000-7000-8000-000000000031";
pub const EMILY_INVITATION: &str = "0190a000-0000-7000-8000-000000000041";
/// A 43-character base64url token, as the invitation API hands out.
pub const EMILY_TOKEN: &str = "emily-invitation-token-0123456789abcdefghijk";
pub const EMILY_LOGIN: &str = "emily.carter@northernlight.example";
pub const EMILY_PASSWORD: &str = "aurora over the fjord 2026";

impl TestApp {
    /// Northern Light, its contact Emily Carter, her user (no password yet), an active link and a
    /// pending invitation with [`EMILY_TOKEN`]: what the governance wizard leaves behind.
    pub fn with_emily_invited(self) -> TestApp {
        let now = self.now.get().timestamp();
        let token_hash = extranet::auth::refresh::sha256_hex(EMILY_TOKEN.as_bytes());
        let sql = format!(
            "INSERT INTO companies (id, name, status, created_at, updated_at) VALUES ('{NORTHERN_LIGHT}', 'Northern Light', 'active', {now}, {now}), \
               ('{BLUE_HARBOR}', 'Blue Harbor', 'active', {now}, {now});
             INSERT INTO contacts (id, first_name, last_name, email, state, created_at, updated_at) \
               VALUES ('{EMILY_CONTACT}', 'Emily', 'Carter', '{EMILY_LOGIN}', 'active', {now}, {now});
             INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('{EMILY_CONTACT}', '{NORTHERN_LIGHT}', {now});
             INSERT INTO users (id, kind, status, login, login_key, email, first_name, last_name, created_at, updated_at) \
               VALUES ('{EMILY_USER}', 'external', 'active', '{EMILY_LOGIN}', '{EMILY_LOGIN}', '{EMILY_LOGIN}', 'Emily', 'Carter', {now}, {now});
             INSERT INTO links (id, user_id, contact_id, default_company_id, status, review_at, created_at, updated_at) \
               VALUES ('{EMILY_LINK}', '{EMILY_USER}', '{EMILY_CONTACT}', '{NORTHERN_LIGHT}', 'active', {review}, {now}, {now});
             INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('{EMILY_LINK}', '{NORTHERN_LIGHT}', {now});
             INSERT INTO invitations (id, user_id, link_id, token_hash, status, expires_at, created_at) \
               VALUES ('{EMILY_INVITATION}', '{EMILY_USER}', '{EMILY_LINK}', '{token_hash}', 'pending', {expires}, {now});",
            review = now + 90 * 86400,
            expires = now + 72 * 3600,
        );
        self.ports.sqlite().exec_script(&sql).expect("fixture");
        self
    }

    /// Emily activated her invitation with [`EMILY_PASSWORD`].
    pub fn with_emily_active(self) -> TestApp {
        let app = self.with_emily_invited();
        let resp = app.post_json("/api/invitations/activate", serde_json::json!({"token": EMILY_TOKEN, "password": EMILY_PASSWORD, "refresh_transport": "body"}), &[]);
        assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
        app
    }

    pub fn login(&self, login: &str, password: &str) -> Resp {
        self.post_json("/api/auth/login", serde_json::json!({"login": login, "password": password, "refresh_transport": "body"}), &[])
    }

    /// Logs in and returns (access token, refresh token).
    pub fn login_ok(&self, login: &str, password: &str) -> (String, String) {
        let resp = self.login(login, password);
        assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(resp.body()));
        let body = json(&resp);
        (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
    }

    pub fn get_auth(&self, path: &str, token: &str) -> Resp {
        self.call(request("GET", path, None, &[("authorization", &format!("Bearer {token}"))]))
    }

    pub fn send_auth(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Resp {
        self.call(request(method, path, body, &[("authorization", &format!("Bearer {token}"))]))
    }

    pub fn sql_count(&self, sql: &str) -> i64 {
        let rows = pollster::block_on(extranet::store::Sql::all(self.ports.sqlite(), extranet::store::Stmt::new(Box::leak(sql.to_owned().into_boxed_str())))).expect("query");
        rows.first().and_then(|r| r.values().next()).and_then(|v| v.as_i64()).unwrap_or(-1)
    }

    pub fn exec(&self, sql: &str) {
        self.ports.sqlite().exec_script(sql).expect("exec");
    }

    /// The first admin, through the bootstrap route; returns its access token.
    pub fn admin_token(&self) -> String {
        let resp = self.post_json(
            "/api/admin/bootstrap",
            serde_json::json!({"token": "bootstrap-secret-for-tests-0123456789abcdef", "login": "admin", "password": "ledger winter copper 42", "first_name": "Ada", "last_name": "Admin"}),
            &[],
        );
        assert!(resp.status() == 201 || resp.status() == 409, "{}", String::from_utf8_lossy(resp.body()));
        self.login_ok("admin", "ledger winter copper 42").0
    }
}
