//! The wasm entry: `#[event(fetch)]` and `#[event(scheduled)]`, converting between `worker` types
//! and the native HTTP layer, and building the ports from the Worker's bindings.

#[cfg(feature = "ablation")]
mod ablation;
mod d1;
mod kv;

use crate::app::delivery::maintenance::{deliver_outbox, pass_after_response, run_cron};
use crate::app::{BlocklistUnavailable, OutboundError, OutgoingEmail, Ports, QueryStats, RandomUnavailable};
use crate::domain::password::Blocklist;
use crate::config::{Config, ConfigError};
use crate::http::{self, ApiError};
use std::cell::OnceCell;
use worker::{event, Context, Env, ScheduleContext, ScheduledEvent};

pub struct EdgePorts {
    db: d1::D1Db,
    kv: kv::WorkersKv,
    limiter: Option<worker::RateLimiter>,
    /// For the bindings a few requests need (the static assets, for the blocklist).
    env: Env,
}

impl Ports for EdgePorts {
    type Db = d1::D1Db;
    type Kv = kv::WorkersKv;

    fn db(&self) -> &d1::D1Db {
        &self.db
    }

    fn kv(&self) -> &kv::WorkersKv {
        &self.kv
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), RandomUnavailable> {
        getrandom::fill(buf).map_err(|_| RandomUnavailable)
    }

    async fn throttle_allows(&self, key: &str) -> bool {
        // The binding is approximate and per location; when it is missing or fails, the exact
        // per-account lockout in D1 still stands, so failing open here is the lesser harm.
        match &self.limiter {
            Some(limiter) => limiter.limit(key.to_owned()).await.map_or(true, |o| o.success),
            None => true,
        }
    }

    fn log(&self, line: &str) {
        worker::console_log!("{line}");
    }

    fn elapsed_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    fn db_stats(&self) -> &QueryStats {
        self.db.stats()
    }

    fn db_bookmark(&self) -> Option<String> {
        self.db.bookmark()
    }

    async fn password_blocklist(&self) -> Result<&Blocklist, BlocklistUnavailable> {
        if let Some(list) = BLOCKLIST.with(|cell| cell.get().copied()) {
            return Ok(list);
        }
        let list = match read_blocklist(&self.env).await {
            Ok(list) => list,
            Err(problem) => {
                self.log(&serde_json::json!({"level": "error", "what": "password blocklist unavailable", "error": problem}).to_string());
                return Err(BlocklistUnavailable);
            }
        };
        // Two requests of one isolate may both read it; the first to finish is kept, and the
        // list lives as long as the isolate (it is read once, so leaking it costs nothing more).
        Ok(BLOCKLIST.with(|cell| *cell.get_or_init(|| Box::leak(Box::new(list)))))
    }

    fn email_available(&self) -> bool {
        self.env.send_email("EMAIL").is_ok()
    }

    async fn send_email(&self, email: &OutgoingEmail) -> Result<(), OutboundError> {
        let binding = self.env.send_email("EMAIL").map_err(|e| OutboundError(e.to_string()))?;
        let message = worker::SendEmailBuilder::builder(&email.from, &email.to, &email.subject).text(&email.text).html(&email.html).build();
        binding.send_with_builder(&message).await.map(|_| ()).map_err(|e| OutboundError(String::from(e.message())))
    }

    async fn post_json_with(&self, url: &str, extra: &[(&str, String)], body: &str) -> Result<(u16, String), OutboundError> {
        // Error texts may quote the URL, which holds the bot token: it never leaves this function.
        let fail = |e: worker::Error| OutboundError(e.to_string().replace(url, "<url>"));
        let headers = worker::Headers::new();
        headers.set("content-type", "application/json").map_err(fail)?;
        for (name, value) in extra {
            headers.set(name, value).map_err(fail)?;
        }
        let mut init = worker::RequestInit::new();
        init.with_method(worker::Method::Post).with_headers(headers).with_body(Some(wasm_bindgen::JsValue::from_str(body)));
        let request = worker::Request::new_with_init(url, &init).map_err(fail)?;
        let signal = worker::AbortSignal::from(worker::web_sys::AbortSignal::timeout_with_u32(OUTBOUND_TIMEOUT_MS));
        let mut response = worker::Fetch::Request(request).send_with_signal(&signal).await.map_err(fail)?;
        let status = response.status_code();
        let text = response.text().await.map_err(fail)?;
        Ok((status, text))
    }
}

/// An outbound call (the Bot API) that has not answered by then is abandoned and retried later.
const OUTBOUND_TIMEOUT_MS: u32 = 5_000;

