//! Chat messages, the client's and the team's alike: the row, its view, the one SELECT they are
//! read with, and the body rules.

use crate::app::kit::page::encode_time_cursor;
use crate::app::kit::page::{ListOptions, Page, newest_first_bound, oldest_first_bound};
use crate::app::kit::time::{rfc3339};
use crate::app::ApiError;
use crate::store::{decode, decode_all, Row, Stmt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
pub const BODY_MAX: usize = 5_000;

macro_rules! message_select {
    ($($rest:tt)*) => {
        concat!(
            "SELECT m.id, m.company_id, m.request_id, m.author_kind, m.author_user_id, \
             trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')) AS author_name, m.body, m.created_at \
             FROM messages m LEFT JOIN users u ON u.id = m.author_user_id ",
            $($rest)*
        )
    };
}

pub const SELECT_MESSAGE: &str = message_select!("WHERE m.id = ?1");

/// A request's thread, oldest first: ?1 request, ?2/?3 the cursor bound, ?4 limit.
pub const LIST_THREAD: &str =
    message_select!("WHERE m.request_id = ?1 AND (m.created_at, m.id) > (?2, ?3) ORDER BY m.created_at, m.id LIMIT ?4");
/// The same thread newest first, for a chat that shows its latest page and older ones on demand.
pub const LIST_THREAD_NEWEST: &str =
    message_select!("WHERE m.request_id = ?1 AND (m.created_at, m.id) < (?2, ?3) ORDER BY m.created_at DESC, m.id DESC LIMIT ?4");

/// `?order=` of a thread: `oldest` (the default, as the API has always listed) or `newest` (the
/// latest page first; its cursor leads to older messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThreadOrder {
    #[default]
    OldestFirst,
    NewestFirst,
}

impl ThreadOrder {
    pub fn parse(value: Option<&str>) -> Result<ThreadOrder, ApiError> {
        match value {
            None | Some("oldest") => Ok(ThreadOrder::OldestFirst),
            Some("newest") => Ok(ThreadOrder::NewestFirst),
            Some(_) => Err(ApiError::invalid("order", "order is oldest or newest")),
        }
    }
}

/// A company's general chat, oldest first: ?1 company, ?2/?3 the cursor bound, ?4 limit (the
/// client's, with ?5 its link: its default company when ?1 is NULL).
const LIST_GENERAL: &str = message_select!(
    "WHERE m.company_id = coalesce(?1, (SELECT default_company_id FROM links WHERE id = ?5)) AND m.request_id IS NULL \
     AND (m.created_at, m.id) > (?2, ?3) ORDER BY m.created_at, m.id LIMIT ?4"
);
/// The same chat newest first.
const LIST_GENERAL_NEWEST: &str = message_select!(
    "WHERE m.company_id = coalesce(?1, (SELECT default_company_id FROM links WHERE id = ?5)) AND m.request_id IS NULL \
     AND (m.created_at, m.id) < (?2, ?3) ORDER BY m.created_at DESC, m.id DESC LIMIT ?4"
);

#[derive(Debug, Clone, Deserialize)]
pub struct MessageRow {
    pub id: Uuid,
    pub company_id: Uuid,
    pub request_id: Option<Uuid>,
    pub author_kind: String,
    pub author_user_id: Option<String>,
    pub author_name: Option<String>,
    pub body: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: String,
    pub company_id: String,
    /// None for the general chat.
    pub request_id: Option<String>,
    pub author_kind: String,
    pub author_name: String,
    /// Shown to the team only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_user_id: Option<String>,
    pub body: String,
    pub created_at: String,
}

impl MessageRow {
    /// The view; `team` shows the author's user id too.
    pub fn view(self, team: bool) -> MessageView {
        let name = self.author_name.filter(|n| !n.is_empty()).unwrap_or_else(|| {
            match self.author_kind.as_str() {
                "telegram" => "Telegram",
                "widget" => "Website widget",
                "employee" => "Team",
                _ => "Client",
            }
            .to_owned()
        });
        MessageView {
            id: self.id.to_string(),
            company_id: self.company_id.to_string(),
            request_id: self.request_id.map(|r| r.to_string()),
            author_kind: self.author_kind,
            author_name: name,
            author_user_id: if team { self.author_user_id } else { None },
            body: self.body,
            created_at: rfc3339(self.created_at),
        }
    }
}

/// A page of messages from a list statement's rows.
pub fn message_page(rows: Vec<Row>, limit: u32, team: bool) -> Result<Page<MessageView>, ApiError> {
    let page = Page::of(decode_all::<MessageRow>(rows)?, limit, |m: &MessageRow| encode_time_cursor(m.created_at, &m.id.to_string()));
    page.try_map(|m| Ok(m.view(team)))
}

pub fn message_view(row: Option<Row>, team: bool) -> Result<MessageView, ApiError> {
    let row = row.ok_or_else(|| ApiError::internal("message vanished after insert"))?;
    Ok(decode::<MessageRow>(row)?.view(team))
}

/// `{body}`: a message's text, trimmed, 1 to [`BODY_MAX`] characters.
#[derive(Debug, Deserialize)]
pub struct MessageInput {
    pub body: String,
    /// The general chat also takes the company in the body (the query's `company=` wins).
    #[serde(default)]
    pub company_id: Option<Uuid>,
}

pub fn message_body(input: &MessageInput) -> Result<String, ApiError> {
    crate::app::kit::text::required_multiline("body", &input.body, BODY_MAX)
}

/// A company's general chat in the order asked: `company`, or (a client's) `link`'s default company.
pub fn general_stmt(company: Option<Uuid>, link: Option<&str>, list: &ListOptions, order: ThreadOrder) -> Stmt {
    let ((at, id), sql) = match order {
        ThreadOrder::OldestFirst => (oldest_first_bound(list.cursor.clone()), LIST_GENERAL),
        ThreadOrder::NewestFirst => (newest_first_bound(list.cursor.clone()), LIST_GENERAL_NEWEST),
    };
    Stmt::new(sql).bind(company.map(|c| c.to_string())).bind(at).bind(id).bind(list.limit + 1).bind(link.map(str::to_owned))
}

pub fn thread_stmt(request_id: Uuid, list: &ListOptions, order: ThreadOrder) -> Stmt {
    let ((at, id), sql) = match order {
        ThreadOrder::OldestFirst => (oldest_first_bound(list.cursor.clone()), LIST_THREAD),
        ThreadOrder::NewestFirst => (newest_first_bound(list.cursor.clone()), LIST_THREAD_NEWEST),
    };
    Stmt::new(sql).bind(request_id.to_string()).bind(at).bind(id).bind(list.limit + 1)
}
