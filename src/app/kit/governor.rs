//! Who may govern: the employee behind a governance call, their role and company scope, read
//! afresh on every request inside the use case's batch; and the CRM's machine credential, with the
//! guard their writes carry and the batch that checks them beside the use case's reads.
//!
//! Scope rule (DESIGN.md): a manager sees and changes only what belongs to their companies, and a
//! change must keep every company it touches, before and after, inside that scope; anything
//! outside answers 404. Admins see everything.

use crate::app::kit::audit::{audit_guard, ActorKind, AuditGuard, Event};
use crate::access::facts::LinkFacts;
use crate::app::kit::credentials;
use crate::app::kit::link_facts::{decode_facts, facts_stmts, LinkRow, FACTS_STMT_COUNT};
use uuid::Uuid;
use crate::app::kit::meta::ClientMeta;
use crate::app::kit::sql::crm_or_admin;
use crate::app::kit::session::{Bearer, Principal, Role};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::store::{decode, Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The session check of [`crate::app::kit::session::CHECK_SESSION`] plus the manager's company scope.
const CHECK_EMPLOYEE: &str = "SELECT s.id AS session_id, s.user_id, s.link_id, s.scope, u.kind, u.role, u.status AS user_status, \
     u.tokens_valid_after, l.status AS link_status, l.policy_version, \
     (SELECT json_group_array(ec.company_id) FROM employee_companies ec WHERE ec.user_id = u.id) AS scope_json \
     FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN links l ON l.id = s.link_id \
     WHERE s.id = ?1 AND s.user_id = ?2 AND s.revoked_at IS NULL AND s.idle_expires_at > ?3 AND s.absolute_expires_at > ?3";

/// Who is acting on the governance API.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    Employee(Governor),
    /// The CRM's machine credential (`CRM_SYNC_TOKEN`): CRM upserts only.
    Crm,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Governor {
    pub principal: Principal,
    pub admin: bool,
    /// A manager's companies (empty for admins, who see everything).
    pub companies: Vec<String>,
}

#[derive(Deserialize)]
struct ScopeRow {
    scope_json: Option<String>,
}

impl Governor {
    pub fn check_stmt(bearer: &Bearer, now: DateTime<Utc>) -> Stmt {
        Stmt::new(CHECK_EMPLOYEE).bind(bearer.claims.sid.as_str()).bind(bearer.claims.sub.as_str()).bind(now.timestamp())
    }

    /// Reads the check: 401 for a dead session, 403 for a client or an employee without a role,
    /// 403 `mfa_enrollment_required` for a session that must enrol first.
    pub fn from_check(bearer: &Bearer, outcome: Option<&Outcome>) -> Result<Governor, ApiError> {
        let principal = bearer.full_principal(outcome)?;
        if !principal.employee || principal.role.is_none() {
            return Err(ApiError::Forbidden);
        }
        let row: ScopeRow = decode(outcome.and_then(|o| o.rows.first()).cloned().ok_or(ApiError::Unauthenticated)?)?;
        let companies: Vec<String> = row.scope_json.as_deref().map(serde_json::from_str).transpose().map_err(|e| ApiError::internal(format!("scope: {e}")))?.unwrap_or_default();
        let admin = principal.role == Some(Role::Admin);
        Ok(Governor { principal, admin, companies: if admin { Vec::new() } else { companies } })
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    pub fn sees_company(&self, company_id: &str) -> bool {
        self.admin || self.companies.iter().any(|c| c == company_id)
    }

    /// Every company in `ids` is in scope (an empty list is trivially in scope).
    /// Whether this employee governs a user of `kind` whose live links hold `live_companies`: an
    /// admin governs everyone; a manager an external user whose live links hold only their
    /// companies. The SQL side of the same rule is `governs_user!`.
    pub fn governs_user(&self, kind: &str, live_companies: &[String]) -> bool {
        self.admin || (kind == "external" && self.sees_all(live_companies.iter().map(String::as_str)))
    }

    pub fn sees_all<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> bool {
        ids.into_iter().all(|id| self.sees_company(id))
    }

    /// One SQL parameter for list filters: NULL for admins (no filter), else the JSON array of the
    /// manager's companies, used as `(?N IS NULL OR company_id IN (SELECT value FROM json_each(?N)))`.
    pub fn scope_param(&self) -> Option<String> {
        if self.admin {
            None
        } else {
            Some(serde_json::to_string(&self.companies).unwrap_or_else(|_| "[]".into()))
        }
    }

    pub fn user_id(&self) -> &str {
        &self.principal.user_id
    }
}

/// The CRM's machine credential, if that is what the bearer header holds.
pub fn is_crm_token(config: &Config, token: Option<&str>) -> bool {
    match (&config.crm_sync_token, token) {
        (Some(expected), Some(given)) => credentials::constant_time_eq(given.as_bytes(), expected.expose().as_bytes()),
        _ => false,
    }
}

/// The audit insert of [`Event::insert`], written only when the guard holds (?14 session or NULL
/// for the CRM; ?2 is the event's time, which is the request's `now`).
pub const AUDIT_IF_CRM_OR_ADMIN: AuditGuard = audit_guard!(crm_or_admin!(14, 2));

/// The companies of a user's live (not revoked) links, `company_id` per row, by user `?1`: what
/// puts an external user in a manager's scope.
pub const LIVE_LINK_COMPANIES: &str = "SELECT DISTINCT lc.company_id FROM links l JOIN link_companies lc ON lc.link_id = l.id \
     WHERE l.user_id = ?1 AND l.status <> 'revoked' ORDER BY lc.company_id";

/// Who called a CRM upsert, as the handler saw the bearer header.
pub enum Caller {
    /// `Authorization: Bearer <CRM_SYNC_TOKEN>`, compared in constant time.
    Crm,
    Token(Bearer),
}

impl Caller {
    /// The CRM's credential, else a verified access token (401 when neither).
    pub fn from_token(config: &Config, token: Option<&str>, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        if is_crm_token(config, token) {
            return Ok(Caller::Crm);
        }
        Ok(Caller::Token(Bearer::from_token(config, token, now)?))
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
        event.insert_if(id, client, now, AUDIT_IF_CRM_OR_ADMIN).bind(self.session_id.clone())
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
        Caller::Token(bearer) => {
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

/// A link's facts, loaded in the employee's batch; 404 when the link does not exist or, for a
/// manager, holds none of their companies. `extra` rides in the same batch (its outcomes follow).
pub struct LinkRead {
    pub gov: Governor,
    pub link: LinkRow,
    pub facts: LinkFacts,
    pub extra: Vec<Outcome>,
}

pub async fn read_link<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, link_id: Uuid, extra: Vec<Stmt>) -> Result<LinkRead, ApiError> {
    let mut stmts = vec![Governor::check_stmt(bearer, now)];
    stmts.extend(facts_stmts(&link_id.to_string()));
    stmts.extend(extra);
    let mut out = ports.db().batch(stmts).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let end = 1 + FACTS_STMT_COUNT;
    let (link, facts) = decode_facts(out.get(1..end).unwrap_or_default())?.ok_or(ApiError::NotFound)?;
    if !gov.admin && !facts.companies.iter().any(|c| gov.sees_company(&c.id.to_string())) {
        return Err(ApiError::NotFound);
    }
    let extra = if out.len() > end { out.split_off(end) } else { Vec::new() };
    Ok(LinkRead { gov, link, facts, extra })
}
