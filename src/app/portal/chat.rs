//! Chats: a request's thread (read_request_chat to read, send_request_chat to post, which the
//! engine only grants with read) and each company's general chat (general_chat), on the client's
//! side. Also the message rows and views the team's side shares. Messages keep their author kind
//! (client, employee, telegram, widget) and come oldest first with keyset pagination.

use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::meta::ClientMeta;
use serde_json::json;
use crate::app::kit::messages::{general_stmt, MessageInput, MessageView, SELECT_MESSAGE, message_body, message_page, message_view, thread_stmt, ThreadOrder};
use crate::app::kit::client_gate::{client_of, company_or_default};
use crate::app::kit::requests::touch_request_stmt;
use crate::app::kit::requests::{SELECT_REQUEST, visible_request};
use crate::app::kit::page::{ListOptions, Page};
use crate::app::kit::rows::{changes, first_row, rows};
use crate::app::kit::sql::{client_alive};
use crate::app::kit::client_gate::{gate_stmts, GATE_STMT_COUNT};
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::decision::{Action, Object};
use crate::store::{Sql, Stmt};
use chrono::{DateTime, Utc};
use uuid::Uuid;

// ?1 id, ?2 company, ?3 request (NULL: the general chat), ?4 author, ?5 body, ?6 now, ?7 session,
// ?8 policy version.
const INSERT_CLIENT_MESSAGE: &str = concat!(
    "INSERT INTO messages (id, company_id, request_id, author_kind, author_user_id, body, created_at) \
     SELECT ?1, ?2, ?3, 'client', ?4, ?5, ?6 WHERE ",
    client_alive!(7, 8, 6)
);

// ---------------------------------------------------------------------------------------------
// The client's request chat
// ---------------------------------------------------------------------------------------------

pub async fn list_thread<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, request_id: Uuid, list: &ListOptions, order: ThreadOrder) -> Result<Page<MessageView>, ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_REQUEST).bind(request_id.to_string()));
    stmts.push(thread_stmt(request_id, list, order));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    visible_request(&client, first_row(&out, GATE_STMT_COUNT), Action::ReadRequestChat)?;
    message_page(rows(&out, GATE_STMT_COUNT + 1), list.limit, false)
}

pub async fn post_to_thread<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, request_id: Uuid, input: MessageInput) -> Result<MessageView, ApiError> {
    let body = message_body(&input)?;
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_REQUEST).bind(request_id.to_string()));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    let request = visible_request(&client, first_row(&out, GATE_STMT_COUNT), Action::SendRequestChat)?;
    insert(ports, &client, meta, now, request.company_id, Some(request.id), body).await
}

const MESSAGE_WRITTEN: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM messages WHERE id = ?14)");

async fn insert<P: Ports>(ports: &P, client: &crate::app::kit::client_gate::Client, meta: &ClientMeta, now: DateTime<Utc>, company: Uuid, request: Option<Uuid>, body: String) -> Result<MessageView, ApiError> {
    let id = new_id(ports, now)?;
    let t = now.timestamp();
    let event = client.event("message.sent", company, json!({"message_id": id, "request_id": request, "length": body.chars().count()}));
    let audit = event.insert_if(&new_id(ports, now)?, meta, t, MESSAGE_WRITTEN).bind(id.as_str());
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(INSERT_CLIENT_MESSAGE)
                .bind(id.as_str())
                .bind(company.to_string())
                .bind(request.map(|r| r.to_string()))
                .bind(client.user_id())
                .bind(body)
                .bind(t)
                .bind(client.principal.session_id.as_str())
                .bind(client.principal.policy_version),
            Stmt::new(SELECT_MESSAGE).bind(id.as_str()),
            audit,
            touch_request_stmt(&id, t),
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::TokenStale);
    }
    message_view(first_row(&out, 1), false)
}

// ---------------------------------------------------------------------------------------------
// The client's general chat
// ---------------------------------------------------------------------------------------------

pub async fn list_general<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company: Option<Uuid>, list: &ListOptions, order: ThreadOrder) -> Result<Page<MessageView>, ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(general_stmt(company, bearer.claims.lid.as_deref(), list, order));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    client.check(Action::GeneralChat, &Object::Company(company_or_default(&client, company)))?;
    message_page(rows(&out, GATE_STMT_COUNT), list.limit, false)
}

pub async fn post_general<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, company: Option<Uuid>, input: MessageInput) -> Result<MessageView, ApiError> {
    let body = message_body(&input)?;
    let out = ports.db().batch(gate_stmts(bearer, now)).await?;
    let client = client_of(bearer, &out)?;
    let company = company_or_default(&client, company.or(input.company_id));
    client.check(Action::GeneralChat, &Object::Company(company))?;
    insert(ports, &client, meta, now, company, None, body).await
}
