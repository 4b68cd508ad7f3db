//! Refresh tokens, `<session uuid>.<base64url of 32 random bytes>`, and the small secret helpers
//! shared by everything that stores or compares secrets (invitations, link codes, webhooks).
//!
//! The session id in clear lets a refresh find its session in one indexed read; only the SHA-256
//! of the secret part is stored, so a database leak yields no usable token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

pub const SECRET_LEN: usize = 32;
/// 32 bytes in base64url without padding.
const SECRET_TEXT_LEN: usize = 43;
/// A hyphenated UUID.
const SESSION_TEXT_LEN: usize = 36;

/// Why a presented refresh token could not even be read (answer 401; it revokes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshTokenError {
    /// Not `<session>.<secret>` (no dot, several dots, empty, or absurdly long).
    Malformed,
    /// The part before the dot is not a lowercase hyphenated UUID.
    BadSessionId,
    /// The part after the dot is not 43 characters of base64url encoding 32 bytes.
    BadSecret,
}

impl std::fmt::Display for RefreshTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefreshTokenError::Malformed => "refresh token is not <session>.<secret>",
            RefreshTokenError::BadSessionId => "refresh token session id is not a UUID",
            RefreshTokenError::BadSecret => "refresh token secret is not 32 bytes of base64url",
        })
    }
}

impl std::error::Error for RefreshTokenError {}

/// A refresh token. `to_string()` gives the text handed to the client (cookie or body);
/// Debug hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    session_id: Uuid,
    secret: [u8; SECRET_LEN],
}

impl RefreshToken {
    /// A token for `session_id` with 32 fresh random bytes from the caller.
    pub fn new(session_id: Uuid, secret: [u8; SECRET_LEN]) -> RefreshToken {
        RefreshToken { session_id, secret }
    }

    /// Reads a presented token. Only the canonical form is accepted (lowercase hyphenated UUID,
    /// unpadded canonical base64url), so one token has exactly one text and one hash.
    pub fn parse(text: &str) -> Result<RefreshToken, RefreshTokenError> {
        if text.len() != SESSION_TEXT_LEN + 1 + SECRET_TEXT_LEN {
            return Err(RefreshTokenError::Malformed);
        }
        let (session, secret) = text.split_once('.').ok_or(RefreshTokenError::Malformed)?;
        if session.len() != SESSION_TEXT_LEN || secret.contains('.') {
            return Err(RefreshTokenError::Malformed);
        }
        let session_id = Uuid::try_parse(session).map_err(|_| RefreshTokenError::BadSessionId)?;
        if session_id.hyphenated().to_string() != session {
            return Err(RefreshTokenError::BadSessionId);
        }
        let bytes = URL_SAFE_NO_PAD.decode(secret).map_err(|_| RefreshTokenError::BadSecret)?;
        let secret: [u8; SECRET_LEN] = bytes.try_into().map_err(|_| RefreshTokenError::BadSecret)?;
        Ok(RefreshToken { session_id, secret })
    }

    pub fn session_id(&self) -> Uuid {
        self.session_id
    }

    /// What `refresh_tokens.token_hash` stores: lowercase hex SHA-256 of the 32 secret bytes
    /// (the raw bytes, not their base64 text).
    pub fn secret_hash(&self) -> String {
        sha256_hex(&self.secret)
    }
}

impl std::fmt::Display for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.session_id.hyphenated(), URL_SAFE_NO_PAD.encode(self.secret))
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken").field("session_id", &self.session_id).field("secret", &"<redacted>").finish()
    }
}

/// Lowercase hex SHA-256 of `bytes`: how secrets (tokens, codes) are stored and looked up.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Compares two secrets in time that depends only on their lengths, never on where they first
/// differ (the length itself is not secret: every token of a kind has the same one).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
