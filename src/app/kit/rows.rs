//! Reading a batch's outcomes and writing id lists as the one JSON parameter `json_each` reads
//! (D1 allows 100 parameters a statement, so lists travel as one).

use crate::store::{Outcome, Row, StoreError, Value};
use crate::app::ApiError;
use serde::Serialize;

/// The rows of the `i`-th outcome (empty when missing).
pub fn rows(out: &[Outcome], i: usize) -> Vec<Row> {
    out.get(i).map(|o| o.rows.clone()).unwrap_or_default()
}

/// The first row of the `i`-th outcome.
pub fn first_row(out: &[Outcome], i: usize) -> Option<Row> {
    out.get(i).and_then(|o| o.rows.first().cloned())
}

/// How many rows the `i`-th statement changed (0 when missing).
pub fn changes(out: &[Outcome], i: usize) -> u64 {
    out.get(i).map_or(0, |o| o.changes)
}

/// Ids as one JSON array text.
pub fn json_ids<T: ToString>(ids: impl IntoIterator<Item = T>) -> String {
    let list: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

/// Any serializable list as one JSON text parameter.
pub fn json_list<T: Serialize>(items: &[T]) -> Value {
    Value::Text(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
}

/// A JSON array of ids read back from a column (`json_group_array`); NULL reads as empty.
pub fn parse_ids(text: Option<&str>) -> Result<Vec<String>, ApiError> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(t).map_err(|e| ApiError::internal(format!("id list: {e}"))),
    }
}

/// A foreign key refused the batch (a stage still used by requests, a company that vanished).
pub fn is_foreign_key_failure(e: &StoreError) -> bool {
    e.context.contains("FOREIGN KEY constraint failed")
}
