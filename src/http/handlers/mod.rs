//! Thin handlers: extract input, call one use case, map the result.

pub mod account;
pub mod auth;
pub mod health;
// [directory handlers]
// [links handlers]
// [policies handlers]
// [requests handlers]
// [documents handlers]
