//! Lists: one page shape (`{"items", "next_cursor"}`) and one keyset cursor codec. A cursor is the
//! sort key of a page's last item (strings, the item's id last) as base64url JSON: opaque to
//! clients, checked on the way back in, and the same for every list.

use crate::app::ApiError;
use base64::Engine;
use serde::Serialize;
use uuid::Uuid;

/// One page of a list. `items` are fetched with `limit + 1`: the extra row only says a next page exists.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts a `limit + 1` fetch to `limit` items, with the cursor of the last one when more follow.
    pub fn of(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more { items.last().map(cursor_of) } else { None };
        Page { items, next_cursor }
    }

    pub fn try_map<U>(self, f: impl FnMut(T) -> Result<U, ApiError>) -> Result<Page<U>, ApiError> {
        Ok(Page { items: self.items.into_iter().map(f).collect::<Result<Vec<_>, _>>()?, next_cursor: self.next_cursor })
    }
}

fn bad_cursor() -> ApiError {
    ApiError::invalid("cursor", "cursor is not one this API handed out.")
}

/// The cursor of a sort key (strings, the item's id last).
pub fn encode_cursor(keys: &[&str]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(keys).unwrap_or_default())
}

/// The sort key of `?cursor=` (exactly `n` strings), or 400 naming `cursor`.
pub fn decode_cursor(raw: Option<&str>, n: usize) -> Result<Option<Vec<String>>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad_cursor())?;
    let keys: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
    if keys.len() != n || keys.iter().any(|k| k.len() > 400) {
        return Err(bad_cursor());
    }
    Ok(Some(keys))
}

/// The cursor of a list sorted by a time, then id.
pub fn encode_time_cursor(at: i64, id: &str) -> String {
    encode_cursor(&[&at.to_string(), id])
}

/// Reads a cursor made by [`encode_time_cursor`]; anything else is 400 naming `cursor`.
pub fn decode_time_cursor(raw: &str) -> Result<(i64, String), ApiError> {
    let keys = decode_cursor(Some(raw), 2)?.unwrap_or_default();
    match keys.as_slice() {
        [at, id] if !id.is_empty() => Ok((at.parse::<i64>().map_err(|_| bad_cursor())?, id.clone())),
        _ => Err(bad_cursor()),
    }
}

/// The cursor of a list sorted by id alone.
pub fn encode_id_cursor(id: &str) -> String {
    encode_cursor(&[id])
}

/// Reads a cursor made by [`encode_id_cursor`]; anything else is 400 naming `cursor`.
pub fn decode_id_cursor(raw: &str) -> Result<Uuid, ApiError> {
    let keys = decode_cursor(Some(raw), 1)?.unwrap_or_default();
    keys.first().and_then(|id| Uuid::parse_str(id).ok()).ok_or_else(bad_cursor)
}

/// Where a time-sorted page starts. Newest-first lists compare `(created_at, id) < (at, id)`,
/// oldest-first ones `>`; with no cursor the bound lies beyond every row (ids are lowercase hex and
/// hyphens, so `'g'` sorts after any of them), which keeps the SQL a plain index range.
pub fn newest_first_bound(cursor: Option<(i64, String)>) -> (i64, String) {
    cursor.unwrap_or((i64::MAX, "g".to_owned()))
}

pub fn oldest_first_bound(cursor: Option<(i64, String)>) -> (i64, String) {
    cursor.unwrap_or((i64::MIN, String::new()))
}

/// The list options of a time-sorted list route.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub limit: u32,
    pub cursor: Option<(i64, String)>,
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
        let id = "0190a8f0-0000-7000-8000-000000000001";
        assert_eq!(decode_time_cursor(&encode_time_cursor(1_700_000_000, id)).unwrap(), (1_700_000_000, id.to_owned()));
        assert!(decode_time_cursor(&encode_cursor(&["yesterday", id])).is_err());
        assert_eq!(decode_id_cursor(&encode_id_cursor(id)).unwrap().to_string(), id);
        assert!(decode_id_cursor(&encode_id_cursor("not-a-uuid")).is_err());
    }

    #[test]
    fn pages_say_whether_more_follow() {
        let page = Page::of(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((page.items, page.next_cursor), (vec![1, 2], Some("2".to_owned())));
        let page = Page::of(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(page.next_cursor, None);
    }
}

/// Query options shared by the lists: `?q=`, one enum filter (`status`, `state`, `archived`,
/// `kind`), `?cursor=` and `?limit=`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub q: Option<String>,
    pub filter: Option<String>,
    pub cursor: Option<String>,
    pub limit: u32,
}

impl ListQuery {
    /// The filter's value when it is one of `allowed`; otherwise 400 naming `field`.
    pub fn enum_filter(&self, field: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.filter.as_deref() {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(_) => Err(ApiError::invalid(field, format!("{field} must be one of: {}.", allowed.join(", ")))),
        }
    }
}
