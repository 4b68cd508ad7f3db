//! The native SQL adapter: SQLite (bundled) with the very files in `migrations/`, behaving like D1
//! where it matters: a batch is one transaction that runs every statement even when a guard changes
//! nothing, and a statement with more than 100 bound parameters is refused.

use super::sql::{Outcome, Row, Sql, Stmt, StoreError, Value, MAX_PARAMS};
use rusqlite::types::ValueRef;
use std::cell::RefCell;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct SqliteDb {
    conn: RefCell<rusqlite::Connection>,
    /// Yield to the executor before each call, so concurrent use cases joined in one test
    /// interleave at their awaits the way requests interleave on D1 round trips.
    interleave: bool,
}

impl SqliteDb {
    /// An in-memory database with every migration of `dir` applied in file-name order.
    pub fn open_migrated(dir: &Path) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open_in_memory().map_err(ctx("open"))?;
        let db = SqliteDb { conn: RefCell::new(conn), interleave: true };
        db.apply_migrations(dir)?;
        Ok(db)
    }

    /// The project's own `migrations/` folder.
    pub fn open_project() -> Result<Self, StoreError> {
        Self::open_migrated(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
    }

    pub fn apply_migrations(&self, dir: &Path) -> Result<Vec<String>, StoreError> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| StoreError::new(format!("read {}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        let conn = self.conn.borrow();
        conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(ctx("pragma"))?;
        let mut applied = Vec::new();
        for file in files {
            let sql = std::fs::read_to_string(&file)
                .map_err(|e| StoreError::new(format!("read {}: {e}", file.display())))?;
            conn.execute_batch(&sql)
                .map_err(|e| StoreError::new(format!("migration {}: {e}", file.display())))?;
            applied.push(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        }
        Ok(applied)
    }

    pub fn without_interleaving(mut self) -> Self {
        self.interleave = false;
        self
    }

    /// The single integer a query answers (test inspection only: no parameters).
    pub fn count(&self, sql: &str) -> Result<i64, StoreError> {
        self.conn.borrow().query_row(sql, [], |row| row.get::<_, i64>(0)).map_err(ctx("count"))
    }

    /// Runs raw SQL (test setup and inspection only: no parameters).
    pub fn exec_script(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.borrow().execute_batch(sql).map_err(ctx("script"))
    }

    fn run_one(conn: &rusqlite::Connection, stmt: &Stmt) -> Result<Outcome, StoreError> {
        if stmt.params.len() > MAX_PARAMS {
            return Err(StoreError::new(format!(
                "too many SQL variables: {} bound (D1 allows {MAX_PARAMS}) in: {}",
                stmt.params.len(),
                stmt.sql
            )));
        }
        let mut prepared = conn.prepare_cached(stmt.sql).map_err(|e| StoreError::new(format!("prepare: {e} in: {}", stmt.sql)))?;
        let names: Vec<String> = prepared.column_names().map(str::to_owned).collect();
        let params: Vec<rusqlite::types::Value> = stmt.params.iter().map(to_sqlite).collect();
        let before = conn.total_changes();
        let mut rows = prepared
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| StoreError::new(format!("query: {e} in: {}", stmt.sql)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| StoreError::new(format!("step: {e} in: {}", stmt.sql)))? {
            let mut obj = Row::new();
            for (i, name) in names.iter().enumerate() {
                let v = row.get_ref(i).map_err(ctx("column"))?;
                obj.insert(name.clone(), to_json(v));
            }
            out.push(obj);
        }
        drop(rows);
        let changes = u64::try_from(conn.total_changes() - before).unwrap_or(0);
        Ok(Outcome { rows: out, changes })
    }
}

impl Sql for SqliteDb {
    async fn execute(&self, stmt: Stmt) -> Result<Outcome, StoreError> {
        if self.interleave {
            YieldOnce(false).await;
        }
        let conn = self.conn.borrow();
        Self::run_one(&conn, &stmt)
    }

    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<Outcome>, StoreError> {
        if self.interleave {
            YieldOnce(false).await;
        }
        let mut conn = self.conn.borrow_mut();
        let tx = conn.transaction().map_err(ctx("begin"))?;
        let mut outcomes = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            // An error rolls the whole batch back (the transaction drops uncommitted), as in D1.
            outcomes.push(Self::run_one(&tx, stmt)?);
        }
        tx.commit().map_err(ctx("commit"))?;
        Ok(outcomes)
    }
}

fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Real(f) => rusqlite::types::Value::Real(*f),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
    }
}

fn to_json(v: ValueRef<'_>) -> serde_json::Value {
    match v {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => serde_json::Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number),
        ValueRef::Text(t) => serde_json::Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => serde_json::Value::Array(b.iter().map(|x| serde_json::Value::from(*x)).collect()),
    }
}

fn ctx(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::new(format!("{what}: {e}"))
}

/// Returns Pending once, waking itself, so an executor polls other joined futures first.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
