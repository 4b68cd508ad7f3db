//! The Workers KV adapter of the key-value port.

use crate::store::{Kv, StoreError};
use worker::KvStore;

pub struct WorkersKv {
    store: KvStore,
}

impl WorkersKv {
    pub fn new(store: KvStore) -> Self {
        WorkersKv { store }
    }
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(key).bytes().await.map_err(|e| StoreError::new(format!("kv get: {e}")))
    }

    async fn put(&self, key: &str, value: Vec<u8>, ttl_seconds: Option<u64>) -> Result<(), StoreError> {
        let mut put = self.store.put_bytes(key, &value).map_err(|e| StoreError::new(format!("kv put: {e}")))?;
        if let Some(ttl) = ttl_seconds {
            put = put.expiration_ttl(ttl.max(60));
        }
        put.execute().await.map_err(|e| StoreError::new(format!("kv put: {e}")))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await.map_err(|e| StoreError::new(format!("kv delete: {e}")))
    }
}
