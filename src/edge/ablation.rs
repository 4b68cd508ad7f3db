//! The bench's ablation points (cargo feature `ablation`, never in a deployed build): with the var
//! `ABLATION_RETURN_AT` set to a stage, the worker answers a fixed `{"status":"ok"}` as soon as it
//! reaches that stage. Served side by side with the same build returning later (scripts/bench.mjs),
//! the difference between neighbouring stages is what that part of the request path costs.

use std::cell::OnceCell;
use worker::Env;

/// The stages of the request path, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The first line of the fetch handler: the runtime, the wasm-bindgen glue and the event macro.
    Entry,
    /// The request read and converted: URL, config, route lookup for the body limit, body, headers.
    Request,
    /// The ports built from the bindings (D1, KV, the rate limiter).
    Ports,
    /// `http::handle` done (route, request id, guard, handler, Server-Timing, security headers, log
    /// line); only the conversion of its response into a `worker::Response` is left out.
    Handle,
}

thread_local! {
    static RETURN_AT: OnceCell<Option<Stage>> = const { OnceCell::new() };
}

fn return_at(env: &Env) -> Option<Stage> {
    RETURN_AT.with(|cell| {
        *cell.get_or_init(|| match env.var("ABLATION_RETURN_AT").map(|v| v.to_string()).ok().as_deref() {
            Some("entry") => Some(Stage::Entry),
            Some("request") => Some(Stage::Request),
            Some("ports") => Some(Stage::Ports),
            Some("handle") => Some(Stage::Handle),
            _ => None,
        })
    })
}

/// The fixed answer when this build was told to stop at `stage`.
pub fn stop(env: &Env, stage: Stage) -> Option<worker::Result<worker::Response>> {
    (return_at(env) == Some(stage)).then(|| {
        let headers = worker::Headers::new();
        headers.set("content-type", "application/json")?;
        Ok(worker::Response::ok(r#"{"status":"ok"}"#)?.with_headers(headers))
    })
}
