//! The storage ports (an SQL database and a key-value store), their shared value types, and the
//! adapters that run natively (SQLite, memory). The D1 and Workers KV adapters live in `edge`.

pub mod kv;
pub mod sql;

#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;

pub use kv::{Kv, MemoryKv};
pub use sql::{decode, decode_all, Outcome, Row, Sql, Stmt, StoreError, Value, MAX_PARAMS};
