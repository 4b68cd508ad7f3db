//! CRM data: upserts of companies, contacts and pipelines (by the CRM's machine credential or an
//! admin) and their lists (employees; a manager sees only their companies and the contacts related
//! to them; pipelines are global).
//!
//! Absent optional fields follow PUT semantics (crm_ref, phone, duplicate_of and fields become
//! null or empty), except `status`, `state` and `archived`: when absent they keep their stored
//! value (a new record starts active / active / not archived), so a CRM that does not send them
//! never un-archives a company or reactivates a draft contact by accident.
//!
//! Changes that can alter an effective policy bump `links.policy_version` in the same batch: a
//! company's status (the links holding it), a contact's state (the contact's links), and a
//! pipeline's archived flag or its creation (the links holding a company whose policy names the
//! pipeline: only they can see a difference, as a contact policy only narrows the company's list).

use crate::app::governance::crm_links;
use crate::app::kit::error::Conflict;
use crate::app::kit::page::ListQuery;
use crate::app::kit::pipelines::{FieldType, RequestField, Stage};
use crate::app::kit::page::{Page, decode_cursor, encode_cursor};
use crate::app::kit::rows::{changes, is_foreign_key_failure, json_list, rows};
use crate::app::kit::text::{dedup, like_pattern, optional_text, required_text, wire};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{crm_or_admin, is_admin, company_in_scope};
use crate::app::kit::governor::{crm_or_admin_reads, employee_reads, Caller};
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::facts::{CompanyStatus, ContactState};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, sql::flag, Row, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

const NAME_MAX: usize = 200;
const TEXT_MAX: usize = 200;
const MAX_STAGES: usize = 50;
const MAX_FIELDS: usize = 50;
const MAX_CHOICES: usize = 100;
const MAX_COMPANIES: usize = 500;

// ---------------------------------------------------------------------------------------------
// Companies

const SELECT_COMPANY: &str = "SELECT id, name, crm_ref, status, created_at, updated_at FROM companies WHERE id = ?1";
// ?1 id, ?2 the new status (NULL: unchanged), ?3 session (NULL for the CRM), ?4 now. Runs before the
// update, so it compares with the status this very batch replaces.
const BUMP_COMPANY_LINKS: &str = concat!(
    "UPDATE links SET policy_version = policy_version + 1 WHERE id IN (SELECT link_id FROM link_companies WHERE company_id = ?1) \
     AND EXISTS (SELECT 1 FROM companies WHERE id = ?1 AND status <> ?2) AND ",
    crm_or_admin!(3, 4)
);
// ?1 id, ?2 name, ?3 crm_ref, ?4 status (NULL: keep / active), ?5 now, ?6 session.
const INSERT_COMPANY: &str = concat!(
    "INSERT INTO companies (id, name, crm_ref, status, created_at, updated_at) SELECT ?1, ?2, ?3, COALESCE(?4, 'active'), ?5, ?5 WHERE ",
    crm_or_admin!(6, 5),
    " ON CONFLICT (id) DO NOTHING"
);
const UPDATE_COMPANY: &str = concat!(
    "UPDATE companies SET name = ?2, crm_ref = ?3, status = COALESCE(?4, status), updated_at = ?5 WHERE id = ?1 AND ",
    crm_or_admin!(6, 5)
);
// ?1 the acting employee (scope), ?2 LIKE pattern, ?3 status, ?4/?5 cursor (name, id), ?6 limit.
const LIST_COMPANIES: &str = concat!(
    "SELECT id, name, crm_ref, status, created_at, updated_at FROM companies WHERE ",
    company_in_scope!(1, "id"),
    " AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\' OR crm_ref LIKE ?2 ESCAPE '\\') AND (?3 IS NULL OR status = ?3) \
     AND (?4 IS NULL OR (name, id) > (?4, ?5)) ORDER BY name, id LIMIT ?6"
);

