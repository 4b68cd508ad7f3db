//! Company and contact policies (GET/PUT) and a link's per-company policy view. Writes bump the
//! policy version of every link they can affect and are audited with before and after, in one
//! batch whose every statement carries the same guard; warnings come from the access engine itself.
//! Also the guard macros every governance write of this area shares.

use crate::app::kit::error::Conflict;
use crate::app::kit::rows::{changes, first_row, json_ids, rows};
use crate::app::kit::sql::{governs_all, governs_any, governs_contact_links};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::new_id;
use crate::app::kit::link_facts::{CompanyPolicyColumns, ContactPolicyColumns};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::effective::{effective_policy, Effective};
use crate::access::facts::{CompanyFacts, CompanyStatus, ContactFacts, ContactState, LinkFacts, LinkRecord, LinkStatus, PipelineFacts, UserFacts, UserStatus};
use crate::access::Level;
use crate::domain::policy::{CompanyPolicy, ContactPolicy, Permission, Rule};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, sql::flag, Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Every pipeline of the JSON array ?p exists and is not archived.
macro_rules! pipelines_ok {
    ($p:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM json_each(?", $p,
            ") pj LEFT JOIN pipelines pp ON pp.id = pj.value WHERE pp.id IS NULL OR pp.archived = 1)"
        )
    };
}

/// A policy row (company or contact) by its owner's id `?1`.
macro_rules! select_policy {
    ($table:literal, $key:literal) => {
        concat!(
            "SELECT create_requests, read_request_chat, send_request_chat, general_chat, calls, telegram, widget, allowed_pipelines, \
             updated_by, updated_at FROM ", $table, " WHERE ", $key, " = ?1"
        )
    };
}

/// The upsert of a policy row: ?1 owner, ?2-?8 the rules, ?9 allowed pipelines, ?10 by, ?11 now; written
/// only when the owner (in `$owner`) exists and the guard that follows holds.
macro_rules! upsert_policy {
    ($table:literal, $key:literal, $owner:literal, $($guard:tt)*) => {
        concat!(
            "INSERT INTO ", $table, " (", $key, ", create_requests, read_request_chat, send_request_chat, general_chat, calls, \
             telegram, widget, allowed_pipelines, updated_by, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 \
             WHERE EXISTS (SELECT 1 FROM ", $owner, " WHERE id = ?1) AND ",
            $($guard)*,
            " ON CONFLICT (", $key, ") DO UPDATE SET create_requests = excluded.create_requests, \
             read_request_chat = excluded.read_request_chat, send_request_chat = excluded.send_request_chat, \
             general_chat = excluded.general_chat, calls = excluded.calls, telegram = excluded.telegram, widget = excluded.widget, \
             allowed_pipelines = excluded.allowed_pipelines, updated_by = excluded.updated_by, updated_at = excluded.updated_at"
        )
    };
}

const SELECT_COMPANY: &str = "SELECT id, name, status FROM companies WHERE id = ?1";
const SELECT_COMPANY_POLICY: &str = select_policy!("company_policies", "company_id");
const SELECT_FIRST_PIPELINE: &str = "SELECT id FROM pipelines WHERE archived = 0 ORDER BY position, name, id LIMIT 1";
const SELECT_NAMED_PIPELINES: &str = "SELECT id, archived FROM pipelines WHERE id IN (SELECT value FROM json_each(?1))";

const BUMP_COMPANY_LINKS: &str = concat!(
    "UPDATE links SET policy_version = policy_version + 1, updated_at = ?2 \
     WHERE id IN (SELECT link_id FROM link_companies WHERE company_id = ?1) AND ",
    governs_all!(3, 2, 4), " AND ", pipelines_ok!(5)
);
const AUDIT_COMPANY_POLICY: AuditGuard = audit_guard!(governs_all!(14, 2, 15), " AND ", pipelines_ok!(16));
const UPSERT_COMPANY_POLICY: &str = upsert_policy!("company_policies", "company_id", "companies", governs_all!(12, 11, 13), " AND ", pipelines_ok!(9));

