//! Credentials: argon2id password hashes, Ed25519 access tokens, refresh tokens, TOTP. No I/O.
//!
//! Time and randomness come in as parameters (`now`, salts, secrets); the one exception is the
//! per-signature noise ed25519-compact draws itself (hedged signing: it only adds safety).

pub mod jwt;
pub mod keys;
pub mod password_hash;
pub mod refresh;
pub mod totp;

pub use refresh::{constant_time_eq, sha256_hex};
