//! Changing a link: status, companies, default company and review dates, planned purely by
//! `plan_patch` and written under a guard that the link is still as read.

use crate::app::kit::error::Conflict;
use super::*;
use crate::app::kit::rows::{json_ids, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{employee_alive, all_in_scope};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::new_id;
use super::invitations::{self};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::facts::{CompanyStatus, LinkStatus};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, sql::flag, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;


/// `PATCH /api/admin/links/{id}` body.
#[derive(Debug, Default, Deserialize)]
pub struct PatchInput {
    #[serde(default)]
    pub status: Option<LinkStatus>,
    #[serde(default)]
    pub default_company_id: Option<Uuid>,
    #[serde(default)]
    pub company_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub review_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reviewed: Option<bool>,
    /// The employee who answers for the link: an active admin, or a manager of every company of it.
    #[serde(default)]
    pub responsible_id: Option<Uuid>,
}

/// The link as a change sees it: before, and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkState {
    pub status: LinkStatus,
    pub default_company_id: String,
    pub company_ids: Vec<String>,
    #[serde(serialize_with = "ser_time")]
    pub review_at: i64,
    #[serde(serialize_with = "ser_opt_time")]
    pub reviewed_at: Option<i64>,
    pub responsible_id: Option<String>,
}

pub(super) fn ser_time<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

pub(super) fn ser_opt_time<S: serde::Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// What the companies asked for in a PATCH are (read in the same batch as the link).
#[derive(Debug, Clone, Deserialize)]
pub struct PatchCompanyRow {
    pub id: String,
    pub name: String,
    pub status: CompanyStatus,
    #[serde(with = "flag")]
    pub related: bool,
}

/// The decided change: the state after, and what it implies.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub after: LinkState,
    pub action: &'static str,
    /// The change can alter the effective policy: bump the link's policy version.
    pub bumps_policy: bool,
    pub companies_changed: bool,
}

/// The PATCH rules, pure. None when nothing would change.
pub fn plan_patch(before: &LinkState, input: &PatchInput, asked: &[PatchCompanyRow], now: i64) -> Result<Option<Plan>, ApiError> {
    if before.status == LinkStatus::Revoked {
        return Err(ApiError::conflict(Conflict::LinkRevoked));
    }
    let nothing = input.status.is_none()
        && input.default_company_id.is_none()
        && input.company_ids.is_none()
        && input.review_at.is_none()
        && input.reviewed != Some(true)
        && input.responsible_id.is_none();
    if nothing {
        return Err(ApiError::invalid("body", "Nothing to change: give status, default_company_id, company_ids, review_at, reviewed or responsible_id."));
    }
    let status = input.status.unwrap_or(before.status);
    let company_ids: Vec<String> = match &input.company_ids {
        None => before.company_ids.clone(),
        Some(ids) => {
            let mut list: Vec<String> = Vec::new();
            for id in ids.iter().map(Uuid::to_string) {
                if !list.contains(&id) {
                    list.push(id);
                }
            }
            if list.is_empty() {
                return Err(ApiError::invalid("company_ids", "A link needs at least one company."));
            }
            if list.len() > MAX_COMPANIES {
                return Err(ApiError::invalid("company_ids", format!("A link holds at most {MAX_COMPANIES} companies")));
            }
            for id in &list {
                let Some(c) = asked.iter().find(|c| &c.id == id) else {
                    return Err(ApiError::invalid("company_ids", format!("No company has the id {id}")));
                };
                if !c.related {
                    return Err(ApiError::invalid("company_ids", format!("{} is not one of the contact's companies in the CRM.", c.name)));
                }
                if c.status == CompanyStatus::Archived && !before.company_ids.contains(id) {
                    return Err(ApiError::invalid("company_ids", format!("{} is archived.", c.name)));
                }
            }
            list
        }
    };
    let default_company_id = input.default_company_id.map_or_else(|| before.default_company_id.clone(), |d| d.to_string());
    if !company_ids.contains(&default_company_id) {
        return Err(ApiError::invalid("default_company_id", "The default company must be one of the link's companies."));
    }
    let reviewed = input.reviewed == Some(true);
    let review_at = match (input.review_at, reviewed) {
        (Some(at), _) => at.timestamp(),
        (None, true) => now + REVIEW_PERIOD_SECONDS,
        (None, false) => before.review_at,
    };
    let reviewed_at = if reviewed { Some(now) } else { before.reviewed_at };
    let mut sorted_before = before.company_ids.clone();
    sorted_before.sort();
    let mut sorted_after = company_ids.clone();
    sorted_after.sort();
    let companies_changed = sorted_before != sorted_after;
    let responsible_id = input.responsible_id.map(|r| r.to_string()).or_else(|| before.responsible_id.clone());
    let after = LinkState { status, default_company_id, company_ids, review_at, reviewed_at, responsible_id };
    if after == *before {
        return Ok(None);
    }
    let bumps_policy = after.status != before.status || after.default_company_id != before.default_company_id || companies_changed;
    let action = match (before.status, after.status) {
        (_, LinkStatus::Revoked) => "link.revoked",
        (LinkStatus::Active, LinkStatus::Disabled) => "link.disabled",
        (LinkStatus::Disabled, LinkStatus::Active) => "link.enabled",
        _ if bumps_policy => "link.updated",
        _ if reviewed => "link.reviewed",
        _ => "link.updated",
    };
    Ok(Some(Plan { after, action, bumps_policy, companies_changed }))
}

