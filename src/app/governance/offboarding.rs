//! `POST /api/admin/links/{id}/offboard`: ending a collaboration in one call. Disables or revokes
//! the link, revokes its pending invitations, its channel links (and unused Telegram codes) and
//! its live sessions, audits it, and lists the client's unfinished requests, in one batch.
//!
//! The batch's guard is the link row as it was read (not revoked, same policy version) plus the
//! acting employee's rights; every statement carries it and the link row itself is updated last,
//! so all statements see the same link row: either everything happens or nothing does.

use crate::app::kit::error::Conflict;
use crate::app::kit::governor::read_link;
use crate::app::kit::rows::{changes, json_ids, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{governs_all};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::facts::LinkStatus;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The link ?l is not revoked and still at policy version ?v, and the employee (session ?s, now
/// ?n) governs every company of ?c.
macro_rules! link_unchanged {
    ($l:literal, $n:literal, $s:literal, $c:literal, $v:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM links ol WHERE ol.id = ?", $l, " AND ol.status <> 'revoked' AND ol.policy_version = ?", $v,
            ") AND ", governs_all!($s, $n, $c)
        )
    };
}

// What each step ends; the audit counts the same rows just before they change.
macro_rules! pending_invitations {
    ($l:literal) => {
        concat!("FROM invitations WHERE link_id = ?", $l, " AND status = 'pending'")
    };
}
macro_rules! live_channel_links {
    ($l:literal) => {
        concat!("FROM channel_links WHERE link_id = ?", $l, " AND status <> 'revoked'")
    };
}
macro_rules! live_sessions {
    ($l:literal, $n:literal) => {
        concat!(
            "FROM sessions WHERE link_id = ?", $l, " AND revoked_at IS NULL AND idle_expires_at > ?", $n,
            " AND absolute_expires_at > ?", $n
        )
    };
}

// Params of the statements below: ?1 link, ?2 now, ?3 session, ?4 companies JSON, ?5 policy version.
const AUDIT_OFFBOARD: AuditGuard = audit_guard!(
    details = concat!(
        "json_set(?13, '$.invitations_revoked', (SELECT count(*) ", pending_invitations!(14),
        "), '$.channel_links_revoked', (SELECT count(*) ", live_channel_links!(14),
        "), '$.sessions_revoked', (SELECT count(*) ", live_sessions!(14, 2), "))"
    );
    link_unchanged!(14, 2, 15, 16, 17)
);
const REVOKE_INVITATIONS: &str = concat!(
    "UPDATE invitations SET status = 'revoked', revoked_at = ?2 WHERE id IN (SELECT id ", pending_invitations!(1), ") AND ",
    link_unchanged!(1, 2, 3, 4, 5)
);
const REVOKE_CHANNEL_LINKS: &str = concat!(
    "UPDATE channel_links SET status = 'revoked', revoked_at = ?2, revoked_reason = 'offboarding', updated_at = ?2 \
     WHERE id IN (SELECT id ", live_channel_links!(1), ") AND ",
    link_unchanged!(1, 2, 3, 4, 5)
);
/// An unused Telegram code would otherwise still link a chat after offboarding.
const EXPIRE_CODES: &str = concat!(
    "UPDATE channel_link_codes SET expires_at = ?2 WHERE link_id = ?1 AND used_at IS NULL AND expires_at > ?2 AND ",
    link_unchanged!(1, 2, 3, 4, 5)
);
const REVOKE_SESSIONS: &str = concat!(
    "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'offboarding' WHERE id IN (SELECT id ", live_sessions!(1, 2), ") AND ",
    link_unchanged!(1, 2, 3, 4, 5)
);
/// Last: once the link row changes, the guard above no longer holds.
const UPDATE_LINK: &str = concat!(
    "UPDATE links SET status = ?6, revoked_at = CASE WHEN ?6 = 'revoked' THEN ?2 ELSE NULL END, \
     policy_version = policy_version + 1, updated_at = ?2 WHERE id = ?1 AND ",
    link_unchanged!(1, 2, 3, 4, 5)
);
/// The client's unfinished requests at the link's companies, to close or hand over.
const SELECT_OPEN_REQUESTS: &str = "SELECT r.id, r.title, r.stage_id AS status, s.name AS status_name, r.company_id, r.created_at \
     FROM requests r JOIN pipeline_stages s ON s.pipeline_id = r.pipeline_id AND s.id = r.stage_id \
     WHERE r.created_by = ?1 AND r.company_id IN (SELECT company_id FROM link_companies WHERE link_id = ?2) AND s.is_final = 0 \
     ORDER BY r.created_at, r.id LIMIT 200";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Pauses access; the link can be made active again.
    Disable,
    /// Final.
    Revoke,
}

