//! Why a link can or cannot do something (`GET /api/admin/links/{id}/diagnostics`) and what its
//! client sees right now (`GET /api/admin/links/{id}/visible`). Both only load facts and call the
//! access engine (`decide`, `effective_policy`, `visible_scope`): the gates call the same
//! functions, so what is explained here is what is enforced.

use crate::app::kit::governor::read_link;
use crate::app::kit::rows::{first_row, json_ids, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::chain::Check;
use crate::access::decision::{decide, Action, Decision, Object};
use crate::access::effective::{effective_policy, Effective, Evaluation};
use crate::access::facts::{DocumentFacts, LinkFacts, RequestFacts};
use crate::access::visibility::visible_scope;
use crate::access::{Level, Step, Verdict};
use crate::domain::policy::Permission;
use crate::store::{decode, decode_all, sql::flag, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const SELECT_REQUEST: &str = "SELECT id, company_id, pipeline_id FROM requests WHERE id = ?1";
const SELECT_DOCUMENT: &str = "SELECT id, company_id, contact_id, status FROM documents WHERE id = ?1";

/// The object of a diagnostics query, as typed in `object=<kind>:<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRef {
    Request(Uuid),
    Document(Uuid),
    Pipeline(Uuid),
    Company(Uuid),
}

impl ObjectRef {
    /// `request:<id>`, `document:<id>`, `pipeline:<id>` or `company:<id>`; None for anything else.
    pub fn parse(raw: &str) -> Option<ObjectRef> {
        let (kind, id) = raw.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "request" => Some(ObjectRef::Request(id)),
            "document" => Some(ObjectRef::Document(id)),
            "pipeline" => Some(ObjectRef::Pipeline(id)),
            "company" => Some(ObjectRef::Company(id)),
            _ => None,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            ObjectRef::Request(_) => "request",
            ObjectRef::Document(_) => "document",
            ObjectRef::Pipeline(_) => "pipeline",
            ObjectRef::Company(_) => "company",
        }
    }

    fn id(self) -> Uuid {
        match self {
            ObjectRef::Request(id) | ObjectRef::Document(id) | ObjectRef::Pipeline(id) | ObjectRef::Company(id) => id,
        }
    }

    /// An object of this kind, for `Action::applies_to` (which only looks at the kind).
    fn placeholder(self) -> Object {
        let id = self.id();
        match self {
            ObjectRef::Request(_) => Object::Request(RequestFacts { id, company_id: id, pipeline_id: id }),
            ObjectRef::Document(_) => Object::Document(DocumentFacts { id, company_id: id, contact_id: None, published: false }),
            ObjectRef::Pipeline(_) => Object::Pipeline { company_id: id, pipeline_id: id },
            ObjectRef::Company(_) => Object::Company(id),
        }
    }

    fn label(self) -> String {
        format!("{}:{}", self.kind(), self.id())
    }
}

/// The parsed query of the diagnostics route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiagnosticsQuery {
    pub object: Option<ObjectRef>,
    pub action: Option<Action>,
    /// Where a pipeline is decided (default: the link's default company), or the only company
    /// to explain when there is no object.
    pub company: Option<Uuid>,
}

impl DiagnosticsQuery {
    /// Parses the raw query values; bad syntax answers 400 naming the field.
    pub fn parse(object: Option<&str>, action: Option<&str>, company: Option<Uuid>) -> Result<DiagnosticsQuery, ApiError> {
        let object = object
            .map(|raw| {
                ObjectRef::parse(raw).ok_or_else(|| {
                    ApiError::invalid("object", "object must be request:<id>, document:<id>, pipeline:<id> or company:<id>")
                })
            })
            .transpose()?;
        let action = action
            .map(|raw| {
                Action::parse(raw).ok_or_else(|| {
                    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                    ApiError::invalid("action", format!("action must be one of {}", names.join(", ")))
                })
            })
            .transpose()?;
        if let (Some(object), Some(action)) = (object, action) {
            if !action.applies_to(&object.placeholder()) {
                return Err(ApiError::invalid("action", format!("the action {action} does not apply to a {}", object.kind())));
            }
        }
        if object.is_none() && action.is_some_and(|a| !matches!(a, Action::View | Action::GeneralChat | Action::Calls | Action::Telegram | Action::Widget)) {
            return Err(ApiError::invalid("object", "this action is on an object: give object=<kind>:<id>"));
        }
        Ok(DiagnosticsQuery { object, action, company })
    }
}