thread_local! {
    // Read once per isolate: secrets and vars only change with a new deployment.
    static CONFIG: OnceCell<Result<Config, ConfigError>> = const { OnceCell::new() };
}

fn config(env: &Env) -> Result<Config, ConfigError> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            Config::from_lookup(|name| {
                env.secret(name).map(|s| s.to_string()).ok().or_else(|| env.var(name).map(|v| v.to_string()).ok())
            })
        })
        .clone()
    })
}

thread_local! {
    // The common-password blocklist, read from the static assets on the first password check.
    static BLOCKLIST: OnceCell<&'static Blocklist> = const { OnceCell::new() };
}

/// The static asset `common-passwords.txt` (public/), through the assets binding: the list stays
/// out of the wasm module, which keeps the upload small.
async fn read_blocklist(env: &Env) -> Result<Blocklist, String> {
    let assets = env.assets("ASSETS").map_err(|e| format!("assets binding: {e}"))?;
    // The host is ignored by the assets binding; only the path names the file.
    let mut response = assets.fetch("https://assets.invalid/common-passwords.txt", None).await.map_err(|e| format!("fetch: {e}"))?;
    if response.status_code() != 200 {
        return Err(format!("status {}", response.status_code()));
    }
    let text = response.text().await.map_err(|e| format!("read: {e}"))?;
    Blocklist::parse(&text).map_err(|e| format!("only {} entries", e.entries))
}

/// The ports of one request (`session`: where its D1 session starts) or of a cron run (None: the
/// binding itself).
fn ports(env: &Env, session: Option<d1::SessionStart<'_>>) -> worker::Result<EdgePorts> {
    let db = match session {
        Some(start) => d1::D1Db::session(env.d1("DB")?, start)?,
        None => d1::D1Db::new(env.d1("DB")?),
    };
    Ok(EdgePorts {
        db,
        kv: kv::WorkersKv::new(env.kv("KV")?),
        limiter: env.rate_limiter("LOGIN_LIMITER").ok(),
        env: env.clone(),
    })
}

/// The request body, read chunk by chunk and given up as soon as it passes `limit` (None): a
/// client that sends no Content-Length cannot make the worker buffer more than the route allows.
async fn read_capped(req: &mut worker::Request, limit: usize) -> worker::Result<Option<Vec<u8>>> {
    use futures_util::StreamExt;
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all (a GET, say).
        Err(worker::Error::RustError(_)) => return Ok(Some(Vec::new())),
        Err(e) => return Err(e),
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/webhooks/") || path == "/health" || path == "/openapi.json"
}

