//! A user's sessions as the governance console sees them (list, revoke all) and clearing a
//! lockout. A manager reaches an external user whose live links hold only the manager's companies
//! (the rule users and MFA resets follow); anyone else is 404.

use crate::app::kit::error::Conflict;
use crate::app::kit::page::{decode_time_cursor, encode_time_cursor};
use crate::app::kit::rows::{changes, first_row, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::governor::LIVE_LINK_COMPANIES;
use crate::app::kit::sql::governs_user;
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

const SELECT_USER: &str = "SELECT id, kind, login, failed_logins, locked_until FROM users WHERE id = ?1";
/// ?5 status filter (NULL: all), ?6 now; keyset on (created_at, id) newest first.
const SELECT_SESSIONS: &str = "SELECT id, link_id, scope, created_at, last_seen_at, idle_expires_at, absolute_expires_at, ip, \
     country, user_agent, revoked_at, revoked_reason FROM sessions WHERE user_id = ?1 \
     AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3)) \
     AND (?5 IS NULL \
       OR (?5 = 'live' AND revoked_at IS NULL AND idle_expires_at > ?6 AND absolute_expires_at > ?6) \
       OR (?5 = 'revoked' AND revoked_at IS NOT NULL) \
       OR (?5 = 'expired' AND revoked_at IS NULL AND (idle_expires_at <= ?6 OR absolute_expires_at <= ?6))) \
     ORDER BY created_at DESC, id DESC LIMIT ?4";

macro_rules! user_live_sessions {
    ($u:literal, $n:literal) => {
        concat!(
            "FROM sessions WHERE user_id = ?", $u, " AND revoked_at IS NULL AND idle_expires_at > ?", $n,
            " AND absolute_expires_at > ?", $n
        )
    };
}
// ?14 user, ?15 session.
// ?14 user, ?15 session, ?16 the one session to end (NULL: all of them; when given, it must be one
// of the user's live sessions).
const AUDIT_REVOKE_SESSIONS: AuditGuard = audit_guard!(
    details = concat!("json_set(?13, '$.sessions_revoked', (SELECT count(*) ", user_live_sessions!(14, 2), " AND (?16 IS NULL OR id = ?16)))");
    "EXISTS (SELECT 1 FROM users WHERE id = ?14) AND (?16 IS NULL OR EXISTS (SELECT 1 ", user_live_sessions!(14, 2), " AND id = ?16)) AND ",
    governs_user!(15, 2, 14)
);
// ?1 user, ?2 now, ?3 session, ?4 the one session (NULL: all).
const REVOKE_SESSIONS: &str = concat!(
    "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'admin' WHERE id IN (SELECT id ", user_live_sessions!(1, 2), " AND (?4 IS NULL OR id = ?4)) AND ",
    governs_user!(3, 2, 1)
);
const AUDIT_UNLOCK: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM users WHERE id = ?14) AND ", governs_user!(15, 2, 14));
const UNLOCK: &str = concat!(
    "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = ?2 WHERE id = ?1 AND ",
    governs_user!(3, 2, 1)
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Live,
    Revoked,
    Expired,
}

