//! Test support: an app over fresh native ports, and small request/response helpers.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use extranet::app::native::NativePorts;
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

impl TestApp {
    pub fn new() -> TestApp {
        let config = Config::from_lookup(|name| match name {
            "JWT_SIGNING_KEYS" => Some(TEST_SIGNING_KEYS.into()),
            "BOOTSTRAP_TOKEN" => Some("bootstrap-secret-for-tests".into()),
            "CRM_SYNC_TOKEN" => Some("crm-sync-secret-for-tests".into()),
            "PORTAL_URL" => Some("https://portal.test".into()),
            _ => None,
        })
        .expect("test config");
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
