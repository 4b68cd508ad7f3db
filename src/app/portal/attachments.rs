//! Files attached to a request, from both sides: the bytes in KV under a random key, the metadata
//! and SHA-256 in D1. Content types come from an allowlist and downloads are served as attachments
//! (the HTTP layer adds nosniff and a sandbox CSP), so no upload runs script on the portal.
//!
//! Who may attach: a client who sees the request and may either create requests there or send in
//! its chat (the team asks "for the specific field or file", so a client who can only talk may
//! still answer with a file); listing and downloading need only seeing the request. Employees
//! attach to requests of their companies.

use crate::app::kit::audit::{audit_guard, ActorKind, AuditGuard, Event};
use crate::app::kit::client_gate::{client_event, scope_or_empty};
use crate::app::kit::meta::ClientMeta;
use crate::app::kit::files::{Download, Retrieval};
use crate::app::kit::client_gate::client_of;
use crate::app::kit::requests::governed_request;
use crate::app::kit::requests::{SELECT_REQUEST, visible_request};
use crate::app::kit::page::encode_time_cursor;
use crate::app::kit::page::{ListOptions, Page, oldest_first_bound};
use crate::app::kit::rows::{changes, first_row, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{employee_alive, company_in_scope, client_alive};
use crate::app::kit::client_gate::{gate_stmts, GATE_STMT_COUNT};
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::kit::session::Bearer;
use crate::app::kit::files;
use crate::app::{ApiError, Ports};
use crate::access::decision::{Action, Object};
use crate::auth::refresh::sha256_hex;
use crate::store::{decode, decode_all, Kv, Row, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `{file_name, content_type, content_base64}`.
#[derive(Debug, Deserialize)]
pub struct UploadInput {
    pub file_name: String,
    pub content_type: String,
    pub content_base64: String,
}

/// An upload that passed the rules.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl UploadInput {
    /// The rules of every upload (src/app/files.rs): an allowlisted type, the size limit, and
    /// bytes that start the way that type's files do, so a page cannot pose as a PDF.
    pub fn parse(self) -> Result<Upload, ApiError> {
        // An uploaded file's name may come with the path it had on the sender's disk: keep the last part.
        let last = self.file_name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
        if last.is_empty() || last == "." || last == ".." {
            return Err(ApiError::invalid("file_name", "file_name must name a file"));
        }
        if self.file_name.chars().count() > 400 {
            return Err(ApiError::invalid("file_name", "file_name must be at most 400 characters"));
        }
        let checked = files::Upload::from_base64("content_type", &self.content_type, "content_base64", &self.content_base64)?;
        // The stored name is the safe one, so every reader (the portal's download attribute, the
        // console, the response header) gets a name whose extension is the checked type's.
        let file_name = files::safe_filename(last, checked.file_type);
        Ok(Upload { file_name, content_type: checked.file_type.as_str(), bytes: checked.bytes })
    }
}


macro_rules! attachment_select {
    ($($rest:tt)*) => {
        concat!(
            "SELECT a.id, a.request_id, a.company_id, a.file_name, a.content_type, a.size, a.sha256, a.kv_key, a.created_at, \
             u.kind AS uploader_kind, trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')) AS uploader_name \
             FROM attachments a LEFT JOIN users u ON u.id = a.uploaded_by ",
            $($rest)*
        )
    };
}

const SELECT_ATTACHMENT: &str = attachment_select!("WHERE a.id = ?1 AND a.request_id = ?2");
/// ?1 request, ?2/?3 cursor bound, ?4 limit: oldest first.
const LIST_ATTACHMENTS: &str =
    attachment_select!("WHERE a.request_id = ?1 AND (a.created_at, a.id) > (?2, ?3) ORDER BY a.created_at, a.id LIMIT ?4");
// ?1 id, ?2 request, ?3 name, ?4 type, ?5 size, ?6 sha256, ?7 kv key, ?8 user, ?9 now, then the guard.
const INSERT_CLIENT_ATTACHMENT: &str = concat!(
    "INSERT INTO attachments (id, request_id, company_id, file_name, content_type, size, sha256, kv_key, uploaded_by, created_at) \
     SELECT ?1, r.id, r.company_id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM requests r WHERE r.id = ?2 AND ",
    client_alive!(10, 11, 9)
);
const INSERT_TEAM_ATTACHMENT: &str = concat!(
    "INSERT INTO attachments (id, request_id, company_id, file_name, content_type, size, sha256, kv_key, uploaded_by, created_at) \
     SELECT ?1, r.id, r.company_id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM requests r WHERE r.id = ?2 AND ",
    employee_alive!(10, 9),
    " AND ",
    company_in_scope!(8, "r.company_id")
);

#[derive(Debug, Deserialize)]
struct AttachmentRow {
    id: Uuid,
    request_id: Uuid,
    company_id: Uuid,
    file_name: String,
    content_type: String,
    size: i64,
    sha256: String,
    kv_key: String,
    created_at: i64,
    uploader_kind: Option<String>,
    uploader_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    pub id: String,
    pub request_id: String,
    pub company_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// `client` or `employee`.
    pub uploaded_by_kind: String,
    pub uploaded_by_name: Option<String>,
    pub created_at: String,
}

impl From<AttachmentRow> for AttachmentView {
    fn from(a: AttachmentRow) -> Self {
        AttachmentView {
            id: a.id.to_string(),
            request_id: a.request_id.to_string(),
            company_id: a.company_id.to_string(),
            // Rows stored before names were made safe show the safe name too (the portal's
            // download attribute uses it).
            file_name: match files::FileType::parse(&a.content_type) {
                Some(file_type) => files::safe_filename(&a.file_name, file_type),
                None => a.file_name,
            },
            content_type: a.content_type,
            size: a.size,
            sha256: a.sha256,
            uploaded_by_kind: if a.uploader_kind.as_deref() == Some("employee") { "employee" } else { "client" }.to_owned(),
            uploaded_by_name: a.uploader_name.filter(|n| !n.is_empty()),
            created_at: rfc3339(a.created_at),
        }
    }
}

fn list_stmt(request_id: Uuid, list: &ListOptions) -> Stmt {
    let (at, id) = oldest_first_bound(list.cursor.clone());
    Stmt::new(LIST_ATTACHMENTS).bind(request_id.to_string()).bind(at).bind(id).bind(list.limit + 1)
}

fn attachment_page(rows: Vec<Row>, limit: u32) -> Result<Page<AttachmentView>, ApiError> {
    let page = Page::of(decode_all::<AttachmentRow>(rows)?, limit, |a: &AttachmentRow| encode_time_cursor(a.created_at, &a.id.to_string()));
    page.try_map(|a| Ok(AttachmentView::from(a)))
}

/// The file of an attachment row, read from KV. A row whose file is not readable yet (KV is
/// eventually consistent across locations) answers 503, never someone else's bytes.
async fn read_file<P: Ports>(ports: &P, row: Option<Row>) -> Result<Download, ApiError> {
    let row: AttachmentRow = decode(row.ok_or(ApiError::NotFound)?)?;
    let file_type = files::FileType::parse(&row.content_type).ok_or_else(|| ApiError::internal(format!("attachment type {}", row.content_type)))?;
    let bytes = ports.kv().get(&row.kv_key).await?.ok_or_else(|| ApiError::Unavailable { what: "The file".into() })?;
    // Names stored before names were made safe are made safe on the way out as well.
    Ok(Download::new(bytes, file_type, &row.file_name))
}

/// Stores the bytes under a fresh random key, then runs the guarded insert; a refused insert
/// removes the stored bytes again. Returns the new attachment's id.
/// Stores the bytes, then the row and its audit event (`attachment.uploaded`, written only when
/// the row was) in one batch.
async fn store<P: Ports>(ports: &P, now: DateTime<Utc>, meta: &ClientMeta, upload: &Upload, insert: impl FnOnce(&str, &str) -> Stmt, event: Event, refused: ApiError) -> Result<String, ApiError> {
    let key_bytes: [u8; 16] = secret_bytes(ports)?;
    let kv_key = format!("att:{}", uuid::Builder::from_random_bytes(key_bytes).into_uuid());
    let id = new_id(ports, now)?;
    ports.kv().put(&kv_key, upload.bytes.clone(), None).await?;
    let stmt = insert(&id, &kv_key);
    let event = event.target("attachment", &id);
    let audit = event.insert_if(&new_id(ports, now)?, meta, now.timestamp(), UPLOADED).bind(id.as_str());
    let changed = match ports.db().batch(vec![stmt, audit]).await {
        Ok(out) => changes(&out, 0),
        Err(e) => {
            let _ = ports.kv().delete(&kv_key).await;
            return Err(e.into());
        }
    };
    if changed != 1 {
        let _ = ports.kv().delete(&kv_key).await;
        return Err(refused);
    }
    Ok(id)
}

/// ?14 the attachment the same batch inserted.
const UPLOADED: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM attachments WHERE id = ?14)");

