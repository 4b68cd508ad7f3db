//! New identifiers and secrets from the randomness port: UUIDv7 ids (time-ordered, so keys insert
//! in order) and 256-bit secrets.

use crate::app::{ApiError, Ports};
use chrono::{DateTime, Utc};

pub fn new_id<P: Ports>(ports: &P, now: DateTime<Utc>) -> Result<String, ApiError> {
    let mut random = [0u8; 10];
    ports.fill_random(&mut random).map_err(|_| ApiError::internal("randomness unavailable"))?;
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    Ok(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid().to_string())
}

pub fn secret_bytes<P: Ports, const N: usize>(ports: &P) -> Result<[u8; N], ApiError> {
    crate::app::random_array::<P, N>(ports).map_err(|_| ApiError::internal("randomness unavailable"))
}

/// A random nonce for guarded batches (hex, 128 bits).
pub fn nonce<P: Ports>(ports: &P) -> Result<String, ApiError> {
    let bytes: [u8; 16] = secret_bytes(ports)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
