//! Texts taken from callers: trimmed, bounded, named in the error when refused; search patterns.

use crate::app::ApiError;
use serde::Serialize;

/// A required one-line text: trimmed, 1..=max characters, no control characters; otherwise 400
/// naming the field.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = required_multiline(field, value, max)?;
    if v.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, format!("{field} must not contain control characters.")));
    }
    Ok(v)
}

/// A required text that may span lines (a message, a description): trimmed, 1..=max characters.
pub fn required_multiline(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(field, format!("{field} must not be empty.")));
    }
    if v.chars().count() > max {
        return Err(ApiError::invalid(field, format!("{field} must be at most {max} characters.")));
    }
    Ok(v.to_owned())
}

/// An optional one-line text: absent or blank reads as None; otherwise as [`required_text`].
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

/// A `?q=` search as a LIKE pattern (`%q%`, LIKE's own wildcards escaped by `\`, at most 100
/// characters); blank reads as no search.
pub fn like_pattern(q: Option<&str>) -> Option<String> {
    let q = q.map(str::trim).filter(|q| !q.is_empty())?;
    let escaped: String = q.chars().take(100).flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    Some(format!("%{escaped}%"))
}

/// The wire name of a snake_case serde enum (`"archived"`), for binding into SQL.
pub fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(Some(" 50%_off ")).as_deref(), Some("%50\\%\\_off%"));
        assert_eq!(like_pattern(Some(" 50%_off\\ ")).as_deref(), Some("%50\\%\\_off\\\\%"));
        assert_eq!(like_pattern(Some("  ")), None);
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(required_text("name", "  Vector ", 10).unwrap(), "Vector");
        assert!(required_text("name", "   ", 10).is_err());
        assert!(required_text("name", "abcdefghijk", 10).is_err());
        assert!(required_text("name", "a\u{0007}b", 10).is_err());
        assert_eq!(required_multiline("body", " two\nlines ", 20).unwrap(), "two\nlines");
        assert_eq!(optional_text("phone", Some(" "), 10).unwrap(), None);
    }
}
