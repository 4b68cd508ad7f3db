//! A link's policies, company by company: the company policy, the contact policy and what the access
//! engine makes of them (every denied field with its level and reason), for the console's link page.

use crate::app::kit::governor::read_link;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::effective::{effective_policy, Effective};
use crate::access::facts::{CompanyStatus, ContactState, LinkStatus, UserStatus};
use crate::domain::policy::{CompanyPolicy, ContactPolicy};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
#[derive(Debug, Serialize)]
pub struct LinkCompanyPolicy {
    pub company_id: Uuid,
    pub company_name: String,
    pub company_status: CompanyStatus,
    pub is_default_company: bool,
    pub company_policy: CompanyPolicy,
    pub contact_policy: ContactPolicy,
    /// The access engine's result, with the level and reason of every denied field.
    pub effective: Effective,
}

#[derive(Debug, Serialize)]
pub struct LinkPolicyView {
    pub link_id: Uuid,
    pub link_status: LinkStatus,
    pub user_status: UserStatus,
    pub contact_state: ContactState,
    pub policy_version: i64,
    pub companies: Vec<LinkCompanyPolicy>,
}

pub async fn link_policy<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, link_id: Uuid) -> Result<LinkPolicyView, ApiError> {
    let read = read_link(ports, bearer, now, link_id, Vec::new()).await?;
    let facts = &read.facts;
    let companies = facts
        .companies
        .iter()
        .filter(|c| read.gov.sees_company(&c.id.to_string()))
        .map(|c| LinkCompanyPolicy {
            company_id: c.id,
            company_name: c.name.clone(),
            company_status: c.status,
            is_default_company: c.id == facts.link.default_company_id,
            company_policy: c.policy.clone(),
            contact_policy: facts.contact_policy.clone(),
            effective: effective_policy(facts, c.id),
        })
        .collect();
    Ok(LinkPolicyView {
        link_id: read.link.id,
        link_status: read.link.status,
        user_status: read.link.user_status,
        contact_state: read.link.contact_state,
        policy_version: read.link.policy_version,
        companies,
    })
}
