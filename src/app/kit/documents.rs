//! The document row as the client and the team read it: its states, the action it asks for, the
//! one SELECT it is read with, and its pages.

use crate::app::kit::time::rfc3339;
use crate::app::kit::page::Page;
use crate::app::kit::page::{decode_time_cursor, encode_time_cursor};
use crate::app::kit::files::FileType;
use crate::app::ApiError;
use crate::access::facts::DocumentFacts;
use crate::store::{decode, Outcome, Stmt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
/// Where a document is in its life: a draft only the team sees, published, or withdrawn (gone
/// from the portal; final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocStatus {
    Draft,
    Published,
    Withdrawn,
}

impl DocStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Draft => "draft",
            DocStatus::Published => "published",
            DocStatus::Withdrawn => "withdrawn",
        }
    }
}

/// What the team asks of the client. Deserialized through a string, so a wrong type and an
/// unknown word both answer 400 naming the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum RequiredAction {
    #[default]
    None,
    Review,
    Approve,
    Sign,
}

impl RequiredAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RequiredAction::None => "none",
            RequiredAction::Review => "review",
            RequiredAction::Approve => "approve",
            RequiredAction::Sign => "sign",
        }
    }

    pub const ALL: [RequiredAction; 4] = [RequiredAction::None, RequiredAction::Review, RequiredAction::Approve, RequiredAction::Sign];

    /// The client actions that complete it: review by reviewed, approve by approved or rejected,
    /// sign by signed; nothing completes `none`.
    pub fn expected(self) -> &'static [ClientAction] {
        match self {
            RequiredAction::None => &[],
            RequiredAction::Review => &[ClientAction::Reviewed],
            RequiredAction::Approve => &[ClientAction::Approved, ClientAction::Rejected],
            RequiredAction::Sign => &[ClientAction::Signed],
        }
    }
}

/// What a client does to a document (deserialized through a string, like [`RequiredAction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum ClientAction {
    Reviewed,
    Approved,
    Rejected,
    Signed,
}

impl ClientAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAction::Reviewed => "reviewed",
            ClientAction::Approved => "approved",
            ClientAction::Rejected => "rejected",
            ClientAction::Signed => "signed",
        }
    }

    pub const ALL: [ClientAction; 4] = [ClientAction::Reviewed, ClientAction::Approved, ClientAction::Rejected, ClientAction::Signed];

    pub fn audit_action(self) -> &'static str {
        match self {
            ClientAction::Reviewed => "document.reviewed",
            ClientAction::Approved => "document.approved",
            ClientAction::Rejected => "document.rejected",
            ClientAction::Signed => "document.signed",
        }
    }
}

impl TryFrom<String> for RequiredAction {
    type Error = String;

    fn try_from(word: String) -> Result<Self, String> {
        RequiredAction::ALL.into_iter().find(|a| a.as_str() == word).ok_or_else(|| "expected one of none, review, approve, sign".to_owned())
    }
}

impl TryFrom<String> for ClientAction {
    type Error = String;

    fn try_from(word: String) -> Result<Self, String> {
        ClientAction::ALL.into_iter().find(|a| a.as_str() == word).ok_or_else(|| "expected one of reviewed, approved, rejected, signed".to_owned())
    }
}

/// The columns of [`DocumentRow`], for every SELECT of a document (alias `d`).
macro_rules! doc_columns {
    () => {
        "d.id, d.company_id, d.contact_id, d.title, d.content_type, d.size, d.sha256, d.kv_key, d.status, d.required_action, \
         d.completed_action, d.completed_by, d.completed_at, d.uploaded_by, d.created_at, d.updated_at, d.published_at, \
         d.withdrawn_at, (SELECT trim(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = d.completed_by) AS completed_by_name"
    };
}
pub(crate) use doc_columns;

const SELECT_DOCUMENT: &str = concat!("SELECT ", doc_columns!(), " FROM documents d WHERE d.id = ?1");

