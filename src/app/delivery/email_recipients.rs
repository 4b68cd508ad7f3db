//! Who may still receive an email about a thing, decided by the access engine when the message is
//! about to leave (as Telegram's delivery does), not by the SQL that wrote the row: a "document
//! awaits you" goes only to a user with an active link on which `decide` lets them see the
//! document now (a company denied as a whole, a contact no longer addressed, a withdrawn or
//! completed document: the message is dropped with the reason).

use crate::access::decision::{decide, Action};
use crate::app::delivery::notify::{DocumentRow, SELECT_DOCUMENTS};
use crate::app::kit::link_facts::{decode_facts, facts_stmts, FACTS_STMT_COUNT};
use crate::app::{ApiError, Ports};
use crate::store::{decode_all, Sql, Stmt};
use serde::Deserialize;

// ?1 user: the user's active links.
const ACTIVE_LINKS: &str = "SELECT id FROM links WHERE user_id = ?1 AND status = 'active' ORDER BY created_at, id";

#[derive(Deserialize)]
struct LinkId {
    id: String,
}

/// Why a "document awaits you" to `user_id` must not leave now, or None when it may.
pub async fn document_refusal<P: Ports>(ports: &P, user_id: &str, document_id: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    let Some(document_id) = document_id else {
        return Ok(Some("the message names no document"));
    };
    let one = serde_json::json!([document_id]).to_string();
    let out = ports.db().batch(vec![Stmt::new(ACTIVE_LINKS).bind(user_id), Stmt::new(SELECT_DOCUMENTS).bind(one)]).await?;
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
    let object = doc.object();
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
