//! The client's requests: the pipelines the effective policy allows (with stages and request
//! fields), the visible requests (filtered in SQL by the token's scope, one round trip), creating
//! a request (fields validated against its pipeline) and reading one. Also what the other
//! request-area modules share: the request row and views, keyset cursors and the client write guard.

use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::meta::ClientMeta;
use crate::app::kit::client_gate::{client_of, company_or_default, scope_or_empty};
use crate::app::kit::requests::{RequestRow, RequestView, SELECT_REQUEST, request_row, request_select, visible_request};
use crate::app::kit::pipelines::{FieldType, RequestField, Stage};
use crate::app::kit::page::encode_time_cursor;
use crate::app::kit::page::{newest_first_bound, ListOptions, Page};
use crate::app::kit::rows::{changes, first_row, rows};
use crate::app::kit::text::required_multiline;
use crate::app::kit::sql::{client_alive};
use crate::app::kit::client_gate::{gate_stmts, token_scope, GATE_STMT_COUNT};
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::decision::{Action, Object};
use crate::store::{decode, decode_all, Row, Sql, Stmt};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 10_000;
pub const TEXT_FIELD_MAX: usize = 2_000;

// ---------------------------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// The request row and its views
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// GET /api/pipelines?company=
// ---------------------------------------------------------------------------------------------

const SELECT_PIPELINES: &str = "SELECT p.id, p.name, p.fields, \
     (SELECT json_group_array(json_object('id', s.id, 'name', s.name, 'is_final', s.is_final)) \
       FROM (SELECT id, name, is_final FROM pipeline_stages WHERE pipeline_id = p.id ORDER BY position) s) AS stages \
     FROM pipelines p WHERE p.archived = 0 AND p.id IN (SELECT value FROM json_each(?1)) ORDER BY p.position, p.name, p.id";
const SELECT_PIPELINE: &str = "SELECT p.id, p.name, p.fields, \
     (SELECT json_group_array(json_object('id', s.id, 'name', s.name, 'is_final', s.is_final)) \
       FROM (SELECT id, name, is_final FROM pipeline_stages WHERE pipeline_id = p.id ORDER BY position) s) AS stages \
     FROM pipelines p WHERE p.id = ?1";

#[derive(Debug, Deserialize)]
struct PipelineRow {
    id: Uuid,
    name: String,
    fields: String,
    stages: String,
}

/// A pipeline the client may use at a company, with its stages in order and its request fields.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineView {
    pub id: String,
    pub name: String,
    pub company_id: String,
    pub stages: Vec<Stage>,
    pub fields: Vec<RequestField>,
    /// Whether the client may create requests here (create_requests at that company).
    pub can_create: bool,
}

#[derive(Debug, Serialize)]
pub struct PipelineList {
    pub company_id: String,
    pub items: Vec<PipelineView>,
}

fn parse_pipeline(row: Row) -> Result<(Uuid, String, Vec<Stage>, Vec<RequestField>), ApiError> {
    let r: PipelineRow = decode(row)?;
    let stages = serde_json::from_str(&r.stages).map_err(|e| ApiError::internal(format!("pipeline stages: {e}")))?;
    let fields = serde_json::from_str(&r.fields).map_err(|e| ApiError::internal(format!("pipeline fields: {e}")))?;
    Ok((r.id, r.name, stages, fields))
}

pub async fn pipelines<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company: Option<Uuid>) -> Result<PipelineList, ApiError> {
    let scope = scope_or_empty(bearer);
    let all: Vec<Uuid> = scope.companies.iter().flat_map(|c| c.pipeline_ids.iter().copied()).collect();
    let all_json = serde_json::to_string(&all).map_err(|e| ApiError::internal(format!("pipelines: {e}")))?;
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_PIPELINES).bind(all_json));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    let company_id = company_or_default(&client, company);
    client.check(Action::View, &Object::Company(company_id))?;
    let mut items = Vec::new();
    for row in rows(&out, GATE_STMT_COUNT) {
        let (id, name, stages, fields) = parse_pipeline(row)?;
        if client.check(Action::View, &Object::Pipeline { company_id, pipeline_id: id }).is_err() {
            continue;
        }
        let can_create = client.check(Action::CreateRequest, &Object::Pipeline { company_id, pipeline_id: id }).is_ok();
        items.push(PipelineView { id: id.to_string(), name, company_id: company_id.to_string(), stages, fields, can_create });
    }
    Ok(PipelineList { company_id: company_id.to_string(), items })
}

// ---------------------------------------------------------------------------------------------
// GET /api/requests?company=&pipeline=&status=&open=
// ---------------------------------------------------------------------------------------------

