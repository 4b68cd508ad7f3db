//! The HTTP layer on `http` crate types: one route table, thin handlers, one error table. It runs
//! natively (tests drive it directly) and inside the worker (the edge converts to and from it).


pub mod handlers;
pub mod input;
pub mod openapi;
pub mod reply;
pub mod routes;
pub mod transport;

use crate::app::Ports;
use crate::config::Config;
use chrono::{DateTime, Utc};
pub use crate::app::error::ApiError;
use http::{Method, Request, Response};
use routes::{Matched, Route, RouteId};

pub type Req = Request<Vec<u8>>;
pub type Resp = Response<Vec<u8>>;

/// Who is calling and from where, as the edge saw it.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

/// Everything a handler may use: the ports, the validated config, the time of the request, the
/// caller's metadata and the matched path parameters.
pub struct Ctx<'a, P: Ports> {
    pub ports: &'a P,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    pub client: ClientMeta,
    pub route: &'static Route,
    pub params: Vec<(&'static str, String)>,
}

impl<P: Ports> Ctx<'_, P> {
    /// A path parameter by name (the route table guarantees it is present).
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
    }
}

/// Serves one request. Never panics and never answers with internals: every failure goes through
/// the error table, and internal ones are logged with the request id.
pub async fn handle<P: Ports>(ports: &P, config: &Config, now: DateTime<Utc>, req: Req) -> Resp {
    let started = Started { ms: ports.elapsed_ms(), queries: ports.db_stats().queries(), db_ms: ports.db_stats().millis() };
    let client = client_meta(ports, &req);
    let request_id = client.request_id.clone();
    let (route, params) = match routes::find(req.method(), req.uri().path()) {
        Matched::Route(route, params) => (route, params),
        Matched::WrongMethod(allow) => return finish(ports, None, &request_id, started, Err(ApiError::MethodNotAllowed { allow }), &req),
        Matched::NotFound => return finish(ports, None, &request_id, started, Err(ApiError::NotFound), &req),
    };
    if req.body().len() > route.body_limit {
        return finish(ports, Some(route), &request_id, started, Err(ApiError::TooLarge { limit: route.body_limit }), &req);
    }
    let cx = Ctx { ports, config, now, client, route, params };
    let result = dispatch(&cx, &req).await;
    finish(ports, Some(route), &request_id, started, result, &req)
}

async fn dispatch<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    match cx.route.id {
        RouteId::Health => handlers::health::health(cx, req).await,
        RouteId::OpenApi => Ok(handlers::health::openapi()),
        RouteId::Login => handlers::auth::login(cx, req).await,
        RouteId::Refresh => handlers::auth::refresh(cx, req).await,
        RouteId::Logout => handlers::auth::logout(cx, req).await,
        RouteId::InvitationPreview => handlers::auth::preview_invitation(cx, req).await,
        RouteId::InvitationActivate => handlers::auth::activate_invitation(cx, req).await,
        RouteId::Me => handlers::account::me(cx, req).await,
        RouteId::MySessions => handlers::account::my_sessions(cx, req).await,
        RouteId::RevokeMySession => handlers::account::revoke_my_session(cx, req).await,
        RouteId::ChangePassword => handlers::account::change_password(cx, req).await,
        RouteId::StartTotp => handlers::account::start_totp(cx, req).await,
        RouteId::ConfirmTotp => handlers::account::confirm_totp(cx, req).await,
        RouteId::Bootstrap => handlers::account::bootstrap(cx, req).await,
        RouteId::GetSecurity => handlers::account::get_security(cx, req).await,
        RouteId::PutSecurity => handlers::account::put_security(cx, req).await,
        // [directory dispatch]
        // [links dispatch]
        // [policies dispatch]
        // [requests dispatch]
        // [documents dispatch]
    }
}

fn finish<P: Ports>(ports: &P, route: Option<&Route>, request_id: &str, started: Started, result: Result<Resp, ApiError>, req: &Req) -> Resp {
    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            if let ApiError::Internal { log } = &err {
                ports.log(&serde_json::json!({"level": "error", "request_id": request_id, "path": req.uri().path(), "error": log}).to_string());
            }
            reply::error(&err)
        }
    };
    let total = ports.elapsed_ms() - started.ms;
    if route.is_none_or(|r| r.server_timing) {
        let stats = ports.db_stats();
        let (queries, db_ms) = (stats.queries() - started.queries, stats.millis() - started.db_ms);
        let value = format!("total;dur={total:.1}, db;dur={db_ms:.1};desc=\"{queries} queries\"");
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            resp.headers_mut().insert("server-timing", v);
        }
    }
    reply::secure_headers(resp.headers_mut(), request_id);
    if req.method() == Method::HEAD {
        resp.body_mut().clear();
    }
    ports.log(
        &serde_json::json!({"level": "info", "request_id": request_id, "method": req.method().as_str(),
            "path": req.uri().path(), "status": resp.status().as_u16(), "ms": (total * 10.0).round() / 10.0})
        .to_string(),
    );
    resp
}

/// Counters at the start of a request, so `Server-Timing` reports this request alone.
#[derive(Clone, Copy)]
struct Started {
    ms: f64,
    queries: u32,
    db_ms: f64,
}

fn client_meta<P: Ports>(ports: &P, req: &Req) -> ClientMeta {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut id = [0u8; 8];
    let request_id = match ports.fill_random(&mut id) {
        Ok(()) => id.iter().map(|b| format!("{b:02x}")).collect(),
        Err(_) => "unknown".to_owned(),
    };
    ClientMeta {
        ip: header("cf-connecting-ip"),
        country: header("cf-ipcountry"),
        user_agent: header("user-agent").map(|ua| ua.chars().take(400).collect()),
        request_id,
    }
}