pub(super) const SELECT_PATCH_COMPANIES: &str = "SELECT co.id, co.name, co.status, \
     EXISTS (SELECT 1 FROM contact_companies cc JOIN links l ON l.contact_id = cc.contact_id WHERE l.id = ?2 AND cc.company_id = co.id) AS related \
     FROM companies co WHERE co.id IN (SELECT value FROM json_each(?1))";

// The guard: the link is as read (status, policy version, review dates), the new companies are
// still the contact's (an archived one only when already on the link), the employee is alive and
// every company before and after is in their scope. ?14 link, ?15 status before, ?16 policy
// version before, ?17 review_at before, ?18 reviewed_at before, ?19 companies after (JSON),
// ?20 companies before and after (JSON), ?21 the acting session.
pub(super) const PATCH_GUARD: AuditGuard = audit_guard!(concat!(
    "EXISTS (SELECT 1 FROM links WHERE id = ?14 AND status = ?15 AND policy_version = ?16 AND review_at = ?17 AND reviewed_at IS ?18) \
     AND NOT EXISTS (SELECT 1 FROM json_each(?19) j WHERE NOT EXISTS (SELECT 1 FROM companies co \
       JOIN contact_companies cc ON cc.company_id = co.id JOIN links l ON l.contact_id = cc.contact_id AND l.id = ?14 \
       WHERE co.id = j.value AND (co.status = 'active' OR EXISTS (SELECT 1 FROM link_companies lc WHERE lc.link_id = ?14 AND lc.company_id = co.id)))) \
     AND ",
    employee_alive!(21, 2),
    " AND ",
    all_in_scope!(4, 20),
    // A newly named responsible (?22; NULL when unchanged) is an active admin, or an active manager of
    // every company the link has after the change.
    " AND (?22 IS NULL OR EXISTS (SELECT 1 FROM users ru WHERE ru.id = ?22 AND ru.kind = 'employee' AND ru.status = 'active' \
       AND (ru.role = 'admin' OR (ru.role = 'manager' AND NOT EXISTS (SELECT 1 FROM json_each(?19) rj WHERE NOT EXISTS \
         (SELECT 1 FROM employee_companies rec WHERE rec.user_id = ?22 AND rec.company_id = rj.value))))))"
));
pub(super) const SELECT_RESPONSIBLE: &str = "SELECT u.id, u.kind, u.status, u.role, \
     (SELECT json_group_array(ec.company_id) FROM employee_companies ec WHERE ec.user_id = u.id) AS companies FROM users u WHERE u.id = ?1";

