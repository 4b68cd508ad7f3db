//! The use cases' view of the credential primitives in `auth` and `domain::password`: each call
//! here maps a primitive's result onto the error table, so use cases stay short.

use crate::app::kit::ids::secret_bytes;
use crate::app::{ApiError, Ports};
use crate::auth::password_hash;
use crate::auth::{jwt, refresh, totp};
use crate::config::Config;
use crate::domain::password::{Identity, Password, PasswordPolicy};
use chrono::{DateTime, Utc};

pub use crate::auth::password_hash::Verify;

/// What an access token says (the JWT claims this product reads), times in unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims {
    pub sub: String,
    pub sid: String,
    pub lid: Option<String>,
    pub pv: i64,
    pub scope: String,
    /// The client's visible scope (`access::visibility::VisibleScope` as JSON), fixed at issue time.
    pub vis: Option<serde_json::Value>,
    pub iat: i64,
    pub exp: i64,
}

pub fn sign_access(config: &Config, claims: &TokenClaims, _now: DateTime<Utc>) -> Result<String, ApiError> {
    let at = |t: i64| DateTime::<Utc>::from_timestamp(t, 0).ok_or_else(|| ApiError::internal("token time out of range"));
    let scope = if claims.scope == "mfa_enroll" { jwt::Scope::MfaEnroll } else { jwt::Scope::Full };
    let wire = jwt::AccessClaims {
        iss: config.token_issuer.clone(),
        aud: config.token_audience.clone(),
        sub: claims.sub.clone(),
        sid: claims.sid.clone(),
        lid: claims.lid.clone(),
        pv: claims.pv,
        scope,
        vis: claims.vis.clone(),
        iat: at(claims.iat)?,
        exp: at(claims.exp)?,
    };
    jwt::issue(&config.signing_keys, &wire).map_err(|e| ApiError::internal(e.to_string()))
}

/// A bearer token's claims, or 401: `token_expired` when only the time is wrong (refresh), else
/// `unauthenticated` (forged, tampered, another audience or key).
pub fn verify_access(config: &Config, token: &str, now: DateTime<Utc>) -> Result<TokenClaims, ApiError> {
    match jwt::verify(&config.signing_keys, token, now, &config.token_issuer, &config.token_audience) {
        Ok(c) => Ok(TokenClaims {
            sub: c.sub,
            sid: c.sid,
            lid: c.lid,
            pv: c.pv,
            scope: match c.scope {
                jwt::Scope::Full => "full".into(),
                jwt::Scope::MfaEnroll => "mfa_enroll".into(),
            },
            vis: c.vis,
            iat: c.iat.timestamp(),
            exp: c.exp.timestamp(),
        }),
        Err(jwt::TokenError::Expired) => Err(ApiError::TokenExpired),
        Err(jwt::TokenError::Invalid(_)) => Err(ApiError::Unauthenticated),
    }
}

/// A new refresh token for a session: the text to hand out and the hash to keep.
pub fn new_refresh_token(session_id: &str, secret: [u8; 32]) -> Result<(String, String), ApiError> {
    let sid = uuid::Uuid::parse_str(session_id).map_err(|_| ApiError::internal("session id is not a UUID"))?;
    let token = refresh::RefreshToken::new(sid, secret);
    Ok((token.to_string(), token.secret_hash()))
}

/// The session id and secret hash of a presented refresh token; None for anything malformed.
pub fn parse_refresh_token(text: &str) -> Option<(String, String)> {
    let token = refresh::RefreshToken::parse(text.trim()).ok()?;
    Some((token.session_id().to_string(), token.secret_hash()))
}

/// The stored hash of an invitation (or channel) token; None for text that cannot be a token.
pub fn invitation_token_hash(token: &str) -> Option<String> {
    let token = token.trim();
    let plausible = (32..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then(|| refresh::sha256_hex(token.as_bytes()))
}

/// A new 256-bit invitation token (base64url) and its hash.
pub fn new_invitation_token(secret: [u8; 32]) -> (String, String) {
    use base64::Engine;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let hash = refresh::sha256_hex(token.as_bytes());
    (token, hash)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    refresh::constant_time_eq(a, b)
}

/// A TOTP code checked against a stored (base32) secret; the step it matched, if any and unused.
pub fn totp_verify(secret_base32: &str, code: &str, now_unix: i64, last_step: Option<i64>) -> Option<i64> {
    let secret = totp::TotpSecret::from_base32(secret_base32).ok()?;
    totp::verify(&secret, code, now_unix, last_step)
}

pub fn totp_secret_text(raw: &[u8; 20]) -> String {
    totp::TotpSecret::from_bytes(*raw).to_base32()
}

pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    match totp::TotpSecret::from_base32(secret_base32) {
        Ok(secret) => totp::otpauth_uri(issuer, account, &secret),
        Err(_) => String::new(),
    }
}

/// One argon2id verify, always: against the stored hash, or a fixed dummy hash when there is none,
/// so an unknown, locked or password-less account costs the same as a wrong password.
pub fn verify_password(password: &str, phc: Option<&str>) -> Verify {
    match phc {
        Some(phc) => password_hash::verify_password(password, phc),
        None => {
            password_hash::dummy_verify(password);
            Verify { ok: false, needs_rehash: false }
        }
    }
}

pub fn hash_password<P: Ports>(ports: &P, password: &str) -> Result<String, ApiError> {
    let salt: [u8; password_hash::SALT_LEN] = secret_bytes(ports)?;
    password_hash::hash_password(password, salt).map_err(|e| ApiError::internal(format!("hash: {e:?}")))
}

/// The password rules of the security settings plus who the password is for: not their login or
/// email, not their names or their companies' names (`names`), nothing common in disguise (the
/// blocklist comes from the ports; without it the password is refused, never let through).
pub async fn check_new_password<P: Ports>(ports: &P, field: &str, candidate: &str, policy: &PasswordPolicy, login: &str, email: Option<&str>, names: &[&str]) -> Result<(), ApiError> {
    let identity = Identity { login, email, names: names.to_vec() };
    let blocklist = ports.password_blocklist().await.map_err(|_| ApiError::Unavailable { what: "The password check".into() })?;
    Password::check_for(candidate, policy, &identity, blocklist).map(|_| ()).map_err(|weak| ApiError::WeakPassword {
        field: field.into(),
        rule: weak.rule.code().to_owned(),
        message: weak.message,
    })
}
