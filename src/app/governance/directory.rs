//! Shared pieces of the directory use cases (CRM data in `crm`, portal users and employees in
//! `users_admin`, branding in `branding`): who is calling (an employee, or the CRM's machine
//! credential), the guards their writes carry inside their own WHERE, keyset cursors, and small
//! input checks.

use crate::app::kit::sql::{crm_or_admin};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::{is_crm_token, Governor};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::store::{Outcome, Sql, Stmt, StoreError, Value};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;





/// The audit insert of [`Event::insert`], written only when the guard holds (?14 session or NULL
/// for the CRM; ?2 is the event's time, which is the request's `now`).
pub const AUDIT_IF_CRM_OR_ADMIN: AuditGuard = audit_guard!(
    "",
    crm_or_admin!(14, 2)
);

/// Who called a CRM upsert, as the handler saw the bearer header.
pub enum Caller {
    /// `Authorization: Bearer <CRM_SYNC_TOKEN>`, compared in constant time.
    Crm,
    Employee(Bearer),
}

impl Caller {
    /// The CRM's credential, else a verified access token (401 when neither).
    pub fn from_token(config: &Config, token: Option<&str>, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        if is_crm_token(config, token) {
            return Ok(Caller::Crm);
        }
        Ok(Caller::Employee(Bearer::from_token(config, token, now)?))
    }
}

/// The caller once checked: what the audit trail records and what the write's guard reads.
#[derive(Debug, Clone)]
pub struct Acting {
    pub kind: ActorKind,
    pub user_id: Option<String>,
    /// NULL in the guards for the CRM.
    pub session_id: Option<String>,
}

impl Acting {
    pub fn of(gov: &Governor) -> Acting {
        Acting { kind: ActorKind::Employee, user_id: Some(gov.user_id().to_owned()), session_id: Some(gov.principal.session_id.clone()) }
    }

    pub fn event(&self, action: &'static str) -> Event {
        Event::new(action, self.kind, self.user_id.as_deref())
    }

    /// The event's guarded insert (see [`AUDIT_IF_CRM_OR_ADMIN`]).
    pub fn audit_stmt(&self, event: &Event, id: &str, client: &ClientMeta, now: i64) -> Stmt {
        let stmt = event.insert_if(id, client, now, AUDIT_IF_CRM_OR_ADMIN).bind(self.session_id.clone());
        stmt
    }
}

/// For CRM data: the CRM's credential, or an admin (a manager or a client answers 403). `reads`
/// travel in the same batch as the employee's session check; their outcomes come back in order.
pub async fn crm_or_admin_reads<P: Ports>(ports: &P, caller: &Caller, now: DateTime<Utc>, reads: Vec<Stmt>) -> Result<(Acting, Vec<Outcome>), ApiError> {
    match caller {
        Caller::Crm => {
            let out = if reads.is_empty() { Vec::new() } else { ports.db().batch(reads).await? };
            Ok((Acting { kind: ActorKind::Crm, user_id: None, session_id: None }, out))
        }
        Caller::Employee(bearer) => {
            let (gov, out) = employee_reads(ports, bearer, now, reads).await?;
            gov.require_admin()?;
            Ok((Acting::of(&gov), out))
        }
    }
}

/// For governance reads and writes by employees: the session check with `reads` in one batch.
/// 401 for a dead session, 403 for a client or an employee without a role.
pub async fn employee_reads<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, reads: Vec<Stmt>) -> Result<(Governor, Vec<Outcome>), ApiError> {
    let mut stmts = Vec::with_capacity(reads.len() + 1);
    stmts.push(Governor::check_stmt(bearer, now));
    stmts.extend(reads);
    let mut out = ports.db().batch(stmts).await?;
    let check = if out.is_empty() { None } else { Some(out.remove(0)) };
    let gov = Governor::from_check(bearer, check.as_ref())?;
    Ok((gov, out))
}

/// The rows of the `i`-th outcome (empty when missing).
pub fn rows(out: &[Outcome], i: usize) -> Vec<crate::store::Row> {
    out.get(i).map(|o| o.rows.clone()).unwrap_or_default()
}

pub fn changes(out: &[Outcome], i: usize) -> u64 {
    out.get(i).map_or(0, |o| o.changes)
}

/// A foreign key refused the batch (a stage still used by requests, a company that vanished).
pub fn is_foreign_key_failure(e: &StoreError) -> bool {
    e.context.contains("FOREIGN KEY constraint failed")
}

/// The wire name of a snake_case serde enum (`"archived"`), for binding into SQL.
pub fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A list of ids as the one JSON parameter read with `json_each` (D1 allows 100 parameters).
pub fn json_list<T: Serialize>(items: &[T]) -> Value {
    Value::Text(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
}

/// A required text: trimmed, 1..=max characters; otherwise 400 naming the field.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, format!("{field} must not be empty.")));
    }
    if v.chars().count() > max {
        return Err(ApiError::invalid(field, format!("{field} must be at most {max} characters.")));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, format!("{field} must not contain control characters.")));
    }
    Ok(v.to_owned())
}

/// An optional text: absent or blank reads as None; otherwise as [`required_text`].
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
}

/// Ids in first-seen order without repeats.
pub fn dedup(ids: &[uuid::Uuid]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let s = id.to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Keyset pagination: the cursor is the last row's sort key (strings, ending with its id), as
/// base64url JSON. It is opaque to clients and checked on the way back in.
pub fn encode_cursor(keys: &[&str]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(keys).unwrap_or_default())
}

/// The sort key of `?cursor=` (exactly `n` strings), or 400 naming `cursor`.
pub fn decode_cursor(raw: Option<&str>, n: usize) -> Result<Option<Vec<String>>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = || ApiError::invalid("cursor", "cursor is not one this list handed out.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad())?;
    let keys: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if keys.len() != n {
        return Err(bad());
    }
    Ok(Some(keys))
}

/// One page of a list (API.md: `{"items": [...], "next_cursor": null | "..."}`).
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `items` were fetched with `limit + 1`: the extra row only says there is a next page.
    pub fn of(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Page<T> {
        let limit = limit as usize;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more { items.last().map(key) } else { None };
        Page { items, next_cursor }
    }
}

/// A `?q=` search as a LIKE pattern (`%q%`, with the pattern characters escaped by `\`).
pub fn like_pattern(q: Option<&str>) -> Option<String> {
    let q = q.map(str::trim).filter(|q| !q.is_empty())?;
    let escaped: String = q.chars().take(100).flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    Some(format!("%{escaped}%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_foreign_text() {
        let c = encode_cursor(&["Northern Light", "0190"]);
        assert_eq!(decode_cursor(Some(&c), 2).unwrap(), Some(vec!["Northern Light".to_owned(), "0190".to_owned()]));
        assert!(decode_cursor(Some(&c), 3).is_err());
        assert!(decode_cursor(Some("not a cursor!"), 2).is_err());
        assert_eq!(decode_cursor(None, 2).unwrap(), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(Some(" 50%_off ")).as_deref(), Some("%50\\%\\_off%"));
        assert_eq!(like_pattern(Some("  ")), None);
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(required_text("name", "  Vector ", 10).unwrap(), "Vector");
        assert!(required_text("name", "   ", 10).is_err());
        assert!(required_text("name", "abcdefghijk", 10).is_err());
        assert_eq!(optional_text("phone", Some(" "), 10).unwrap(), None);
    }

    #[test]
    fn pages_say_whether_more_follow() {
        let page = Page::of(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((page.items, page.next_cursor), (vec![1, 2], Some("2".to_owned())));
        let page = Page::of(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(page.next_cursor, None);
    }
}
