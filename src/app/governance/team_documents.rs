//! Documents, the team's side: upload a draft (file in KV, metadata and SHA-256 in D1), list,
//! read with the clients' actions and their evidence, download, publish with the action expected
//! of the client, request a signature, withdraw. Managers act only inside their companies
//! (anything else answers 404); every change is audited in its own batch.
//!
//! Each change is one batch whose first statement is the audit event, written only while the
//! guard holds (the employee's session alive, the company in their scope, the document in the
//! state decided on); the change itself runs only WHERE EXISTS that event. Decisions:
//! - publish: draft -> published; anything else answers 409 `document_not_draft`.
//! - request-signature: on a published document sets required_action = sign and clears a
//!   completed review or approval (its evidence rows stay); a document already signed answers
//!   409 `document_signed`; one already awaiting a signature is returned unchanged.
//! - withdraw: draft or published -> withdrawn (final; the file stays in KV as evidence);
//!   withdrawing twice answers 409 `document_withdrawn`.

use crate::app::kit::error::Conflict;
use crate::app::kit::documents::{DocumentShown, ClientAction, DocStatus, DocumentRow, ListPage, RequiredAction, doc_columns, document_at, page, select_document};
use crate::app::kit::page::{Page};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{employee_alive, company_in_scope};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::files::{self, Download, Part, Retrieval, Upload};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

const MAX_TITLE: usize = 200;

/// A document as the team sees it.
/// A document as the team sees it: what the client sees, plus its state and history.
#[derive(Debug, Clone, Serialize)]
pub struct TeamDocumentView {
    #[serde(flatten)]
    pub shown: DocumentShown,
    pub status: DocStatus,
    pub uploaded_by: Option<String>,
    pub updated_at: String,
    pub withdrawn_at: Option<String>,
}

impl From<&DocumentRow> for TeamDocumentView {
    fn from(d: &DocumentRow) -> Self {
        TeamDocumentView {
            shown: DocumentShown::from(d),
            status: d.status,
            uploaded_by: d.uploaded_by.clone(),
            updated_at: rfc3339(d.updated_at),
            withdrawn_at: d.withdrawn_at.map(rfc3339),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Upload

/// `POST /api/admin/documents` (JSON) as sent.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadInput {
    pub company_id: Uuid,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    pub title: String,
    pub content_type: String,
    pub content_base64: String,
}

/// An upload, from JSON (base64 content) or a multipart form (raw bytes); the content is decoded
/// and checked by the use case, after the employee check.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub company_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub title: String,
    pub content_type: String,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub enum Content {
    Base64(String),
    Bytes(Vec<u8>),
}

impl From<UploadInput> for UploadRequest {
    fn from(i: UploadInput) -> Self {
        UploadRequest { company_id: i.company_id, contact_id: i.contact_id, title: i.title, content_type: i.content_type, content: Content::Base64(i.content_base64) }
    }
}

impl UploadRequest {
    /// From `multipart/form-data` parts: fields `company_id`, `contact_id` (optional), `title`
    /// (defaults to the file's name) and `content_type` (defaults to the file part's own type), and
    /// the file in the part named `file`. Errors name the field.
    pub fn from_parts(parts: &[Part<'_>]) -> Result<UploadRequest, ApiError> {
        let part = |name: &str| parts.iter().find(|p| p.name == name);
        let text = |name: &str| part(name).map(Part::text).transpose().map(|t| t.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()));
        let uuid = |name: &'static str| -> Result<Option<Uuid>, ApiError> {
            text(name)?.map(|t| Uuid::parse_str(&t).map_err(|_| ApiError::invalid(name, format!("{name} must be a UUID")))).transpose()
        };
        let file = part("file").ok_or_else(|| ApiError::invalid("file", "Send the file in a part named file."))?;
        let company_id = uuid("company_id")?.ok_or_else(|| ApiError::invalid("company_id", "company_id is required"))?;
        let title = match text("title")? {
            Some(t) => t,
            None => file.filename.clone().unwrap_or_default(),
        };
        let content_type = match text("content_type")? {
            Some(t) => t,
            None => file.content_type.clone().ok_or_else(|| ApiError::invalid("content_type", "content_type is required"))?,
        };
        Ok(UploadRequest { company_id, contact_id: uuid("contact_id")?, title, content_type, content: Content::Bytes(file.data.to_vec()) })
    }
}

/// A title: trimmed, single-spaced, 1 to 200 printable characters.
pub fn parse_title(raw: &str) -> Result<String, ApiError> {
    let title = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return Err(ApiError::invalid("title", "title is required"));
    }
    if title.chars().count() > MAX_TITLE || title.chars().any(char::is_control) {
        return Err(ApiError::invalid("title", format!("title must be at most {MAX_TITLE} printable characters")));
    }
    Ok(title)
}