const SELECT_CONTACT: &str = "SELECT id, first_name, last_name, state FROM contacts WHERE id = ?1";
const SELECT_CONTACT_POLICY: &str = select_policy!("contact_policies", "contact_id");
/// The companies a contact policy applies on: the CRM relation and the companies of the contact's
/// live links, with their policies (for the warnings).
const SELECT_CONTACT_COMPANIES: &str = "SELECT co.id, co.name, COALESCE(p.create_requests, 0) AS create_requests, \
     COALESCE(p.read_request_chat, 0) AS read_request_chat, COALESCE(p.send_request_chat, 0) AS send_request_chat, \
     COALESCE(p.general_chat, 0) AS general_chat, COALESCE(p.calls, 0) AS calls, COALESCE(p.telegram, 0) AS telegram, \
     COALESCE(p.widget, 0) AS widget, COALESCE(p.allowed_pipelines, '[]') AS allowed_pipelines, \
     co.id IN (SELECT lc.company_id FROM link_companies lc JOIN links l ON l.id = lc.link_id \
       WHERE l.contact_id = ?1 AND l.status <> 'revoked') AS on_live_link \
     FROM companies co LEFT JOIN company_policies p ON p.company_id = co.id \
     WHERE co.id IN (SELECT company_id FROM contact_companies WHERE contact_id = ?1 \
       UNION SELECT lc.company_id FROM link_companies lc JOIN links l ON l.id = lc.link_id WHERE l.contact_id = ?1 AND l.status <> 'revoked') \
     ORDER BY co.name, co.id";

const BUMP_CONTACT_LINKS: &str = concat!(
    "UPDATE links SET policy_version = policy_version + 1, updated_at = ?2 WHERE contact_id = ?1 AND ",
    governs_any!(3, 2, 4), " AND ", governs_contact_links!(3, 2, 1), " AND ", pipelines_ok!(5)
);
const AUDIT_CONTACT_POLICY: AuditGuard =
    audit_guard!(governs_any!(14, 2, 15), " AND ", governs_contact_links!(14, 2, 17), " AND ", pipelines_ok!(16));
const UPSERT_CONTACT_POLICY: &str = upsert_policy!(
    "contact_policies", "contact_id", "contacts",
    governs_any!(12, 11, 13), " AND ", governs_contact_links!(12, 11, 1), " AND ", pipelines_ok!(14)
);

/// More pipelines than this in one policy is a mistake (and a long JSON parameter).
const MAX_PIPELINES: usize = 100;

/// Something the employee should know about a saved policy: it was saved, but does not do what
/// it seems to (a send without read, an allow under a company deny).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub code: &'static str,
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<Uuid>,
    /// The level of the access chain that denies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct CompanyPolicyView {
    pub company_id: Uuid,
    pub company_name: String,
    #[serde(flatten)]
    pub policy: CompanyPolicy,
    /// The preset the console offers (create requests, read and send their chat, the first
    /// non-archived pipeline); never applied unless PUT.
    pub recommended_minimum: Option<CompanyPolicy>,
    /// No row means everything is denied until an employee applies one.
    #[serde(flatten)]
    pub saved: Saved,
}

/// Whether a policy was ever saved, by whom and when, and (after a PUT) what it does not do.
#[derive(Debug, Serialize)]
pub struct Saved {
    /// No policy row: the default applies.
    pub is_default: bool,
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<Warning>>,
}

#[derive(Debug, Serialize)]
pub struct ContactPolicyView {
    pub contact_id: Uuid,
    #[serde(flatten)]
    pub policy: ContactPolicy,
    /// No row means the contact inherits everything from each company policy.
    #[serde(flatten)]
    pub saved: Saved,
}

#[derive(Deserialize)]
struct CompanyRow {
    id: Uuid,
    name: String,
    status: CompanyStatus,
}

#[derive(Deserialize)]
struct CompanyPolicyRow {
    #[serde(flatten)]
    columns: CompanyPolicyColumns,
    updated_by: Option<String>,
    updated_at: i64,
}

impl CompanyPolicyRow {
    fn policy(&self) -> Result<CompanyPolicy, ApiError> {
        self.columns.policy()
    }
}

#[derive(Deserialize)]
struct ContactRow {
    id: Uuid,
    first_name: String,
    last_name: String,
    state: ContactState,
}

#[derive(Deserialize)]
struct ContactPolicyRow {
    #[serde(flatten)]
    columns: ContactPolicyColumns,
    updated_by: Option<String>,
    updated_at: i64,
}

impl ContactPolicyRow {
    fn policy(&self) -> Result<ContactPolicy, ApiError> {
        self.columns.policy()
    }
}

