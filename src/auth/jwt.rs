//! Access tokens: JWTs signed with Ed25519 (`alg` EdDSA, `typ` at+jwt, `kid` naming the key).
//! Issued for a short TTL and verified against the whole key ring, so tokens signed with the
//! previous key keep working through a rotation.
//!
//! The clock is a parameter (`now`), never read here: jwt-compact's clock feature is off.

use super::keys::KeyRing;
use chrono::{DateTime, Duration, Utc};
use jwt_compact::alg::Ed25519;
use jwt_compact::{AlgorithmExt, Claims, Header, UntrustedToken};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashSet;

/// The JOSE `typ` of access tokens (RFC 9068), so an ID token or another JWT signed with the
/// same key cannot be replayed as one.
pub const TOKEN_TYPE: &str = "at+jwt";

/// A token claiming to be issued further in the future than this is refused: it means a wrong
/// clock or a forged `iat`, and either way should not be trusted for its whole lifetime.
const MAX_CLOCK_SKEW: Duration = Duration::seconds(60);

/// What a session may do with a token: everything, or only MFA enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Full,
    MfaEnroll,
}

/// The claims of an access token. `iat` and `exp` are whole seconds on the wire, so a token
/// verifies to these values with sub-second parts dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// The link id; `None` for employees, who act without a link.
    pub lid: Option<String>,
    /// The link's policy version when the token was issued (compared on every gated request).
    pub pv: i64,
    pub scope: Scope,
    /// What the link's client may see, computed when the token was issued (companies and their
    /// allowed pipelines), so a list read filters by it in the same batch as the version check.
    /// Valid exactly as long as `pv` matches the link's policy version.
    pub vis: Option<serde_json::Value>,
    pub iat: DateTime<Utc>,
    pub exp: DateTime<Utc>,
}

/// The non-time claims as they travel (jwt-compact serializes `iat` and `exp` itself).
#[derive(Serialize, Deserialize)]
struct Wire {
    iss: String,
    aud: String,
    sub: String,
    sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lid: Option<String>,
    pv: i64,
    scope: Scope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vis: Option<serde_json::Value>,
}

/// Why a token was refused. Only [`TokenError::Expired`] is worth a refresh (API code
/// `token_expired`); every [`InvalidToken`] answers `unauthenticated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Genuine (signature, issuer, audience all right) but past its `exp`.
    Expired,
    Invalid(InvalidToken),
}

/// The reason behind [`TokenError::Invalid`], for logs and tests; never shown to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidToken {
    /// Not three base64url parts, bad JSON, a missing claim, or another algorithm than EdDSA.
    Malformed,
    /// `typ` is not at+jwt.
    WrongType,
    /// No `kid`, or one that is not in the key ring.
    UnknownKey,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    /// `iat` more than a minute ahead of `now`.
    IssuedInFuture,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Expired => f.write_str("access token expired"),
            TokenError::Invalid(reason) => write!(f, "invalid access token: {reason:?}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// The token could not be serialized (only a bug could cause it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueError(pub String);

impl std::fmt::Display for IssueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot issue access token: {}", self.0)
    }
}

impl std::error::Error for IssueError {}

/// Signs `claims` with the ring's current key. The caller sets `iat` to now and `exp` to now
/// plus the access TTL of the security settings.
pub fn issue(keys: &KeyRing, claims: &AccessClaims) -> Result<String, IssueError> {
    let key = keys.current().ok_or_else(|| IssueError("the key ring is empty".into()))?;
    let header = Header::empty().with_key_id(key.kid.clone()).with_token_type(TOKEN_TYPE);
    let mut jwt_claims = Claims::new(Wire {
        iss: claims.iss.clone(),
        aud: claims.aud.clone(),
        sub: claims.sub.clone(),
        sid: claims.sid.clone(),
        lid: claims.lid.clone(),
        pv: claims.pv,
        scope: claims.scope,
        vis: claims.vis.clone(),
    });
    jwt_claims.issued_at = Some(claims.iat);
    jwt_claims.expiration = Some(claims.exp);
    Ed25519.token(&header, &jwt_claims, &key.secret).map_err(|e| IssueError(e.to_string()))
}

