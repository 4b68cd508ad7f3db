//! Refresh rotation and logout. Every refresh token is single-use: presenting it rotates it in one
//! guarded statement. The one used just before, again within 10 s, is a concurrent refresh (409);
//! any other used token is a theft signal and ends the session; an unknown one changes nothing.

use crate::app::kit::error::Conflict;
use crate::app::kit::audit::write_events;
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::credentials;
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::kit::link_facts::{facts_stmts_for, token_scope};
use crate::app::kit::session::{Issued, Opening, Scope, SessionUser, Transport};
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

pub const REUSE_GRACE_SECONDS: i64 = 10;

const SELECT_TOKEN: &str = "SELECT rt.used_at, rt.replaced_by, \
     (SELECT n.used_at IS NULL FROM refresh_tokens n WHERE n.token_hash = rt.replaced_by) AS successor_live, \
     s.id AS session_id, s.user_id, s.link_id, s.scope, s.revoked_at, s.idle_expires_at, s.absolute_expires_at, \
     s.created_at AS session_created_at, u.tokens_valid_after, u.kind, u.role, u.status AS user_status, u.login, u.first_name, u.last_name, l.status AS link_status, l.policy_version \
     FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id JOIN users u ON u.id = s.user_id \
     LEFT JOIN links l ON l.id = s.link_id WHERE rt.token_hash = ?1 AND rt.session_id = ?2";

const ROTATE: &str = "UPDATE refresh_tokens SET used_at = ?2, replaced_by = ?3 WHERE token_hash = ?1 AND used_at IS NULL";
const INSERT_SUCCESSOR: &str = "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) SELECT ?3, ?4, ?2 \
     WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?1 AND replaced_by = ?3)";
const TOUCH_SESSION: &str = "UPDATE sessions SET last_seen_at = ?2, idle_expires_at = MIN(?2 + ?5, absolute_expires_at), \
     ip = ?6, country = ?7, user_agent = ?8 WHERE id = ?4 AND revoked_at IS NULL \
     AND EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?1 AND replaced_by = ?3)";
const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL";
const LOGOUT_BY_REFRESH: &str = "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'logout' WHERE id = ?1 AND revoked_at IS NULL \
     AND idle_expires_at > ?2 AND absolute_expires_at > ?2 AND EXISTS (SELECT 1 FROM refresh_tokens WHERE session_id = ?1 AND token_hash = ?3)";
const LOGOUT_BY_ACCESS: &str =
    "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'logout' WHERE id = ?1 AND user_id = ?3 AND revoked_at IS NULL";

#[derive(Debug, Deserialize, Default)]
pub struct RefreshInput {
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub refresh_transport: Option<Transport>,
}

#[derive(Deserialize)]
struct TokenRow {
    used_at: Option<i64>,
    replaced_by: Option<String>,
    successor_live: Option<i64>,
    session_id: String,
    user_id: String,
    link_id: Option<String>,
    scope: Scope,
    revoked_at: Option<i64>,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    session_created_at: i64,
    tokens_valid_after: i64,
    kind: String,
    role: Option<String>,
    user_status: String,
    login: String,
    first_name: String,
    last_name: String,
    link_status: Option<String>,
    policy_version: Option<i64>,
}

