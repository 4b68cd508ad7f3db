//! Portal calls: a client with `calls` starts one on a visible request or in a company's general
//! channel, and gets a join URL made from CALLS_URL_TEMPLATE with a random room (128 bits, hex);
//! the client lists the calls of the threads it can see; the team starts calls on its companies'
//! requests or general channels and lists its companies' calls.

use crate::app::kit::client_gate::{client_of, company_or_default, scope_or_empty};
use crate::app::kit::requests::{SELECT_REQUEST, visible_request};
use crate::app::kit::page::encode_time_cursor;
use crate::app::kit::page::{ListOptions, Page, newest_first_bound};
use crate::app::kit::rows::{changes, first_row, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{company_in_scope, client_alive, employee_alive};
use crate::app::kit::client_gate::{gate_stmts, GATE_STMT_COUNT};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::decision::{Action, Object};
use crate::store::{decode, decode_all, Row, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! call_select {
    ($($rest:tt)*) => {
        concat!(
            "SELECT c.id, c.company_id, c.request_id, r.title AS request_title, c.join_url, c.status, c.created_at, c.ended_at, \
             trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')) AS created_by_name \
             FROM calls c LEFT JOIN requests r ON r.id = c.request_id LEFT JOIN users u ON u.id = c.created_by ",
            $($rest)*
        )
    };
}

const SELECT_CALL: &str = call_select!("WHERE c.id = ?1");
/// The client's calls at ?1 (or link ?2's default company): the general channel's, and those of
/// requests whose (company, pipeline) is in the token's pairs ?3. ?4/?5 cursor, ?6 limit.
const LIST_CLIENT_CALLS: &str = call_select!(
    "WHERE c.company_id = coalesce(?1, (SELECT default_company_id FROM links WHERE id = ?2)) \
     AND (c.request_id IS NULL OR EXISTS (SELECT 1 FROM json_each(?3) v WHERE v.value ->> 0 = r.company_id AND v.value ->> 1 = r.pipeline_id)) \
     AND (c.created_at, c.id) < (?4, ?5) ORDER BY c.created_at DESC, c.id DESC LIMIT ?6"
);
/// The team's calls: ?1 company filter, ?2 the employee (their scope), ?3/?4 cursor, ?5 limit.
const LIST_TEAM_CALLS: &str = call_select!(
    "WHERE (?1 IS NULL OR c.company_id = ?1) AND ",
    company_in_scope!(2, "c.company_id"),
    " AND (c.created_at, c.id) < (?3, ?4) ORDER BY c.created_at DESC, c.id DESC LIMIT ?5"
);
// ?1 id, ?2 company, ?3 request, ?4 room, ?5 join url, ?6 user, ?7 now, ?8 session, ?9 policy version.
const INSERT_CALL: &str = concat!(
    "INSERT INTO calls (id, company_id, request_id, room, join_url, status, created_by, created_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7 WHERE ",
    client_alive!(8, 9, 7)
);

// ?1 id, ?2 company, ?3 request, ?4 room, ?5 join url, ?6 employee, ?7 now, ?8 session: the
// employee is alive and governs the company, and the request (when given) is that company's.
const INSERT_TEAM_CALL: &str = concat!(
    "INSERT INTO calls (id, company_id, request_id, room, join_url, status, created_by, created_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7 WHERE ",
    employee_alive!(8, 7),
    " AND ",
    company_in_scope!(6, "?2"),
    " AND (?3 IS NULL OR EXISTS (SELECT 1 FROM requests rq WHERE rq.id = ?3 AND rq.company_id = ?2))"
);
const SELECT_COMPANY: &str = "SELECT id FROM companies WHERE id = ?1";
const SELECT_REQUEST_COMPANY: &str = "SELECT company_id FROM requests WHERE id = ?1";

#[derive(Debug, Deserialize)]
struct CallRow {
    id: Uuid,
    company_id: Uuid,
    request_id: Option<Uuid>,
    request_title: Option<String>,
    join_url: String,
    status: String,
    created_at: i64,
    ended_at: Option<i64>,
    created_by_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub id: String,
    pub company_id: String,
    pub request_id: Option<String>,
    pub request_title: Option<String>,
    pub join_url: String,
    pub status: String,
    pub created_by_name: Option<String>,
    pub created_at: String,
    pub ended_at: Option<String>,
}

impl From<CallRow> for CallView {
    fn from(c: CallRow) -> Self {
        CallView {
            id: c.id.to_string(),
            company_id: c.company_id.to_string(),
            request_id: c.request_id.map(|r| r.to_string()),
            request_title: c.request_title,
            join_url: c.join_url,
            status: c.status,
            created_by_name: c.created_by_name.filter(|n| !n.is_empty()),
            created_at: rfc3339(c.created_at),
            ended_at: c.ended_at.map(rfc3339),
        }
    }
}

fn call_page(rows: Vec<Row>, limit: u32) -> Result<Page<CallView>, ApiError> {
    let page = Page::of(decode_all::<CallRow>(rows)?, limit, |c: &CallRow| encode_time_cursor(c.created_at, &c.id.to_string()));
    page.try_map(|c| Ok(CallView::from(c)))
}

/// `{company_id, request_id?}`.
#[derive(Debug, Deserialize)]
pub struct NewCallInput {
    pub company_id: Uuid,
    #[serde(default)]
    pub request_id: Option<Uuid>,
}

/// The join URL for a room: the template with `{room}` replaced (the config checked it is there).
pub fn join_url(template: &str, room: &str) -> String {
    template.replace("{room}", room)
}

/// A fresh room (128 random bits, hex: unguessable, so the URL is the invitation) and its join URL.
fn new_room<P: Ports>(ports: &P, url_template: &str) -> Result<(String, String), ApiError> {
    let room_bytes: [u8; 16] = secret_bytes(ports)?;
    let room: String = room_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let url = join_url(url_template, &room);
    Ok((room, url))
}

pub async fn create<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, url_template: &str, input: NewCallInput) -> Result<CallView, ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_REQUEST).bind(input.request_id.map(|r| r.to_string())));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    match input.request_id {
        Some(_) => {
            let request = visible_request(&client, first_row(&out, GATE_STMT_COUNT), Action::View)?;
            // A request of another company is not a thread of this one.
            if request.company_id != input.company_id {
                return Err(ApiError::NotFound);
            }
            client.check(Action::Calls, &request.object())?;
        }
        None => client.check(Action::Calls, &Object::Company(input.company_id))?,
    }
    let (room, url) = new_room(ports, url_template)?;
    let id = new_id(ports, now)?;
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(INSERT_CALL)
                .bind(id.as_str())
                .bind(input.company_id.to_string())
                .bind(input.request_id.map(|r| r.to_string()))
                .bind(room)
                .bind(url)
                .bind(client.user_id())
                .bind(now.timestamp())
                .bind(client.principal.session_id.as_str())
                .bind(client.principal.policy_version),
            Stmt::new(SELECT_CALL).bind(id.as_str()),
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::TokenStale);
    }
    let row = first_row(&out, 1).ok_or_else(|| ApiError::internal("call vanished after insert"))?;
    Ok(decode::<CallRow>(row)?.into())
}