/// One `documents` row.
#[derive(Debug, Clone, Deserialize)]
pub struct DocumentRow {
    pub id: String,
    pub company_id: String,
    pub contact_id: Option<String>,
    pub title: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub kv_key: String,
    pub status: DocStatus,
    pub required_action: RequiredAction,
    pub completed_action: Option<ClientAction>,
    pub completed_by: Option<String>,
    pub completed_by_name: Option<String>,
    pub completed_at: Option<i64>,
    pub uploaded_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
}

impl DocumentRow {
    /// The document as the access engine sees it.
    pub fn facts(&self) -> Result<DocumentFacts, ApiError> {
        let uuid = |s: &str| Uuid::parse_str(s).map_err(|e| ApiError::internal(format!("document {}: bad id {s}: {e}", self.id)));
        Ok(DocumentFacts {
            id: uuid(&self.id)?,
            company_id: uuid(&self.company_id)?,
            contact_id: self.contact_id.as_deref().map(uuid).transpose()?,
            published: self.status == DocStatus::Published,
        })
    }

    /// The stored type, re-checked against the allowlist: a download never carries anything else.
    pub fn file_type(&self) -> Result<FileType, ApiError> {
        FileType::parse(&self.content_type).ok_or_else(|| ApiError::internal(format!("document {}: stored type {} off the allowlist", self.id, self.content_type)))
    }

    /// The client actions that would complete it now (none once completed).
    pub fn expected_actions(&self) -> Vec<ClientAction> {
        if self.completed_at.is_some() {
            Vec::new()
        } else {
            self.required_action.expected().to_vec()
        }
    }
}

pub fn select_document(id: &Uuid) -> Stmt {
    Stmt::new(SELECT_DOCUMENT).bind(id.to_string())
}

/// The document row an outcome holds, if any.
pub fn document_at(out: &[Outcome], index: usize) -> Result<Option<DocumentRow>, ApiError> {
    out.get(index).and_then(|o| o.rows.first().cloned()).map(decode).transpose().map_err(ApiError::from)
}

/// Cuts a `limit + 1` fetch to a page; the extra row only says a next page exists.
pub fn page<T>(mut rows: Vec<DocumentRow>, limit: u32, view: impl Fn(&DocumentRow) -> T) -> Page<T> {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more { rows.last().map(|d| encode_time_cursor(d.created_at, &d.id)) } else { None };
    Page { items: rows.iter().map(view).collect(), next_cursor }
}

/// A list's `?limit=` and `?cursor=` (newest first: the cursor is the last row's (created_at, id)).
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl ListPage {
    pub fn after(&self) -> Result<(Option<i64>, Option<String>), ApiError> {
        match self.cursor.as_deref().map(decode_time_cursor).transpose()? {
            Some((key, id)) => Ok((Some(key), Some(id))),
            None => Ok((None, None)),
        }
    }
}

/// The fields every view of a document shows, the client's and the team's (times as RFC 3339).
#[derive(Debug, Clone, Serialize)]
pub struct DocumentShown {
    pub id: String,
    pub company_id: String,
    pub contact_id: Option<String>,
    pub title: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub required_action: RequiredAction,
    pub completed_action: Option<ClientAction>,
    pub completed_by: Option<String>,
    pub completed_by_name: Option<String>,
    pub completed_at: Option<String>,
    pub published_at: Option<String>,
    pub created_at: String,
}

impl From<&DocumentRow> for DocumentShown {
    fn from(d: &DocumentRow) -> Self {
        DocumentShown {
            id: d.id.clone(),
            company_id: d.company_id.clone(),
            contact_id: d.contact_id.clone(),
            title: d.title.clone(),
            content_type: d.content_type.clone(),
            size: d.size,
            sha256: d.sha256.clone(),
            required_action: d.required_action,
            completed_action: d.completed_action,
            completed_by: d.completed_by.clone(),
            completed_by_name: d.completed_by_name.clone(),
            completed_at: d.completed_at.map(rfc3339),
            published_at: d.published_at.map(rfc3339),
            created_at: rfc3339(d.created_at),
        }
    }
}
