//! The governance view of channel links (Telegram chats and widgets the clients connected): list
//! by kind and status, and revoke. Managers see and revoke those of their companies only.

use crate::app::kit::error::Conflict;
use crate::app::kit::page::{decode_time_cursor, encode_time_cursor};
use crate::app::kit::rows::{changes, first_row, json_ids, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{governs_all};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// ?1 kind, ?2 status, ?3 company, ?4 link, ?5 cursor time, ?6 cursor id, ?7 limit, ?8 the
/// employee (admins see all, managers their companies).
const SELECT_CHANNEL_LINKS: &str = "SELECT cl.id, cl.kind, cl.user_id, u.login AS user_login, cl.link_id, cl.company_id, \
     co.name AS company_name, cl.status, cl.external_label, cl.created_at, cl.updated_at, cl.revoked_at, cl.revoked_reason, cl.unreachable_at \
     FROM channel_links cl JOIN users u ON u.id = cl.user_id JOIN companies co ON co.id = cl.company_id \
     WHERE (?1 IS NULL OR cl.kind = ?1) AND (?2 IS NULL OR (CASE WHEN cl.status <> 'revoked' AND cl.unreachable_at IS NOT NULL THEN 'unreachable' ELSE cl.status END) = ?2) AND (?3 IS NULL OR cl.company_id = ?3) \
     AND (?4 IS NULL OR cl.link_id = ?4) AND (?5 IS NULL OR cl.created_at < ?5 OR (cl.created_at = ?5 AND cl.id < ?6)) \
     AND (EXISTS (SELECT 1 FROM users su WHERE su.id = ?8 AND su.role = 'admin') \
       OR cl.company_id IN (SELECT company_id FROM employee_companies WHERE user_id = ?8)) \
     ORDER BY cl.created_at DESC, cl.id DESC LIMIT ?7";
const SELECT_ONE: &str = "SELECT cl.id, cl.kind, cl.user_id, u.login AS user_login, cl.link_id, cl.company_id, \
     co.name AS company_name, cl.status, cl.external_label, cl.created_at, cl.updated_at, cl.revoked_at, cl.revoked_reason, cl.unreachable_at \
     FROM channel_links cl JOIN users u ON u.id = cl.user_id JOIN companies co ON co.id = cl.company_id WHERE cl.id = ?1";
// ?14 channel link, ?15 session, ?16 companies JSON.
const AUDIT_REVOKE: AuditGuard = audit_guard!(
    "EXISTS (SELECT 1 FROM channel_links WHERE id = ?14 AND status <> 'revoked') AND ",
    governs_all!(15, 2, 16)
);
// Last: the audit above reads the status this changes.
const REVOKE: &str = concat!(
    "UPDATE channel_links SET status = 'revoked', revoked_at = ?2, revoked_reason = 'admin', updated_at = ?2 \
     WHERE id = ?1 AND status <> 'revoked' AND ",
    governs_all!(3, 2, 4)
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelFilter {
    pub kind: Option<&'static str>,
    pub status: Option<&'static str>,
    pub company: Option<Uuid>,
    pub link: Option<Uuid>,
}

impl ChannelFilter {
    /// `kind=telegram|widget`, `status=active|suspended|revoked`; anything else is bad input.
    pub fn parse(kind: Option<&str>, status: Option<&str>, company: Option<Uuid>, link: Option<Uuid>) -> Result<ChannelFilter, ApiError> {
        let kind = kind
            .map(|k| {
                ["telegram", "widget"].into_iter().find(|x| *x == k).ok_or_else(|| ApiError::invalid("kind", "kind must be telegram or widget"))
            })
            .transpose()?;
        let status = status
            .map(|s| {
                ["active", "suspended", "unreachable", "revoked"]
                    .into_iter()
                    .find(|x| *x == s)
                    .ok_or_else(|| ApiError::invalid("status", "status must be active, suspended, unreachable or revoked"))
            })
            .transpose()?;
        Ok(ChannelFilter { kind, status, company, link })
    }
}

#[derive(Debug, Deserialize)]
struct ChannelRow {
    id: String,
    kind: String,
    user_id: String,
    user_login: String,
    link_id: String,
    company_id: String,
    company_name: String,
    status: String,
    external_label: Option<String>,
    created_at: i64,
    updated_at: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
    unreachable_at: Option<i64>,
}

/// A channel link without its secrets (the widget's signing secrets never leave the database
/// through this API).
#[derive(Debug, Serialize)]
pub struct ChannelLinkView {
    pub id: String,
    pub kind: String,
    pub user_id: String,
    pub user_login: String,
    pub link_id: String,
    pub company_id: String,
    pub company_name: String,
    /// `active`, `suspended`, `unreachable` (the chat blocked the bot) or `revoked`.
    pub status: String,
    pub external_label: Option<String>,
    /// Since when the chat has blocked the bot.
    pub unreachable_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
}

impl From<ChannelRow> for ChannelLinkView {
    fn from(r: ChannelRow) -> Self {
        ChannelLinkView {
            id: r.id,
            kind: r.kind,
            user_id: r.user_id,
            user_login: r.user_login,
            link_id: r.link_id,
            company_id: r.company_id,
            company_name: r.company_name,
            status: if r.status != "revoked" && r.unreachable_at.is_some() { "unreachable".to_owned() } else { r.status },
            unreachable_since: r.unreachable_at.filter(|_| r.revoked_at.is_none()).map(rfc3339),
            external_label: r.external_label,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            revoked_at: r.revoked_at.map(rfc3339),
            revoked_reason: r.revoked_reason,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ChannelPage {
    pub items: Vec<ChannelLinkView>,
    pub next_cursor: Option<String>,
}

pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, filter: ChannelFilter, limit: u32, cursor: Option<&str>) -> Result<ChannelPage, ApiError> {
    let after = cursor.map(decode_time_cursor).transpose()?;
    let select = Stmt::new(SELECT_CHANNEL_LINKS)
        .bind(filter.kind)
        .bind(filter.status)
        .bind(filter.company.map(|c| c.to_string()))
        .bind(filter.link.map(|l| l.to_string()))
        .bind(after.as_ref().map(|c| c.0))
        .bind(after.map(|c| c.1))
        .bind(limit + 1)
        .bind(bearer.claims.sub.as_str());
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), select]).await?;
    Governor::from_check(bearer, out.first())?;
    let mut found: Vec<ChannelRow> = decode_all(rows(&out, 1))?;
    let next_cursor = if found.len() > limit as usize {
        found.truncate(limit as usize);
        found.last().map(|c| encode_time_cursor(c.created_at, &c.id))
    } else {
        None
    };
    Ok(ChannelPage { items: found.into_iter().map(ChannelLinkView::from).collect(), next_cursor })
}

pub async fn revoke<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, channel_link_id: Uuid) -> Result<ChannelLinkView, ApiError> {
    let id = channel_link_id.to_string();
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_ONE).bind(id.as_str())]).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let row: ChannelRow = decode(first_row(&out, 1).ok_or(ApiError::NotFound)?)?;
    if !gov.sees_company(&row.company_id) {
        return Err(ApiError::NotFound);
    }
    if row.status == "revoked" {
        return Err(ApiError::conflict(Conflict::ChannelLinkRevoked));
    }
    let t = now.timestamp();
    let session = gov.principal.session_id.clone();
    let companies = json_ids([&row.company_id]);
    let me = gov.user_id().to_owned();
    let event = Event::new("channel_link.revoked", ActorKind::Employee, Some(&me))
        .target("channel_link", &id)
        .companies(vec![row.company_id.clone()])
        .details(json!({"kind": row.kind, "status_before": row.status, "user_id": row.user_id, "link_id": row.link_id,
            "external_label": row.external_label}));
    let event_id = new_id(ports, now)?;
    let audit = event.insert_if(&event_id, client, t, AUDIT_REVOKE).bind(id.as_str()).bind(session.as_str()).bind(companies.as_str());
    let update = Stmt::new(REVOKE).bind(id.as_str()).bind(t).bind(session.as_str()).bind(companies.as_str());
    let out = ports.db().batch(vec![audit, update, Stmt::new(SELECT_ONE).bind(id.as_str())]).await?;
    if changes(&out, 1) != 1 {
        return Err(ApiError::conflict(Conflict::ChannelLinkChanged));
    }
    let row: ChannelRow = decode(first_row(&out, 2).ok_or_else(|| ApiError::internal("revoked channel link vanished"))?)?;
    Ok(row.into())
}