fn upload_details(request_id: Uuid, upload: &Upload, sha: &str) -> serde_json::Value {
    serde_json::json!({"request_id": request_id, "file_name": upload.file_name, "content_type": upload.content_type, "size": file_size(upload), "sha256": sha})
}

fn file_size(upload: &Upload) -> i64 {
    i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// The client's side
// ---------------------------------------------------------------------------------------------

pub async fn upload<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, request_id: Uuid, upload: Upload) -> Result<AttachmentView, ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_REQUEST).bind(request_id.to_string()));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    let request = visible_request(&client, first_row(&out, GATE_STMT_COUNT), Action::View)?;
    let create = client.check(Action::CreateRequest, &Object::Pipeline { company_id: request.company_id, pipeline_id: request.pipeline_id });
    if create.is_err() && client.check(Action::SendRequestChat, &request.object()).is_err() {
        create?;
    }
    let sha = sha256_hex(&upload.bytes);
    let t = now.timestamp();
    let (session, version, user) = (client.principal.session_id.clone(), client.principal.policy_version, client.user_id().to_owned());
    let insert = |id: &str, key: &str| insert_stmt(INSERT_CLIENT_ATTACHMENT, id, key, request_id, &upload, &sha, &user, t, &session).bind(version);
    let event = client_event(&user, Some(client.link_id().as_str()), "attachment.uploaded", request.company_id, upload_details(request_id, &upload, &sha));
    let id = store(ports, now, meta, &upload, insert, event, ApiError::TokenStale).await?;
    fetch_view(ports, &id, request_id).await
}