const SELECT_COMPANY: &str = "SELECT id, status FROM companies WHERE id = ?1";
const SELECT_RELATION: &str = "SELECT 1 AS related FROM contact_companies WHERE contact_id = ?1 AND company_id = ?2";

#[derive(Deserialize)]
struct CompanyRow {
    status: String,
}

// ?14 session, ?15 company, ?16 contact (or NULL): the employee may still act there, the company
// is active and the contact still one of the company's.
const UPLOAD_GUARD: AuditGuard = audit_guard!(
    employee_alive!(14, 2),
    " AND ",
    company_in_scope!(4, "?15"),
    " AND EXISTS (SELECT 1 FROM companies WHERE id = ?15 AND status = 'active') \
     AND (?16 IS NULL OR EXISTS (SELECT 1 FROM contact_companies WHERE contact_id = ?16 AND company_id = ?15))"
);
const INSERT_DOCUMENT: &str = "INSERT INTO documents (id, company_id, contact_id, title, content_type, size, sha256, kv_key, \
     status, required_action, uploaded_by, created_at, updated_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'draft', 'none', ?9, ?10, ?10 WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?11)";

/// `POST /api/admin/documents`: a draft for a company (and optionally one of its contacts). The
/// bytes go to KV first under a fresh key; the row (metadata, SHA-256, size) follows in one
/// guarded batch, and the KV key is dropped if the row was not written.
pub async fn upload<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, input: UploadRequest) -> Result<TeamDocumentView, ApiError> {
    let t = now.timestamp();
    let company = input.company_id.to_string();
    let contact = input.contact_id.map(|c| c.to_string());
    let mut stmts = vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_COMPANY).bind(company.as_str())];
    if let Some(contact) = &contact {
        stmts.push(Stmt::new(SELECT_RELATION).bind(contact.as_str()).bind(company.as_str()));
    }
    let out = ports.db().batch(stmts).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let company_row: CompanyRow = match out.get(1).and_then(|o| o.rows.first().cloned()) {
        Some(row) if gov.sees_company(&company) => decode(row)?,
        _ => return Err(ApiError::NotFound),
    };
    if company_row.status != "active" {
        return Err(ApiError::conflict(Conflict::CompanyArchived));
    }
    if contact.is_some() && out.get(2).is_none_or(|o| o.rows.is_empty()) {
        return Err(ApiError::invalid("contact_id", "contact_id must be a contact of the company"));
    }
    let title = parse_title(&input.title)?;
    let upload = match input.content {
        Content::Base64(text) => Upload::from_base64("content_type", &input.content_type, "content_base64", &text)?,
        Content::Bytes(bytes) => Upload::new("file", files::parse_content_type("content_type", &input.content_type)?, bytes)?,
    };
    let file_type = upload.file_type;

    let stored = files::store(ports, "doc", upload.bytes, now).await?;
    let id = new_id(ports, now)?;
    let event_id = new_id(ports, now)?;
    let event = Event::new("document.uploaded", ActorKind::Employee, Some(gov.user_id()))
        .target("document", &id)
        .companies(vec![company.clone()])
        .details(json!({"title": title, "contact_id": contact, "content_type": file_type.as_str(), "size": stored.size, "sha256": stored.sha256}));
    let guard = event.insert_if(&event_id, meta, t, UPLOAD_GUARD);
    let writes = vec![
        guard.bind(gov.principal.session_id.as_str()).bind(company.as_str()).bind(contact.clone()),
        Stmt::new(INSERT_DOCUMENT)
            .bind(id.as_str())
            .bind(company.as_str())
            .bind(contact.clone())
            .bind(title.as_str())
            .bind(file_type.as_str())
            .bind(stored.size)
            .bind(stored.sha256.as_str())
            .bind(stored.kv_key.as_str())
            .bind(gov.user_id())
            .bind(t)
            .bind(event_id.as_str()),
        select_document(&Uuid::parse_str(&id).map_err(|e| ApiError::internal(format!("new id: {e}")))?),
    ];
    let out = match ports.db().batch(writes).await {
        Ok(out) => out,
        Err(e) => {
            files::discard(ports, &stored.kv_key).await;
            return Err(e.into());
        }
    };
    if out.get(1).map_or(0, |o| o.changes) != 1 {
        files::discard(ports, &stored.kv_key).await;
        return Err(ApiError::conflict(Conflict::UploadRefused));
    }
    let doc = document_at(&out, 2)?.ok_or_else(|| ApiError::internal("uploaded document not read back"))?;
    Ok(TeamDocumentView::from(&doc))
}