/// A company with its policy, as the contact-policy warnings need it.
#[derive(Deserialize)]
struct PolicedCompanyRow {
    id: Uuid,
    name: String,
    /// One of the contact's live links holds this company (only a contact's read asks).
    #[serde(default, with = "flag")]
    on_live_link: bool,
    #[serde(flatten)]
    policy: CompanyPolicyColumns,
}

#[derive(Deserialize)]
struct PipelineRow {
    id: Uuid,
    #[serde(with = "flag")]
    archived: bool,
}

#[derive(Deserialize)]
struct IdRow {
    id: Uuid,
}

fn time(t: Option<i64>) -> Option<String> {
    t.map(crate::app::kit::time::rfc3339)
}

/// Dedupes the list (keeping its order) and checks every pipeline exists and is not archived,
/// from the rows of `SELECT_NAMED_PIPELINES`.
fn validate_pipelines(list: &[Uuid], found: &[PipelineRow]) -> Result<Vec<Uuid>, ApiError> {
    if list.len() > MAX_PIPELINES {
        return Err(ApiError::invalid("allowed_pipelines", format!("at most {MAX_PIPELINES} pipelines")));
    }
    let mut unique: Vec<Uuid> = Vec::new();
    for id in list {
        match found.iter().find(|p| p.id == *id) {
            None => return Err(ApiError::invalid("allowed_pipelines", format!("pipeline {id} does not exist"))),
            Some(p) if p.archived => return Err(ApiError::invalid("allowed_pipelines", format!("pipeline {id} is archived"))),
            Some(_) if !unique.contains(id) => unique.push(*id),
            Some(_) => {}
        }
    }
    Ok(unique)
}

/// Facts of a healthy link (active user, link, contact and company) holding only `company`, with
/// `pipelines` alive: what the policies alone allow there, as the access engine computes it.
fn policy_only_facts(company: CompanyFacts, contact_policy: ContactPolicy, pipelines: &[Uuid]) -> LinkFacts {
    LinkFacts {
        user: UserFacts { id: Uuid::nil(), status: UserStatus::Active },
        link: LinkRecord { id: Uuid::nil(), status: LinkStatus::Active, default_company_id: company.id },
        contact: ContactFacts { id: Uuid::nil(), state: ContactState::Active },
        companies: vec![company],
        contact_policy,
        pipelines: pipelines.iter().map(|id| PipelineFacts { id: *id, archived: false }).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Company policy

/// A company policy's batch: the employee's check, the company, its policy row, then `pipelines`.
fn company_reads(bearer: &Bearer, now: DateTime<Utc>, id: &str, pipelines: Stmt) -> Vec<Stmt> {
    vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_COMPANY).bind(id), Stmt::new(SELECT_COMPANY_POLICY).bind(id), pipelines]
}

pub async fn get_company<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company_id: Uuid) -> Result<CompanyPolicyView, ApiError> {
    let id = company_id.to_string();
    let out = ports.db().batch(company_reads(bearer, now, &id, Stmt::new(SELECT_FIRST_PIPELINE))).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let company: CompanyRow = decode(first_row(&out, 1).ok_or(ApiError::NotFound)?)?;
    if !gov.sees_company(&id) {
        return Err(ApiError::NotFound);
    }
    let row: Option<CompanyPolicyRow> = first_row(&out, 2).map(decode).transpose()?;
    let first: Option<IdRow> = first_row(&out, 3).map(decode).transpose()?;
    Ok(CompanyPolicyView {
        company_id: company.id,
        company_name: company.name,
        policy: row.as_ref().map(CompanyPolicyRow::policy).transpose()?.unwrap_or_default(),
        recommended_minimum: first.map(|p| CompanyPolicy::recommended_minimum(p.id)),
        saved: Saved { is_default: row.is_none(), updated_at: time(row.as_ref().map(|r| r.updated_at)), updated_by: row.and_then(|r| r.updated_by), warnings: None },
    })
}

