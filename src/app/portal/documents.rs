//! Documents as the signed-in client sees them: the published documents of their companies (for
//! every contact, or theirs), one document's metadata and action status, the file, and the
//! client's action on it (reviewed, approved, rejected, signed) with its evidence. The team's
//! side is in `team_documents`; the row, enums and views both use are here.
//!
//! Completing an action is one guarded batch: the UPDATE writes a fresh nonce into
//! `completed_action_id` only while the document still expects that action and nothing completed
//! it (and the session and policy version are the ones decided on); the evidence row, the TOTP
//! step and the audit event are written only WHERE EXISTS that nonce. So of any number of
//! concurrent attempts exactly one completes, and only it leaves evidence.

use crate::app::kit::client_gate::client_event;
use crate::app::kit::error::Conflict;
use crate::app::kit::documents::{DocumentShown, ClientAction, DocumentRow, ListPage, RequiredAction, doc_columns, document_at, page, select_document};
use crate::app::kit::page::Page;
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{client_alive};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::step_up;
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::client_gate::{gate_stmts, token_scope, Client, GATE_STMT_COUNT};
use crate::app::kit::files::{self, Download, Retrieval};
use crate::app::kit::ids::{new_id, nonce};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::decision::{Action, Object};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// A document as the client sees it: what it is, what the team asks, and whether (and by whom)
/// it was done.
/// A document as its client sees it, with the actions still expected of them.
#[derive(Debug, Clone, Serialize)]
pub struct ClientDocumentView {
    #[serde(flatten)]
    pub shown: DocumentShown,
    pub expected_actions: Vec<ClientAction>,
    pub file_url: String,
}

impl From<&DocumentRow> for ClientDocumentView {
    fn from(d: &DocumentRow) -> Self {
        ClientDocumentView {
            shown: DocumentShown::from(d),
            expected_actions: d.expected_actions(),
            file_url: format!("/api/documents/{}/file", d.id),
        }
    }
}

// ?1 visible companies (JSON array), ?2 the caller's contact, ?3/?4 cursor (created_at, id), ?5 limit.
const LIST_VISIBLE: &str = concat!(
    "SELECT ",
    doc_columns!(),
    " FROM documents d WHERE d.company_id IN (SELECT value FROM json_each(?1)) AND d.status = 'published' \
     AND (d.contact_id IS NULL OR d.contact_id = ?2) \
     AND (?3 IS NULL OR d.created_at < ?3 OR (d.created_at = ?3 AND d.id < ?4)) \
     ORDER BY d.created_at DESC, d.id DESC LIMIT ?5"
);

/// `GET /api/documents?company=`: the published documents visible to the caller, filtered in SQL
/// by the scope the access token carries, in one round trip with the session check (whose
/// policy-version comparison makes that scope current). Without `company`, every visible company;
/// a company that is not visible answers 404.
pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, company: Option<Uuid>, paging: &ListPage) -> Result<Page<ClientDocumentView>, ApiError> {
    let scope = token_scope(bearer)?;
    let (after_key, after_id) = paging.after()?;
    let companies = match company {
        Some(c) if scope.company(c).is_some() => format!("[\"{c}\"]"),
        Some(_) => "[]".to_owned(),
        None => scope.company_ids_json(),
    };
    let stmt = Stmt::new(LIST_VISIBLE)
        .bind(companies)
        .bind(scope.contact_id.to_string())
        .bind(after_key)
        .bind(after_id)
        .bind(paging.limit + 1);
    let out = ports.db().batch(vec![bearer.check_stmt(now), stmt]).await?;
    let principal = bearer.full_principal(out.first())?;
    if principal.employee {
        return Err(ApiError::Forbidden);
    }
    if company.is_some_and(|c| scope.company(c).is_none()) {
        return Err(ApiError::NotFound);
    }
    let rows: Vec<DocumentRow> = decode_all(out.get(1).map(|o| o.rows.clone()).unwrap_or_default())?;
    Ok(page(rows, paging.limit, |d| ClientDocumentView::from(d)))
}

/// The gate and the document in one batch; 404 unless the caller may see it.
async fn visible_document<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: &Uuid, extra: Vec<Stmt>, action: Action) -> Result<(Client, DocumentRow, Vec<Outcome>), ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(select_document(id));
    stmts.extend(extra);
    let out = ports.db().batch(stmts).await?;
    let client = Client::from_outcomes(bearer, &out)?;
    let doc = document_at(&out, GATE_STMT_COUNT)?.ok_or(ApiError::NotFound)?;
    client.check(action, &Object::Document(doc.facts()?))?;
    Ok((client, doc, out))
}

/// `GET /api/documents/{id}`.
pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: &Uuid) -> Result<ClientDocumentView, ApiError> {
    let (_, doc, _) = visible_document(ports, bearer, now, id, Vec::new(), Action::View).await?;
    Ok(ClientDocumentView::from(&doc))
}

