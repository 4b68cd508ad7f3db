//! What a CRM contact update does to the contact's live links: a company the CRM no longer relates
//! to the contact leaves every live link that held it (the wizard forbids that state, so the sync
//! must not leave it behind). The links' policy versions move on, so outstanding tokens turn stale;
//! a link whose default company left gets another of its companies as default; a link left with
//! none is disabled (it keeps its last company for the record). Each affected link is audited.

use crate::app::kit::governor::Acting;
use crate::app::kit::ids::new_id;
use crate::app::kit::meta::ClientMeta;
use crate::app::kit::sql::crm_or_admin;
use crate::app::{ApiError, Ports};
use crate::store::{decode_all, Row, Stmt, Value};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

/// The contact's live links and their companies, by contact `?1`.
pub const LIVE_LINK_COMPANIES_OF_CONTACT: &str = "SELECT l.id AS link_id, l.default_company_id, lc.company_id FROM links l \
     JOIN link_companies lc ON lc.link_id = l.id WHERE l.contact_id = ?1 AND l.status <> 'revoked' ORDER BY l.id, lc.company_id";

// Every statement: ?1 contact, ?2 JSON of the companies the contact keeps, ?3 session (NULL for the
// CRM), ?4 now. "Keeps some" is a link with at least one company in ?2.
macro_rules! losing_links {
    () => {
        "SELECT l.id FROM links l WHERE l.contact_id = ?1 AND l.status <> 'revoked' AND EXISTS (SELECT 1 FROM link_companies lc \
         WHERE lc.link_id = l.id AND lc.company_id NOT IN (SELECT value FROM json_each(?2)))"
    };
}
macro_rules! keeps_some {
    ($link:literal) => {
        concat!("EXISTS (SELECT 1 FROM link_companies k WHERE k.link_id = ", $link, " AND k.company_id IN (SELECT value FROM json_each(?2)))")
    };
}

const BUMP_LOSING_LINKS: &str = concat!(
    "UPDATE links SET policy_version = policy_version + 1, updated_at = ?4 WHERE id IN (", losing_links!(), ") AND ",
    crm_or_admin!(3, 4)
);
const MOVE_DEFAULT: &str = concat!(
    "UPDATE links SET default_company_id = (SELECT k.company_id FROM link_companies k JOIN companies co ON co.id = k.company_id \
       WHERE k.link_id = links.id AND k.company_id IN (SELECT value FROM json_each(?2)) ORDER BY co.name, co.id LIMIT 1) \
     WHERE contact_id = ?1 AND status <> 'revoked' AND default_company_id NOT IN (SELECT value FROM json_each(?2)) AND ",
    keeps_some!("links.id"), " AND ", crm_or_admin!(3, 4)
);
const DISABLE_EMPTIED: &str = concat!(
    "UPDATE links SET status = 'disabled' WHERE contact_id = ?1 AND status = 'active' AND NOT ", keeps_some!("links.id"),
    " AND EXISTS (SELECT 1 FROM link_companies x WHERE x.link_id = links.id) AND ", crm_or_admin!(3, 4)
);
const DROP_COMPANIES: &str = concat!(
    "DELETE FROM link_companies WHERE company_id NOT IN (SELECT value FROM json_each(?2)) AND link_id IN \
       (SELECT l.id FROM links l WHERE l.contact_id = ?1 AND l.status <> 'revoked' AND ", keeps_some!("l.id"), ") AND ",
    crm_or_admin!(3, 4)
);

#[derive(Deserialize)]
struct LinkCompanyRow {
    link_id: String,
    default_company_id: String,
    company_id: String,
}

/// The statements, in order, for the contact's batch, and an audit event for each link that loses a
/// company (read from the contact's live links before the write).
#[allow(clippy::too_many_arguments)]
pub fn narrow_stmts<P: Ports>(
    ports: &P,
    acting: &Acting,
    client: &ClientMeta,
    now: DateTime<Utc>,
    contact_id: &str,
    kept: &[String],
    live: Vec<Row>,
) -> Result<Vec<Stmt>, ApiError> {
    let t = now.timestamp();
    let kept_json = Value::Text(serde_json::to_string(kept).unwrap_or_else(|_| "[]".into()));
    let stmt = |sql: &'static str| Stmt::new(sql).bind(contact_id).bind(kept_json.clone()).bind(acting.session_id.clone()).bind(t);
    let mut stmts = vec![stmt(BUMP_LOSING_LINKS), stmt(MOVE_DEFAULT), stmt(DISABLE_EMPTIED), stmt(DROP_COMPANIES)];
    let rows: Vec<LinkCompanyRow> = decode_all(live)?;
    let mut links: Vec<&str> = rows.iter().map(|r| r.link_id.as_str()).collect();
    links.dedup();
    for link in links {
        let held: Vec<&LinkCompanyRow> = rows.iter().filter(|r| r.link_id == link).collect();
        let dropped: Vec<&str> = held.iter().map(|r| r.company_id.as_str()).filter(|c| !kept.iter().any(|k| k == c)).collect();
        if dropped.is_empty() {
            continue;
        }
        let remaining = held.len() - dropped.len();
        let event = acting
            .event("link.companies_dropped_by_crm")
            .target("link", link)
            .companies(held.iter().map(|r| r.company_id.clone()).collect())
            .details(json!({
                "contact_id": contact_id, "dropped_company_ids": dropped, "disabled": remaining == 0,
                "default_company_moved": held.first().is_some_and(|r| dropped.contains(&r.default_company_id.as_str())) && remaining > 0,
            }));
        stmts.push(acting.audit_stmt(&event, &new_id(ports, now)?, client, t));
    }
    Ok(stmts)
}
