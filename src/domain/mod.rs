//! Pure domain types and rules: ids, logins, passwords, links, invitations, permissions, policies, settings. No I/O.
pub mod login;
pub mod password;
pub mod policy;
pub mod settings;
pub mod whole_number;
