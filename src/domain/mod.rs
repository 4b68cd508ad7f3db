//! Pure domain types and rules: ids, logins, passwords, links, invitations, permissions, policies, settings. No I/O.
