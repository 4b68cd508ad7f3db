//! `GET /api/me`: the user, and for a client the link, the contact and each company with its
//! effective policy (computed by the access engine, the same one every gate uses).

use crate::app::kit::user_view::{UserView, select_user, user_view};
use crate::app::kit::link_facts::{decode_facts, facts_stmts, FACTS_STMT_COUNT};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::effective::{effective_policy, Effective};
use crate::store::{decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const SELECT_SCOPE: &str = "SELECT co.id, co.name FROM employee_companies ec JOIN companies co ON co.id = ec.company_id \
     WHERE ec.user_id = ?1 ORDER BY co.name, co.id";

#[derive(Debug, Serialize, Deserialize)]
pub struct CompanyRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct MeCompany {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub effective_policy: Effective,
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub companies: Option<Vec<MeCompany>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Employees: the companies a manager works with (admins: null, meaning all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_scope: Option<Option<Vec<CompanyRef>>>,
    pub session_scope: &'static str,
}

pub async fn me<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>) -> Result<Me, ApiError> {
    let link_id = bearer.claims.lid.clone().unwrap_or_default();
    let mut stmts = vec![bearer.check_stmt(now), select_user(&bearer.claims.sub), Stmt::new(SELECT_SCOPE).bind(bearer.claims.sub.as_str())];
    stmts.extend(facts_stmts(&link_id));
    let out = ports.db().batch(stmts).await?;
    let principal = bearer.principal(out.first())?;
    let user = user_view(out.get(1).and_then(|o| o.rows.first().cloned()))?;
    let session_scope = principal.scope.as_str();
    if principal.employee {
        let scope: Vec<CompanyRef> = decode_all(out.get(2).map(|o| o.rows.clone()).unwrap_or_default())?;
        let is_admin = user.role.as_deref() == Some("admin");
        return Ok(Me {
            roles: Some(user.role.clone().into_iter().collect()),
            company_scope: Some(if is_admin { None } else { Some(scope) }),
            user,
            link: None,
            contact: None,
            companies: None,
            session_scope,
        });
    }
    let (link, facts) = decode_facts(out.get(3..3 + FACTS_STMT_COUNT).unwrap_or_default())?.ok_or(ApiError::Unauthenticated)?;
    let companies = facts
        .companies
        .iter()
        .map(|c| MeCompany {
            id: c.id.to_string(),
            name: c.name.clone(),
            is_default: c.id == link.default_company_id,
            effective_policy: effective_policy(&facts, c.id),
        })
        .collect();
    Ok(Me {
        user,
        link: Some(serde_json::json!({"id": link.id, "status": link.status, "default_company_id": link.default_company_id})),
        contact: Some(serde_json::json!({
            "id": link.contact_id, "first_name": link.contact_first_name, "last_name": link.contact_last_name, "email": link.contact_email
        })),
        companies: Some(companies),
        roles: None,
        company_scope: None,
        session_scope,
    })
}