#[derive(Debug, Deserialize)]
pub struct CompanyInput {
    pub name: String,
    #[serde(default)]
    pub crm_ref: Option<String>,
    #[serde(default)]
    pub status: Option<CompanyStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CompanyRow {
    id: String,
    name: String,
    crm_ref: Option<String>,
    status: CompanyStatus,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompanyView {
    pub id: String,
    pub name: String,
    pub crm_ref: Option<String>,
    pub status: CompanyStatus,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CompanyRow> for CompanyView {
    fn from(r: CompanyRow) -> Self {
        CompanyView { id: r.id, name: r.name, crm_ref: r.crm_ref, status: r.status, created_at: rfc3339(r.created_at), updated_at: rfc3339(r.updated_at) }
    }
}

/// The result of an upsert: the record as stored, and whether this call created it (201).
#[derive(Debug)]
pub struct Upserted<T> {
    pub created: bool,
    pub view: T,
}

pub async fn upsert_company<P: Ports>(ports: &P, caller: &Caller, client: &ClientMeta, now: DateTime<Utc>, id: Uuid, input: CompanyInput) -> Result<Upserted<CompanyView>, ApiError> {
    let id = id.to_string();
    let (acting, out) = crm_or_admin_reads(ports, caller, now, vec![Stmt::new(SELECT_COMPANY).bind(id.as_str())]).await?;
    let name = required_text("name", &input.name, NAME_MAX)?;
    let crm_ref = optional_text("crm_ref", input.crm_ref.as_deref(), TEXT_MAX)?;
    let before: Option<CompanyRow> = rows(&out, 0).into_iter().next().map(decode).transpose()?;
    let status = input.status.map(|s| wire(&s));
    let t = now.timestamp();
    let session = acting.session_id.clone();
    let action = if before.is_some() { "company.updated" } else { "company.created" };
    let event = acting
        .event(action)
        .target("company", &id)
        .companies(vec![id.clone()])
        .details(json!({"before": before, "after": {"name": name, "crm_ref": crm_ref, "status": status}}));
    let stmts = vec![
        Stmt::new(BUMP_COMPANY_LINKS).bind(id.as_str()).bind(status.clone()).bind(session.clone()).bind(t),
        Stmt::new(INSERT_COMPANY).bind(id.as_str()).bind(name.as_str()).bind(crm_ref.clone()).bind(status.clone()).bind(t).bind(session.clone()),
        Stmt::new(UPDATE_COMPANY).bind(id.as_str()).bind(name.as_str()).bind(crm_ref.clone()).bind(status).bind(t).bind(session),
        acting.audit_stmt(&event, &new_id(ports, now)?, client, t),
        Stmt::new(SELECT_COMPANY).bind(id.as_str()),
    ];
    let out = ports.db().batch(stmts).await?;
    if changes(&out, 2) == 0 {
        // The admin's session or role went away between the check and the write.
        return Err(ApiError::Forbidden);
    }
    let row: CompanyRow = decode(rows(&out, 4).into_iter().next().ok_or_else(|| ApiError::internal("company vanished after upsert"))?)?;
    Ok(Upserted { created: changes(&out, 1) == 1, view: row.into() })
}

/// `GET /api/admin/companies?q=&status=`: admins see all, managers their own companies.
pub async fn list_companies<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, query: ListQuery) -> Result<Page<CompanyView>, ApiError> {
    let status = query.enum_filter("status", &["active", "archived"])?;
    let cursor = decode_cursor(query.cursor.as_deref(), 2)?.unwrap_or_default();
    let list = Stmt::new(LIST_COMPANIES)
        .bind(bearer.claims.sub.as_str())
        .bind(like_pattern(query.q.as_deref()))
        .bind(status)
        .bind(cursor.first().cloned())
        .bind(cursor.get(1).cloned())
        .bind(query.limit + 1);
    let (_, out) = employee_reads(ports, bearer, now, vec![list]).await?;
    let items: Vec<CompanyView> = decode_all::<CompanyRow>(rows(&out, 0))?.into_iter().map(CompanyView::from).collect();
    Ok(Page::of(items, query.limit, |c| encode_cursor(&[&c.name, &c.id])))
}

// ---------------------------------------------------------------------------------------------
// Contacts

// ?1 id, ?2 scope (NULL: every company id is shown).
const SELECT_CONTACT: &str = "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.state, c.duplicate_of, c.created_at, c.updated_at, \
     (SELECT json_group_array(company_id) FROM (SELECT company_id FROM contact_companies WHERE contact_id = c.id \
       AND (?2 IS NULL OR company_id IN (SELECT value FROM json_each(?2))) ORDER BY company_id)) AS company_ids \
     FROM contacts c WHERE c.id = ?1";
const UNKNOWN_COMPANIES: &str = "SELECT value AS id FROM json_each(?1) WHERE value NOT IN (SELECT id FROM companies)";
const CONTACT_EXISTS: &str = "SELECT id FROM contacts WHERE id = ?1";
// ?1 id, ?2 the new state (NULL: unchanged), ?3 session, ?4 now.
const BUMP_CONTACT_LINKS: &str = concat!(
    "UPDATE links SET policy_version = policy_version + 1 WHERE contact_id = ?1 \
     AND EXISTS (SELECT 1 FROM contacts WHERE id = ?1 AND state <> ?2) AND ",
    crm_or_admin!(3, 4)
);
// ?1 id, ?2 first, ?3 last, ?4 email, ?5 phone, ?6 state (NULL: keep / active), ?7 duplicate_of,
// ?8 now, ?9 session. duplicate_of is kept only on a duplicate (the table's CHECK says so).
const INSERT_CONTACT: &str = concat!(
    "INSERT INTO contacts (id, first_name, last_name, email, phone, state, duplicate_of, created_at, updated_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, COALESCE(?6, 'active'), CASE WHEN COALESCE(?6, 'active') = 'duplicate' THEN ?7 END, ?8, ?8 WHERE ",
    crm_or_admin!(9, 8),
    " ON CONFLICT (id) DO NOTHING"
);
const UPDATE_CONTACT: &str = concat!(
    "UPDATE contacts SET first_name = ?2, last_name = ?3, email = ?4, phone = ?5, state = COALESCE(?6, state), \
     duplicate_of = CASE WHEN COALESCE(?6, state) = 'duplicate' THEN ?7 END, updated_at = ?8 WHERE id = ?1 AND ",
    crm_or_admin!(9, 8)
);
// ?1 contact, ?2 JSON company ids, ?3 session, ?4 now.
const DELETE_CONTACT_COMPANIES: &str = concat!(
    "DELETE FROM contact_companies WHERE contact_id = ?1 AND company_id NOT IN (SELECT value FROM json_each(?2)) AND ",
    crm_or_admin!(3, 4)
);
const INSERT_CONTACT_COMPANIES: &str = concat!(
    "INSERT INTO contact_companies (contact_id, company_id, created_at) SELECT ?1, value, ?4 FROM json_each(?2) WHERE ",
    crm_or_admin!(3, 4),
    " ON CONFLICT DO NOTHING"
);
// ?1 the acting employee (scope), ?2 LIKE pattern, ?3 state, ?4/?5/?6 cursor (last, first, id), ?7 limit.
// A manager sees the contacts related to their companies, and only those companies' ids.
const LIST_CONTACTS: &str = concat!(
    "SELECT c.id, c.first_name, c.last_name, c.email, c.phone, c.state, c.duplicate_of, c.created_at, c.updated_at, \
     (SELECT json_group_array(company_id) FROM (SELECT company_id FROM contact_companies WHERE contact_id = c.id AND ",
    company_in_scope!(1, "company_id"),
    " ORDER BY company_id)) AS company_ids FROM contacts c WHERE (",
    is_admin!(1),
    " OR EXISTS (SELECT 1 FROM contact_companies cc WHERE cc.contact_id = c.id AND cc.company_id IN \
       (SELECT sec.company_id FROM employee_companies sec WHERE sec.user_id = ?1))) \
     AND (?2 IS NULL OR (c.first_name || ' ' || c.last_name) LIKE ?2 ESCAPE '\\' OR c.email LIKE ?2 ESCAPE '\\' OR c.phone LIKE ?2 ESCAPE '\\') \
     AND (?3 IS NULL OR c.state = ?3) AND (?4 IS NULL OR (c.last_name, c.first_name, c.id) > (?4, ?5, ?6)) \
     ORDER BY c.last_name, c.first_name, c.id LIMIT ?7"
);
#[derive(Debug, Deserialize)]
pub struct ContactInput {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub state: Option<ContactState>,
    #[serde(default)]
    pub duplicate_of: Option<Uuid>,
    pub company_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContactRow {
    id: String,
    first_name: String,
    last_name: String,
    email: String,
    phone: Option<String>,
    state: ContactState,
    duplicate_of: Option<String>,
    created_at: i64,
    updated_at: i64,
    company_ids: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactView {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub state: ContactState,
    pub duplicate_of: Option<String>,
    pub company_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl TryFrom<ContactRow> for ContactView {
    type Error = ApiError;
    fn try_from(r: ContactRow) -> Result<Self, ApiError> {
        let company_ids = serde_json::from_str(&r.company_ids).map_err(|e| ApiError::internal(format!("contact company_ids: {e}")))?;
        Ok(ContactView {
            id: r.id,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            phone: r.phone,
            state: r.state,
            duplicate_of: r.duplicate_of,
            company_ids,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        })
    }
}

pub async fn upsert_contact<P: Ports>(ports: &P, caller: &Caller, client: &ClientMeta, now: DateTime<Utc>, id: Uuid, input: ContactInput) -> Result<Upserted<ContactView>, ApiError> {
    let first_name = required_text("first_name", &input.first_name, NAME_MAX)?;
    let last_name = required_text("last_name", &input.last_name, NAME_MAX)?;
    let email = crate::domain::login::Email::parse(&input.email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let phone = optional_text("phone", input.phone.as_deref(), 40)?;
    if input.company_ids.len() > MAX_COMPANIES {
        return Err(ApiError::invalid("company_ids", format!("company_ids may list at most {MAX_COMPANIES} companies.")));
    }
    let company_ids = dedup(&input.company_ids);
    if input.duplicate_of == Some(id) {
        return Err(ApiError::invalid("duplicate_of", "A contact cannot be a duplicate of itself."));
    }
    let id = id.to_string();
    let duplicate_of = input.duplicate_of.map(|d| d.to_string());
    let reads = vec![
        Stmt::new(SELECT_CONTACT).bind(id.as_str()).bind(None::<String>),
        Stmt::new(UNKNOWN_COMPANIES).bind(json_list(&company_ids)),
        Stmt::new(CONTACT_EXISTS).bind(duplicate_of.clone()),
        Stmt::new(crm_links::LIVE_LINK_COMPANIES_OF_CONTACT).bind(id.as_str()),
    ];
    let (acting, out) = crm_or_admin_reads(ports, caller, now, reads).await?;
    let live_links = rows(&out, 3);
    let before: Option<ContactView> = rows(&out, 0).into_iter().next().map(|r| decode::<ContactRow>(r).map_err(ApiError::from).and_then(ContactView::try_from)).transpose()?;
    let unknown: Vec<String> = rows(&out, 1).into_iter().filter_map(|r| r.get("id").and_then(|v| v.as_str()).map(str::to_owned)).collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid("company_ids", format!("company_ids names unknown companies: {}.", unknown.join(", "))));
    }
    let state = input.state.or(before.as_ref().map(|b| b.state)).unwrap_or(ContactState::Active);
    if duplicate_of.is_some() && state != ContactState::Duplicate {
        return Err(ApiError::invalid("duplicate_of", "duplicate_of is only for a contact whose state is duplicate."));
    }
    if duplicate_of.is_some() && rows(&out, 2).is_empty() {
        return Err(ApiError::invalid("duplicate_of", "duplicate_of names no existing contact."));
    }

    let t = now.timestamp();
    let session = acting.session_id.clone();
    let new_state = input.state.map(|s| wire(&s));
    let mut touched: Vec<String> = before.as_ref().map(|b| b.company_ids.clone()).unwrap_or_default();
    touched.extend(company_ids.iter().filter(|c| !touched.contains(c)).cloned().collect::<Vec<_>>());
    let action = if before.is_some() { "contact.updated" } else { "contact.created" };
    let event = acting.event(action).target("contact", &id).companies(touched).details(json!({
        "before": before,
        "after": {"first_name": first_name, "last_name": last_name, "email": email.as_str(), "phone": phone,
                  "state": wire(&state), "duplicate_of": duplicate_of, "company_ids": company_ids},
    }));
    let write = |sql: &'static str| {
        Stmt::new(sql)
            .bind(id.as_str())
            .bind(first_name.as_str())
            .bind(last_name.as_str())
            .bind(email.as_str())
            .bind(phone.clone())
            .bind(new_state.clone())
            .bind(duplicate_of.clone())
            .bind(t)
            .bind(session.clone())
    };
    let mut stmts = vec![
        Stmt::new(BUMP_CONTACT_LINKS).bind(id.as_str()).bind(new_state.clone()).bind(session.clone()).bind(t),
        write(INSERT_CONTACT),
        write(UPDATE_CONTACT),
        Stmt::new(DELETE_CONTACT_COMPANIES).bind(id.as_str()).bind(json_list(&company_ids)).bind(session.clone()).bind(t),
        Stmt::new(INSERT_CONTACT_COMPANIES).bind(id.as_str()).bind(json_list(&company_ids)).bind(session.clone()).bind(t),
        acting.audit_stmt(&event, &new_id(ports, now)?, client, t),
        Stmt::new(SELECT_CONTACT).bind(id.as_str()).bind(None::<String>),
    ];
    // After the contact's own rows (their indexes are read below): its live links follow the CRM.
    stmts.extend(crm_links::narrow_stmts(ports, &acting, client, now, &id, &company_ids, live_links)?);
    let out = ports.db().batch(stmts).await.map_err(|e| {
        if is_foreign_key_failure(&e) {
            // Nothing deletes companies or contacts today; should that change, say so plainly.
            ApiError::conflict(Conflict::ReferenceChanged)
        } else {
            e.into()
        }
    })?;
    if changes(&out, 2) == 0 {
        return Err(ApiError::Forbidden);
    }
    let row: ContactRow = decode(rows(&out, 6).into_iter().next().ok_or_else(|| ApiError::internal("contact vanished after upsert"))?)?;
    Ok(Upserted { created: changes(&out, 1) == 1, view: row.try_into()? })
}

/// `GET /api/admin/contacts?q=&state=`: admins see all, managers the contacts related to their
/// companies (with only those companies listed).
pub async fn list_contacts<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, query: ListQuery) -> Result<Page<ContactView>, ApiError> {
    let state = query.enum_filter("state", &["active", "draft", "duplicate"])?;
    let cursor = decode_cursor(query.cursor.as_deref(), 3)?.unwrap_or_default();
    let list = Stmt::new(LIST_CONTACTS)
        .bind(bearer.claims.sub.as_str())
        .bind(like_pattern(query.q.as_deref()))
        .bind(state)
        .bind(cursor.first().cloned())
        .bind(cursor.get(1).cloned())
        .bind(cursor.get(2).cloned())
        .bind(query.limit + 1);
    let (_, out) = employee_reads(ports, bearer, now, vec![list]).await?;
    let items = decode_all::<ContactRow>(rows(&out, 0))?.into_iter().map(ContactView::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::of(items, query.limit, |c| encode_cursor(&[&c.last_name, &c.first_name, &c.id])))
}

// ---------------------------------------------------------------------------------------------
// Pipelines

const SELECT_PIPELINE: &str = "SELECT p.id, p.name, p.fields, p.archived, p.created_at, p.updated_at, \
     (SELECT json_group_array(json_object('id', s.id, 'name', s.name, 'is_final', s.is_final)) \
       FROM (SELECT id, name, is_final FROM pipeline_stages WHERE pipeline_id = p.id ORDER BY position) s) AS stages \
     FROM pipelines p WHERE p.id = ?1";
// ?1 pipeline, ?2 JSON of the stage ids kept.
const STAGES_IN_USE: &str = "SELECT DISTINCT stage_id FROM requests WHERE pipeline_id = ?1 \
     AND stage_id NOT IN (SELECT value FROM json_each(?2)) ORDER BY stage_id";
// ?1 id, ?2 archived (NULL: unchanged), ?3 session, ?4 now. Runs before the write: it bumps when the
// pipeline is new (a policy may already name it) or its archived flag is about to change.
const BUMP_PIPELINE_LINKS: &str = concat!(
    "UPDATE links SET policy_version = policy_version + 1 WHERE id IN (SELECT lc.link_id FROM link_companies lc \
       JOIN company_policies cp ON cp.company_id = lc.company_id \
       WHERE EXISTS (SELECT 1 FROM json_each(cp.allowed_pipelines) j WHERE j.value = ?1)) \
     AND NOT EXISTS (SELECT 1 FROM pipelines WHERE id = ?1 AND archived = COALESCE(?2, archived)) AND ",
    crm_or_admin!(3, 4)
);
// ?1 id, ?2 name, ?3 fields JSON, ?4 archived (NULL: keep / 0), ?5 now, ?6 session.
const INSERT_PIPELINE: &str = concat!(
    "INSERT INTO pipelines (id, name, fields, archived, created_at, updated_at) SELECT ?1, ?2, ?3, COALESCE(?4, 0), ?5, ?5 WHERE ",
    crm_or_admin!(6, 5),
    " ON CONFLICT (id) DO NOTHING"
);
const UPDATE_PIPELINE: &str = concat!(
    "UPDATE pipelines SET name = ?2, fields = ?3, archived = COALESCE(?4, archived), updated_at = ?5 WHERE id = ?1 AND ",
    crm_or_admin!(6, 5)
);
// ?1 pipeline, ?2 JSON (ids for the delete, stage objects for the upsert), ?3 session, ?4 now. A
// dropped stage that requests still use fails the requests foreign key: the batch rolls back.
const DELETE_DROPPED_STAGES: &str = concat!(
    "DELETE FROM pipeline_stages WHERE pipeline_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2)) AND ",
    crm_or_admin!(3, 4)
);
const UPSERT_STAGES: &str = concat!(
    "INSERT INTO pipeline_stages (pipeline_id, id, name, is_final, position) \
     SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.name'), json_extract(value, '$.is_final'), key \
     FROM json_each(?2) WHERE ",
    crm_or_admin!(3, 4),
    " ON CONFLICT (pipeline_id, id) DO UPDATE SET name = excluded.name, is_final = excluded.is_final, position = excluded.position"
);
// ?1 LIKE pattern, ?2 archived filter, ?3/?4 cursor (name, id), ?5 limit.
const LIST_PIPELINES: &str = "SELECT p.id, p.name, p.fields, p.archived, p.created_at, p.updated_at, \
     (SELECT json_group_array(json_object('id', s.id, 'name', s.name, 'is_final', s.is_final)) \
       FROM (SELECT id, name, is_final FROM pipeline_stages WHERE pipeline_id = p.id ORDER BY position) s) AS stages \
     FROM pipelines p WHERE (?1 IS NULL OR p.name LIKE ?1 ESCAPE '\\') AND (?2 IS NULL OR p.archived = ?2) \
     AND (?3 IS NULL OR (p.name, p.id) > (?3, ?4)) ORDER BY p.name, p.id LIMIT ?5";

#[derive(Debug, Deserialize)]
pub struct PipelineInput {
    pub name: String,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub fields: Option<Vec<RequestField>>,
    #[serde(default)]
    pub archived: Option<bool>,
}

/// A pipeline that passed [`validate_pipeline`]: texts trimmed, fields normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPipeline {
    pub name: String,
    pub stages: Vec<Stage>,
    pub fields: Vec<RequestField>,
    pub archived: Option<bool>,
}

/// The pipeline rules: a name; at least one stage, unique stage ids, at least one final stage, and
/// a first stage that is not final (new requests start there and must be open); unique field
/// keys made of letters, digits, `_` and `-`; choices exactly on choice fields, unique and non-empty.
pub fn validate_pipeline(input: PipelineInput) -> Result<ValidPipeline, ApiError> {
    let name = required_text("name", &input.name, NAME_MAX)?;
    if input.stages.is_empty() {
        return Err(ApiError::invalid("stages", "A pipeline needs at least one stage."));
    }
    if input.stages.len() > MAX_STAGES {
        return Err(ApiError::invalid("stages", format!("A pipeline has at most {MAX_STAGES} stages.")));
    }
    let mut stages: Vec<Stage> = Vec::with_capacity(input.stages.len());
    for (i, s) in input.stages.iter().enumerate() {
        let id = required_text(&format!("stages[{i}].id"), &s.id, 64)?;
        if stages.iter().any(|seen| seen.id == id) {
            return Err(ApiError::invalid(format!("stages[{i}].id"), format!("The stage id {id} appears twice.")));
        }
        let stage_name = required_text(&format!("stages[{i}].name"), &s.name, NAME_MAX)?;
        stages.push(Stage { id, name: stage_name, is_final: s.is_final });
    }
    if !stages.iter().any(|s| s.is_final) {
        return Err(ApiError::invalid("stages", "At least one stage must be final (where requests close)."));
    }
    if stages.first().is_some_and(|s| s.is_final) {
        return Err(ApiError::invalid("stages[0].is_final", "The first stage is where new requests start: it cannot be final."));
    }
    let raw_fields = input.fields.unwrap_or_default();
    if raw_fields.len() > MAX_FIELDS {
        return Err(ApiError::invalid("fields", format!("A pipeline has at most {MAX_FIELDS} request fields.")));
    }
    let mut fields: Vec<RequestField> = Vec::with_capacity(raw_fields.len());
    for (i, f) in raw_fields.into_iter().enumerate() {
        let key = f.key.trim().to_owned();
        let key_ok = (1..=64).contains(&key.len())
            && key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !key_ok {
            return Err(ApiError::invalid(format!("fields[{i}].key"), "A field key is 1 to 64 letters, digits, '_' or '-', starting with a letter."));
        }
        if fields.iter().any(|seen| seen.key == key) {
            return Err(ApiError::invalid(format!("fields[{i}].key"), format!("The field key {key} appears twice.")));
        }
        let label = required_text(&format!("fields[{i}].label"), &f.label, NAME_MAX)?;
        let choices = match (f.kind, f.choices) {
            (FieldType::Choice, None) => return Err(ApiError::invalid(format!("fields[{i}].choices"), "A choice field needs its choices.")),
            (FieldType::Choice, Some(list)) => {
                if list.is_empty() || list.len() > MAX_CHOICES {
                    return Err(ApiError::invalid(format!("fields[{i}].choices"), format!("A choice field needs 1 to {MAX_CHOICES} choices.")));
                }
                let mut clean: Vec<String> = Vec::with_capacity(list.len());
                for (j, c) in list.iter().enumerate() {
                    let c = required_text(&format!("fields[{i}].choices[{j}]"), c, NAME_MAX)?;
                    if clean.contains(&c) {
                        return Err(ApiError::invalid(format!("fields[{i}].choices[{j}]"), format!("The choice {c} appears twice.")));
                    }
                    clean.push(c);
                }
                Some(clean)
            }
            (_, Some(list)) if !list.is_empty() => {
                return Err(ApiError::invalid(format!("fields[{i}].choices"), "Only choice fields have choices."));
            }
            (_, _) => None,
        };
        fields.push(RequestField { key, label, kind: f.kind, required: f.required, choices });
    }
    Ok(ValidPipeline { name, stages, fields, archived: input.archived })
}

#[derive(Debug, Clone, Deserialize)]
struct PipelineRow {
    id: String,
    name: String,
    fields: String,
    #[serde(with = "flag")]
    archived: bool,
    created_at: i64,
    updated_at: i64,
    stages: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PipelineView {
    pub id: String,
    pub name: String,
    pub archived: bool,
    pub stages: Vec<Stage>,
    pub fields: Vec<RequestField>,
    pub created_at: String,
    pub updated_at: String,
}

impl TryFrom<PipelineRow> for PipelineView {
    type Error = ApiError;
    fn try_from(r: PipelineRow) -> Result<Self, ApiError> {
        let stages = serde_json::from_str(&r.stages).map_err(|e| ApiError::internal(format!("pipeline stages: {e}")))?;
        let fields = serde_json::from_str(&r.fields).map_err(|e| ApiError::internal(format!("pipeline fields: {e}")))?;
        Ok(PipelineView { id: r.id, name: r.name, archived: r.archived, stages, fields, created_at: rfc3339(r.created_at), updated_at: rfc3339(r.updated_at) })
    }
}

fn pipeline_view(row: Option<Row>) -> Result<Option<PipelineView>, ApiError> {
    row.map(|r| decode::<PipelineRow>(r).map_err(ApiError::from).and_then(PipelineView::try_from)).transpose()
}

pub async fn upsert_pipeline<P: Ports>(ports: &P, caller: &Caller, client: &ClientMeta, now: DateTime<Utc>, id: Uuid, input: PipelineInput) -> Result<Upserted<PipelineView>, ApiError> {
    let valid = validate_pipeline(input)?;
    let id = id.to_string();
    let stage_ids: Vec<&str> = valid.stages.iter().map(|s| s.id.as_str()).collect();
    let reads = vec![Stmt::new(SELECT_PIPELINE).bind(id.as_str()), Stmt::new(STAGES_IN_USE).bind(id.as_str()).bind(json_list(&stage_ids))];
    let (acting, out) = crm_or_admin_reads(ports, caller, now, reads).await?;
    let before = pipeline_view(rows(&out, 0).into_iter().next())?;
    let in_use: Vec<String> = rows(&out, 1).into_iter().filter_map(|r| r.get("stage_id").and_then(|v| v.as_str()).map(str::to_owned)).collect();
    if !in_use.is_empty() {
        return Err(stage_in_use(&in_use.join(", ")));
    }
    let t = now.timestamp();
    let session = acting.session_id.clone();
    let fields_json = serde_json::to_string(&valid.fields).map_err(|e| ApiError::internal(format!("fields: {e}")))?;
    let stages_json = serde_json::to_string(
        &valid.stages.iter().map(|s| json!({"id": s.id, "name": s.name, "is_final": i64::from(s.is_final)})).collect::<Vec<_>>(),
    )
    .map_err(|e| ApiError::internal(format!("stages: {e}")))?;
    let archived = valid.archived.map(i64::from);
    let action = if before.is_some() { "pipeline.updated" } else { "pipeline.created" };
    let event = acting.event(action).target("pipeline", &id).details(json!({
        "before": before,
        "after": {"name": valid.name, "archived": valid.archived, "stages": valid.stages, "fields": valid.fields},
    }));
    let write = |sql: &'static str| Stmt::new(sql).bind(id.as_str()).bind(valid.name.as_str()).bind(fields_json.as_str()).bind(archived).bind(t).bind(session.clone());
    let stmts = vec![
        Stmt::new(BUMP_PIPELINE_LINKS).bind(id.as_str()).bind(archived).bind(session.clone()).bind(t),
        write(INSERT_PIPELINE),
        write(UPDATE_PIPELINE),
        Stmt::new(DELETE_DROPPED_STAGES).bind(id.as_str()).bind(json_list(&stage_ids)).bind(session.clone()).bind(t),
        Stmt::new(UPSERT_STAGES).bind(id.as_str()).bind(stages_json).bind(session.clone()).bind(t),
        acting.audit_stmt(&event, &new_id(ports, now)?, client, t),
        Stmt::new(SELECT_PIPELINE).bind(id.as_str()),
    ];
    // A request created in a dropped stage since our read trips the foreign key: same answer.
    let out = ports.db().batch(stmts).await.map_err(|e| if is_foreign_key_failure(&e) { stage_in_use("a dropped stage") } else { e.into() })?;
    if changes(&out, 2) == 0 {
        return Err(ApiError::Forbidden);
    }
    let view = pipeline_view(rows(&out, 6).into_iter().next())?.ok_or_else(|| ApiError::internal("pipeline vanished after upsert"))?;
    Ok(Upserted { created: changes(&out, 1) == 1, view })
}

/// `GET /api/admin/pipelines?q=&archived=`: pipelines are global, every employee sees them all.
pub async fn list_pipelines<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, query: ListQuery) -> Result<Page<PipelineView>, ApiError> {
    let archived = query.enum_filter("archived", &["true", "false"])?.map(|v| i64::from(v == "true"));
    let cursor = decode_cursor(query.cursor.as_deref(), 2)?.unwrap_or_default();
    let list = Stmt::new(LIST_PIPELINES)
        .bind(like_pattern(query.q.as_deref()))
        .bind(archived)
        .bind(cursor.first().cloned())
        .bind(cursor.get(1).cloned())
        .bind(query.limit + 1);
    let (_, out) = employee_reads(ports, bearer, now, vec![list]).await?;
    let items = rows(&out, 0).into_iter().map(|r| pipeline_view(Some(r))).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
    Ok(Page::of(items, query.limit, |p: &PipelineView| encode_cursor(&[&p.name, &p.id])))
}

fn stage_in_use(which: &str) -> ApiError {
    ApiError::conflict_because(Conflict::StageInUse, format!("Requests are still in {which}: move them to another stage before dropping it."))
}
