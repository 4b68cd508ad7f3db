//! The SQL port: positional `?N` statements, first/all/run, and an atomic batch that, like D1, does
//! not stop when a statement changes nothing.

use serde::de::DeserializeOwned;
use std::fmt;

/// D1 refuses statements with more than 100 bound parameters; the native adapter does too, so a
/// test catches a list that should travel as one JSON parameter read with `json_each(?N)`.
pub const MAX_PARAMS: usize = 100;

/// A bound parameter. No blobs: D1 and SQLite agree on these four, and files live in KV.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One statement: SQL text is `'static` on purpose, so statements are written once, in the store
/// module, and values always travel as parameters.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: &'static str,
    pub params: Vec<Value>,
}

impl Stmt {
    pub fn new(sql: &'static str) -> Self {
        Stmt { sql, params: Vec::new() }
    }

    /// Appends the next positional parameter (`?1`, `?2`, ... in order of `bind` calls).
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params.push(value.into());
        self
    }
}

/// A result row as a JSON object, the shape D1 returns; decode it into a struct with [`decode`].
pub type Row = serde_json::Map<String, serde_json::Value>;

/// What one statement of a batch produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub rows: Vec<Row>,
    /// Rows changed by an INSERT, UPDATE or DELETE (0 for a guard whose condition failed).
    pub changes: u64,
}

/// A database failure. Its text is for logs, never for a response body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError {
    pub context: String,
}

impl StoreError {
    pub fn new(context: impl Into<String>) -> Self {
        StoreError { context: context.into() }
    }

    /// Whether the failure is a UNIQUE constraint violation (a concurrent insert won).
    pub fn is_unique_violation(&self) -> bool {
        self.context.contains("UNIQUE constraint failed")
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store: {}", self.context)
    }
}

impl std::error::Error for StoreError {}

/// The SQL database port, implemented by D1 (wasm) and SQLite (native).
pub trait Sql {
    /// Runs one statement and returns its rows and changed-row count.
    async fn execute(&self, stmt: Stmt) -> Result<Outcome, StoreError>;

    /// Runs the statements atomically (all commit or none do). A statement that changes nothing
    /// does not stop the batch: later statements must carry their own guard conditions.
    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<Outcome>, StoreError>;

    async fn all(&self, stmt: Stmt) -> Result<Vec<Row>, StoreError> {
        Ok(self.execute(stmt).await?.rows)
    }

    async fn first(&self, stmt: Stmt) -> Result<Option<Row>, StoreError> {
        Ok(self.execute(stmt).await?.rows.into_iter().next())
    }

    /// Runs a write and returns how many rows it changed.
    async fn run(&self, stmt: Stmt) -> Result<u64, StoreError> {
        Ok(self.execute(stmt).await?.changes)
    }
}

/// Decodes a row into a typed record; a mismatch is a store error naming the type.
pub fn decode<T: DeserializeOwned>(row: Row) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::Object(row))
        .map_err(|e| StoreError::new(format!("decode {}: {e}", std::any::type_name::<T>())))
}

pub fn decode_all<T: DeserializeOwned>(rows: Vec<Row>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(decode).collect()
}

/// Serde helper: SQLite stores booleans as 0/1 integers.
pub mod flag {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::Bool(b) => Ok(b),
            serde_json::Value::Number(n) => Ok(n.as_f64().is_some_and(|x| x != 0.0)),
            serde_json::Value::Null => Ok(false),
            _ => Err(serde::de::Error::custom("expected a 0/1 flag")),
        }
    }
}