/// One company's explanation when no object was given.
#[derive(Debug, Serialize)]
pub struct CompanyDiagnosis {
    pub company_id: Uuid,
    pub company_name: String,
    pub verdict: &'static str,
    pub chain: Vec<Step>,
    pub effective: Effective,
}

#[derive(Debug, Serialize)]
pub struct Diagnosis {
    pub link_id: Uuid,
    /// `<kind>:<id>`, or null when the link as a whole was diagnosed.
    pub object: Option<String>,
    pub action: &'static str,
    /// The company the decision was made at (none for an object that does not exist).
    pub company_id: Option<Uuid>,
    pub chain: Vec<Step>,
    /// `allow`, `not_visible` (the client gets 404) or `policy_denied` (403 naming `permission`).
    pub verdict: &'static str,
    pub permission: Option<&'static str>,
    /// Without an object: every company of the link (in the manager's scope), each explained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub companies: Option<Vec<CompanyDiagnosis>>,
}

#[derive(Deserialize)]
struct RequestRow {
    id: Uuid,
    company_id: Uuid,
    pipeline_id: Uuid,
}

#[derive(Deserialize)]
struct DocumentRow {
    id: Uuid,
    company_id: Uuid,
    contact_id: Option<Uuid>,
    status: String,
}

pub async fn diagnose<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, link_id: Uuid, query: DiagnosticsQuery) -> Result<Diagnosis, ApiError> {
    let extra = match query.object {
        Some(ObjectRef::Request(id)) => vec![Stmt::new(SELECT_REQUEST).bind(id.to_string())],
        Some(ObjectRef::Document(id)) => vec![Stmt::new(SELECT_DOCUMENT).bind(id.to_string())],
        _ => Vec::new(),
    };
    let read = read_link(ports, bearer, now, link_id, extra).await?;
    let facts = &read.facts;
    let sees = |company: Uuid| read.gov.sees_company(&company.to_string());
    let action = query.action.unwrap_or(Action::View);
    if query.company.is_some_and(|c| !sees(c)) {
        return Err(ApiError::NotFound);
    }
    let Some(object_ref) = query.object else {
        return Ok(whole_link(facts, action, query.company, &sees));
    };
    let object = match object_ref {
        ObjectRef::Request(_) => first_row(&read.extra, 0)
            .map(decode::<RequestRow>)
            .transpose()?
            .map(|r| Object::Request(RequestFacts { id: r.id, company_id: r.company_id, pipeline_id: r.pipeline_id })),
        ObjectRef::Document(_) => first_row(&read.extra, 0).map(decode::<DocumentRow>).transpose()?.map(|d| {
            Object::Document(DocumentFacts { id: d.id, company_id: d.company_id, contact_id: d.contact_id, published: d.status == "published" })
        }),
        ObjectRef::Pipeline(id) => facts.pipeline(id).map(|_| Object::Pipeline {
            company_id: query.company.unwrap_or(facts.link.default_company_id),
            pipeline_id: id,
        }),
        ObjectRef::Company(id) => Some(Object::Company(id)),
    };
    let Some(object) = object else {
        return Ok(no_such_object(facts, object_ref, action));
    };
    // Another company's object is none of a manager's business: as if it did not exist.
    if !sees(object.company_id()) {
        return Err(ApiError::NotFound);
    }
    let decision = decide(facts, action, &object);
    Ok(diagnosis(facts, Some(object_ref.label()), action, Some(object.company_id()), decision, None))
}