// ------------------------------------------------------------------------------------------------
// Reading

/// `GET /api/admin/documents` filters.
#[derive(Debug, Clone, Default)]
pub struct TeamFilter {
    pub company: Option<Uuid>,
    pub status: Option<DocStatus>,
    pub paging: ListPage,
}

/// `GET /api/admin/documents?company=&status=`: newest first; a manager sees their companies'
/// documents, and naming a company outside their scope answers 404.
pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, filter: &TeamFilter) -> Result<Page<TeamDocumentView>, ApiError> {
    let (after_key, after_id) = filter.paging.after()?;
    let company = filter.company.map(|c| c.to_string());
    let stmt = Stmt::new(LIST_TEAM_SCOPED)
        .bind(company.clone())
        .bind(bearer.claims.sub.as_str())
        .bind(filter.status.map(DocStatus::as_str))
        .bind(after_key)
        .bind(after_id)
        .bind(filter.paging.limit + 1);
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), stmt]).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    if company.as_deref().is_some_and(|c| !gov.sees_company(c)) {
        return Err(ApiError::NotFound);
    }
    let rows: Vec<DocumentRow> = decode_all(out.get(1).map(|o| o.rows.clone()).unwrap_or_default())?;
    Ok(page(rows, filter.paging.limit, |d| TeamDocumentView::from(d)))
}

// ?1 company or NULL, ?2 the employee (admins see every company, managers theirs: the scope is read
// in SQL, so the list rides in the check's batch), ?3 status or NULL, ?4/?5 cursor, ?6 limit.
const LIST_TEAM_SCOPED: &str = concat!(
    "SELECT ",
    doc_columns!(),
    " FROM documents d WHERE (?1 IS NULL OR d.company_id = ?1) \
     AND (EXISTS (SELECT 1 FROM users WHERE id = ?2 AND role = 'admin') \
          OR d.company_id IN (SELECT company_id FROM employee_companies WHERE user_id = ?2)) \
     AND (?3 IS NULL OR d.status = ?3) \
     AND (?4 IS NULL OR d.created_at < ?4 OR (d.created_at = ?4 AND d.id < ?5)) \
     ORDER BY d.created_at DESC, d.id DESC LIMIT ?6"
);

/// One client action on a document, with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvidenceView {
    pub id: String,
    pub user_id: String,
    pub user_name: Option<String>,
    pub link_id: Option<String>,
    pub session_id: Option<String>,
    pub action: ClientAction,
    pub comment: Option<String>,
    pub signature_name: Option<String>,
    pub document_sha256: String,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    /// How the signer had last set their password: `{via, at, by}` (`via` is `invitation`,
    /// `reset`, `change`, ...; `by` the employee whose invitation set it).
    #[serde(default, deserialize_with = "stored_json")]
    pub credentials: Option<serde_json::Value>,
    #[serde(skip_deserializing)]
    pub created_at: String,
    #[serde(rename(deserialize = "created_at"), skip_serializing)]
    pub created_unix: i64,
}

/// A JSON column read back as JSON (absent for actions recorded before migration 0014).
fn stored_json<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    let text: Option<String> = Deserialize::deserialize(d)?;
    text.map(|t| serde_json::from_str(&t).map_err(serde::de::Error::custom)).transpose()
}