/// `GET /api/documents/{id}/file`: the bytes, for a document the caller may see.
/// The download's audit row rides in the batch that authorizes it (no extra round trip): it is
/// written when the session is alive at its policy version and the document is published for a
/// company and contact of the session's link, the same conditions the gate then decides on.
/// The event's company is the document's, read inside the statement (the client does not know it
/// before the read), so the company's managers see who downloaded what.
const DOWNLOAD_SEEN: AuditGuard = audit_guard!(
    companies = "(SELECT json_array(dc.company_id) FROM documents dc WHERE dc.id = ?17)";
    client_alive!(14, 15, 2),
    " AND EXISTS (SELECT 1 FROM documents dd JOIN links dl ON dl.id = ?16 WHERE dd.id = ?17 AND dd.status = 'published' \
       AND dd.company_id IN (SELECT dlc.company_id FROM link_companies dlc WHERE dlc.link_id = dl.id) \
       AND (dd.contact_id IS NULL OR dd.contact_id = dl.contact_id))"
);

pub async fn file<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, id: &Uuid, retrieval: Retrieval) -> Result<Download, ApiError> {
    let claims = &bearer.claims;
    let mut extra = Vec::new();
    if retrieval.audited() {
        let event = client_event(&claims.sub, claims.lid.as_deref(), "document.downloaded", Uuid::nil(), json!({"document_id": id}))
            .target("document", &id.to_string())
            .companies(Vec::new());
        extra.push(
            event
                .insert_if(&new_id(ports, now)?, meta, now.timestamp(), DOWNLOAD_SEEN)
                .bind(claims.sid.as_str())
                .bind(claims.pv)
                .bind(claims.lid.clone())
                .bind(id.to_string()),
        );
    }
    let (_, doc, _) = visible_document(ports, bearer, now, id, extra, Action::View).await?;
    let file_type = doc.file_type()?;
    let bytes = files::load(ports, &doc.kv_key).await?;
    Ok(Download::new(bytes, file_type, &doc.title))
}

/// `POST /api/documents/{id}/actions` as sent; checked by [`ActionInput::validate`].
#[derive(Debug, Clone, Deserialize)]
pub struct ActionInput {
    pub action: ClientAction,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub signature_name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub totp: Option<String>,
}

const MAX_COMMENT: usize = 2000;
const MAX_SIGNATURE_NAME: usize = 200;

/// An action whose fields make sense on their own (whether the document expects it is decided
/// against the row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAction {
    pub action: ClientAction,
    pub comment: Option<String>,
    /// For `signed`: the typed name and the step-up credentials.
    pub signature: Option<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub password: String,
    pub totp: Option<String>,
}

impl ActionInput {
    pub fn validate(self) -> Result<ValidAction, ApiError> {
        let comment = self.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
            return Err(ApiError::invalid("comment", format!("comment must be at most {MAX_COMMENT} characters")));
        }
        if self.action == ClientAction::Rejected && comment.is_none() {
            return Err(ApiError::invalid("comment", "A rejection needs a comment saying why."));
        }
        let signature = if self.action == ClientAction::Signed {
            let name = self.signature_name.map(|n| n.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default();
            if name.is_empty() {
                return Err(ApiError::invalid("signature_name", "Type your full name to sign."));
            }
            if name.chars().count() > MAX_SIGNATURE_NAME || name.chars().any(char::is_control) {
                return Err(ApiError::invalid("signature_name", format!("signature_name must be at most {MAX_SIGNATURE_NAME} printable characters")));
            }
            let password = self.password.filter(|p| !p.is_empty()).ok_or_else(|| ApiError::invalid("password", "Signing needs your current password."))?;
            let totp = self.totp.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
            Some(Signature { name, password, totp })
        } else {
            None
        };
        Ok(ValidAction { action: self.action, comment, signature })
    }
}

/// What `POST /api/documents/{id}/actions` answers: the document as it now stands and the
/// evidence row written.
#[derive(Debug, Clone, Serialize)]
pub struct ActionDone {
    pub document: ClientDocumentView,
    pub action: ActionRecord,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    pub id: String,
    pub action: ClientAction,
    pub comment: Option<String>,
    pub signature_name: Option<String>,
    pub document_sha256: String,
    pub created_at: String,
}

const SELECT_SIGNER: &str = "SELECT password_hash, totp_secret, totp_last_step, trim(first_name || ' ' || last_name) AS name, \
     password_set_via, password_changed_at, password_set_by FROM users WHERE id = ?1";

#[derive(Deserialize)]
struct SignerRow {
    password_hash: Option<String>,
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
    name: String,
    password_set_via: Option<String>,
    password_changed_at: Option<i64>,
    password_set_by: Option<String>,
}

