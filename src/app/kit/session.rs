//! Sessions: who the bearer of an access token is right now (one statement that rides in the use
//! case's own batch), and opening a session with its first token pair.

use crate::app::kit::credentials::{self, TokenClaims};
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::domain::settings::SecuritySettings;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, Outcome, Stmt};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Full,
    MfaEnroll,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::MfaEnroll => "mfa_enroll",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
        }
    }
}

/// The caller, as of this request: the token said who; the session row said they still are.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub user_id: String,
    pub employee: bool,
    pub session_id: String,
    pub link_id: Option<String>,
    pub policy_version: i64,
    pub scope: Scope,
    pub role: Option<Role>,
}

/// The session check: a statement that returns the session's row only while it is alive. It goes
/// first in the use case's batch, so checking costs no extra round trip.
pub const CHECK_SESSION: &str = "SELECT s.id AS session_id, s.user_id, s.link_id, s.scope, u.kind, u.role, u.status AS user_status, \
     u.tokens_valid_after, l.status AS link_status, l.policy_version \
     FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN links l ON l.id = s.link_id \
     WHERE s.id = ?1 AND s.user_id = ?2 AND s.revoked_at IS NULL AND s.idle_expires_at > ?3 AND s.absolute_expires_at > ?3";

#[derive(Deserialize)]
struct SessionRow {
    session_id: String,
    user_id: String,
    link_id: Option<String>,
    scope: Scope,
    kind: String,
    role: Option<Role>,
    user_status: String,
    tokens_valid_after: i64,
    link_status: Option<String>,
    policy_version: Option<i64>,
}

/// A verified access token, not yet checked against its session.
pub struct Bearer {
    pub claims: TokenClaims,
}

impl Bearer {
    pub fn from_token(config: &Config, token: Option<&str>, now: DateTime<Utc>) -> Result<Bearer, ApiError> {
        let token = token.ok_or(ApiError::Unauthenticated)?;
        Ok(Bearer { claims: credentials::verify_access(config, token, now)? })
    }

    pub fn check_stmt(&self, now: DateTime<Utc>) -> Stmt {
        Stmt::new(CHECK_SESSION).bind(self.claims.sid.as_str()).bind(self.claims.sub.as_str()).bind(now.timestamp())
    }

    /// Reads the check's outcome. A dead session, a blocked user, a token older than the last
    /// password change or a link no longer active all answer 401; a policy that moved on answers
    /// `token_stale` so the client refreshes and gets the new policy.
    pub fn principal(&self, outcome: Option<&Outcome>) -> Result<Principal, ApiError> {
        let row = outcome.and_then(|o| o.rows.first()).cloned().ok_or(ApiError::Unauthenticated)?;
        let row: SessionRow = decode(row)?;
        if row.user_status != "active" || self.claims.iat < row.tokens_valid_after {
            return Err(ApiError::Unauthenticated);
        }
        let employee = row.kind == "employee";
        let policy_version = if employee {
            0
        } else {
            if row.link_status.as_deref() != Some("active") {
                return Err(ApiError::Unauthenticated);
            }
            let current = row.policy_version.unwrap_or(0);
            if current != self.claims.pv {
                return Err(ApiError::TokenStale);
            }
            current
        };
        Ok(Principal {
            user_id: row.user_id,
            employee,
            session_id: row.session_id,
            link_id: row.link_id,
            policy_version,
            scope: row.scope,
            role: if employee { row.role } else { None },
        })
    }

    /// Like [`Bearer::principal`], and refuses a session that may only enrol in MFA.
    pub fn full_principal(&self, outcome: Option<&Outcome>) -> Result<Principal, ApiError> {
        let p = self.principal(outcome)?;
        if p.scope == Scope::MfaEnroll {
            return Err(ApiError::MfaEnrollmentRequired);
        }
        Ok(p)
    }
}

/// The user fields a session response shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub login: String,
    pub first_name: String,
    pub last_name: String,
}

/// A session about to be opened: its id and first refresh token, and the statements that write
/// them (the caller puts them in its batch, behind its own guard where it has one).
pub struct Opening {
    pub session_id: String,
    pub refresh_token: String,
    pub refresh_hash: String,
    pub scope: Scope,
    pub link_id: Option<String>,
    pub policy_version: i64,
    /// The client's visible scope for the access token (set from the link's facts).
    pub vis: Option<serde_json::Value>,
}

impl Opening {
    pub fn new<P: Ports>(ports: &P, now: DateTime<Utc>, scope: Scope, link_id: Option<String>, policy_version: i64) -> Result<Opening, ApiError> {
        let session_id = new_id(ports, now)?;
        let secret: [u8; 32] = secret_bytes(ports)?;
        let (refresh_token, refresh_hash) = credentials::new_refresh_token(&session_id, secret)?;
        Ok(Opening { session_id, refresh_token, refresh_hash, scope, link_id, policy_version, vis: None })
    }

