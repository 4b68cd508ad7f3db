//! Who may still receive an email about a thing, decided by the access engine when the message is
//! about to leave (as Telegram's delivery does), not by the SQL that wrote the row: a "document
//! awaits you" goes only to a user with an active link on which `decide` lets them see the
//! document now (a company denied as a whole, a contact no longer addressed, a withdrawn or
//! completed document: the message is dropped with the reason).

use crate::access::decision::{decide, Action, Object};
use crate::access::facts::DocumentFacts;
use crate::app::kit::link_facts::{decode_facts, facts_stmts, FACTS_STMT_COUNT};
use crate::app::{ApiError, Ports};
use crate::store::{decode_all, sql::flag, Sql, Stmt};
use serde::Deserialize;
use uuid::Uuid;

// ?1 user: the user's active links.
const ACTIVE_LINKS: &str = "SELECT id FROM links WHERE user_id = ?1 AND status = 'active' ORDER BY created_at, id";
// ?1 document.
const DOCUMENT: &str = "SELECT id, company_id, contact_id, status = 'published' AS published, \
     (status = 'published' AND required_action <> 'none' AND completed_at IS NULL) AS awaiting FROM documents WHERE id = ?1";

#[derive(Deserialize)]
struct LinkId {
    id: String,
}

#[derive(Deserialize)]
struct DocumentRow {
    id: Uuid,
    company_id: Uuid,
    contact_id: Option<Uuid>,
    #[serde(with = "flag")]
    published: bool,
    #[serde(with = "flag")]
    awaiting: bool,
}

/// Why a "document awaits you" to `user_id` must not leave now, or None when it may.
pub async fn document_refusal<P: Ports>(ports: &P, user_id: &str, document_id: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    let Some(document_id) = document_id else {
        return Ok(Some("the message names no document"));
    };
    let out = ports.db().batch(vec![Stmt::new(ACTIVE_LINKS).bind(user_id), Stmt::new(DOCUMENT).bind(document_id)]).await?;
    let links: Vec<LinkId> = decode_all(out.first().map(|o| o.rows.clone()).unwrap_or_default())?;
    let Some(doc) = decode_all::<DocumentRow>(out.get(1).map(|o| o.rows.clone()).unwrap_or_default())?.into_iter().next() else {
        return Ok(Some("the document is gone"));
    };
    if !doc.awaiting {
        return Ok(Some("the document no longer awaits the client"));
    }
    if links.is_empty() {
        return Ok(Some("the user has no active link"));
    }
    let stmts: Vec<Stmt> = links.iter().flat_map(|l| facts_stmts(&l.id)).collect();
    let out = ports.db().batch(stmts).await?;
    let object = Object::Document(DocumentFacts { id: doc.id, company_id: doc.company_id, contact_id: doc.contact_id, published: doc.published });
    for i in 0..links.len() {
        let slice = out.get(i * FACTS_STMT_COUNT..(i + 1) * FACTS_STMT_COUNT).unwrap_or_default();
        if let Some((_, facts)) = decode_facts(slice)? {
            if decide(&facts, Action::View, &object).is_allowed() {
                return Ok(None);
            }
        }
    }
    Ok(Some("the user may not see the document now"))
}