/// An answer from the error table with the security headers, for what fails before `http::handle`.
fn refuse(err: &ApiError) -> worker::Result<worker::Response> {
    let mut random = [0u8; 8];
    // Without randomness the id is all zeros: the answer matters more than its id.
    let _ = getrandom::fill(&mut random);
    let resp = http::edge_error(err, random);
    if let ApiError::Internal { log } = err {
        let request_id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
        worker::console_error!("{}", serde_json::json!({"level": "error", "request_id": request_id, "edge": log}));
    }
    to_worker(resp)
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<worker::Response> {
    // Whatever fails in the runtime (a binding, a header, the body stream) still answers from the
    // error table, never as the runtime's bare 500.
    match serve(req, env, ctx).await {
        Ok(resp) => Ok(resp),
        Err(e) => refuse(&ApiError::internal(format!("edge: {e}"))),
    }
}

async fn serve(mut req: worker::Request, env: Env, ctx: Context) -> worker::Result<worker::Response> {
    #[cfg(feature = "ablation")]
    if let Some(resp) = ablation::stop(&env, ablation::Stage::Entry) {
        return resp;
    }
    let url = req.url()?;
    if !is_api_path(url.path()) {
        return env.assets("ASSETS")?.fetch_request(req).await;
    }
    let config = match config(&env) {
        Ok(config) => config,
        Err(err) => {
            worker::console_error!("{}", serde_json::json!({"level": "error", "startup": err.to_string()}));
            return refuse(&ApiError::Unavailable { what: "The service configuration".into() });
        }
    };
    // The route's own body limit, known before a byte is read: a declared length over it is
    // refused at once, and a body without one (chunked) is read only up to it.
    // Its read replication too: where the request's D1 session starts.
    let route = match http::routes::find(&::http::Method::from_bytes(req.method().as_ref().as_bytes()).unwrap_or_default(), url.path()) {
        http::routes::Matched::Route(route, _) => Some(route),
        _ => None,
    };
    let (limit, read_from) = route.map_or((http::routes::BODY_LIMIT, http::routes::ReadFrom::Primary), |r| (r.body_limit, r.read_from()));
    let bookmark = req.headers().get(http::transport::BOOKMARK_HEADER)?;
    let session = match (read_from, bookmark.as_deref().map(http::transport::parse_bookmark)) {
        (_, Some(Err(refused))) => return refuse(&refused),
        (http::routes::ReadFrom::Primary, _) => d1::SessionStart::Primary,
        (http::routes::ReadFrom::Replica, sent) => d1::SessionStart::Replica(sent.and_then(Result::ok)),
    };
    let declared = req.headers().get("content-length")?.and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let telegram_secret = req.headers().get(crate::channels::telegram::SECRET_HEADER)?;
    let too_large = || {
        match http::oversized(&config, route, telegram_secret.as_deref(), limit, |line| worker::console_log!("{line}")) {
            Ok(answer) => to_worker(answer),
            Err(e) => refuse(&e),
        }
    };
    if declared > limit {
        return too_large();
    }
    let Some(body) = read_capped(&mut req, limit).await? else {
        return too_large();
    };
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let country = req.cf().and_then(|cf| cf.country());
    let native = match http::transport::edge_request(req.method().as_ref(), url.as_str(), headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), country.as_deref(), body) {
        Ok(r) => r,
        Err(refused) => return refuse(&refused),
    };
    #[cfg(feature = "ablation")]
    if let Some(resp) = ablation::stop(&env, ablation::Stage::Request) {
        return resp;
    }
    // A bookmark D1 does not know (well formed, but from another database or made up) makes
    // `withSession` throw: the read starts afresh instead (unconstrained, as with no bookmark).
    let had_bookmark = matches!(session, d1::SessionStart::Replica(Some(_)));
    let ports = match ports(&env, Some(session)) {
        Ok(ports) => ports,
        Err(first) if had_bookmark => {
            worker::console_log!("{}", serde_json::json!({"level": "warn", "edge": "bookmark refused by D1, read unconstrained", "error": first.to_string()}));
            match ports(&env, Some(d1::SessionStart::Replica(None))) {
                Ok(ports) => ports,
                Err(e) => return refuse(&ApiError::internal(format!("ports: {e}"))),
            }
        }
        Err(e) => return refuse(&ApiError::internal(format!("ports: {e}"))),
    };
    #[cfg(feature = "ablation")]
    if let Some(resp) = ablation::stop(&env, ablation::Stage::Ports) {
        return resp;
    }
    let resp = http::handle(&ports, &config, chrono::Utc::now(), native).await;
    #[cfg(feature = "ablation")]
    if let Some(early) = ablation::stop(&env, ablation::Stage::Handle) {
        drop(resp);
        return early;
    }
    // Only when the request's statements queued something (an audit row, a notification, an email).
    if let Some(telegram) = pass_after_response(resp.status().is_success(), ports.db.stats().queued(), &config) {
        let request_id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        deliver_after_response(&ctx, ports, &config, request_id, telegram);
    }
    to_worker(resp)
}

/// A write may have put messages in the outbox (Telegram notices, email, CRM events): deliver them
/// once the answer has gone, so a client hears of a reply in seconds rather than at the next cron
/// run. Each channel claims its rows with a lease, so a cron run or another request's pass at the
/// same time never sends one twice; what fails here stays due and the cron retries it.
fn deliver_after_response(ctx: &Context, ports: EdgePorts, config: &Config, request_id: String, telegram: bool) {
    let config = config.clone();
    ctx.wait_until(async move {
        let report = deliver_outbox(&ports, &config, chrono::Utc::now(), telegram).await;
        if report.is_quiet() {
            return;
        }
        let level = if report.errors.is_empty() { "info" } else { "error" };
        ports.log(&serde_json::json!({"level": level, "request_id": request_id, "delivery": "after_response", "report": report}).to_string());
    });
}

fn to_worker(resp: http::Resp) -> worker::Result<worker::Response> {
    let (parts, body) = resp.into_parts();
    let headers = worker::Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers.append(name.as_str(), v)?;
        }
    }
    let status = parts.status.as_u16();
    let out = if body.is_empty() { worker::Response::empty()? } else { worker::Response::from_bytes(body)? };
    Ok(out.with_status(status).with_headers(headers))
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let ports = match ports(&env, None) {
        Ok(p) => p,
        Err(e) => {
            worker::console_error!("{}", serde_json::json!({"level": "error", "cron": "bindings", "error": e.to_string()}));
            return;
        }
    };
    let config = config(&env).ok();
    let report = run_cron(&ports, config.as_ref(), chrono::Utc::now()).await;
    let level = if report.errors.is_empty() { "info" } else { "error" };
    ports.log(&serde_json::json!({"level": level, "cron": "maintenance", "report": report}).to_string());
}