impl SessionStatus {
    pub fn parse(raw: &str) -> Option<SessionStatus> {
        match raw {
            "live" => Some(SessionStatus::Live),
            "revoked" => Some(SessionStatus::Revoked),
            "expired" => Some(SessionStatus::Expired),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Live => "live",
            SessionStatus::Revoked => "revoked",
            SessionStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Deserialize)]
struct UserRow {
    id: Uuid,
    kind: String,
    login: String,
    failed_logins: i64,
    locked_until: Option<i64>,
}

#[derive(Deserialize)]
struct CompanyIdRow {
    company_id: String,
}

#[derive(Deserialize)]
struct SessionRow {
    id: String,
    link_id: Option<String>,
    scope: String,
    created_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    ip: Option<String>,
    country: Option<String>,
    user_agent: Option<String>,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AdminSessionView {
    pub id: String,
    pub link_id: Option<String>,
    pub scope: String,
    pub status: SessionStatus,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SessionPage {
    pub user_id: Uuid,
    pub login: String,
    pub items: Vec<AdminSessionView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RevokedSessions {
    pub user_id: Uuid,
    pub sessions_revoked: u64,
}

#[derive(Debug, Serialize)]
pub struct Unlocked {
    pub user_id: Uuid,
    pub was_locked: bool,
    pub failed_logins_before: i64,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
}

/// The target user and the companies that scope them; 404 when the user does not exist or is
/// outside a manager's scope (employees are: they hold no link).
struct Target {
    gov: Governor,
    user: UserRow,
    companies: Vec<String>,
}

fn target(bearer: &Bearer, out: &[Outcome]) -> Result<Target, ApiError> {
    let gov = Governor::from_check(bearer, out.first())?;
    let user: UserRow = decode(first_row(out, 1).ok_or(ApiError::NotFound)?)?;
    let companies: Vec<String> = decode_all::<CompanyIdRow>(rows(out, 2))?.into_iter().map(|r| r.company_id).collect();
    if !gov.governs_user(&user.kind, &companies) {
        return Err(ApiError::NotFound);
    }
    Ok(Target { gov, user, companies })
}

fn target_stmts(bearer: &Bearer, now: DateTime<Utc>, user_id: &str) -> Vec<Stmt> {
    vec![
        Governor::check_stmt(bearer, now),
        Stmt::new(SELECT_USER).bind(user_id),
        Stmt::new(LIVE_LINK_COMPANIES).bind(user_id),
    ]
}

pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, user_id: Uuid, status: Option<SessionStatus>, limit: u32, cursor: Option<&str>) -> Result<SessionPage, ApiError> {
    let id = user_id.to_string();
    let after = cursor.map(decode_time_cursor).transpose()?;
    let t = now.timestamp();
    let mut stmts = target_stmts(bearer, now, &id);
    stmts.push(
        Stmt::new(SELECT_SESSIONS)
            .bind(id.as_str())
            .bind(after.as_ref().map(|c| c.0))
            .bind(after.map(|c| c.1))
            .bind(limit + 1)
            .bind(status.map(SessionStatus::as_str))
            .bind(t),
    );
    let out = ports.db().batch(stmts).await?;
    let target = target(bearer, &out)?;
    let mut sessions: Vec<SessionRow> = decode_all(rows(&out, 3))?;
    let next_cursor = if sessions.len() > limit as usize {
        sessions.truncate(limit as usize);
        sessions.last().map(|s| encode_time_cursor(s.created_at, &s.id))
    } else {
        None
    };
    let items = sessions
        .into_iter()
        .map(|s| {
            let status = if s.revoked_at.is_some() {
                SessionStatus::Revoked
            } else if s.idle_expires_at <= t || s.absolute_expires_at <= t {
                SessionStatus::Expired
            } else {
                SessionStatus::Live
            };
            AdminSessionView {
                id: s.id,
                link_id: s.link_id,
                scope: s.scope,
                status,
                created_at: rfc3339(s.created_at),
                last_seen_at: rfc3339(s.last_seen_at),
                expires_at: rfc3339(s.idle_expires_at.min(s.absolute_expires_at)),
                ip: s.ip,
                country: s.country,
                user_agent: s.user_agent,
                revoked_at: s.revoked_at.map(rfc3339),
                revoked_reason: s.revoked_reason,
            }
        })
        .collect();
    Ok(SessionPage { user_id: target.user.id, login: target.user.login, items, next_cursor })
}

/// `POST /api/admin/users/{id}/sessions/revoke` body: `{session_id?}` ends that one session; no body
/// (or no `session_id`) ends every live one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeSessionsInput {
    #[serde(default)]
    pub session_id: Option<Uuid>,
}

/// Ends a user's live sessions: all of them, or only `only` (404 unless it is one of them).
pub async fn revoke_all<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, user_id: Uuid, only: Option<Uuid>) -> Result<RevokedSessions, ApiError> {
    let id = user_id.to_string();
    let out = ports.db().batch(target_stmts(bearer, now, &id)).await?;
    let target = target(bearer, &out)?;
    let t = now.timestamp();
    let session = target.gov.principal.session_id.clone();
    let me = target.gov.user_id().to_owned();
    let event = Event::new("sessions.revoked", ActorKind::Employee, Some(&me))
        .target("user", &id)
        .companies(target.companies.clone())
        .details(json!({"reason": "admin", "login": target.user.login, "session_id": only}));
    let only = only.map(|s| s.to_string());
    let event_id = new_id(ports, now)?;
    let audit = event.insert_if(&event_id, client, t, AUDIT_REVOKE_SESSIONS).bind(id.as_str()).bind(session.as_str()).bind(only.clone());
    let revoke = Stmt::new(REVOKE_SESSIONS).bind(id.as_str()).bind(t).bind(session.as_str()).bind(only.clone());
    let out = ports.db().batch(vec![audit, revoke]).await?;
    if changes(&out, 0) != 1 {
        // One session named: it is not a live session of this user (ended meanwhile, or another's).
        return Err(if only.is_some() { ApiError::NotFound } else { ApiError::conflict(Conflict::NotApplied) });
    }
    Ok(RevokedSessions { user_id, sessions_revoked: changes(&out, 1) })
}

pub async fn unlock<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, user_id: Uuid) -> Result<Unlocked, ApiError> {
    let id = user_id.to_string();
    let out = ports.db().batch(target_stmts(bearer, now, &id)).await?;
    let target = target(bearer, &out)?;
    let t = now.timestamp();
    let was_locked = target.user.locked_until.is_some_and(|until| until > t);
    let session = target.gov.principal.session_id.clone();
    let me = target.gov.user_id().to_owned();
    let event = Event::new("account.unlocked", ActorKind::Employee, Some(&me))
        .target("user", &id)
        .companies(target.companies.clone())
        .details(json!({"login": target.user.login, "was_locked": was_locked, "failed_logins_before": target.user.failed_logins,
            "locked_until_before": target.user.locked_until.map(rfc3339)}));
    let event_id = new_id(ports, now)?;
    let audit = event.insert_if(&event_id, client, t, AUDIT_UNLOCK).bind(id.as_str()).bind(session.as_str());
    let update = Stmt::new(UNLOCK).bind(id.as_str()).bind(t).bind(session.as_str());
    let out = ports.db().batch(vec![audit, update]).await?;
    if changes(&out, 1) != 1 {
        return Err(ApiError::conflict(Conflict::NotApplied));
    }
    Ok(Unlocked { user_id, was_locked, failed_logins_before: target.user.failed_logins, failed_logins: 0, locked_until: None })
}
