//! Thin handlers: extract input, call one use case, map the result.

pub mod account;
pub mod auth;
pub mod health;
// [directory handlers]
pub mod directory;
// [links handlers]
pub mod links;
// [policies handlers]
pub mod governance;
// [requests handlers]
pub mod requests;
// [documents handlers]
pub mod documents;
// [channels handlers]
pub mod channels;
pub mod outbox;
