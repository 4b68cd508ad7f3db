//! The request row and who may see it: the one SELECT every request route starts from, its views,
//! and the checks that a client (by the access decision) or an employee (by scope) may see it.

use crate::access::decision::{Action, Object};
use crate::access::facts::RequestFacts;
use crate::app::kit::client_gate::Client;
use crate::app::kit::governor::Governor;
use crate::app::kit::rows::first_row;
use crate::app::kit::session::Bearer;
use crate::app::kit::time::rfc3339;
use crate::app::ApiError;
use crate::store::{decode, sql::flag, Outcome, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The columns of a request as every view shows it (the stage joined for its name and finality).
macro_rules! request_select {
    ($($rest:tt)*) => {
        concat!(
            "SELECT r.id, r.company_id, co.name AS company_name, r.pipeline_id, p.name AS pipeline_name, r.stage_id, \
             st.name AS status_name, st.is_final, r.title, r.description, r.fields, r.created_by, \
             trim(coalesce(cu.first_name, '') || ' ' || coalesce(cu.last_name, '')) AS created_by_name, cu.kind AS created_by_kind, \
             r.created_at, r.updated_at, r.activity_at, r.waiting_since FROM requests r JOIN companies co ON co.id = r.company_id \
             JOIN pipelines p ON p.id = r.pipeline_id JOIN pipeline_stages st ON st.pipeline_id = r.pipeline_id AND st.id = r.stage_id \
             LEFT JOIN users cu ON cu.id = r.created_by ",
            $($rest)*
        )
    };
}
pub(crate) use request_select;

pub const SELECT_REQUEST: &str = request_select!("WHERE r.id = ?1");

/// After a message insert, in the same batch, whoever wrote it (portal, console, Telegram, widget):
/// the request's latest activity, and whether the client side now waits for the team (a team message
/// answers; a client-side one starts the wait unless one is running). Keyed on the message, so a
/// message its guard refused touches nothing. ?1 message id, ?2 now.
const TOUCH_REQUEST: &str = "UPDATE requests SET activity_at = max(activity_at, ?2), \
     waiting_since = CASE WHEN (SELECT author_kind FROM messages WHERE id = ?1) = 'employee' THEN NULL ELSE coalesce(waiting_since, ?2) END \
     WHERE id = (SELECT request_id FROM messages WHERE id = ?1)";

pub fn touch_request_stmt(message_id: &str, now: i64) -> crate::store::Stmt {
    crate::store::Stmt::new(TOUCH_REQUEST).bind(message_id).bind(now)
}

#[derive(Debug, Clone, Deserialize)]
pub struct RequestRow {
    pub id: Uuid,
    pub company_id: Uuid,
    pub company_name: String,
    pub pipeline_id: Uuid,
    pub pipeline_name: String,
    pub stage_id: String,
    pub status_name: String,
    #[serde(with = "flag")]
    pub is_final: bool,
    pub title: String,
    pub description: String,
    pub fields: String,
    pub created_by: Option<String>,
    pub created_by_name: Option<String>,
    pub created_by_kind: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The latest message, or the creation (kept by triggers: migration 0009).
    pub activity_at: i64,
    /// Since when the client side waits for the team's answer (None: the team wrote last).
    pub waiting_since: Option<i64>,
}

impl RequestRow {
    pub fn facts(&self) -> RequestFacts {
        RequestFacts { id: self.id, company_id: self.company_id, pipeline_id: self.pipeline_id }
    }

    pub fn object(&self) -> Object {
        Object::Request(self.facts())
    }
}

/// A request as the client sees it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: String,
    pub company_id: String,
    pub company_name: String,
    pub pipeline_id: String,
    pub pipeline_name: String,
    /// The stage id.
    pub status: String,
    pub status_name: String,
    /// Open while the stage is not final.
    pub is_open: bool,
    pub title: String,
    pub description: String,
    pub fields: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl TryFrom<RequestRow> for RequestView {
    type Error = ApiError;
    fn try_from(r: RequestRow) -> Result<Self, ApiError> {
        let fields = serde_json::from_str(&r.fields).map_err(|e| ApiError::internal(format!("request fields: {e}")))?;
        Ok(RequestView {
            id: r.id.to_string(),
            company_id: r.company_id.to_string(),
            company_name: r.company_name,
            pipeline_id: r.pipeline_id.to_string(),
            pipeline_name: r.pipeline_name,
            status: r.stage_id,
            status_name: r.status_name,
            is_open: !r.is_final,
            title: r.title,
            description: r.description,
            fields,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        })
    }
}

pub fn request_row(row: Option<Row>) -> Result<Option<RequestRow>, ApiError> {
    row.map(|r| decode::<RequestRow>(r).map_err(ApiError::from)).transpose()
}

/// The visible request of a gate batch, or 404: the engine decides `action` on it.
pub fn visible_request(client: &Client, row: Option<Row>, action: Action) -> Result<RequestRow, ApiError> {
    let request = request_row(row)?.ok_or(ApiError::NotFound)?;
    client.check(action, &request.object())?;
    Ok(request)
}

/// The employee and the request of a team batch (check first, request second), or 404 when the
/// request does not exist or lies outside their companies.
pub fn governed_request(bearer: &Bearer, out: &[Outcome]) -> Result<(Governor, RequestRow), ApiError> {
    let governor = Governor::from_check(bearer, out.first())?;
    let request = request_row(first_row(out, 1))?.ok_or(ApiError::NotFound)?;
    if !governor.sees_company(&request.company_id.to_string()) {
        return Err(ApiError::NotFound);
    }
    Ok((governor, request))
}
