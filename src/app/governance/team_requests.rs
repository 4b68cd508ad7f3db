//! The team's side of requests and chats: the request list across the employee's companies, a
//! request with its pipeline's stages, moving it to another stage (audited), replying in its
//! thread and in a company's general chat. Managers work only in their companies: anything
//! outside answers 404. Team messages carry author kind `employee`.

use crate::app::kit::error::Conflict;
use crate::app::kit::messages::{general_stmt, MessageInput, MessageView, SELECT_MESSAGE, message_body, message_page, message_view, thread_stmt, ThreadOrder};
use crate::app::kit::requests::governed_request;
use crate::app::kit::requests::{RequestRow, RequestView, SELECT_REQUEST, request_row, request_select};
use crate::app::kit::pipelines::Stage;
use crate::app::kit::page::encode_time_cursor;
use crate::app::kit::page::{ListOptions, Page, newest_first_bound};
use crate::app::kit::rows::{changes, first_row, rows};
use crate::app::kit::time::rfc3339;
use crate::app::kit::sql::{employee_alive, company_in_scope};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode_all, Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

// One index range per company in scope (requests_by_company), each cut at the page size. ?1
// company, ?2 the employee, ?3 pipeline, ?4 stage, ?5 open (1/0), ?6/?7 cursor bound, ?8 limit.
const LIST_TEAM_REQUESTS: &str = request_select!(
    "WHERE r.id IN (SELECT j.value FROM (SELECT co.id AS cid FROM companies co WHERE (?1 IS NULL OR co.id = ?1) AND ",
    company_in_scope!(2, "co.id"),
    ") cs, json_each((SELECT json_group_array(id) FROM (SELECT x.id FROM requests x WHERE x.company_id = cs.cid \
     AND (?3 IS NULL OR x.pipeline_id = ?3) AND (?4 IS NULL OR x.stage_id = ?4) \
     AND (?5 IS NULL OR EXISTS (SELECT 1 FROM pipeline_stages xs WHERE xs.pipeline_id = x.pipeline_id AND xs.id = x.stage_id AND xs.is_final <> ?5)) \
     AND (?9 IS NULL OR (x.waiting_since IS NOT NULL) = ?9) \
     AND (x.activity_at, x.id) < (?6, ?7) ORDER BY x.activity_at DESC, x.id DESC LIMIT ?8))) j) \
     ORDER BY r.activity_at DESC, r.id DESC LIMIT ?8"
);
const SELECT_STAGES: &str = "SELECT s.id, s.name, s.is_final FROM pipeline_stages s \
     WHERE s.pipeline_id = (SELECT pipeline_id FROM requests WHERE id = ?1) ORDER BY s.position";

/// The status change's guard, written first: the audit event exists only when the employee is
/// alive and in scope and the request is still in the stage the decision saw. ?14 session,
/// ?15 request, ?16 company, ?17 the stage seen; ?2 now, ?4 the employee.
const INSERT_STATUS_EVENT: AuditGuard = audit_guard!(
    "",
    employee_alive!(14, 2),
    " AND ",
    company_in_scope!(4, "?16"),
    " AND EXISTS (SELECT 1 FROM requests WHERE id = ?15 AND company_id = ?16 AND stage_id = ?17)"
);
const UPDATE_STATUS: &str =
    "UPDATE requests SET stage_id = ?1, updated_at = ?2 WHERE id = ?3 AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";

// ?1 id, ?2 company, ?3 request (NULL: general chat), ?4 employee, ?5 body, ?6 now, ?7 session.
const INSERT_TEAM_MESSAGE: &str = concat!(
    "INSERT INTO messages (id, company_id, request_id, author_kind, author_user_id, body, created_at) \
     SELECT ?1, ?2, ?3, 'employee', ?4, ?5, ?6 WHERE ",
    employee_alive!(7, 6),
    " AND ",
    company_in_scope!(4, "?2")
);
const SELECT_COMPANY: &str = "SELECT id FROM companies WHERE id = ?1";