/// The employee named responsible, as read before the change.
#[derive(Debug, Deserialize)]
pub(super) struct ResponsibleRow {
    kind: String,
    status: String,
    role: Option<String>,
    companies: String,
}

/// A responsible must be able to govern the link: an active admin, or an active manager of every
/// company it has after the change. The field is named, so the console shows why at the select.
pub(super) fn check_responsible(row: Option<ResponsibleRow>, company_ids: &[String]) -> Result<(), ApiError> {
    let refuse = |why: &str| Err(ApiError::invalid("responsible_id", why));
    let Some(r) = row else { return refuse("No user has this id.") };
    if r.kind != "employee" {
        return refuse("The responsible must be an employee.");
    }
    if r.status != "active" {
        return refuse("The responsible must be an active employee (unblock them first).");
    }
    if r.role.as_deref() == Some("admin") {
        return Ok(());
    }
    let governed: Vec<String> = serde_json::from_str(&r.companies).map_err(|e| ApiError::internal(format!("responsible companies: {e}")))?;
    if company_ids.iter().all(|c| governed.contains(c)) {
        Ok(())
    } else {
        refuse("The responsible must govern every company of the link (a manager of them, or an admin).")
    }
}
pub(super) const UPDATE_LINK: &str = "UPDATE links SET status = ?2, default_company_id = ?3, review_at = ?4, review_due = ?5, reviewed_at = ?6, \
     policy_version = policy_version + ?7, revoked_at = CASE WHEN ?2 = 'revoked' THEN ?8 ELSE NULL END, updated_at = ?8, responsible_id = ?10 \
     WHERE id = ?1 AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?9)";
pub(super) const DROP_COMPANIES: &str = "DELETE FROM link_companies WHERE link_id = ?1 AND company_id NOT IN (SELECT value FROM json_each(?2)) \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";
pub(super) const ADD_COMPANIES: &str = "INSERT INTO link_companies (link_id, company_id, created_at) SELECT ?1, j.value, ?3 FROM json_each(?2) j \
     WHERE NOT EXISTS (SELECT 1 FROM link_companies WHERE link_id = ?1 AND company_id = j.value) \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";
pub(super) const REVOKE_SESSIONS: &str = "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE link_id = ?1 AND revoked_at IS NULL \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";
pub(super) const REVOKE_CHANNELS: &str = "UPDATE channel_links SET status = 'revoked', revoked_at = ?2, revoked_reason = 'link_revoked', updated_at = ?2 \
     WHERE link_id = ?1 AND status <> 'revoked' AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";