/// How many (key, token) pairs whose Ed25519 signature already verified an isolate remembers: a
/// page sends the same access token with every call, and the signature check is the one costly
/// step of a gated request's CPU (~0.2 ms in wasm). The key is SHA-256 over the public key that
/// verified it and the exact token text, so a changed byte or another key ring misses, and an
/// entry costs 32 bytes however large the token (one carrying many companies runs to tens of KB;
/// keeping the text would let 1024 of them hold tens of MB of the isolate's 128). Every claim
/// (type, key, issuer, audience, `iat`, `exp`) is still checked on every request. Cleared when full.
const SIGNATURE_CACHE_SIZE: usize = 1024;

thread_local! {
    static SIGNATURE_CHECKED: RefCell<HashSet<[u8; 32]>> = RefCell::new(HashSet::new());
}

/// The signature memory's key for `token` verified by `public_key`: a fixed 32 bytes.
pub fn signature_cache_key(public_key: &[u8], token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    // The key has a fixed length (32 bytes for Ed25519), so key and token cannot run into each other.
    hash.update(public_key);
    hash.update(token.as_bytes());
    hash.finalize().into()
}

/// How many verified signatures the memory holds now (tests: it fills and clears as documented).
pub fn signature_cache_len() -> usize {
    SIGNATURE_CHECKED.with(|cache| cache.borrow().len())
}

/// Whether the memory holds `token` as verified by the key of `keys` its `kid` names (tests).
pub fn signature_cached(keys: &KeyRing, token: &str) -> bool {
    let Ok(untrusted) = UntrustedToken::new(token) else { return false };
    let Some(key) = untrusted.header().key_id.as_deref().and_then(|kid| keys.find(kid)) else { return false };
    let seen = signature_cache_key(key.public.as_ref(), token);
    SIGNATURE_CHECKED.with(|cache| cache.borrow().contains(&seen))
}

/// Checks a bearer token: structure, `typ`, the signature of the key its `kid` names, `iss`,
/// `aud`, and finally expiry, so a forged token is `Invalid` even when it is also expired.
/// A token expires at `exp` exactly (no leeway: an expired token is one refresh away).
pub fn verify(
    keys: &KeyRing,
    token: &str,
    now: DateTime<Utc>,
    expected_iss: &str,
    expected_aud: &str,
) -> Result<AccessClaims, TokenError> {
    let invalid = |reason| TokenError::Invalid(reason);
    let untrusted = UntrustedToken::new(token).map_err(|_| invalid(InvalidToken::Malformed))?;
    let header = untrusted.header();
    if !header.token_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(TOKEN_TYPE)) {
        return Err(invalid(InvalidToken::WrongType));
    }
    let key = header.key_id.as_deref().and_then(|kid| keys.find(kid)).ok_or(invalid(InvalidToken::UnknownKey))?;
    let seen = signature_cache_key(key.public.as_ref(), token);
    let claims = if SIGNATURE_CHECKED.with(|cache| cache.borrow().contains(&seen)) {
        untrusted.deserialize_claims_unchecked::<Wire>().map_err(|_| invalid(InvalidToken::Malformed))?
    } else {
        let verified = Ed25519.validator::<Wire>(&key.public).validate(&untrusted).map_err(|e| match e {
            jwt_compact::ValidationError::InvalidSignature => invalid(InvalidToken::BadSignature),
            _ => invalid(InvalidToken::Malformed),
        })?;
        SIGNATURE_CHECKED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= SIGNATURE_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(seen);
        });
        verified.into_parts().1
    };
    let (Some(iat), Some(exp)) = (claims.issued_at, claims.expiration) else {
        return Err(invalid(InvalidToken::Malformed));
    };
    let wire = claims.custom;
    if wire.iss != expected_iss {
        return Err(invalid(InvalidToken::WrongIssuer));
    }
    if wire.aud != expected_aud {
        return Err(invalid(InvalidToken::WrongAudience));
    }
    if iat > now + MAX_CLOCK_SKEW {
        return Err(invalid(InvalidToken::IssuedInFuture));
    }
    if now >= exp {
        return Err(TokenError::Expired);
    }
    Ok(AccessClaims {
        iss: wire.iss,
        aud: wire.aud,
        sub: wire.sub,
        sid: wire.sid,
        lid: wire.lid,
        pv: wire.pv,
        scope: wire.scope,
        vis: wire.vis,
        iat,
        exp,
    })
}