async fn fetch_view<P: Ports>(ports: &P, id: &str, request_id: Uuid) -> Result<AttachmentView, ApiError> {
    let row = ports.db().first(Stmt::new(SELECT_ATTACHMENT).bind(id).bind(request_id.to_string())).await?;
    Ok(decode::<AttachmentRow>(row.ok_or_else(|| ApiError::internal("attachment vanished after insert"))?)?.into())
}

pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, request_id: Uuid, list: &ListOptions) -> Result<Page<AttachmentView>, ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_REQUEST).bind(request_id.to_string()));
    stmts.push(list_stmt(request_id, list));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    visible_request(&client, first_row(&out, GATE_STMT_COUNT), Action::View)?;
    attachment_page(rows(&out, GATE_STMT_COUNT + 1), list.limit)
}

/// The download's audit row rides in the batch that authorizes it: written when the session is
/// alive at its policy version and the attachment's request is of a (company, pipeline) pair the
/// token's visible scope holds, the conditions the gate then decides on. ?14 session, ?15 policy
/// version, ?16 attachment, ?17 request, ?18 the visible pairs (JSON).
const DOWNLOAD_SEEN: AuditGuard = audit_guard!(
    companies = "(SELECT json_array(dq.company_id) FROM requests dq WHERE dq.id = ?17)";
    client_alive!(14, 15, 2),
    " AND EXISTS (SELECT 1 FROM attachments da JOIN requests dr ON dr.id = da.request_id WHERE da.id = ?16 AND dr.id = ?17 \
       AND EXISTS (SELECT 1 FROM json_each(?18) dv WHERE dv.value ->> 0 = dr.company_id AND dv.value ->> 1 = dr.pipeline_id))"
);