const SELECT_EVIDENCE: &str = "SELECT a.id, a.user_id, (SELECT trim(u.first_name || ' ' || u.last_name) FROM users u WHERE u.id = a.user_id) AS user_name, \
     a.link_id, a.session_id, a.action, a.comment, a.signature_name, a.document_sha256, a.ip, a.country, a.user_agent, a.credentials, a.created_at \
     FROM document_actions a WHERE a.document_id = ?1 ORDER BY a.created_at, a.id";

/// A document with every client action taken on it.
#[derive(Debug, Clone, Serialize)]
pub struct TeamDocumentDetail {
    #[serde(flatten)]
    pub document: TeamDocumentView,
    pub actions: Vec<EvidenceView>,
}

/// The employee check and the document; 404 when absent or outside a manager's scope.
async fn team_document<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: &Uuid, extra: Vec<Stmt>) -> Result<(Governor, DocumentRow, Vec<crate::store::Outcome>), ApiError> {
    let mut stmts = vec![Governor::check_stmt(bearer, now), select_document(id)];
    stmts.extend(extra);
    let out = ports.db().batch(stmts).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let doc = document_at(&out, 1)?.filter(|d| gov.sees_company(&d.company_id)).ok_or(ApiError::NotFound)?;
    Ok((gov, doc, out))
}

/// `GET /api/admin/documents/{id}`: the document and its clients' actions with their evidence.
pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: &Uuid) -> Result<TeamDocumentDetail, ApiError> {
    let (_, doc, out) = team_document(ports, bearer, now, id, vec![Stmt::new(SELECT_EVIDENCE).bind(id.to_string())]).await?;
    let mut actions: Vec<EvidenceView> = decode_all(out.get(2).map(|o| o.rows.clone()).unwrap_or_default())?;
    for a in &mut actions {
        a.created_at = rfc3339(a.created_unix);
    }
    Ok(TeamDocumentDetail { document: TeamDocumentView::from(&doc), actions })
}

/// `GET /api/admin/documents/{id}/file`: the team downloads any document it may see, drafts too;
/// audited (`document.downloaded` by the employee, with the document's company) unless a `HEAD`.
pub async fn file<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, id: &Uuid, retrieval: Retrieval) -> Result<Download, ApiError> {
    let (gov, doc, _) = team_document(ports, bearer, now, id, Vec::new()).await?;
    let file_type = doc.file_type()?;
    let bytes = files::load(ports, &doc.kv_key).await?;
    if retrieval.audited() {
        let event = Event::new("document.downloaded", ActorKind::Employee, Some(gov.user_id()))
            .target("document", &doc.id)
            .companies(vec![doc.company_id.clone()])
            .details(json!({"document_id": doc.id}));
        ports.db().execute(event.insert(&new_id(ports, now)?, meta, now.timestamp())).await?;
    }
    Ok(Download::new(bytes, file_type, &doc.title))
}

// ------------------------------------------------------------------------------------------------
// Changes

/// `POST /api/admin/documents/{id}/publish` body (optional).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublishInput {
    #[serde(default)]
    pub required_action: Option<RequiredAction>,
}

/// The transitions the team makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Publish(RequiredAction),
    RequestSignature,
    Withdraw,
}

// The guard: ?14 session, ?15 company, ?16 document, and the document as read: ?17 status,
// ?18 updated_at, ?19 completed_at, ?20 required_action (nothing changed it since the decision).
const CHANGE_GUARD: AuditGuard = audit_guard!(
    employee_alive!(14, 2),
    " AND ",
    company_in_scope!(4, "?15"),
    " AND EXISTS (SELECT 1 FROM documents WHERE id = ?16 AND company_id = ?15 AND status = ?17 AND updated_at = ?18 \
       AND completed_at IS ?19 AND required_action = ?20)"
);
const PUBLISH: &str = "UPDATE documents SET status = 'published', required_action = ?2, published_at = ?3, updated_at = ?3 \
     WHERE id = ?1 AND status = 'draft' AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";
const REQUEST_SIGNATURE: &str = "UPDATE documents SET required_action = 'sign', completed_action = NULL, completed_action_id = NULL, \
     completed_by = NULL, completed_at = NULL, updated_at = ?2 \
     WHERE id = ?1 AND status = 'published' AND (completed_action IS NULL OR completed_action <> 'signed') \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";