// One index range per visible (company, pipeline) pair, each cut at the page size, then merged:
// the cost follows the page, not the number of requests. ?1 pairs, ?2 stage, ?3 open (1/0),
// ?4/?5 the cursor bound, ?6 limit.
const LIST_REQUESTS: &str = request_select!(
    "WHERE r.id IN (SELECT j.value FROM json_each(?1) v, json_each((SELECT json_group_array(id) FROM (SELECT x.id FROM requests x \
     WHERE x.company_id = v.value ->> 0 AND x.pipeline_id = v.value ->> 1 AND (?2 IS NULL OR x.stage_id = ?2) \
     AND (?3 IS NULL OR EXISTS (SELECT 1 FROM pipeline_stages xs WHERE xs.pipeline_id = x.pipeline_id AND xs.id = x.stage_id AND xs.is_final <> ?3)) \
     AND (x.created_at, x.id) < (?4, ?5) ORDER BY x.created_at DESC, x.id DESC LIMIT ?6))) j) \
     ORDER BY r.created_at DESC, r.id DESC LIMIT ?6"
);

#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub company: Option<Uuid>,
    pub pipeline: Option<Uuid>,
    pub status: Option<String>,
    pub open: Option<bool>,
    pub list: ListOptions,
}

pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, f: &RequestFilter) -> Result<Page<RequestView>, ApiError> {
    let carried = token_scope(bearer);
    let scope = scope_or_empty(bearer);
    // A company that is not visible answers 404, after the session check (so a stale token
    // still hears token_stale first).
    let hidden_company = f.company.is_some_and(|c| scope.company(c).is_none());
    let pairs: Vec<[String; 2]> = scope
        .companies
        .iter()
        .filter(|c| f.company.is_none_or(|want| want == c.company_id))
        .flat_map(|c| c.pipeline_ids.iter().map(move |p| (c.company_id, *p)))
        .filter(|(_, p)| f.pipeline.is_none_or(|want| want == *p))
        .map(|(c, p)| [c.to_string(), p.to_string()])
        .collect();
    let pairs = serde_json::to_string(&pairs).map_err(|e| ApiError::internal(format!("pairs: {e}")))?;
    let (at, id) = newest_first_bound(f.list.cursor.clone());
    let list = Stmt::new(LIST_REQUESTS)
        .bind(pairs)
        .bind(f.status.clone())
        .bind(f.open.map(i64::from))
        .bind(at)
        .bind(id)
        .bind(f.list.limit + 1);
    let out = ports.db().batch(vec![bearer.check_stmt(now), list]).await?;
    let principal = bearer.full_principal(out.first())?;
    if principal.employee {
        return Err(ApiError::Forbidden);
    }
    carried?;
    if hidden_company {
        return Err(ApiError::NotFound);
    }
    let page = Page::of(decode_all::<RequestRow>(rows(&out, 1))?, f.list.limit, |r: &RequestRow| encode_time_cursor(r.created_at, &r.id.to_string()));
    page.try_map(RequestView::try_from)
}

// ---------------------------------------------------------------------------------------------
// GET /api/requests/{id}
// ---------------------------------------------------------------------------------------------

pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: Uuid) -> Result<RequestView, ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_REQUEST).bind(id.to_string()));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    visible_request(&client, first_row(&out, GATE_STMT_COUNT), Action::View)?.try_into()
}

// ---------------------------------------------------------------------------------------------
// POST /api/requests
// ---------------------------------------------------------------------------------------------

/// `{company_id, pipeline_id, title, description, fields?}`.
#[derive(Debug, Deserialize)]
pub struct NewRequestInput {
    pub company_id: Uuid,
    pub pipeline_id: Uuid,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub fields: Option<Map<String, Value>>,
}

/// Checks the values against the pipeline's request fields: a required field must be there, and
/// each value must have its field's type (text, number, date as YYYY-MM-DD, one of the choices).
/// Keys the pipeline does not declare are dropped, like unknown JSON fields anywhere else.
pub fn validate_fields(defs: &[RequestField], given: Option<&Map<String, Value>>) -> Result<Map<String, Value>, ApiError> {
    let mut clean = Map::new();
    for def in defs {
        let name = format!("fields.{}", def.key);
        let value = given.and_then(|g| g.get(&def.key)).filter(|v| !v.is_null());
        let value = match value {
            Some(Value::String(s)) if s.trim().is_empty() => None,
            other => other,
        };
        let Some(value) = value else {
            if def.required {
                return Err(ApiError::invalid(name, format!("{} is required", def.label)));
            }
            continue;
        };
        let stored = match def.kind {
            FieldType::Text => {
                let text = value.as_str().ok_or_else(|| ApiError::invalid(&name, format!("{} must be text", def.label)))?;
                Value::String(required_multiline(&name, text, TEXT_FIELD_MAX)?)
            }
            FieldType::Number => match value {
                Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => value.clone(),
                _ => return Err(ApiError::invalid(name, format!("{} must be a number", def.label))),
            },
            FieldType::Date => {
                let text = value.as_str().map(str::trim).unwrap_or_default();
                let valid = text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok();
                if !valid {
                    return Err(ApiError::invalid(name, format!("{} must be a date like 2026-01-31", def.label)));
                }
                Value::String(text.to_owned())
            }
            FieldType::Choice => {
                let text = value.as_str().map(str::trim).unwrap_or_default();
                let choices = def.choices.as_deref().unwrap_or_default();
                if !choices.iter().any(|c| c == text) {
                    return Err(ApiError::invalid(name, format!("{} must be one of: {}", def.label, choices.join(", "))));
                }
                Value::String(text.to_owned())
            }
        };
        clean.insert(def.key.clone(), stored);
    }
    Ok(clean)
}