impl Mode {
    fn status(self) -> LinkStatus {
        match self {
            Mode::Disable => LinkStatus::Disabled,
            Mode::Revoke => LinkStatus::Revoked,
        }
    }

    fn status_str(self) -> &'static str {
        match self {
            Mode::Disable => "disabled",
            Mode::Revoke => "revoked",
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct OffboardInput {
    pub mode: Mode,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct OpenRequest {
    pub id: Uuid,
    pub title: String,
    /// The stage id (the request's status).
    pub status: String,
    pub status_name: String,
    pub company_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct OffboardReport {
    pub link_id: Uuid,
    pub link_status: LinkStatus,
    pub invitations_revoked: u64,
    pub channel_links_revoked: u64,
    pub sessions_revoked: u64,
    pub open_requests: Vec<OpenRequest>,
    pub offboarded_at: String,
}

pub async fn offboard<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, link_id: Uuid, input: OffboardInput) -> Result<OffboardReport, ApiError> {
    let read = read_link(ports, bearer, now, link_id, Vec::new()).await?;
    let company_ids: Vec<String> = read.facts.companies.iter().map(|c| c.id.to_string()).collect();
    // A change must keep every company it touches inside a manager's scope.
    if !read.gov.sees_all(company_ids.iter().map(String::as_str)) {
        return Err(ApiError::NotFound);
    }
    if read.link.status == LinkStatus::Revoked {
        return Err(ApiError::conflict(Conflict::LinkRevoked));
    }
    let id = link_id.to_string();
    let t = now.timestamp();
    let session = read.gov.principal.session_id.clone();
    let companies = json_ids(&company_ids);
    let version = read.link.policy_version;
    let me = read.gov.user_id().to_owned();
    let event = Event::new("link.offboarded", ActorKind::Employee, Some(&me))
        .target("link", &id)
        .companies(company_ids)
        .details(json!({"mode": input.mode.status_str(), "status_before": read.link.status, "user_id": read.link.user_id}));
    let event_id = new_id(ports, now)?;
    let audit = event.insert_if(&event_id, client, t, AUDIT_OFFBOARD).bind(id.as_str()).bind(session.as_str()).bind(companies.as_str()).bind(version);
    let guarded = |sql: &'static str| Stmt::new(sql).bind(id.as_str()).bind(t).bind(session.as_str()).bind(companies.as_str()).bind(version);
    let out = ports
        .db()
        .batch(vec![
            audit,
            guarded(REVOKE_INVITATIONS),
            guarded(REVOKE_CHANNEL_LINKS),
            guarded(EXPIRE_CODES),
            guarded(REVOKE_SESSIONS),
            guarded(UPDATE_LINK).bind(input.mode.status_str()),
            Stmt::new(SELECT_OPEN_REQUESTS).bind(read.link.user_id.to_string()).bind(id.as_str()),
        ])
        .await?;
    if changes(&out, 5) != 1 {
        return Err(ApiError::conflict(Conflict::LinkChanged));
    }
    Ok(OffboardReport {
        link_id,
        link_status: input.mode.status(),
        invitations_revoked: changes(&out, 1),
        channel_links_revoked: changes(&out, 2),
        sessions_revoked: changes(&out, 4),
        open_requests: decode_all(rows(&out, 6))?,
        offboarded_at: rfc3339(t),
    })
}
