//! The D1 adapter of the SQL port.

use crate::app::QueryStats;
use crate::store::{Outcome, Row, Sql, Stmt, StoreError, Value, MAX_PARAMS};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

pub struct D1Db {
    db: D1Database,
    stats: QueryStats,
}

impl D1Db {
    pub fn new(db: D1Database) -> Self {
        D1Db { db, stats: QueryStats::default() }
    }

    pub fn stats(&self) -> &QueryStats {
        &self.stats
    }

    fn prepare(&self, stmt: &Stmt) -> Result<D1PreparedStatement, StoreError> {
        if stmt.params.len() > MAX_PARAMS {
            return Err(StoreError::new(format!("too many SQL variables ({}) in: {}", stmt.params.len(), stmt.sql)));
        }
        let params: Vec<JsValue> = stmt.params.iter().map(to_js).collect();
        self.db
            .prepare(stmt.sql)
            .bind(&params)
            .map_err(|e| StoreError::new(format!("bind: {e} in: {}", stmt.sql)))
    }
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

fn outcome(result: &D1Result) -> Result<Outcome, StoreError> {
    if let Some(err) = result.error() {
        return Err(StoreError::new(err));
    }
    let rows: Vec<Row> = result.results().map_err(|e| StoreError::new(format!("results: {e}")))?;
    let changes = result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) as u64;
    Ok(Outcome { rows: rows.into_iter().map(integral_numbers).collect(), changes })
}

/// JavaScript numbers arrive as floats; SQLite integers must decode as integers again.
fn integral_numbers(row: Row) -> Row {
    row.into_iter()
        .map(|(k, v)| {
            let v = match v.as_f64() {
                Some(f) if v.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => serde_json::Value::from(f as i64),
                _ => v,
            };
            (k, v)
        })
        .collect()
}

impl Sql for D1Db {
    async fn execute(&self, stmt: Stmt) -> Result<Outcome, StoreError> {
        let started = js_sys::Date::now();
        let prepared = self.prepare(&stmt)?;
        let result = prepared.all().await.map_err(|e| StoreError::new(format!("{e} in: {}", stmt.sql)));
        self.stats.record(js_sys::Date::now() - started);
        outcome(&result?)
    }

    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<Outcome>, StoreError> {
        let started = js_sys::Date::now();
        let prepared = stmts.iter().map(|s| self.prepare(s)).collect::<Result<Vec<_>, _>>()?;
        let results = self.db.batch(prepared).await.map_err(|e| StoreError::new(format!("batch: {e}")));
        self.stats.record(js_sys::Date::now() - started);
        results?.iter().map(outcome).collect()
    }
}