/// What a saved company policy does not do although it says so, per the access engine (today:
/// send_request_chat without read_request_chat; create_requests without any pipeline).
fn company_warnings(company: &CompanyRow, policy: &CompanyPolicy) -> Vec<Warning> {
    let facts = policy_only_facts(
        CompanyFacts { id: company.id, name: company.name.clone(), status: CompanyStatus::Active, policy: policy.clone() },
        ContactPolicy::default(),
        &policy.allowed_pipelines,
    );
    let effective = effective_policy(&facts, company.id);
    let mut warnings: Vec<Warning> = Permission::ALL
        .into_iter()
        .filter(|p| policy.allows(*p))
        .filter_map(|p| effective.denial(p).map(|d| (p, d)))
        .map(|(p, d)| Warning {
            code: "allowed_but_denied",
            field: p.as_str().to_owned(),
            company_id: Some(company.id),
            pipeline_id: None,
            level: Some(d.level),
            message: format!("{p} is set but stays denied: {}", d.reason),
        })
        .collect();
    if policy.create_requests && policy.allowed_pipelines.is_empty() {
        warnings.push(Warning {
            code: "no_pipeline",
            field: "allowed_pipelines".into(),
            company_id: Some(company.id),
            pipeline_id: None,
            level: Some(Level::CompanyPolicy),
            message: "create_requests is allowed but no pipeline is: the client cannot create a request anywhere".into(),
        });
    }
    if company.status == CompanyStatus::Archived {
        warnings.push(Warning {
            code: "company_archived",
            field: "company".into(),
            company_id: Some(company.id),
            pipeline_id: None,
            level: Some(Level::Company),
            message: format!("company {} is archived: its links are denied as a whole whatever the policy", company.name),
        });
    }
    warnings
}

pub async fn put_company<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, company_id: Uuid, input: CompanyPolicy) -> Result<CompanyPolicyView, ApiError> {
    let id = company_id.to_string();
    let out = ports.db().batch(company_reads(bearer, now, &id, Stmt::new(SELECT_NAMED_PIPELINES).bind(json_ids(&input.allowed_pipelines)))).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let company: CompanyRow = decode(first_row(&out, 1).ok_or(ApiError::NotFound)?)?;
    if !gov.sees_company(&id) {
        return Err(ApiError::NotFound);
    }
    let before_row: Option<CompanyPolicyRow> = first_row(&out, 2).map(decode).transpose()?;
    let before = before_row.as_ref().map(CompanyPolicyRow::policy).transpose()?;
    let found: Vec<PipelineRow> = decode_all(rows(&out, 3))?;
    let mut policy = input;
    policy.allowed_pipelines = validate_pipelines(&policy.allowed_pipelines, &found)?;
    let warnings = company_warnings(&company, &policy);

    let t = now.timestamp();
    let me = gov.user_id().to_owned();
    let session = gov.principal.session_id.clone();
    let companies = json_ids([&id]);
    let pipelines = json_ids(&policy.allowed_pipelines);
    let event = Event::new("policy.company.updated", ActorKind::Employee, Some(&me))
        .target("company_policy", &id)
        .companies(vec![id.clone()])
        .details(json!({"company_name": company.name, "before": before, "before_is_default": before.is_none(), "after": policy,
            "warnings": warnings.iter().map(|w| w.code).collect::<Vec<_>>()}));
    let event_id = new_id(ports, now)?;
    let audit = event.insert_if(&event_id, client, t, AUDIT_COMPANY_POLICY)
        .bind(session.as_str())
        .bind(companies.as_str())
        .bind(pipelines.as_str());
    let bump = Stmt::new(BUMP_COMPANY_LINKS).bind(id.as_str()).bind(t).bind(session.as_str()).bind(companies.as_str()).bind(pipelines.as_str());
    let upsert = Stmt::new(UPSERT_COMPANY_POLICY)
        .bind(id.as_str())
        .bind(policy.create_requests)
        .bind(policy.read_request_chat)
        .bind(policy.send_request_chat)
        .bind(policy.general_chat)
        .bind(policy.calls)
        .bind(policy.telegram)
        .bind(policy.widget)
        .bind(pipelines.as_str())
        .bind(me.as_str())
        .bind(t)
        .bind(session.as_str())
        .bind(companies.as_str());
    let out = ports.db().batch(vec![bump, audit, upsert]).await?;
    if changes(&out, 2) != 1 {
        return Err(not_saved());
    }
    Ok(CompanyPolicyView {
        company_id: company.id,
        company_name: company.name,
        policy,
        recommended_minimum: None,
        saved: Saved { is_default: false, updated_at: time(Some(t)), updated_by: Some(me), warnings: Some(warnings) },
    })
}

