//! Who may govern: the employee behind a governance call, their role and company scope, read
//! afresh on every request inside the use case's batch; and the CRM's machine credential.
//!
//! Scope rule (DESIGN.md): a manager sees and changes only what belongs to their companies, and a
//! change must keep every company it touches, before and after, inside that scope; anything
//! outside answers 404. Admins see everything.

use crate::app::kit::credentials;
use crate::app::kit::session::{Bearer, Principal, Role};
use crate::app::ApiError;
use crate::config::Config;
use crate::store::{decode, Outcome, Stmt};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The session check of [`crate::app::kit::session::CHECK_SESSION`] plus the manager's company scope.
const CHECK_EMPLOYEE: &str = "SELECT s.id AS session_id, s.user_id, s.link_id, s.scope, u.kind, u.role, u.status AS user_status, \
     u.tokens_valid_after, l.status AS link_status, l.policy_version, \
     (SELECT json_group_array(ec.company_id) FROM employee_companies ec WHERE ec.user_id = u.id) AS scope_json \
     FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN links l ON l.id = s.link_id \
     WHERE s.id = ?1 AND s.user_id = ?2 AND s.revoked_at IS NULL AND s.idle_expires_at > ?3 AND s.absolute_expires_at > ?3";

/// A governance write's own guard, placed in its WHERE: the acting employee's session is alive and
/// still has a role. `employee_alive!(9, 3)` reads the session id from ?9 and now from ?3.
#[allow(unused_macros)]
#[allow(unused_imports)]

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