    /// INSERT session and first refresh token, each only WHERE the given guard holds.
    pub fn insert_stmts(&self, user_id: &str, settings: &SecuritySettings, client: &ClientMeta, now: i64, guard: &SessionGuard) -> Vec<Stmt> {
        let s = &settings.sessions;
        let absolute = now + i64::from(s.session_max_age_seconds);
        let idle = (now + i64::from(s.refresh_ttl_seconds)).min(absolute);
        let (session_sql, token_sql) = match guard {
            SessionGuard::None => (INSERT_SESSION, INSERT_REFRESH),
            SessionGuard::InvitationNonce { .. } => (INSERT_SESSION_IF_INVITATION, INSERT_REFRESH_IF_INVITATION),
            SessionGuard::LoginNonce { .. } => (INSERT_SESSION_IF_LOGIN, INSERT_REFRESH_IF_LOGIN),
        };
        let (g1, g2) = guard.params();
        vec![
            Stmt::new(session_sql)
                .bind(self.session_id.as_str())
                .bind(user_id)
                .bind(self.link_id.clone())
                .bind(self.scope.as_str())
                .bind(now)
                .bind(idle)
                .bind(absolute)
                .bind(client.ip.clone())
                .bind(client.country.clone())
                .bind(client.user_agent.clone())
                .bind(g1.clone())
                .bind(g2.clone()),
            Stmt::new(token_sql).bind(self.refresh_hash.as_str()).bind(self.session_id.as_str()).bind(now).bind(g1).bind(g2),
        ]
    }

    /// The response body and cookie of a new token pair.
    pub fn issue(&self, config: &Config, settings: &SecuritySettings, user: SessionUser, now: DateTime<Utc>, transport: Transport) -> Result<Issued, ApiError> {
        let ttl = i64::from(settings.sessions.access_ttl_seconds);
        let claims = TokenClaims {
            sub: user.id.clone(),
            sid: self.session_id.clone(),
            lid: self.link_id.clone(),
            pv: self.policy_version,
            scope: self.scope.as_str().to_owned(),
            vis: self.vis.clone(),
            iat: now.timestamp(),
            exp: now.timestamp() + ttl,
        };
        let access_token = credentials::sign_access(config, &claims, now)?;
        let expires = now + chrono::Duration::seconds(ttl);
        let body = TokenPair {
            access_token,
            access_expires_at: expires.to_rfc3339_opts(SecondsFormat::Secs, true),
            refresh_token: (transport == Transport::Body).then(|| self.refresh_token.clone()),
            session_id: self.session_id.clone(),
            user,
            mfa_enrollment_required: self.scope == Scope::MfaEnroll,
            other_links: Vec::new(),
        };
        let cookie = (transport == Transport::Cookie).then(|| (self.refresh_token.clone(), i64::from(settings.sessions.refresh_ttl_seconds)));
        Ok(Issued { body, cookie })
    }
}

/// What a new session's rows depend on inside their batch.
pub enum SessionGuard {
    None,
    InvitationNonce { invitation_id: String, nonce: String },
    LoginNonce { user_id: String, nonce: String },
}

impl SessionGuard {
    fn params(&self) -> (Option<String>, Option<String>) {
        match self {
            SessionGuard::None => (None, None),
            SessionGuard::InvitationNonce { invitation_id, nonce } => (Some(invitation_id.clone()), Some(nonce.clone())),
            SessionGuard::LoginNonce { user_id, nonce } => (Some(user_id.clone()), Some(nonce.clone())),
        }
    }
}

// ?11 and ?12 are the guard's parameters; the unguarded forms ignore them (bound as NULL).
const INSERT_SESSION: &str = "INSERT INTO sessions (id, user_id, link_id, scope, created_at, last_seen_at, idle_expires_at, \
     absolute_expires_at, ip, country, user_agent) SELECT ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10 WHERE ?11 IS NULL AND ?12 IS NULL";
const INSERT_SESSION_IF_INVITATION: &str = "INSERT INTO sessions (id, user_id, link_id, scope, created_at, last_seen_at, idle_expires_at, \
     absolute_expires_at, ip, country, user_agent) SELECT ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10 \
     WHERE EXISTS (SELECT 1 FROM invitations WHERE id = ?11 AND used_nonce = ?12)";
const INSERT_SESSION_IF_LOGIN: &str = "INSERT INTO sessions (id, user_id, link_id, scope, created_at, last_seen_at, idle_expires_at, \
     absolute_expires_at, ip, country, user_agent) SELECT ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10 \
     WHERE EXISTS (SELECT 1 FROM users WHERE id = ?11 AND login_nonce = ?12)";
const INSERT_REFRESH: &str =
    "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) SELECT ?1, ?2, ?3 WHERE ?4 IS NULL AND ?5 IS NULL";
const INSERT_REFRESH_IF_INVITATION: &str = "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) SELECT ?1, ?2, ?3 \
     WHERE EXISTS (SELECT 1 FROM invitations WHERE id = ?4 AND used_nonce = ?5)";
const INSERT_REFRESH_IF_LOGIN: &str = "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) SELECT ?1, ?2, ?3 \
     WHERE EXISTS (SELECT 1 FROM users WHERE id = ?4 AND login_nonce = ?5)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    #[default]
    Cookie,
    Body,
}

/// The JSON of login, activation and refresh (API.md).
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub access_expires_at: String,
    pub refresh_token: Option<String>,
    pub session_id: String,
    pub user: SessionUser,
    pub mfa_enrollment_required: bool,
    /// At login, the user's other active links (each with its default company), to switch to by
    /// signing in with `link_id`; empty for nearly everyone, and then left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_links: Vec<OtherLink>,
}

/// Another active link of the signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherLink {
    pub link_id: String,
    pub company_id: String,
    pub company_name: String,
}

pub struct Issued {
    pub body: TokenPair,
    /// The refresh token and its cookie lifetime, when the browser transport was chosen.
    pub cookie: Option<(String, i64)>,
}