/// `PATCH /api/admin/links/{id}`: status (active <-> disabled, revoked final), companies, default
/// company, review dates; audited with before and after, in one guarded batch.
pub async fn patch<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, link_id: &Uuid, input: &PatchInput) -> Result<LinkDetail, ApiError> {
    let t = now.timestamp();
    let id = link_id.to_string();
    let asked: Vec<Uuid> = input.company_ids.clone().unwrap_or_default().into_iter().chain(input.default_company_id).collect();
    let mut stmts = vec![Governor::check_stmt(bearer, now)];
    stmts.extend(detail_stmts(&id, t));
    stmts.push(Stmt::new(SELECT_PATCH_COMPANIES).bind(json_ids(&asked)).bind(id.as_str()));
    stmts.push(Stmt::new(SELECT_RESPONSIBLE).bind(input.responsible_id.map(|r| r.to_string())));
    let out = ports.db().batch(stmts).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let detail = decode_detail(out.get(1..1 + DETAIL_STMT_COUNT).unwrap_or_default())?.ok_or(ApiError::NotFound)?;
    let asked_rows: Vec<PatchCompanyRow> = decode_all(rows(&out, 1 + DETAIL_STMT_COUNT))?;
    let before = LinkState {
        status: detail.summary.status,
        default_company_id: detail.summary.default_company_id.clone(),
        company_ids: detail.facts.company_ids.clone(),
        review_at: detail.facts.review_at,
        reviewed_at: detail.facts.reviewed_at,
        responsible_id: detail.facts.responsible_id.clone(),
    };
    let asked_ids: Vec<String> = asked.iter().map(Uuid::to_string).collect();
    if !gov.sees_all(before.company_ids.iter().map(String::as_str)) || !gov.sees_all(asked_ids.iter().map(String::as_str)) {
        return Err(ApiError::NotFound);
    }
    let Some(plan) = plan_patch(&before, input, &asked_rows, t)? else {
        return Ok(detail);
    };
    let after = &plan.after;
    let new_responsible = after.responsible_id.clone().filter(|r| before.responsible_id.as_ref() != Some(r));
    if new_responsible.is_some() {
        let row = rows(&out, 2 + DETAIL_STMT_COUNT).into_iter().next().map(decode::<ResponsibleRow>).transpose()?;
        check_responsible(row, &after.company_ids)?;
    }
    let mut touched = before.company_ids.clone();
    touched.extend(after.company_ids.iter().filter(|c| !before.company_ids.contains(c)).cloned());
    let event_id = new_id(ports, now)?;
    let event = Event::new(plan.action, ActorKind::Employee, Some(gov.user_id()))
        .target("link", &id)
        .companies(touched.clone())
        .details(json!({"before": before, "after": after, "policy_version_bumped": plan.bumps_policy}));
    let guard = event.insert_if(&event_id, client, t, PATCH_GUARD);
    let guard = guard
        .bind(id.as_str())
        .bind(status_word(before.status))
        .bind(detail.policy_version)
        .bind(before.review_at)
        .bind(before.reviewed_at)
        .bind(json_ids(&after.company_ids))
        .bind(json_ids(&touched))
        .bind(gov.principal.session_id.as_str())
        .bind(new_responsible);
    let mut writes = vec![
        guard,
        Stmt::new(UPDATE_LINK)
            .bind(id.as_str())
            .bind(status_word(after.status))
            .bind(after.default_company_id.as_str())
            .bind(after.review_at)
            .bind(after.status != LinkStatus::Revoked && after.review_at <= t)
            .bind(after.reviewed_at)
            .bind(i64::from(plan.bumps_policy))
            .bind(t)
            .bind(event_id.as_str())
            .bind(after.responsible_id.clone()),
    ];
    if plan.companies_changed {
        let list = json_ids(&after.company_ids);
        writes.push(Stmt::new(DROP_COMPANIES).bind(id.as_str()).bind(list.as_str()).bind(event_id.as_str()));
        writes.push(Stmt::new(ADD_COMPANIES).bind(id.as_str()).bind(list.as_str()).bind(t).bind(event_id.as_str()));
    }
    let status_changed = after.status != before.status;
    if status_changed && after.status == LinkStatus::Revoked {
        writes.push(invitations::revoke_pending_stmt(&id, t, &event_id));
        writes.push(Stmt::new(REVOKE_CHANNELS).bind(id.as_str()).bind(t).bind(event_id.as_str()));
    }
    if status_changed && after.status != LinkStatus::Active {
        let reason = if after.status == LinkStatus::Revoked { "link_revoked" } else { "link_disabled" };
        writes.push(Stmt::new(REVOKE_SESSIONS).bind(id.as_str()).bind(t).bind(reason).bind(event_id.as_str()));
    }
    let first_read = writes.len();
    writes.extend(detail_stmts(&id, t));
    let out = ports.db().batch(writes).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::conflict(Conflict::LinkChanged));
    }
    decode_detail(out.get(first_read..).unwrap_or_default())?.ok_or(ApiError::NotFound)
}