fn diagnosis(facts: &LinkFacts, object: Option<String>, action: Action, company_id: Option<Uuid>, decision: Decision, companies: Option<Vec<CompanyDiagnosis>>) -> Diagnosis {
    Diagnosis {
        link_id: facts.link.id,
        object,
        action: action.as_str(),
        company_id,
        verdict: decision.verdict.as_str(),
        permission: decision.verdict.refused().map(|r| r.as_str()),
        chain: decision.chain,
        companies,
    }
}

/// An object id that does not exist: the employee is diagnosing, so the chain says so at the
/// object level instead of a bare 404. The user, link and contact steps do not depend on a
/// company; the company step would, and there is none.
fn no_such_object(facts: &LinkFacts, object: ObjectRef, action: Action) -> Diagnosis {
    let evaluation = Evaluation::new(facts, facts.link.default_company_id);
    let mut chain: Vec<Step> = evaluation.scope().steps.iter().filter(|s| s.level < Level::Company).cloned().collect();
    chain.push(Step::fail(Level::Object, format!("{} {}", object.kind(), object.id()), format!("no such {}", object.kind())));
    let decision = Decision { verdict: Verdict::NotVisible, chain };
    diagnosis(facts, Some(object.label()), action, None, decision, None)
}

/// No object: for each company of the link, the whole-link checks and every policy check down to
/// the effective policy (with a company-level action: `decide` on the company). The verdict is
/// always `decide`'s. The top-level chain is the asked company's, else the default company's.
fn whole_link(facts: &LinkFacts, action: Action, company: Option<Uuid>, sees: &dyn Fn(Uuid) -> bool) -> Diagnosis {
    let explain = |id: Uuid| -> Decision {
        let decision = decide(facts, action, &Object::Company(id));
        if action == Action::View {
            Decision { verdict: decision.verdict, chain: policy_chain(facts, id) }
        } else {
            decision
        }
    };
    let companies: Vec<CompanyDiagnosis> = facts
        .companies
        .iter()
        .filter(|c| sees(c.id) && company.is_none_or(|id| id == c.id))
        .map(|c| {
            let d = explain(c.id);
            CompanyDiagnosis { company_id: c.id, company_name: c.name.clone(), verdict: d.verdict.as_str(), chain: d.chain, effective: effective_policy(facts, c.id) }
        })
        .collect();
    let main = company
        .or_else(|| companies.iter().find(|c| c.company_id == facts.link.default_company_id).map(|c| c.company_id))
        .or_else(|| companies.first().map(|c| c.company_id));
    let decision = main.map_or_else(|| Decision { verdict: Verdict::NotVisible, chain: Vec::new() }, explain);
    diagnosis(facts, None, action, main, decision, Some(companies))
}

/// The whole-link checks, then (when they pass) every permission's and every named pipeline's
/// checks, as the engine makes them, in chain order.
fn policy_chain(facts: &LinkFacts, company_id: Uuid) -> Vec<Step> {
    let evaluation = Evaluation::new(facts, company_id);
    let mut chain = evaluation.scope().steps.clone();
    if let Some(scoped) = evaluation.in_scope() {
        let checks: Vec<Check> = Permission::ALL
            .into_iter()
            .map(|p| scoped.permission(p))
            .chain(scoped.named_pipelines().into_iter().map(|p| scoped.pipeline(p)))
            .collect();
        chain.extend(checks.into_iter().flat_map(|c| c.steps));
    }
    chain.sort_by_key(|s| s.level);
    chain
}

// ---------------------------------------------------------------------------------------------
// What the link sees