fn not_saved() -> ApiError {
    ApiError::conflict(Conflict::PolicyNotSaved)
}

// ---------------------------------------------------------------------------------------------
// Contact policy

/// Reads a contact policy body. A rule that is not a string is named here: serde_json reports a
/// non-string enum as a syntax error, which would only name the body.
pub fn parse_contact_policy(body: &serde_json::Value) -> Result<ContactPolicy, ApiError> {
    for p in Permission::ALL {
        if body.get(p.as_str()).is_some_and(|v| !v.is_string()) {
            return Err(ApiError::invalid(p.as_str(), format!("{p} must be \"inherit\", \"allow\" or \"deny\"")));
        }
    }
    crate::app::kit::json::parse_json(body.to_string().as_bytes())
}

/// The contact, its policy row, its companies; 404 when it does not exist or, for a manager, is
/// related to none of their companies.
struct ContactRead {
    gov: Governor,
    contact: ContactRow,
    row: Option<ContactPolicyRow>,
    companies: Vec<PolicedCompanyRow>,
}

fn read_contact(bearer: &Bearer, out: &[Outcome]) -> Result<ContactRead, ApiError> {
    let gov = Governor::from_check(bearer, out.first())?;
    let contact: ContactRow = decode(first_row(out, 1).ok_or(ApiError::NotFound)?)?;
    let companies: Vec<PolicedCompanyRow> = decode_all(rows(out, 3))?;
    if !gov.admin && !companies.iter().any(|c| gov.sees_company(&c.id.to_string())) {
        return Err(ApiError::NotFound);
    }
    let row: Option<ContactPolicyRow> = first_row(out, 2).map(decode).transpose()?;
    Ok(ContactRead { gov, contact, row, companies })
}

fn contact_stmts(id: &str) -> Vec<Stmt> {
    vec![
        Stmt::new(SELECT_CONTACT).bind(id),
        Stmt::new(SELECT_CONTACT_POLICY).bind(id),
        Stmt::new(SELECT_CONTACT_COMPANIES).bind(id),
    ]
}

pub async fn get_contact<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, contact_id: Uuid) -> Result<ContactPolicyView, ApiError> {
    let id = contact_id.to_string();
    let mut stmts = vec![Governor::check_stmt(bearer, now)];
    stmts.extend(contact_stmts(&id));
    let out = ports.db().batch(stmts).await?;
    let read = read_contact(bearer, &out)?;
    Ok(ContactPolicyView {
        contact_id: read.contact.id,
        policy: read.row.as_ref().map(ContactPolicyRow::policy).transpose()?.unwrap_or_default(),
        saved: Saved {
            is_default: read.row.is_none(),
            updated_at: time(read.row.as_ref().map(|r| r.updated_at)),
            updated_by: read.row.and_then(|r| r.updated_by),
            warnings: None,
        },
    })
}

/// Each `allow` (and each listed pipeline) that stays denied at one of the contact's companies,
/// with the level and reason the access engine gives: an allow never widens the company policy.
fn contact_warnings(contact: &ContactRow, policy: &ContactPolicy, companies: &[PolicedCompanyRow]) -> Result<Vec<Warning>, ApiError> {
    let mut warnings = Vec::new();
    for c in companies {
        let company_policy = c.policy.policy()?;
        let mut alive: Vec<Uuid> = company_policy.allowed_pipelines.clone();
        alive.extend(policy.allowed_pipelines.iter().flatten());
        let facts = policy_only_facts(
            CompanyFacts { id: c.id, name: c.name.clone(), status: CompanyStatus::Active, policy: company_policy },
            policy.clone(),
            &alive,
        );
        let effective: Effective = effective_policy(&facts, c.id);
        for p in Permission::ALL.into_iter().filter(|p| policy.rule(*p) == Rule::Allow) {
            if let Some(d) = effective.denial(p) {
                let code = if d.level == Level::CompanyPolicy { "allow_under_company_deny" } else { "allowed_but_denied" };
                warnings.push(Warning {
                    code,
                    field: p.as_str().to_owned(),
                    company_id: Some(c.id),
                    pipeline_id: None,
                    level: Some(d.level),
                    message: format!("the allow of {p} stays denied at {}: {}", c.name, d.reason),
                });
            }
        }
        for pipeline in policy.allowed_pipelines.iter().flatten() {
            if let Some(d) = effective.pipeline_denial(*pipeline) {
                warnings.push(Warning {
                    code: "pipeline_not_in_company_policy",
                    field: "allowed_pipelines".into(),
                    company_id: Some(c.id),
                    pipeline_id: Some(*pipeline),
                    level: Some(d.level),
                    message: format!("pipeline {pipeline} stays denied at {}: {}", c.name, d.reason),
                });
            }
        }
    }
    if contact.state != ContactState::Active {
        warnings.push(Warning {
            code: "contact_not_active",
            field: "contact".into(),
            company_id: None,
            pipeline_id: None,
            level: Some(Level::Contact),
            message: format!("{} {} is not an active contact in the CRM: their links are denied as a whole", contact.first_name, contact.last_name),
        });
    }
    Ok(warnings)
}