// ?1 id, ?2 company, ?3 pipeline, ?4 title, ?5 description, ?6 fields, ?7 user, ?8 now, ?9 session,
// ?10 policy version. The first stage is read inside the write, so it is the pipeline's current one.
// A client's new request waits for the team from its creation.
const INSERT_REQUEST: &str = concat!(
    "INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, description, fields, created_by, created_at, updated_at, activity_at, waiting_since) \
     SELECT ?1, ?2, ?3, (SELECT id FROM pipeline_stages WHERE pipeline_id = ?3 ORDER BY position LIMIT 1), ?4, ?5, ?6, ?7, ?8, ?8, ?8, ?8 \
     WHERE EXISTS (SELECT 1 FROM pipelines WHERE id = ?3 AND archived = 0) \
     AND EXISTS (SELECT 1 FROM pipeline_stages WHERE pipeline_id = ?3) AND ",
    client_alive!(9, 10, 8)
);

const REQUEST_WRITTEN: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM requests WHERE id = ?14)");

pub async fn create<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, input: NewRequestInput) -> Result<RequestView, ApiError> {
    let title = required_multiline("title", &input.title, TITLE_MAX)?;
    let description = input.description.trim().to_owned();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(ApiError::invalid("description", format!("description must be at most {DESCRIPTION_MAX} characters")));
    }
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_PIPELINE).bind(input.pipeline_id.to_string()));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    client.check(Action::CreateRequest, &Object::Pipeline { company_id: input.company_id, pipeline_id: input.pipeline_id })?;
    // Allowed implies the pipeline exists (the engine treats an unknown pipeline as not allowed).
    let (_, _, _, defs) = parse_pipeline(first_row(&out, GATE_STMT_COUNT).ok_or(ApiError::NotFound)?)?;
    let fields = validate_fields(&defs, input.fields.as_ref())?;
    let fields = serde_json::to_string(&fields).map_err(|e| ApiError::internal(format!("fields: {e}")))?;
    let id = new_id(ports, now)?;
    let t = now.timestamp();
    // The client's own action in the audit, written exactly when the request was.
    let event = client.event("request.created", input.company_id, json!({"request_id": id, "pipeline_id": input.pipeline_id, "title": title}));
    let audit = event.insert_if(&new_id(ports, now)?, meta, t, REQUEST_WRITTEN).bind(id.as_str());
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(INSERT_REQUEST)
                .bind(id.as_str())
                .bind(input.company_id.to_string())
                .bind(input.pipeline_id.to_string())
                .bind(title)
                .bind(description)
                .bind(fields)
                .bind(client.user_id())
                .bind(t)
                .bind(client.principal.session_id.as_str())
                .bind(client.principal.policy_version),
            Stmt::new(SELECT_REQUEST).bind(id.as_str()),
            audit,
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::TokenStale);
    }
    request_row(first_row(&out, 1))?.ok_or_else(|| ApiError::internal("request vanished after insert"))?.try_into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(key: &str, kind: FieldType, required: bool, choices: Option<Vec<&str>>) -> RequestField {
        RequestField {
            key: key.into(),
            label: key.into(),
            kind,
            required,
            choices: choices.map(|c| c.into_iter().map(str::to_owned).collect()),
        }
    }

    fn defs() -> Vec<RequestField> {
        vec![
            field("summary", FieldType::Text, true, None),
            field("budget", FieldType::Number, false, None),
            field("due", FieldType::Date, false, None),
            field("size", FieldType::Choice, false, Some(vec!["S", "M", "L"])),
        ]
    }

    fn field_error(given: Value) -> String {
        match validate_fields(&defs(), given.as_object()) {
            Err(ApiError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn valid_fields_are_kept_and_unknown_keys_dropped() {
        let clean = validate_fields(&defs(), json!({"summary": " Roof ", "budget": 12.5, "due": "2026-02-28", "size": "M", "x": 1}).as_object()).unwrap();
        assert_eq!(Value::Object(clean), json!({"summary": "Roof", "budget": 12.5, "due": "2026-02-28", "size": "M"}));
    }

    #[test]
    fn each_wrong_value_names_its_field() {
        assert_eq!(field_error(json!({})), "fields.summary");
        assert_eq!(field_error(json!({"summary": "   "})), "fields.summary");
        assert_eq!(field_error(json!({"summary": 5})), "fields.summary");
        assert_eq!(field_error(json!({"summary": "a", "budget": "12"})), "fields.budget");
        assert_eq!(field_error(json!({"summary": "a", "due": "2026-02-30"})), "fields.due");
        assert_eq!(field_error(json!({"summary": "a", "due": "2026-2-3"})), "fields.due");
        assert_eq!(field_error(json!({"summary": "a", "size": "XL"})), "fields.size");
    }
}
