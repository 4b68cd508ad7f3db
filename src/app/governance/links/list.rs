//! The list of links with search and filters, newest first, keyset-paged by id.

use super::*;
use crate::app::kit::rows::rows;
use crate::app::kit::page::{encode_id_cursor, Page};
use crate::app::kit::text::like_pattern;
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::link_in_scope;
use crate::app::kit::governor::Governor;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::facts::LinkStatus;
use crate::store::{decode_all, sql::flag, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;


/// `GET /api/admin/links` filters, parsed by the handler.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub q: Option<String>,
    pub status: Option<LinkStatus>,
    pub company: Option<Uuid>,
    pub review_due: Option<bool>,
    /// Only the links this employee answers for.
    pub responsible: Option<Uuid>,
    pub limit: u32,
    pub after: Option<Uuid>,
}

// Newest first by id (UUIDv7 ids are time-ordered), so keyset pagination rides the primary key.
// ?1 now, ?2 status, ?3 company, ?4 review_due (0/1), ?5 LIKE pattern, ?6 the caller, ?7 cursor, ?8 limit,
// ?9 responsible employee.
pub(super) const SELECT_LIST: &str = concat!(
    "SELECT l.id, l.status, l.default_company_id, l.review_at, (l.status <> 'revoked' AND l.review_at <= ?1) AS review_due, \
     l.created_at, u.id AS user_id, u.login, u.first_name AS user_first_name, u.last_name AS user_last_name, \
     c.id AS contact_id, c.first_name AS contact_first_name, c.last_name AS contact_last_name, l.responsible_id, \
     (SELECT trim(ru.first_name || ' ' || ru.last_name) FROM users ru WHERE ru.id = l.responsible_id) AS responsible_name, \
     (SELECT json_group_array(json_object('id', co.id, 'name', co.name)) FROM link_companies lc \
       JOIN companies co ON co.id = lc.company_id WHERE lc.link_id = l.id) AS companies \
     FROM links l JOIN users u ON u.id = l.user_id JOIN contacts c ON c.id = l.contact_id \
     WHERE (?2 IS NULL OR l.status = ?2) \
     AND (?3 IS NULL OR EXISTS (SELECT 1 FROM link_companies fc WHERE fc.link_id = l.id AND fc.company_id = ?3)) \
     AND (?4 IS NULL OR (l.status <> 'revoked' AND l.review_at <= ?1) = ?4) \
     AND (?9 IS NULL OR l.responsible_id = ?9) \
     AND (?5 IS NULL OR u.login_key LIKE ?5 ESCAPE '\\' OR u.email LIKE ?5 ESCAPE '\\' \
       OR (u.first_name || ' ' || u.last_name) LIKE ?5 ESCAPE '\\' OR (c.first_name || ' ' || c.last_name) LIKE ?5 ESCAPE '\\' \
       OR EXISTS (SELECT 1 FROM link_companies qc JOIN companies qco ON qco.id = qc.company_id \
         WHERE qc.link_id = l.id AND qco.name LIKE ?5 ESCAPE '\\')) \
     AND ",
    link_in_scope!(6, "l.id"),
    " AND (?7 IS NULL OR l.id < ?7) ORDER BY l.id DESC LIMIT ?8"
);

#[derive(Debug, Deserialize)]
pub(super) struct ListRow {
    id: String,
    status: LinkStatus,
    default_company_id: String,
    review_at: i64,
    #[serde(with = "flag")]
    review_due: bool,
    created_at: i64,
    user_id: String,
    login: String,
    user_first_name: String,
    user_last_name: String,
    contact_id: String,
    contact_first_name: String,
    contact_last_name: String,
    responsible_id: Option<String>,
    responsible_name: Option<String>,
    companies: Option<String>,
}

/// `{id, name}` of the employee who answers for a link, or null.
pub(super) fn responsible_view(id: Option<String>, name: Option<String>) -> Value {
    match id {
        Some(id) => json!({"id": id, "name": name.unwrap_or_default()}),
        None => Value::Null,
    }
}

/// What the list and a link's detail both show of a link.
#[derive(Debug, Clone, Serialize)]
pub struct LinkSummary {
    pub id: String,
    pub status: LinkStatus,
    pub user: Value,
    pub contact: Value,
    pub companies: Vec<Value>,
    pub default_company_id: String,
    pub review_at: String,
    pub review_due: bool,
    pub created_at: String,
    /// The employee who answers for the link (`{id, name}`), or null.
    pub responsible: Value,
}

/// `GET /api/admin/links`: managers see only links whose companies are all in their scope.
pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, f: &ListFilter) -> Result<Page<LinkSummary>, ApiError> {
    let t = now.timestamp();
    let status = f.status.map(status_word);
    let query = Stmt::new(SELECT_LIST)
        .bind(t)
        .bind(status)
        .bind(f.company.map(|c| c.to_string()))
        .bind(f.review_due)
        .bind(like_pattern(f.q.as_deref()))
        .bind(bearer.claims.sub.as_str())
        .bind(f.after.map(|a| a.to_string()))
        .bind(f.limit + 1)
        .bind(f.responsible.map(|r| r.to_string()));
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), query]).await?;
    Governor::from_check(bearer, out.first())?;
    let mut items = Vec::new();
    for r in decode_all::<ListRow>(rows(&out, 1))? {
        let mut companies: Vec<Value> = match r.companies.as_deref() {
            None => Vec::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| ApiError::internal(format!("companies: {e}")))?,
        };
        companies.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        items.push(LinkSummary {
            id: r.id,
            status: r.status,
            user: json!({"id": r.user_id, "login": r.login, "first_name": r.user_first_name, "last_name": r.user_last_name}),
            contact: json!({"id": r.contact_id, "name": full_name(&r.contact_first_name, &r.contact_last_name)}),
            companies,
            default_company_id: r.default_company_id,
            review_at: rfc3339(r.review_at),
            review_due: r.review_due,
            created_at: rfc3339(r.created_at),
            responsible: responsible_view(r.responsible_id, r.responsible_name),
        });
    }
    Ok(Page::of(items, f.limit, |i| encode_id_cursor(&i.id)))
}
