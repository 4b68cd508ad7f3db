//! Signing in and staying signed in: login, refresh, activation by invitation, the account's own
//! password and sessions, TOTP enrolment and the first admin's bootstrap.

pub mod account;
pub mod activation;
pub mod bootstrap;
pub mod login;
pub mod mfa;
pub mod refresh;
