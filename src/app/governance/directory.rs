//! Shared pieces of the directory use cases (CRM data in `crm`, portal users and employees in
//! `users_admin`, branding in `branding`): who is calling (an employee, or the CRM's machine
//! credential), the guards their writes carry inside their own WHERE, keyset cursors, and small
//! input checks.

use crate::app::kit::sql::{crm_or_admin};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::{is_crm_token, Governor};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::store::{Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};





/// The audit insert of [`Event::insert`], written only when the guard holds (?14 session or NULL
/// for the CRM; ?2 is the event's time, which is the request's `now`).
pub const AUDIT_IF_CRM_OR_ADMIN: AuditGuard = audit_guard!(
    "",
    crm_or_admin!(14, 2)
);

/// Who called a CRM upsert, as the handler saw the bearer header.
pub enum Caller {
    /// `Authorization: Bearer <CRM_SYNC_TOKEN>`, compared in constant time.
    Crm,
    Employee(Bearer),
}

impl Caller {
    /// The CRM's credential, else a verified access token (401 when neither).
    pub fn from_token(config: &Config, token: Option<&str>, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        if is_crm_token(config, token) {
            return Ok(Caller::Crm);
        }
        Ok(Caller::Employee(Bearer::from_token(config, token, now)?))
    }
}

/// The caller once checked: what the audit trail records and what the write's guard reads.
#[derive(Debug, Clone)]
pub struct Acting {
    pub kind: ActorKind,
    pub user_id: Option<String>,
    /// NULL in the guards for the CRM.
    pub session_id: Option<String>,
}

impl Acting {
    pub fn of(gov: &Governor) -> Acting {
        Acting { kind: ActorKind::Employee, user_id: Some(gov.user_id().to_owned()), session_id: Some(gov.principal.session_id.clone()) }
    }

    pub fn event(&self, action: &'static str) -> Event {
        Event::new(action, self.kind, self.user_id.as_deref())
    }

    /// The event's guarded insert (see [`AUDIT_IF_CRM_OR_ADMIN`]).
    pub fn audit_stmt(&self, event: &Event, id: &str, client: &ClientMeta, now: i64) -> Stmt {
        let stmt = event.insert_if(id, client, now, AUDIT_IF_CRM_OR_ADMIN).bind(self.session_id.clone());
        stmt
    }
}

/// For CRM data: the CRM's credential, or an admin (a manager or a client answers 403). `reads`
/// travel in the same batch as the employee's session check; their outcomes come back in order.
pub async fn crm_or_admin_reads<P: Ports>(ports: &P, caller: &Caller, now: DateTime<Utc>, reads: Vec<Stmt>) -> Result<(Acting, Vec<Outcome>), ApiError> {
    match caller {
        Caller::Crm => {
            let out = if reads.is_empty() { Vec::new() } else { ports.db().batch(reads).await? };
            Ok((Acting { kind: ActorKind::Crm, user_id: None, session_id: None }, out))
        }
        Caller::Employee(bearer) => {
            let (gov, out) = employee_reads(ports, bearer, now, reads).await?;
            gov.require_admin()?;
            Ok((Acting::of(&gov), out))
        }
    }
}

/// For governance reads and writes by employees: the session check with `reads` in one batch.
/// 401 for a dead session, 403 for a client or an employee without a role.
pub async fn employee_reads<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, reads: Vec<Stmt>) -> Result<(Governor, Vec<Outcome>), ApiError> {
    let mut stmts = Vec::with_capacity(reads.len() + 1);
    stmts.push(Governor::check_stmt(bearer, now));
    stmts.extend(reads);
    let mut out = ports.db().batch(stmts).await?;
    let check = if out.is_empty() { None } else { Some(out.remove(0)) };
    let gov = Governor::from_check(bearer, check.as_ref())?;
    Ok((gov, out))
}

