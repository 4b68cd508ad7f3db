//! Loading what the access engine decides on for one link: four statements that ride in the
//! caller's batch, and the decoding of their rows into `access::LinkFacts`.

use crate::app::ApiError;
use crate::access::facts::{CompanyFacts, CompanyStatus, ContactFacts, ContactState, LinkFacts, LinkRecord, LinkStatus, PipelineFacts, UserFacts, UserStatus};
use crate::domain::policy::{CompanyPolicy, ContactPolicy, Rule};
use crate::store::{decode, decode_all, sql::flag, Outcome, Stmt};
use serde::Deserialize;
use uuid::Uuid;

const SELECT_LINK: &str = "SELECT l.id, l.status, l.default_company_id, l.policy_version, l.review_at, l.review_due, \
     u.id AS user_id, u.status AS user_status, c.id AS contact_id, c.state AS contact_state, \
     c.first_name AS contact_first_name, c.last_name AS contact_last_name, c.email AS contact_email \
     FROM links l JOIN users u ON u.id = l.user_id JOIN contacts c ON c.id = l.contact_id WHERE l.id = ?1";
const SELECT_COMPANIES: &str = "SELECT co.id, co.name, co.status, COALESCE(p.create_requests, 0) AS create_requests, \
     COALESCE(p.read_request_chat, 0) AS read_request_chat, COALESCE(p.send_request_chat, 0) AS send_request_chat, \
     COALESCE(p.general_chat, 0) AS general_chat, COALESCE(p.calls, 0) AS calls, COALESCE(p.telegram, 0) AS telegram, \
     COALESCE(p.widget, 0) AS widget, COALESCE(p.allowed_pipelines, '[]') AS allowed_pipelines \
     FROM link_companies lc JOIN companies co ON co.id = lc.company_id LEFT JOIN company_policies p ON p.company_id = co.id \
     WHERE lc.link_id = ?1 ORDER BY co.name, co.id";
const SELECT_CONTACT_POLICY: &str = "SELECT cp.create_requests, cp.read_request_chat, cp.send_request_chat, cp.general_chat, \
     cp.calls, cp.telegram, cp.widget, cp.allowed_pipelines FROM contact_policies cp JOIN links l ON l.contact_id = cp.contact_id \
     WHERE l.id = ?1";
const SELECT_PIPELINES: &str = "SELECT id, archived FROM pipelines";

/// The statements, in order; pass their outcomes to [`decode_facts`].
pub fn facts_stmts(link_id: &str) -> Vec<Stmt> {
    vec![
        Stmt::new(SELECT_LINK).bind(link_id),
        Stmt::new(SELECT_COMPANIES).bind(link_id),
        Stmt::new(SELECT_CONTACT_POLICY).bind(link_id),
        Stmt::new(SELECT_PIPELINES),
    ]
}

pub const FACTS_STMT_COUNT: usize = 4;

#[derive(Debug, Clone, Deserialize)]
pub struct LinkRow {
    pub id: Uuid,
    pub status: LinkStatus,
    pub default_company_id: Uuid,
    pub policy_version: i64,
    pub review_at: i64,
    #[serde(with = "flag")]
    pub review_due: bool,
    pub user_id: Uuid,
    pub user_status: UserStatus,
    pub contact_id: Uuid,
    pub contact_state: ContactState,
    pub contact_first_name: String,
    pub contact_last_name: String,
    pub contact_email: String,
}

#[derive(Deserialize)]
struct CompanyRow {
    id: Uuid,
    name: String,
    status: CompanyStatus,
    #[serde(flatten)]
    policy: CompanyPolicyColumns,
}

/// A policy built from its columns: the seven rules copied by name, the pipelines as given.
macro_rules! policy_of {
    ($policy:ident, $columns:expr, $pipelines:expr) => {
        $policy {
            create_requests: $columns.create_requests,
            read_request_chat: $columns.read_request_chat,
            send_request_chat: $columns.send_request_chat,
            general_chat: $columns.general_chat,
            calls: $columns.calls,
            telegram: $columns.telegram,
            widget: $columns.widget,
            allowed_pipelines: $pipelines,
        }
    };
}