/// `POST /api/admin/calls`: an employee starts a call on a request or in a company's general channel
/// of their companies (404 for anything outside them, as for every team read).
pub async fn team_create<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, url_template: &str, input: NewCallInput) -> Result<CallView, ApiError> {
    let company = input.company_id.to_string();
    let request = input.request_id.map(|r| r.to_string());
    let out = ports
        .db()
        .batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_COMPANY).bind(company.as_str()), Stmt::new(SELECT_REQUEST_COMPANY).bind(request.clone())])
        .await?;
    let governor = Governor::from_check(bearer, out.first())?;
    if first_row(&out, 1).is_none() || !governor.sees_company(&company) {
        return Err(ApiError::NotFound);
    }
    if request.is_some() {
        // A request of another company is not a thread of this one.
        let of = first_row(&out, 2).and_then(|r| r.get("company_id").and_then(|v| v.as_str()).map(str::to_owned));
        if of.as_deref() != Some(company.as_str()) {
            return Err(ApiError::NotFound);
        }
    }
    let (room, url) = new_room(ports, url_template)?;
    let id = new_id(ports, now)?;
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(INSERT_TEAM_CALL)
                .bind(id.as_str())
                .bind(company.as_str())
                .bind(request)
                .bind(room)
                .bind(url)
                .bind(bearer.claims.sub.as_str())
                .bind(now.timestamp())
                .bind(bearer.claims.sid.as_str()),
            Stmt::new(SELECT_CALL).bind(id.as_str()),
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::TokenStale);
    }
    let row = first_row(&out, 1).ok_or_else(|| ApiError::internal("call vanished after insert"))?;
    Ok(decode::<CallRow>(row)?.into())
}

/// The calls of the threads the client sees at a company (default: the link's default company);
/// listing needs `calls` there.
pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company: Option<Uuid>, list: &ListOptions) -> Result<Page<CallView>, ApiError> {
    let pairs = scope_or_empty(bearer).request_pairs_json();
    let (at, id) = newest_first_bound(list.cursor.clone());
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(
        Stmt::new(LIST_CLIENT_CALLS)
            .bind(company.map(|c| c.to_string()))
            .bind(bearer.claims.lid.clone())
            .bind(pairs)
            .bind(at)
            .bind(id)
            .bind(list.limit + 1),
    );
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    client.check(Action::Calls, &Object::Company(company_or_default(&client, company)))?;
    call_page(rows(&out, GATE_STMT_COUNT), list.limit)
}

/// `GET /api/admin/calls?company=`: a manager outside their companies gets 404.
pub async fn team_list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company: Option<Uuid>, list: &ListOptions) -> Result<Page<CallView>, ApiError> {
    let (at, id) = newest_first_bound(list.cursor.clone());
    let out = ports
        .db()
        .batch(vec![
            Governor::check_stmt(bearer, now),
            Stmt::new(LIST_TEAM_CALLS).bind(company.map(|c| c.to_string())).bind(bearer.claims.sub.as_str()).bind(at).bind(id).bind(list.limit + 1),
        ])
        .await?;
    let governor = Governor::from_check(bearer, out.first())?;
    if company.is_some_and(|c| !governor.sees_company(&c.to_string())) {
        return Err(ApiError::NotFound);
    }
    call_page(rows(&out, 1), list.limit)
}