const SELECT_VISIBLE_PIPELINES: &str = "SELECT p.id, p.name, p.fields FROM pipelines p WHERE p.id IN (SELECT value FROM json_each(?1)) AND p.archived = 0 ORDER BY p.position, p.name, p.id";
const SELECT_VISIBLE_STAGES: &str = "SELECT pipeline_id, id, name, is_final FROM pipeline_stages \
     WHERE pipeline_id IN (SELECT value FROM json_each(?1)) ORDER BY pipeline_id, position";
const SELECT_VISIBLE_REQUESTS: &str = "SELECT r.id, r.title, r.pipeline_id, r.stage_id, s.name AS stage_name, s.is_final, \
     r.created_at, r.updated_at FROM requests r JOIN pipeline_stages s ON s.pipeline_id = r.pipeline_id AND s.id = r.stage_id \
     WHERE r.company_id = ?1 AND r.pipeline_id IN (SELECT value FROM json_each(?2)) ORDER BY r.created_at DESC, r.id DESC LIMIT 50";
const SELECT_VISIBLE_DOCUMENTS: &str = "SELECT id, title, contact_id, content_type, size, required_action, completed_action, \
     published_at, created_at FROM documents WHERE company_id = ?1 AND status = 'published' AND (contact_id IS NULL OR contact_id = ?2) \
     ORDER BY COALESCE(published_at, created_at) DESC, id DESC LIMIT 50";

#[derive(Debug, Deserialize)]
struct PipelineRow {
    id: Uuid,
    name: String,
    fields: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StageView {
    #[serde(skip_serializing)]
    pipeline_id: Uuid,
    pub id: String,
    pub name: String,
    #[serde(with = "flag")]
    pub is_final: bool,
}

#[derive(Debug, Serialize)]
pub struct PipelineView {
    pub id: Uuid,
    pub name: String,
    pub stages: Vec<StageView>,
    pub fields: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct RequestListRow {
    id: Uuid,
    title: String,
    pipeline_id: Uuid,
    stage_id: String,
    stage_name: String,
    #[serde(with = "flag")]
    is_final: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Serialize)]
pub struct RequestView {
    pub id: Uuid,
    pub title: String,
    pub pipeline_id: Uuid,
    pub status: String,
    pub status_name: String,
    pub open: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize)]
struct DocumentListRow {
    id: Uuid,
    title: String,
    contact_id: Option<Uuid>,
    content_type: String,
    size: i64,
    required_action: String,
    completed_action: Option<String>,
    published_at: Option<i64>,
    created_at: i64,
}