/// A request as the team sees it: the client's view, who created it, and the pipeline's stages
/// (the statuses it can move to).
#[derive(Debug, Serialize)]
pub struct TeamRequestView {
    #[serde(flatten)]
    pub request: RequestView,
    pub created_by: Option<String>,
    pub created_by_name: Option<String>,
    pub created_by_kind: Option<String>,
    /// The latest message, or the creation: the inbox's order.
    pub activity_at: String,
    /// The client side wrote last (or created the request) and the team has not answered yet.
    pub waiting_for_team: bool,
    pub waiting_since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
}

fn team_view(row: RequestRow, stages: Option<Vec<Stage>>) -> Result<TeamRequestView, ApiError> {
    let (created_by, created_by_name, created_by_kind) = (row.created_by.clone(), row.created_by_name.clone().filter(|n| !n.is_empty()), row.created_by_kind.clone());
    let (activity_at, waiting_since) = (rfc3339(row.activity_at), row.waiting_since.map(rfc3339));
    Ok(TeamRequestView { request: row.try_into()?, created_by, created_by_name, created_by_kind, activity_at, waiting_for_team: waiting_since.is_some(), waiting_since, stages })
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct TeamFilter {
    pub company: Option<Uuid>,
    pub pipeline: Option<Uuid>,
    pub status: Option<String>,
    pub open: Option<bool>,
    /// Only requests waiting for the team (true) or only those the team answered last (false).
    pub waiting: Option<bool>,
    pub list: ListOptions,
}

pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, f: &TeamFilter) -> Result<Page<TeamRequestView>, ApiError> {
    let (at, id) = newest_first_bound(f.list.cursor.clone());
    let stmt = Stmt::new(LIST_TEAM_REQUESTS)
        .bind(f.company.map(|c| c.to_string()))
        .bind(bearer.claims.sub.as_str())
        .bind(f.pipeline.map(|p| p.to_string()))
        .bind(f.status.clone())
        .bind(f.open.map(i64::from))
        .bind(at)
        .bind(id)
        .bind(f.list.limit + 1)
        .bind(f.waiting.map(i64::from));
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), stmt]).await?;
    let governor = Governor::from_check(bearer, out.first())?;
    if f.company.is_some_and(|c| !governor.sees_company(&c.to_string())) {
        return Err(ApiError::NotFound);
    }
    // Newest activity first: a request that moves while the employee pages may show twice or move
    // up past the cursor; the inbox is a live view, not a ledger.
    let page = Page::of(decode_all::<RequestRow>(rows(&out, 1))?, f.list.limit, |r: &RequestRow| encode_time_cursor(r.activity_at, &r.id.to_string()));
    page.try_map(|r| team_view(r, None))
}

pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: Uuid) -> Result<TeamRequestView, ApiError> {
    let out = ports
        .db()
        .batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_REQUEST).bind(id.to_string()), Stmt::new(SELECT_STAGES).bind(id.to_string())])
        .await?;
    let (_, request) = governed_request(bearer, &out)?;
    let stages: Vec<Stage> = decode_all(rows(&out, 2))?;
    team_view(request, Some(stages))
}

/// `{status: <stage id>}`.
#[derive(Debug, Deserialize)]
pub struct StatusInput {
    pub status: String,
}