const WITHDRAW: &str = "UPDATE documents SET status = 'withdrawn', withdrawn_at = ?2, updated_at = ?2 \
     WHERE id = ?1 AND status IN ('draft', 'published') AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";

/// What the change is, given the document as read: the audit action and the UPDATE (its
/// parameters after ?1 = id: `now, event` or, to publish, `required action, now, event`); a 409
/// when the state forbids it; None when there is nothing to do.
fn plan(doc: &DocumentRow, change: Change) -> Result<Option<(&'static str, Stmt)>, ApiError> {
    let stmt = |sql: &'static str| Stmt::new(sql).bind(doc.id.as_str());
    match change {
        Change::Publish(_) if doc.status != DocStatus::Draft => {
            Err(ApiError::conflict_because(Conflict::DocumentNotDraft, format!("The document is {}: only a draft can be published.", doc.status.as_str())))
        }
        Change::Publish(required) => Ok(Some(("document.published", stmt(PUBLISH).bind(required.as_str())))),
        Change::RequestSignature if doc.status != DocStatus::Published => {
            Err(ApiError::conflict_because(Conflict::DocumentNotPublished, format!("The document is {}: publish it first.", doc.status.as_str())))
        }
        Change::RequestSignature if doc.completed_action == Some(ClientAction::Signed) => {
            Err(ApiError::conflict(Conflict::DocumentSigned))
        }
        Change::RequestSignature if doc.required_action == RequiredAction::Sign && doc.completed_at.is_none() => Ok(None),
        Change::RequestSignature => Ok(Some(("document.signature_requested", stmt(REQUEST_SIGNATURE)))),
        Change::Withdraw if doc.status == DocStatus::Withdrawn => Err(ApiError::conflict(Conflict::DocumentWithdrawn)),
        Change::Withdraw => Ok(Some(("document.withdrawn", stmt(WITHDRAW)))),
    }
}

/// Publish, request a signature or withdraw: decided on the row as read, written in one batch
/// guarded by that very row (409 `document_changed` if it moved meanwhile).
pub async fn change<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, id: &Uuid, change: Change) -> Result<TeamDocumentView, ApiError> {
    let t = now.timestamp();
    let (gov, doc, _) = team_document(ports, bearer, now, id, Vec::new()).await?;
    let Some((action, update)) = plan(&doc, change)? else {
        return Ok(TeamDocumentView::from(&doc));
    };
    let event_id = new_id(ports, now)?;
    let before = json!({"status": doc.status, "required_action": doc.required_action, "completed_action": doc.completed_action,
        "completed_by": doc.completed_by, "completed_at": doc.completed_at.map(rfc3339)});
    let details = match change {
        Change::Publish(required) => json!({"title": doc.title, "contact_id": doc.contact_id, "before": before, "required_action": required}),
        _ => json!({"title": doc.title, "contact_id": doc.contact_id, "before": before}),
    };
    let event = Event::new(action, ActorKind::Employee, Some(gov.user_id()))
        .target("document", &doc.id)
        .companies(vec![doc.company_id.clone()])
        .details(details);
    let guard = event.insert_if(&event_id, meta, t, CHANGE_GUARD);
    let writes = vec![
        guard
            .bind(gov.principal.session_id.as_str())
            .bind(doc.company_id.as_str())
            .bind(doc.id.as_str())
            .bind(doc.status.as_str())
            .bind(doc.updated_at)
            .bind(doc.completed_at)
            .bind(doc.required_action.as_str()),
        update.bind(t).bind(event_id.as_str()),
        select_document(id),
        crate::app::kit::outbox::document_stmt(ports, now, &doc.id, &event_id)?,
    ];
    let out = ports.db().batch(writes).await?;
    if out.get(1).map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::conflict(Conflict::DocumentChanged));
    }
    let doc = document_at(&out, 2)?.ok_or(ApiError::NotFound)?;
    Ok(TeamDocumentView::from(&doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(parse_title("  Service   agreement ").ok(), Some("Service agreement".to_owned()));
        assert!(parse_title("   ").is_err());
        assert!(parse_title(&"x".repeat(201)).is_err());
    }
}
