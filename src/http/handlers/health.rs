//! `GET /health` (with `?deep=1` the one-round-trip floor) and `GET /openapi.json`.

use crate::app::Ports;
use crate::http::input::Query;
use crate::http::{reply, ApiError, Ctx, Req, Resp};
use crate::store::{Kv, Sql, Stmt};
use serde_json::json;

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn health<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let deep = Query::of(req).get("deep").map(str::to_owned);
    let mut checks = serde_json::Map::new();
    let mut failed = Vec::new();
    if matches!(deep.as_deref(), Some("1" | "all")) {
        match cx.ports.db().first(Stmt::new("SELECT 1 AS ok")).await {
            Ok(Some(_)) => {
                checks.insert("db".into(), json!("ok"));
            }
            Ok(None) | Err(_) => failed.push("db"),
        }
    }
    if deep.as_deref() == Some("all") {
        match cx.ports.kv().get("health:probe").await {
            Ok(_) => {
                checks.insert("kv".into(), json!("ok"));
            }
            Err(_) => failed.push("kv"),
        }
    }
    if failed.is_empty() {
        reply::ok(&json!({"status": "ok", "version": VERSION, "checks": checks}))
    } else {
        for what in &failed {
            checks.insert((*what).into(), json!("failed"));
        }
        reply::json(http::StatusCode::SERVICE_UNAVAILABLE, &json!({"status": "degraded", "version": VERSION, "checks": checks, "failed": failed}))
    }
}

thread_local! {
    // The document follows the route table alone, which only a new deployment changes: built once
    // per isolate (it is the largest JSON the worker writes), then every answer copies the bytes.
    static OPENAPI: std::cell::OnceCell<std::rc::Rc<[u8]>> = const { std::cell::OnceCell::new() };
    static OPENAPI_BUILDS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The serialized OpenAPI document of this isolate (built on the first call).
pub fn openapi_bytes() -> std::rc::Rc<[u8]> {
    OPENAPI.with(|cell| {
        cell.get_or_init(|| {
            OPENAPI_BUILDS.with(|n| n.set(n.get() + 1));
            crate::http::openapi::document().to_string().into_bytes().into()
        })
        .clone()
    })
}

/// How many times this isolate (thread) built the document: 1 after any number of calls.
pub fn openapi_builds() -> u32 {
    OPENAPI_BUILDS.with(std::cell::Cell::get)
}

pub fn openapi() -> Resp {
    let mut resp = http::Response::new(openapi_bytes().to_vec());
    resp.headers_mut().insert("content-type", http::HeaderValue::from_static("application/json"));
    resp
}