/// Moves the request to another stage of its pipeline (400 naming `status` for any other value);
/// audited with the stage before and after. Moving it to the stage it is in changes nothing.
pub async fn set_status<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, id: Uuid, input: StatusInput) -> Result<TeamRequestView, ApiError> {
    let out = ports
        .db()
        .batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_REQUEST).bind(id.to_string()), Stmt::new(SELECT_STAGES).bind(id.to_string())])
        .await?;
    let (governor, request) = governed_request(bearer, &out)?;
    let stages: Vec<Stage> = decode_all(rows(&out, 2))?;
    let wanted = input.status.trim();
    let Some(stage) = stages.iter().find(|s| s.id == wanted) else {
        let ids: Vec<&str> = stages.iter().map(|s| s.id.as_str()).collect();
        return Err(ApiError::invalid("status", format!("status must be a stage of the request's pipeline: {}", ids.join(", "))));
    };
    if stage.id == request.stage_id {
        return team_view(request, Some(stages));
    }
    let t = now.timestamp();
    let company = request.company_id.to_string();
    let event_id = new_id(ports, now)?;
    let event = Event::new("request.status_changed", ActorKind::Employee, Some(governor.user_id()))
        .target("request", &request.id.to_string())
        .companies(vec![company.clone()])
        .details(json!({
            "pipeline_id": request.pipeline_id,
            "from": request.stage_id, "to": stage.id,
            "was_open": !request.is_final, "is_open": !stage.is_final,
        }));
    let guard = event.insert_if(&event_id, client, t, INSERT_STATUS_EVENT);
    let guard = guard.bind(governor.principal.session_id.as_str()).bind(request.id.to_string()).bind(company).bind(request.stage_id.as_str());
    let out = ports
        .db()
        .batch(vec![
            guard,
            Stmt::new(UPDATE_STATUS).bind(stage.id.as_str()).bind(t).bind(request.id.to_string()).bind(event_id.as_str()),
            Stmt::new(SELECT_REQUEST).bind(id.to_string()),
            crate::app::kit::outbox::status_change_stmt(ports, now, &request.id.to_string(), &event_id)?,
        ])
        .await?;
    if changes(&out, 0) != 1 || changes(&out, 1) != 1 {
        return Err(ApiError::conflict(Conflict::RequestChanged));
    }
    let updated = request_row(first_row(&out, 2))?.ok_or_else(|| ApiError::internal("request vanished after update"))?;
    team_view(updated, Some(stages))
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

pub async fn list_thread<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: Uuid, list: &ListOptions, order: ThreadOrder) -> Result<Page<MessageView>, ApiError> {
    let out = ports
        .db()
        .batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_REQUEST).bind(id.to_string()), thread_stmt(id, list, order)])
        .await?;
    governed_request(bearer, &out)?;
    message_page(rows(&out, 2), list.limit, true)
}

pub async fn post_to_thread<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: Uuid, input: MessageInput) -> Result<MessageView, ApiError> {
    let body = message_body(&input)?;
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_REQUEST).bind(id.to_string())]).await?;
    let (governor, request) = governed_request(bearer, &out)?;
    insert(ports, &governor, now, request.company_id, Some(request.id), body).await
}

async fn insert<P: Ports>(ports: &P, governor: &Governor, now: DateTime<Utc>, company: Uuid, request: Option<Uuid>, body: String) -> Result<MessageView, ApiError> {
    let id = new_id(ports, now)?;
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(INSERT_TEAM_MESSAGE)
                .bind(id.as_str())
                .bind(company.to_string())
                .bind(request.map(|r| r.to_string()))
                .bind(governor.user_id())
                .bind(body)
                .bind(now.timestamp())
                .bind(governor.principal.session_id.as_str()),
            Stmt::new(SELECT_MESSAGE).bind(id.as_str()),
            crate::app::kit::outbox::team_message_stmt(ports, now, &id)?,
            crate::app::kit::requests::touch_request_stmt(&id, now.timestamp()),
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::Unauthenticated);
    }
    message_view(first_row(&out, 1), true)
}

/// The company of a team chat route: it must exist and be in the employee's scope (else 404).
fn governed_company(bearer: &Bearer, out: &[Outcome], company: Uuid) -> Result<Governor, ApiError> {
    let governor = Governor::from_check(bearer, out.first())?;
    if first_row(out, 1).is_none() || !governor.sees_company(&company.to_string()) {
        return Err(ApiError::NotFound);
    }
    Ok(governor)
}

pub async fn list_general<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company: Uuid, list: &ListOptions, order: ThreadOrder) -> Result<Page<MessageView>, ApiError> {
    let out = ports
        .db()
        .batch(vec![
            Governor::check_stmt(bearer, now),
            Stmt::new(SELECT_COMPANY).bind(company.to_string()),
            general_stmt(Some(company), None, list, order),
        ])
        .await?;
    governed_company(bearer, &out, company)?;
    message_page(rows(&out, 2), list.limit, true)
}

pub async fn post_general<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company: Uuid, input: MessageInput) -> Result<MessageView, ApiError> {
    let body = message_body(&input)?;
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_COMPANY).bind(company.to_string())]).await?;
    let governor = governed_company(bearer, &out, company)?;
    insert(ports, &governor, now, company, None, body).await
}