#[derive(Debug, Serialize)]
pub struct DocumentView {
    pub id: Uuid,
    pub title: String,
    pub contact_id: Option<Uuid>,
    pub content_type: String,
    pub size: i64,
    pub required_action: String,
    pub completed_action: Option<String>,
    pub published_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CompanyView {
    pub company_id: Uuid,
    pub company_name: String,
    pub is_default: bool,
    /// False when the link has nothing at this company (see `effective.denied_as_a_whole`).
    pub visible: bool,
    /// The permissions the client has here right now.
    pub permitted_actions: Vec<&'static str>,
    pub pipelines: Vec<PipelineView>,
    /// The latest 50 visible requests, newest first.
    pub requests: Vec<RequestView>,
    /// The latest 50 published documents for this contact or for everyone.
    pub documents: Vec<DocumentView>,
    pub effective: Effective,
}

#[derive(Debug, Serialize)]
pub struct VisibleView {
    pub link_id: Uuid,
    pub contact_id: Uuid,
    pub companies: Vec<CompanyView>,
}

/// Statements per company in the second batch: pipelines, stages, requests, documents.
const PER_COMPANY: usize = 4;

fn take_stages(stages: &mut Vec<StageView>, pipeline: Uuid) -> Vec<StageView> {
    let (mine, rest): (Vec<StageView>, Vec<StageView>) = std::mem::take(stages).into_iter().partition(|s| s.pipeline_id == pipeline);
    *stages = rest;
    mine
}

pub async fn visible<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, link_id: Uuid, company: Option<Uuid>) -> Result<VisibleView, ApiError> {
    let read = read_link(ports, bearer, now, link_id, Vec::new()).await?;
    let facts = &read.facts;
    if let Some(id) = company {
        if !read.gov.sees_company(&id.to_string()) {
            return Err(ApiError::NotFound);
        }
        if facts.company(id).is_none() {
            return Err(ApiError::invalid("company", "the company is not on this link"));
        }
    }
    let scope = visible_scope(facts);
    let shown: Vec<_> = facts
        .companies
        .iter()
        .filter(|c| read.gov.sees_company(&c.id.to_string()) && company.is_none_or(|id| id == c.id))
        .collect();
    let contact = facts.contact.id.to_string();
    let mut stmts = Vec::new();
    for c in &shown {
        let id = c.id.to_string();
        let pipelines = json_ids(scope.pipeline_ids(c.id));
        // A company outside the scope lists nothing: the same filters the client's lists use.
        let company_param = if scope.company(c.id).is_some() { Some(id) } else { None };
        stmts.push(Stmt::new(SELECT_VISIBLE_PIPELINES).bind(pipelines.as_str()));
        stmts.push(Stmt::new(SELECT_VISIBLE_STAGES).bind(pipelines.as_str()));
        stmts.push(Stmt::new(SELECT_VISIBLE_REQUESTS).bind(company_param.clone()).bind(pipelines.as_str()));
        stmts.push(Stmt::new(SELECT_VISIBLE_DOCUMENTS).bind(company_param).bind(contact.as_str()));
    }
    let out = if stmts.is_empty() { Vec::new() } else { ports.db().batch(stmts).await? };
    let mut companies = Vec::new();
    for (i, c) in shown.iter().enumerate() {
        let effective = effective_policy(facts, c.id);
        let mut stages: Vec<StageView> = decode_all(rows(&out, PER_COMPANY * i + 1))?;
        let pipelines = decode_all::<PipelineRow>(rows(&out, PER_COMPANY * i))?
            .into_iter()
            .map(|p| PipelineView {
                id: p.id,
                name: p.name,
                stages: take_stages(&mut stages, p.id),
                fields: serde_json::from_str(&p.fields).unwrap_or_default(),
            })
            .collect();
        let requests = decode_all::<RequestListRow>(rows(&out, PER_COMPANY * i + 2))?
            .into_iter()
            .map(|r| RequestView {
                id: r.id,
                title: r.title,
                pipeline_id: r.pipeline_id,
                status: r.stage_id,
                status_name: r.stage_name,
                open: !r.is_final,
                created_at: rfc3339(r.created_at),
                updated_at: rfc3339(r.updated_at),
            })
            .collect();
        let documents = decode_all::<DocumentListRow>(rows(&out, PER_COMPANY * i + 3))?
            .into_iter()
            .filter(|d| scope.shows_document(&DocumentFacts { id: d.id, company_id: c.id, contact_id: d.contact_id, published: true }))
            .map(|d| DocumentView {
                id: d.id,
                title: d.title,
                contact_id: d.contact_id,
                content_type: d.content_type,
                size: d.size,
                required_action: d.required_action,
                completed_action: d.completed_action,
                published_at: Some(rfc3339(d.published_at.unwrap_or(d.created_at))),
            })
            .collect();
        companies.push(CompanyView {
            company_id: c.id,
            company_name: c.name.clone(),
            is_default: c.id == facts.link.default_company_id,
            visible: scope.company(c.id).is_some(),
            permitted_actions: Permission::ALL.into_iter().filter(|p| effective.allows(*p)).map(Permission::as_str).collect(),
            pipelines,
            requests,
            documents,
            effective,
        });
    }
    Ok(VisibleView { link_id: read.link.id, contact_id: facts.contact.id, companies })
}
