//! The whole HTTP app over real SQLite with the real migrations: one test binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod foundation;
mod guards;
mod hardening;
mod mfa_admin;
mod support;
// [directory tests]
mod directory;
// [links tests]
mod links;
// [policies tests]
mod diagnostics;
mod policies;
// [requests tests]
mod requests;
// [documents tests]
mod documents;
// [channels tests]
mod channels;
// [outbox tests]
mod outbox;
mod reset_scope;