pub async fn put_contact<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, contact_id: Uuid, input: ContactPolicy) -> Result<ContactPolicyView, ApiError> {
    let id = contact_id.to_string();
    let mut stmts = vec![Governor::check_stmt(bearer, now)];
    stmts.extend(contact_stmts(&id));
    let named = input.allowed_pipelines.clone().unwrap_or_default();
    stmts.push(Stmt::new(SELECT_NAMED_PIPELINES).bind(json_ids(&named)));
    let out = ports.db().batch(stmts).await?;
    let read = read_contact(bearer, &out)?;
    // The policy applies on every company the contact's live links hold: a manager who does not
    // govern all of them would change what another manager's companies allow. Answered as unseen.
    if !read.gov.admin && read.companies.iter().any(|c| c.on_live_link && !read.gov.sees_company(&c.id.to_string())) {
        return Err(ApiError::NotFound);
    }
    let found: Vec<PipelineRow> = decode_all(rows(&out, 4))?;
    let mut policy = input;
    if let Some(list) = &policy.allowed_pipelines {
        policy.allowed_pipelines = Some(validate_pipelines(list, &found)?);
    }
    let warnings = contact_warnings(&read.contact, &policy, &read.companies)?;
    let before = read.row.as_ref().map(ContactPolicyRow::policy).transpose()?;

    let t = now.timestamp();
    let me = read.gov.user_id().to_owned();
    let session = read.gov.principal.session_id.clone();
    let company_ids: Vec<String> = read.companies.iter().map(|c| c.id.to_string()).collect();
    let companies = json_ids(&company_ids);
    let pipelines = json_ids(policy.allowed_pipelines.iter().flatten());
    let stored_pipelines = policy.allowed_pipelines.as_ref().map(json_ids);
    let event = Event::new("policy.contact.updated", ActorKind::Employee, Some(&me))
        .target("contact_policy", &id)
        .companies(company_ids)
        .details(json!({"before": before, "before_is_default": before.is_none(), "after": policy,
            "warnings": warnings.iter().map(|w| w.code).collect::<Vec<_>>()}));
    let event_id = new_id(ports, now)?;
    let audit = event.insert_if(&event_id, client, t, AUDIT_CONTACT_POLICY)
        .bind(session.as_str())
        .bind(companies.as_str())
        .bind(pipelines.as_str())
        .bind(id.as_str());
    let bump = Stmt::new(BUMP_CONTACT_LINKS).bind(id.as_str()).bind(t).bind(session.as_str()).bind(companies.as_str()).bind(pipelines.as_str());
    let upsert = Stmt::new(UPSERT_CONTACT_POLICY)
        .bind(id.as_str())
        .bind(policy.create_requests.as_str())
        .bind(policy.read_request_chat.as_str())
        .bind(policy.send_request_chat.as_str())
        .bind(policy.general_chat.as_str())
        .bind(policy.calls.as_str())
        .bind(policy.telegram.as_str())
        .bind(policy.widget.as_str())
        .bind(stored_pipelines)
        .bind(me.as_str())
        .bind(t)
        .bind(session.as_str())
        .bind(companies.as_str())
        .bind(pipelines.as_str());
    let out = ports.db().batch(vec![bump, audit, upsert]).await?;
    if changes(&out, 2) != 1 {
        return Err(not_saved());
    }
    Ok(ContactPolicyView {
        contact_id: read.contact.id,
        policy,
        saved: Saved { is_default: false, updated_at: time(Some(t)), updated_by: Some(me), warnings: Some(warnings) },
    })
}