pub async fn refresh<P: Ports>(ports: &P, config: &Config, client: &ClientMeta, now: DateTime<Utc>, token: &str, transport: Transport) -> Result<Issued, ApiError> {
    let Some((session_id, presented_hash)) = credentials::parse_refresh_token(token) else {
        return Err(ApiError::Unauthenticated);
    };
    let t = now.timestamp();
    let out = ports
        .db()
        .batch(vec![select_settings(), Stmt::new(SELECT_TOKEN).bind(presented_hash.as_str()).bind(session_id.as_str())])
        .await?;
    let (settings, _) = settings_from(out.first().and_then(|o| o.rows.first().cloned()))?;
    // An unknown secret ends nothing: nobody can end a session by guessing.
    let row: TokenRow = match out.get(1).and_then(|o| o.rows.first().cloned()) {
        Some(row) => decode(row)?,
        None => return Err(ApiError::Unauthenticated),
    };
    if row.revoked_at.is_some() || row.idle_expires_at <= t || row.absolute_expires_at <= t {
        return Err(ApiError::Unauthenticated);
    }
    if let Some(used_at) = row.used_at {
        let just_before = row.replaced_by.is_some() && row.successor_live == Some(1);
        if just_before && t - used_at <= REUSE_GRACE_SECONDS {
            return Err(ApiError::conflict(Conflict::RefreshConflict));
        }
        let event = Event::new("refresh.reused", ActorKind::System, None)
            .target("session", &row.session_id)
            .failed()
            .details(json!({"user_id": row.user_id, "used_at": used_at}));
        let audit = event.insert(&new_id(ports, now)?, client, t);
        ports.db().batch(vec![Stmt::new(REVOKE_SESSION).bind(row.session_id.as_str()).bind(t).bind("refresh_reuse"), audit]).await?;
        return Err(ApiError::Unauthenticated);
    }
    let employee = row.kind == "employee";
    if row.user_status != "active" || (!employee && row.link_status.as_deref() != Some("active")) {
        return Err(ApiError::Unauthenticated);
    }
    // A session opened before the credentials last changed (a password change, a new or reset
    // authenticator) is over: its refresh token must not mint new access tokens, or a thief's
    // session would outlive the change that was meant to end it.
    if row.session_created_at < row.tokens_valid_after {
        ports.db().run(Stmt::new(REVOKE_SESSION).bind(row.session_id.as_str()).bind(t).bind("credentials_changed")).await?;
        return Err(ApiError::Unauthenticated);
    }
    let secret: [u8; 32] = secret_bytes(ports)?;
    let (new_token, new_hash) = credentials::new_refresh_token(&row.session_id, secret)?;
    let ttl = i64::from(settings.sessions.refresh_ttl_seconds);
    let bind_common = |sql: &'static str| {
        Stmt::new(sql).bind(presented_hash.as_str()).bind(t).bind(new_hash.as_str()).bind(row.session_id.as_str())
    };
    let mut stmts = vec![
        Stmt::new(ROTATE).bind(presented_hash.as_str()).bind(t).bind(new_hash.as_str()),
        bind_common(INSERT_SUCCESSOR),
        bind_common(TOUCH_SESSION).bind(ttl).bind(client.ip.clone()).bind(client.country.clone()).bind(client.user_agent.clone()),
    ];
    stmts.extend(facts_stmts_for(row.link_id.as_deref()));
    let out = ports.db().batch(stmts).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::conflict(Conflict::RefreshConflict));
    }
    // Refreshing is how a client picks up a changed policy: recompute what it may see.
    let (policy_version, vis) = match token_scope(out.get(3..).unwrap_or_default())? {
        Some((pv, vis)) => (pv, Some(vis)),
        None => (row.policy_version.unwrap_or(0), None),
    };
    let opening = Opening {
        session_id: row.session_id,
        refresh_token: new_token,
        refresh_hash: new_hash,
        scope: row.scope,
        link_id: row.link_id,
        policy_version,
        vis,
    };
    let user = SessionUser { id: row.user_id, kind: row.kind, role: row.role, login: row.login, first_name: row.first_name, last_name: row.last_name };
    opening.issue(config, &settings, user, now, transport)
}

/// Ends the caller's session, named by a refresh token (its secret must match) or by a valid
/// access token. Idempotent: ending an ended session is not an error.
/// Ends the session the token names. A token that names no live session (made up, of another
/// session's secret, already logged out or expired) answers 401 and writes nothing: logout is a
/// public route, so an answer of 204 to anything would let anyone make the worker write.
pub async fn logout<P: Ports>(ports: &P, client: &ClientMeta, now: DateTime<Utc>, by: LogoutBy) -> Result<(), ApiError> {
    let t = now.timestamp();
    let (stmt, session_id, user_id) = match by {
        LogoutBy::Refresh(token) => match credentials::parse_refresh_token(&token) {
            Some((sid, hash)) => (Stmt::new(LOGOUT_BY_REFRESH).bind(sid.as_str()).bind(t).bind(hash), sid, None),
            None => return Err(ApiError::Unauthenticated),
        },
        LogoutBy::Session { session_id, user_id } => {
            (Stmt::new(LOGOUT_BY_ACCESS).bind(session_id.as_str()).bind(t).bind(user_id.as_str()), session_id, Some(user_id))
        }
    };
    if ports.db().run(stmt).await? == 0 {
        return Err(ApiError::Unauthenticated);
    }
    let event = Event::new("session.logout", ActorKind::External, user_id.as_deref()).target("session", &session_id);
    write_events(ports, client, now, vec![event]).await?;
    Ok(())
}

pub enum LogoutBy {
    Refresh(String),
    Session { session_id: String, user_id: String },
}