// ?1 document, ?2 action, ?3 nonce, ?4 user, ?5 now, ?6 the required action decided on, ?7 session,
// ?8 policy version, ?9 the TOTP step used (NULL without TOTP: it must be newer than the last one).
const COMPLETE: &str = concat!(
    "UPDATE documents SET completed_action = ?2, completed_action_id = ?3, completed_by = ?4, completed_at = ?5, updated_at = ?5 \
     WHERE id = ?1 AND status = 'published' AND required_action = ?6 AND completed_at IS NULL AND ",
    client_alive!(7, 8, 5),
    " AND (?9 IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = ?4 AND (totp_last_step IS NULL OR totp_last_step < ?9)))"
);
// The evidence takes the SHA-256 from the row it completes: the hash of the bytes uploaded.
// And how the signer last set their password (migration 0014): a signature made with a password an
// employee's reset link set says so, and names who issued it.
const INSERT_EVIDENCE: &str = "INSERT INTO document_actions (id, document_id, user_id, link_id, session_id, action, comment, \
     signature_name, document_sha256, ip, country, user_agent, created_at, credentials) \
     SELECT ?1, d.id, ?3, ?4, ?5, ?6, ?7, ?8, d.sha256, ?9, ?10, ?11, ?12, \
       (SELECT json_object('via', u.password_set_via, 'at', u.password_changed_at, 'by', u.password_set_by) FROM users u WHERE u.id = ?3) \
     FROM documents d WHERE d.id = ?2 AND d.completed_action_id = ?13";
const USE_TOTP_STEP: &str = "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND ?2 IS NOT NULL \
     AND EXISTS (SELECT 1 FROM documents WHERE id = ?3 AND completed_action_id = ?4)";
const EVENT_IF_COMPLETED: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM documents WHERE id = ?14 AND completed_action_id = ?15)");
// Why the guard failed, read in the same batch: who completed it, and whether our session is still good.
const AFTER_COMPLETE: &str = concat!(
    "SELECT d.completed_action_id AS winner, ",
    client_alive!(2, 3, 4),
    " AS session_ok FROM documents d WHERE d.id = ?1"
);

#[derive(Deserialize)]
struct AfterRow {
    winner: Option<String>,
    #[serde(with = "crate::store::sql::flag")]
    session_ok: bool,
}

fn not_expected(doc: &DocumentRow, action: ClientAction) -> ApiError {
    let message = if doc.completed_at.is_some() {
        format!("This document's {} was already completed.", doc.required_action.as_str())
    } else if doc.required_action == RequiredAction::None {
        "This document expects no action.".to_owned()
    } else {
        format!("This document expects {}, not {}.", doc.required_action.as_str(), action.as_str())
    };
    ApiError::conflict_because(Conflict::ActionNotExpected, message)
}