/// A company policy's columns as SQLite returns them (0/1 flags, the pipelines as JSON text). Every
/// reader of company policies decodes them here, so the engine and the policy pages agree.
#[derive(Deserialize)]
pub(crate) struct CompanyPolicyColumns {
    #[serde(with = "flag")]
    create_requests: bool,
    #[serde(with = "flag")]
    read_request_chat: bool,
    #[serde(with = "flag")]
    send_request_chat: bool,
    #[serde(with = "flag")]
    general_chat: bool,
    #[serde(with = "flag")]
    calls: bool,
    #[serde(with = "flag")]
    telegram: bool,
    #[serde(with = "flag")]
    widget: bool,
    allowed_pipelines: String,
}

impl CompanyPolicyColumns {
    pub(crate) fn policy(&self) -> Result<CompanyPolicy, ApiError> {
        Ok(policy_of!(CompanyPolicy, self, ids(&self.allowed_pipelines)?))
    }
}

/// A contact policy's columns (a rule per permission; pipelines as JSON text, NULL for inherit).
#[derive(Deserialize)]
pub(crate) struct ContactPolicyColumns {
    create_requests: Rule,
    read_request_chat: Rule,
    send_request_chat: Rule,
    general_chat: Rule,
    calls: Rule,
    telegram: Rule,
    widget: Rule,
    allowed_pipelines: Option<String>,
}

impl ContactPolicyColumns {
    pub(crate) fn policy(&self) -> Result<ContactPolicy, ApiError> {
        Ok(policy_of!(ContactPolicy, self, self.allowed_pipelines.as_deref().map(ids).transpose()?))
    }
}

#[derive(Deserialize)]
struct PipelineRow {
    id: Uuid,
    #[serde(with = "flag")]
    archived: bool,
}

pub(crate) fn ids(json: &str) -> Result<Vec<Uuid>, ApiError> {
    serde_json::from_str(json).map_err(|e| ApiError::internal(format!("pipeline list: {e}")))
}

/// The link's facts from the outcomes of [`facts_stmts`]; None when the link does not exist.
pub fn decode_facts(outcomes: &[Outcome]) -> Result<Option<(LinkRow, LinkFacts)>, ApiError> {
    let rows = |i: usize| outcomes.get(i).map(|o| o.rows.clone()).unwrap_or_default();
    let Some(link_row) = rows(0).into_iter().next() else {
        return Ok(None);
    };
    let link: LinkRow = decode(link_row)?;
    let mut companies = Vec::new();
    for c in decode_all::<CompanyRow>(rows(1))? {
        companies.push(CompanyFacts { id: c.id, name: c.name, status: c.status, policy: c.policy.policy()? });
    }
    let contact_policy = match rows(2).into_iter().next() {
        None => ContactPolicy::default(),
        Some(row) => decode::<ContactPolicyColumns>(row)?.policy()?,
    };
    let pipelines = decode_all::<PipelineRow>(rows(3))?.into_iter().map(|p| PipelineFacts { id: p.id, archived: p.archived }).collect();
    let facts = LinkFacts {
        user: UserFacts { id: link.user_id, status: link.user_status },
        link: LinkRecord { id: link.id, status: link.status, default_company_id: link.default_company_id },
        contact: ContactFacts { id: link.contact_id, state: link.contact_state },
        companies,
        contact_policy,
        pipelines,
    };
    Ok(Some((link, facts)))
}

/// Statements for the facts of a link that may not exist (employees have none): none at all.
pub fn facts_stmts_for(link_id: Option<&str>) -> Vec<Stmt> {
    link_id.map(facts_stmts).unwrap_or_default()
}

/// The visible scope to put in an access token, from the outcomes of [`facts_stmts_for`]; None
/// for employees (no link). The policy version is the link row's, read in the same batch.
pub fn token_scope(outcomes: &[Outcome]) -> Result<Option<(i64, serde_json::Value)>, ApiError> {
    if outcomes.is_empty() {
        return Ok(None);
    }
    let Some((link, facts)) = decode_facts(outcomes)? else {
        return Ok(None);
    };
    let scope = crate::access::visibility::visible_scope(&facts);
    let json = serde_json::to_value(scope).map_err(|e| ApiError::internal(format!("scope: {e}")))?;
    Ok(Some((link.policy_version, json)))
}