pub async fn download<P: Ports>(
    ports: &P,
    bearer: &Bearer,
    meta: &ClientMeta,
    now: DateTime<Utc>,
    request_id: Uuid,
    attachment_id: Uuid,
    retrieval: Retrieval,
) -> Result<Download, ApiError> {
    let claims = &bearer.claims;
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_REQUEST).bind(request_id.to_string()));
    stmts.push(Stmt::new(SELECT_ATTACHMENT).bind(attachment_id.to_string()).bind(request_id.to_string()));
    if retrieval.audited() {
        let pairs: Vec<[String; 2]> = scope_or_empty(bearer)
            .companies
            .iter()
            .flat_map(|c| c.pipeline_ids.iter().map(move |p| [c.company_id.to_string(), p.to_string()]))
            .collect();
        let event = client_event(&claims.sub, claims.lid.as_deref(), "attachment.downloaded", Uuid::nil(), serde_json::json!({"request_id": request_id}))
            .target("attachment", &attachment_id.to_string())
            .companies(Vec::new());
        stmts.push(
            event
                .insert_if(&new_id(ports, now)?, meta, now.timestamp(), DOWNLOAD_SEEN)
                .bind(claims.sid.as_str())
                .bind(claims.pv)
                .bind(attachment_id.to_string())
                .bind(request_id.to_string())
                .bind(serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())),
        );
    }
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    visible_request(&client, first_row(&out, GATE_STMT_COUNT), Action::View)?;
    read_file(ports, first_row(&out, GATE_STMT_COUNT + 1)).await
}

// ---------------------------------------------------------------------------------------------
// The team's side
// ---------------------------------------------------------------------------------------------

/// An attachment's INSERT bound up to the acting session (?10); `sql` carries the uploader's guard.
#[allow(clippy::too_many_arguments)]
fn insert_stmt(sql: &'static str, id: &str, key: &str, request_id: Uuid, upload: &Upload, sha: &str, user: &str, t: i64, session: &str) -> Stmt {
    Stmt::new(sql)
        .bind(id)
        .bind(request_id.to_string())
        .bind(upload.file_name.as_str())
        .bind(upload.content_type)
        .bind(file_size(upload))
        .bind(sha)
        .bind(key)
        .bind(user)
        .bind(t)
        .bind(session)
}

pub async fn team_upload<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, request_id: Uuid, upload: Upload) -> Result<AttachmentView, ApiError> {
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_REQUEST).bind(request_id.to_string())]).await?;
    let (governor, request) = governed_request(bearer, &out)?;
    let sha = sha256_hex(&upload.bytes);
    let t = now.timestamp();
    let (session, user) = (governor.principal.session_id.clone(), governor.user_id().to_owned());
    let insert = |id: &str, key: &str| insert_stmt(INSERT_TEAM_ATTACHMENT, id, key, request_id, &upload, &sha, &user, t, &session);
    let event = Event::new("attachment.uploaded", ActorKind::Employee, Some(&user))
        .companies(vec![request.company_id.to_string()])
        .details(upload_details(request_id, &upload, &sha));
    let id = store(ports, now, meta, &upload, insert, event, ApiError::Unauthenticated).await?;
    fetch_view(ports, &id, request_id).await
}

pub async fn team_list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, request_id: Uuid, list: &ListOptions) -> Result<Page<AttachmentView>, ApiError> {
    let out = ports
        .db()
        .batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_REQUEST).bind(request_id.to_string()), list_stmt(request_id, list)])
        .await?;
    governed_request(bearer, &out)?;
    attachment_page(rows(&out, 2), list.limit)
}

