//! Credentials: argon2id password hashes, Ed25519 access tokens, refresh tokens, TOTP. No I/O.
