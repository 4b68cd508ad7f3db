//! `GET /api/admin/audit`: the audit trail, newest first, filtered by actor, action, target and
//! time, with keyset pagination. A manager sees only events that concern one of their companies.
//! Also the opaque keyset cursor the governance lists of this area share.

use crate::app::kit::page::{decode_time_cursor, encode_time_cursor};
use crate::app::kit::rows::{rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::governor::Governor;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::store::{decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The filters of the audit query, parsed at the boundary.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// An exact action name, or a prefix when it ends with `*` (`policy.*`).
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// Events of one client link: its own changes and what its client did through it.
    pub link: Option<uuid::Uuid>,
    /// Who acted: `external` (clients), `employee`, `crm`, `system` or `anonymous`.
    pub kind: Option<String>,
    /// Only sign-ins from a country the user had never signed in from.
    pub new_country: bool,
    pub limit: u32,
    pub cursor: Option<String>,
}

impl AuditFilter {
    /// `kind=` as one of the actor kinds; anything else answers 400 naming it.
    pub fn parse_kind(raw: Option<&str>) -> Result<Option<String>, ApiError> {
        match raw {
            None => Ok(None),
            Some(k) if ["external", "employee", "crm", "system", "anonymous"].contains(&k) => Ok(Some(k.to_owned())),
            Some(_) => Err(ApiError::invalid("kind", "kind must be one of: external, employee, crm, system, anonymous.")),
        }
    }

    /// `since` is RFC 3339; anything else answers 400 naming it.
    pub fn parse_since(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
        raw.map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid("since", "since must be an RFC 3339 time, like 2026-01-31T09:00:00Z"))
        })
        .transpose()
    }
}

#[derive(Debug, Deserialize)]
struct EventRow {
    id: String,
    created_at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    company_ids: String,
    outcome: String,
    ip: Option<String>,
    country: Option<String>,
    user_agent: Option<String>,
    details: String,
}

#[derive(Debug, Serialize)]
pub struct AuditItem {
    pub id: String,
    pub created_at: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub company_ids: serde_json::Value,
    pub outcome: String,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub items: Vec<AuditItem>,
    pub next_cursor: Option<String>,
}

/// `policy.*` -> `policy.%` with LIKE's own characters escaped.
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern: String = prefix.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    pattern.push('%');
    pattern
}

pub async fn query<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, filter: AuditFilter) -> Result<AuditPage, ApiError> {
    let after = filter.cursor.as_deref().map(decode_time_cursor).transpose()?;
    let (exact, prefix) = match filter.action.as_deref() {
        Some(a) if a.ends_with('*') => (None, Some(prefix_pattern(a.trim_end_matches('*')))),
        Some(a) => (Some(a.to_owned()), None),
        None => (None, None),
    };
    // One round trip: the check, and the events filtered by the scope read inside the statement.
    let check = Governor::check_stmt(bearer, now);
    let events = Stmt::new(SELECT_EVENTS)
        .bind(filter.actor.clone())
        .bind(exact)
        .bind(prefix)
        .bind(filter.target.clone())
        .bind(filter.since.map(|d| d.timestamp()))
        .bind(after.as_ref().map(|c| c.0))
        .bind(after.map(|c| c.1))
        .bind(filter.limit + 1)
        .bind(bearer.claims.sub.as_str())
        .bind(filter.link.map(|l| l.to_string()))
        .bind(filter.kind.clone())
        .bind(filter.new_country.then_some(1_i64));
    let out = ports.db().batch(vec![check, events]).await?;
    Governor::from_check(bearer, out.first())?;
    let mut events: Vec<EventRow> = decode_all(rows(&out, 1))?;
    let next_cursor = if events.len() > filter.limit as usize {
        events.truncate(filter.limit as usize);
        events.last().map(|e| encode_time_cursor(e.created_at, &e.id))
    } else {
        None
    };
    let items = events
        .into_iter()
        .map(|e| AuditItem {
            id: e.id,
            created_at: rfc3339(e.created_at),
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            company_ids: serde_json::from_str(&e.company_ids).unwrap_or_default(),
            outcome: e.outcome,
            ip: e.ip,
            country: e.country,
            user_agent: e.user_agent,
            details: serde_json::from_str(&e.details).unwrap_or_default(),
        })
        .collect();
    Ok(AuditPage { items, next_cursor })
}

/// ?1 actor, ?2 action (exact), ?3 action prefix (LIKE pattern), ?4 target, ?5 since, ?6 cursor
/// time, ?7 cursor id, ?8 limit, ?9 the employee: an admin sees every event, a manager those
/// whose company_ids meet their companies (read inside the statement: no second round trip).
const SELECT_EVENTS: &str = "SELECT a.id, a.created_at, a.actor_kind, a.actor_id, a.action, a.target_kind, a.target_id, \
     a.company_ids, a.outcome, a.ip, a.country, a.user_agent, a.details FROM audit_events a \
     WHERE (?1 IS NULL OR a.actor_id = ?1) AND (?2 IS NULL OR a.action = ?2) AND (?3 IS NULL OR a.action LIKE ?3 ESCAPE '\\') \
     AND (?4 IS NULL OR a.target_id = ?4) AND (?5 IS NULL OR a.created_at >= ?5) \
     AND (?6 IS NULL OR a.created_at < ?6 OR (a.created_at = ?6 AND a.id < ?7)) \
     AND (?10 IS NULL OR json_extract(a.details, '$.link_id') = ?10 OR (a.target_kind = 'link' AND a.target_id = ?10)) \
     AND (?11 IS NULL OR a.actor_kind = ?11) AND (?12 IS NULL OR json_extract(a.details, '$.new_country') = 1) \
     AND (EXISTS (SELECT 1 FROM users su WHERE su.id = ?9 AND su.role = 'admin') \
       OR EXISTS (SELECT 1 FROM json_each(a.company_ids) ac JOIN employee_companies ec ON ec.company_id = ac.value AND ec.user_id = ?9)) \
     ORDER BY a.created_at DESC, a.id DESC LIMIT ?8";