/// The team's download, audited like the client's (`attachment.downloaded`, by the employee, with
/// the request's company), unless it is a `HEAD`.
pub async fn team_download<P: Ports>(
    ports: &P,
    bearer: &Bearer,
    meta: &ClientMeta,
    now: DateTime<Utc>,
    request_id: Uuid,
    attachment_id: Uuid,
    retrieval: Retrieval,
) -> Result<Download, ApiError> {
    let out = ports
        .db()
        .batch(vec![
            Governor::check_stmt(bearer, now),
            Stmt::new(SELECT_REQUEST).bind(request_id.to_string()),
            Stmt::new(SELECT_ATTACHMENT).bind(attachment_id.to_string()).bind(request_id.to_string()),
        ])
        .await?;
    let (governor, request) = governed_request(bearer, &out)?;
    let download = read_file(ports, first_row(&out, 2)).await?;
    if retrieval.audited() {
        let event = Event::new("attachment.downloaded", ActorKind::Employee, Some(governor.user_id()))
            .target("attachment", &attachment_id.to_string())
            .companies(vec![request.company_id.to_string()])
            .details(serde_json::json!({"request_id": request_id}));
        ports.db().execute(event.insert(&new_id(ports, now)?, meta, now.timestamp())).await?;
    }
    Ok(download)
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine;

    fn input(content_type: &str, bytes: &[u8]) -> UploadInput {
        UploadInput { file_name: "f".into(), content_type: content_type.into(), content_base64: base64::engine::general_purpose::STANDARD.encode(bytes) }
    }

    fn field_of(result: Result<Upload, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::InvalidInput { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn uploads_follow_the_shared_file_rules() {
        assert_eq!(input("Application/PDF", b"%PDF-1.4 x").parse().unwrap().content_type, "application/pdf");
        assert_eq!(input("text/plain; charset=utf-8", b"hello").parse().unwrap().content_type, "text/plain");
        for refused in ["text/html", "image/svg+xml", "application/octet-stream"] {
            assert_eq!(field_of(input(refused, b"x").parse()), Some("content_type".into()), "{refused}");
        }
        // A page that claims to be a PDF or a PNG is refused by its first bytes.
        assert_eq!(field_of(input("application/pdf", b"<html><script>alert(1)</script></html>").parse()), Some("content_base64".into()));
        assert_eq!(field_of(input("image/png", b"<svg onload=alert(1)>").parse()), Some("content_base64".into()));
        assert_eq!(field_of(input("application/pdf", b"").parse()), Some("content_base64".into()));
    }

    #[test]
    fn stored_names_are_safe_and_carry_the_checked_type() {
        let named = |name: &str, content_type: &str, bytes: &[u8]| {
            UploadInput { file_name: name.into(), ..input(content_type, bytes) }.parse().map(|u| u.file_name)
        };
        assert_eq!(named("../../etc/passwd", "text/plain", b"root").unwrap(), "passwd.txt");
        assert_eq!(named("C:\\docs\\plan.pdf", "application/pdf", b"%PDF-1.7").unwrap(), "plan.pdf");
        assert_eq!(named("Invoice.pdf.exe", "text/plain", b"hello").unwrap(), "Invoice.pdf.txt");
        assert_eq!(named("Invoice\u{202E}fdp.exe", "text/plain", b"hello").unwrap(), "Invoicefdp.txt");
        assert!(named("  ", "text/plain", b"x").is_err());
        // Text must be text: an executable labelled text/plain is refused by its bytes.
        assert_eq!(field_of(input("text/plain", b"MZ\x90\x00\x03\x00").parse()), Some("content_base64".into()));
        assert_eq!(field_of(input("text/csv", &[0xff, 0xfe, 0x41]).parse()), Some("content_base64".into()));
    }
}
