//! The whole HTTP app over real SQLite with the real migrations: one test binary, one module per area.

mod auth;
mod foundation;
mod mfa_admin;
mod support;
// [directory tests]
// [links tests]
// [policies tests]
// [requests tests]
// [documents tests]
