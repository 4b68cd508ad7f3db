//! The key-value port (Workers KV in production) and an in-memory adapter for tests. KV is
//! eventually consistent: it holds caches, files and hints, never something that must be exact.

use super::sql::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;

pub trait Kv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores a value; `ttl_seconds` (KV's minimum is 60) makes it expire.
    async fn put(&self, key: &str, value: Vec<u8>, ttl_seconds: Option<u64>) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// In-memory KV for native tests. Expiry is not simulated: nothing here may rely on it for
/// correctness, which is the point of keeping exact state in the database.
#[derive(Default)]
pub struct MemoryKv {
    entries: RefCell<HashMap<String, Vec<u8>>>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.borrow().get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>, _ttl_seconds: Option<u64>) -> Result<(), StoreError> {
        self.entries.borrow_mut().insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
}