/// `POST /api/documents/{id}/actions`: the first matching action completes the document's
/// required action and records who acted, with evidence (the file's SHA-256, time, ip, country,
/// user agent, session and link). Signing needs the typed name and the current password (and a
/// TOTP code where enrolled); a wrong password answers 400 naming `password` and counts toward
/// the account's lockout, like a failed login (see `step_up`).
pub async fn act<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, id: &Uuid, input: ActionInput) -> Result<ActionDone, ApiError> {
    let t = now.timestamp();
    let signer_stmt = Stmt::new(SELECT_SIGNER).bind(bearer.claims.sub.as_str());
    let (client, doc, out) = visible_document(ports, bearer, now, id, vec![signer_stmt], Action::ActOnDocument).await?;
    let valid = input.validate()?;
    if doc.expected_actions().iter().all(|a| *a != valid.action) {
        return Err(not_expected(&doc, valid.action));
    }
    let signer: SignerRow = decode(out.get(GATE_STMT_COUNT + 1).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::Unauthenticated)?)?;
    let mut step = None;
    if let Some(sig) = &valid.signature {
        let session = client.principal.session_id.clone();
        let password = step_up::PasswordCheck { given: &sig.password, phc: signer.password_hash.as_deref(), field: "password" };
        let totp = signer.totp_secret.as_deref().map(|secret| step_up::TotpCheck { secret, code: sig.totp.as_deref(), last_step: signer.totp_last_step, field: "totp" });
        match step_up::verify_factors(ports, client.user_id(), Some(&session), Some(password), totp, now).await {
            Ok(used) => step = used,
            Err(err) => {
                let event = Event::new("document.sign_failed", ActorKind::External, Some(client.user_id()))
                    .target("document", &doc.id)
                    .companies(vec![doc.company_id.clone()])
                    .failed()
                    .details(json!({"reason": err.code()}));
                ports.db().execute(event.insert(&new_id(ports, now)?, meta, t)).await?;
                return Err(err);
            }
        }
    }

    let n = nonce(ports)?;
    let action_id = new_id(ports, now)?;
    let session_id = client.principal.session_id.clone();
    let version = client.principal.policy_version;
    let signature_name = valid.signature.as_ref().map(|s| s.name.clone());
    let event = Event::new(valid.action.audit_action(), ActorKind::External, Some(client.user_id()))
        .target("document", &doc.id)
        .companies(vec![doc.company_id.clone()])
        .details(json!({"action": valid.action, "action_id": action_id, "document_sha256": doc.sha256,
            "comment": valid.comment, "signature_name": signature_name, "link_id": client.link_id(), "session_id": session_id,
            "credentials": {"via": signer.password_set_via, "at": signer.password_changed_at.map(rfc3339), "by": signer.password_set_by}}));
    let audit = event.insert_if(&new_id(ports, now)?, meta, t, EVENT_IF_COMPLETED);
    let writes = vec![
        Stmt::new(COMPLETE)
            .bind(doc.id.as_str())
            .bind(valid.action.as_str())
            .bind(n.as_str())
            .bind(client.user_id())
            .bind(t)
            .bind(doc.required_action.as_str())
            .bind(session_id.as_str())
            .bind(version)
            .bind(step),
        Stmt::new(INSERT_EVIDENCE)
            .bind(action_id.as_str())
            .bind(doc.id.as_str())
            .bind(client.user_id())
            .bind(client.link_id())
            .bind(session_id.as_str())
            .bind(valid.action.as_str())
            .bind(valid.comment.clone())
            .bind(signature_name.clone())
            .bind(meta.ip.clone())
            .bind(meta.country.clone())
            .bind(meta.user_agent.clone())
            .bind(t)
            .bind(n.as_str()),
        Stmt::new(USE_TOTP_STEP).bind(client.user_id()).bind(step).bind(doc.id.as_str()).bind(n.as_str()),
        audit.bind(doc.id.as_str()).bind(n.as_str()),
        Stmt::new(AFTER_COMPLETE).bind(doc.id.as_str()).bind(session_id.as_str()).bind(version).bind(t),
    ];
    let out = ports.db().batch(writes).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        let after: AfterRow = decode(out.get(4).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::NotFound)?)?;
        if !after.session_ok {
            // The session ended or the policy moved on since the gate: refreshing tells which.
            return Err(ApiError::TokenStale);
        }
        if after.winner.is_none() && step.is_some() {
            return Err(ApiError::invalid("totp", "The code is incorrect or was already used."));
        }
        // Someone completed it first, or the team changed what it expects.
        return Err(ApiError::conflict(Conflict::ActionNotExpected));
    }
    let mut done = doc.clone();
    done.completed_action = Some(valid.action);
    done.completed_by = Some(client.user_id().to_owned());
    done.completed_by_name = Some(signer.name);
    done.completed_at = Some(t);
    Ok(ActionDone {
        document: ClientDocumentView::from(&done),
        action: ActionRecord {
            id: action_id,
            action: valid.action,
            comment: valid.comment,
            signature_name,
            document_sha256: doc.sha256,
            created_at: rfc3339(t),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(action: ClientAction) -> ActionInput {
        ActionInput { action, comment: None, signature_name: None, password: None, totp: None }
    }

    fn field(result: Result<ValidAction, ApiError>) -> String {
        match result {
            Err(ApiError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn each_required_action_expects_its_own_answers() {
        assert_eq!(RequiredAction::Review.expected(), &[ClientAction::Reviewed]);
        assert_eq!(RequiredAction::Approve.expected(), &[ClientAction::Approved, ClientAction::Rejected]);
        assert_eq!(RequiredAction::Sign.expected(), &[ClientAction::Signed]);
        assert!(RequiredAction::None.expected().is_empty());
    }

    #[test]
    fn a_rejection_needs_a_comment() {
        assert_eq!(field(input(ClientAction::Rejected).validate()), "comment");
        assert_eq!(field(ActionInput { comment: Some("   ".into()), ..input(ClientAction::Rejected) }.validate()), "comment");
        assert!(ActionInput { comment: Some("wrong amount".into()), ..input(ClientAction::Rejected) }.validate().is_ok());
    }

    #[test]
    fn signing_needs_a_name_and_the_password() {
        assert_eq!(field(input(ClientAction::Signed).validate()), "signature_name");
        assert_eq!(field(ActionInput { signature_name: Some("Emily Carter".into()), ..input(ClientAction::Signed) }.validate()), "password");
        let ok = ActionInput { signature_name: Some("  Emily   Carter ".into()), password: Some("pw".into()), ..input(ClientAction::Signed) }.validate();
        assert_eq!(ok.ok().and_then(|v| v.signature).map(|s| s.name), Some("Emily Carter".to_owned()));
    }
}
