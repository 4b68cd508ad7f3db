//! The D1 adapter of the SQL port, on the primary or in a read-replication session.
//!
//! A request's queries run in one D1 session (the Sessions API): it starts on the primary for a
//! route that writes or must read exactly, and anywhere (`first-unconstrained`) or from the
//! client's bookmark for a route that tolerates a replica. D1 keeps a session's queries in order and
//! sends its writes to the primary; its latest bookmark goes back to the client.
//!
//! Results cross from JavaScript as one `JSON.stringify` string parsed by serde_json: converting
//! them value by value through wasm-bindgen costs a call per column per row, which made a page of
//! fifty requests spend more time in conversion than in the database.

use crate::app::QueryStats;
use crate::store::{Outcome, Row, Sql, Stmt, StoreError, Value, MAX_PARAMS};
use js_sys::{Array, Promise, JSON};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::{D1Database as D1Sys, D1DatabaseSession as SessionSys, D1PreparedStatement as PreparedSys};

/// Where a request's session starts.
pub enum SessionStart<'a> {
    /// `first-primary`: writes and exact reads.
    Primary,
    /// At least as fresh as this bookmark (the client's last answer), else anywhere.
    Replica(Option<&'a str>),
}

enum Handle {
    /// The binding itself (the cron: no client, no bookmark).
    Database(D1Sys),
    Session(SessionSys),
}

pub struct D1Db {
    handle: Handle,
    stats: QueryStats,
}

/// One statement's result as D1 reports it (only what the port needs).
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    results: Option<Vec<Row>>,
    #[serde(default)]
    meta: Option<WireMeta>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct WireMeta {
    #[serde(default)]
    changes: Option<u64>,
}

impl D1Db {
    pub fn new(db: worker::D1Database) -> Self {
        D1Db { handle: Handle::Database(sys(&db)), stats: QueryStats::default() }
    }

    /// A request's session, started as the route allows.
    pub fn session(db: worker::D1Database, start: SessionStart<'_>) -> worker::Result<Self> {
        let constraint = match start {
            SessionStart::Primary => "first-primary",
            SessionStart::Replica(Some(bookmark)) => bookmark,
            SessionStart::Replica(None) => "first-unconstrained",
        };
        let session = sys(&db).with_session(Some(constraint)).map_err(|e| worker::Error::RustError(format!("D1 session: {}", js_text(&e))))?;
        Ok(D1Db { handle: Handle::Session(session), stats: QueryStats::default() })
    }

    /// The session's latest bookmark (None before its first query, or outside a session).
    pub fn bookmark(&self) -> Option<String> {
        match &self.handle {
            Handle::Session(session) => session.get_bookmark().ok().flatten(),
            Handle::Database(_) => None,
        }
    }

    pub fn stats(&self) -> &QueryStats {
        &self.stats
    }

    fn prepare(&self, stmt: &Stmt) -> Result<PreparedSys, StoreError> {
        if stmt.params.len() > MAX_PARAMS {
            return Err(StoreError::new(format!("too many SQL variables ({}) in: {}", stmt.params.len(), stmt.sql)));
        }
        let params: Array = stmt.params.iter().map(to_js).collect();
        let prepared = match &self.handle {
            Handle::Database(db) => db.prepare(stmt.sql),
            Handle::Session(session) => session.session_prepare(stmt.sql),
        };
        prepared
            .and_then(|p| p.bind(params))
            .map_err(|e| StoreError::new(format!("prepare: {} in: {}", js_text(&e), stmt.sql)))
    }

    /// Awaits a D1 promise, timing it for Server-Timing.
    async fn settle(&self, promise: Result<Promise, JsValue>, what: &str) -> Result<JsValue, StoreError> {
        let started = js_sys::Date::now();
        let result = match promise {
            Ok(p) => JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        self.stats.record(js_sys::Date::now() - started);
        result.map_err(|e| StoreError::new(format!("{}: {what}", js_text(&e))))
    }
}

fn sys(db: &worker::D1Database) -> D1Sys {
    let js: &JsValue = db.as_ref();
    js.clone().unchecked_into()
}

fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        // Values beyond 2^53 would lose precision; ids are text and times fit easily.
        Value::Int(i) => JsValue::from_f64(*i as f64),
        Value::Real(f) => JsValue::from_f64(*f),
        Value::Text(s) => JsValue::from_str(s),
    }
}

/// The message of a thrown JavaScript value (D1 errors carry the SQLite text in `cause`).
fn js_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        let cause = err.cause();
        if let Some(c) = cause.dyn_ref::<js_sys::Error>() {
            return String::from(c.message());
        }
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// Parses D1 results in one pass: JSON numbers without a fraction decode as integers, as SQLite
/// integers must (JavaScript hands every number over as a float).
fn parse<T: for<'de> Deserialize<'de>>(value: &JsValue, what: &str) -> Result<T, StoreError> {
    let text = JSON::stringify(value).map_err(|e| StoreError::new(format!("results: {}: {what}", js_text(&e))))?;
    let text = String::from(text);
    serde_json::from_str(&text).map_err(|e| StoreError::new(format!("results: {e}: {what}")))
}

fn outcome(wire: Wire) -> Result<Outcome, StoreError> {
    if let Some(err) = wire.error {
        return Err(StoreError::new(err));
    }
    Ok(Outcome { rows: wire.results.unwrap_or_default(), changes: wire.meta.and_then(|m| m.changes).unwrap_or(0) })
}

impl Sql for D1Db {
    async fn execute(&self, stmt: Stmt) -> Result<Outcome, StoreError> {
        let prepared = self.prepare(&stmt)?;
        let result = self.settle(prepared.all(), stmt.sql).await?;
        let out = outcome(parse::<Wire>(&result, stmt.sql)?)?;
        self.stats.note_write(stmt.sql, out.changes);
        Ok(out)
    }

    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<Outcome>, StoreError> {
        let prepared = stmts.iter().map(|s| self.prepare(s)).collect::<Result<Array, _>>()?;
        let first = stmts.first().map_or("", |s| s.sql);
        let promise = match &self.handle {
            Handle::Database(db) => db.batch(prepared),
            Handle::Session(session) => session.session_batch(prepared),
        };
        let results = self.settle(promise, &format!("batch of {} starting {first}", stmts.len())).await?;
        let outcomes = parse::<Vec<Wire>>(&results, "batch")?.into_iter().map(outcome).collect::<Result<Vec<_>, _>>()?;
        for (stmt, out) in stmts.iter().zip(&outcomes) {
            self.stats.note_write(stmt.sql, out.changes);
        }
        Ok(outcomes)
    }
}
