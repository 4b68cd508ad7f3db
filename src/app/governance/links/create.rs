//! Confirming the wizard: the link (and a new user when asked) written under a guard that the
//! facts the assessment passed on still hold.

use crate::app::kit::error::Conflict;
use super::*;
use crate::app::kit::rows::json_ids;
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{employee_alive, all_in_scope};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::app::kit::meta::ClientMeta;
use crate::store::{Sql, Stmt};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

// The guard: the facts the assessment passed on still hold, inside the write. ?14 contact, ?15
// companies (JSON), ?16 default company, ?17 user, ?18 1 for a new user, ?19 its login key, ?20 the
// acting session; ?2 is now and ?4 the acting employee (the event's own parameters).
pub(super) const CREATE_GUARD: AuditGuard = audit_guard!(concat!(
    "EXISTS (SELECT 1 FROM contacts WHERE id = ?14 AND state = 'active') \
     AND json_array_length(?15) > 0 AND ?16 IN (SELECT value FROM json_each(?15)) \
     AND NOT EXISTS (SELECT 1 FROM json_each(?15) j WHERE NOT EXISTS (SELECT 1 FROM companies co \
       JOIN contact_companies cc ON cc.company_id = co.id AND cc.contact_id = ?14 WHERE co.id = j.value AND co.status = 'active')) \
     AND ((?18 = 1 AND NOT EXISTS (SELECT 1 FROM users WHERE login_key = ?19 OR id = ?17)) \
       OR (?18 = 0 AND EXISTS (SELECT 1 FROM users WHERE id = ?17 AND kind = 'external' AND status = 'active') \
         AND NOT EXISTS (SELECT 1 FROM links WHERE user_id = ?17 AND status <> 'revoked'))) AND ",
    employee_alive!(20, 2),
    " AND ",
    all_in_scope!(4, 15)
));
// A new user has no password: no usable password until an invitation is activated.
pub(super) const INSERT_USER: &str = "INSERT INTO users (id, kind, status, login, login_key, email, first_name, last_name, created_at, updated_at) \
     SELECT ?1, 'external', 'active', ?2, ?3, ?4, ?5, ?6, ?7, ?7 WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?8)";
// The employee who creates a link answers for it until someone else is named.
pub(super) const INSERT_LINK: &str = "INSERT INTO links (id, user_id, contact_id, default_company_id, status, policy_version, review_at, review_due, \
     created_by, responsible_id, created_at, updated_at) SELECT ?1, ?2, ?3, ?4, 'active', 1, ?5, 0, ?6, ?6, ?7, ?7 \
     WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?8)";
pub(super) const INSERT_LINK_COMPANIES: &str = "INSERT INTO link_companies (link_id, company_id, created_at) \
     SELECT ?1, j.value, ?2 FROM json_each(?3) j WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";

/// `POST /api/admin/links`: the same assessment as the preview, then the user (when new), the
/// link, its companies and the audit event in one guarded batch.
pub async fn confirm<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, wizard: &Wizard) -> Result<Confirmed, ApiError> {
    let (gov, preview) = assess_wizard(ports, bearer, now, wizard).await?;
    if !preview.ok {
        return Ok(Confirmed::Refused(preview.problems));
    }
    let Some(default) = preview.default_company_id.clone() else {
        return Ok(Confirmed::Refused(preview.problems));
    };
    let t = now.timestamp();
    let link_id = new_id(ports, now)?;
    let event_id = new_id(ports, now)?;
    let companies = json_ids(&wizard.company_ids);
    let contact = wizard.contact_id.to_string();
    let (user_id, new_user) = match &wizard.user {
        UserChoice::Existing(id) => (id.to_string(), None),
        UserChoice::New(new) => (new_id(ports, now)?, Some(new)),
    };
    let event = Event::new("link.created", ActorKind::Employee, Some(gov.user_id()))
        .target("link", &link_id)
        .companies(wizard.company_ids.iter().map(Uuid::to_string).collect())
        .details(json!({
            "user_id": user_id, "user_created": new_user.is_some(), "contact_id": contact,
            "company_ids": wizard.company_ids, "default_company_id": default, "review_at": rfc3339(t + REVIEW_PERIOD_SECONDS),
        }));
    let guard = event.insert_if(&event_id, client, t, CREATE_GUARD);
    let guard = guard
        .bind(contact.as_str())
        .bind(companies.as_str())
        .bind(default.as_str())
        .bind(user_id.as_str())
        .bind(new_user.is_some())
        .bind(new_user.map(|n| n.login.key()))
        .bind(gov.principal.session_id.as_str());
    let mut stmts = vec![guard];
    if let Some(n) = new_user {
        stmts.push(
            Stmt::new(INSERT_USER)
                .bind(user_id.as_str())
                .bind(n.login.as_str())
                .bind(n.login.key())
                .bind(n.email.as_str())
                .bind(n.first_name.as_str())
                .bind(n.last_name.as_str())
                .bind(t)
                .bind(event_id.as_str()),
        );
    }
    stmts.push(
        Stmt::new(INSERT_LINK)
            .bind(link_id.as_str())
            .bind(user_id.as_str())
            .bind(contact.as_str())
            .bind(default.as_str())
            .bind(t + REVIEW_PERIOD_SECONDS)
            .bind(gov.user_id())
            .bind(t)
            .bind(event_id.as_str()),
    );
    stmts.push(Stmt::new(INSERT_LINK_COMPANIES).bind(link_id.as_str()).bind(t).bind(companies.as_str()).bind(event_id.as_str()));
    let first_read = stmts.len();
    stmts.extend(detail_stmts(&link_id, t));
    let out = match ports.db().batch(stmts).await {
        Ok(out) => out,
        // A concurrent confirmation won the UNIQUE index (one live link per user and contact, one
        // login per user): answer with the problems as they stand now.
        Err(e) if e.is_unique_violation() => return recheck(ports, bearer, now, wizard).await,
        Err(e) => return Err(e.into()),
    };
    if out.first().map_or(0, |o| o.changes) != 1 {
        return recheck(ports, bearer, now, wizard).await;
    }
    let detail = decode_detail(out.get(first_read..).unwrap_or_default())?.ok_or_else(|| ApiError::internal("new link not readable"))?;
    Ok(Confirmed::Created(Box::new(detail)))
}

/// After a lost race: the problems as they stand now, or a plain conflict when none shows (the
/// employee's rights or scope changed meanwhile).
pub(super) async fn recheck<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, wizard: &Wizard) -> Result<Confirmed, ApiError> {
    let (_, preview) = assess_wizard(ports, bearer, now, wizard).await?;
    if preview.ok {
        return Err(ApiError::conflict(Conflict::LinkChanged));
    }
    Ok(Confirmed::Refused(preview.problems))
}
