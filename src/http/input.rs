//! Reading input at the boundary: JSON bodies whose errors name the field, and query strings.

use super::{ApiError, Req};
use serde::de::DeserializeOwned;

/// Parses the JSON body into `T`. A wrong type or a missing field answers 400 naming the field;
/// a body that is not JSON answers 400 (`body`); a non-JSON content type answers 415.
pub fn json_body<T: DeserializeOwned>(req: &Req) -> Result<T, ApiError> {
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let is_json = content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(req.body())
}

/// Like [`json_body`] but an empty body (with any content type) reads as `{}`, for routes whose
/// body is optional (refresh with a cookie, logout).
pub fn optional_json_body<T: DeserializeOwned>(req: &Req) -> Result<T, ApiError> {
    if req.body().iter().all(u8::is_ascii_whitespace) {
        return parse_json(b"{}");
    }
    json_body(req)
}

pub use crate::app::kit::json::parse_json;

/// The query string as decoded pairs, in order.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of(req: &Req) -> Query {
        let raw = req.uri().query().unwrap_or("");
        Query(form_urlencoded::parse(raw.as_bytes()).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// `?limit=` for lists: default 50, at most 200 (API.md).
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.get("limit") {
            None => Ok(50),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=200).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid("limit", "limit must be a whole number from 1 to 200")),
            },
        }
    }

    /// A UUID parameter; malformed ids are bad input, named.
    pub fn uuid(&self, name: &'static str) -> Result<Option<uuid::Uuid>, ApiError> {
        self.get(name)
            .map(|v| uuid::Uuid::parse_str(v).map_err(|_| ApiError::invalid(name, format!("{name} must be a UUID"))))
            .transpose()
    }
}

/// A path id: anything that is not a UUID cannot name an object, so it answers 404 like an
/// unknown one (ids in paths are never "bad input" that reveals a format).
/// A download route's method as the use case needs it: a `HEAD` sends no body, so it is not a
/// download (and writes no "downloaded" audit row).
pub fn retrieval(req: &Req) -> crate::app::kit::files::Retrieval {
    if req.method() == http::Method::HEAD {
        crate::app::kit::files::Retrieval::HeadOnly
    } else {
        crate::app::kit::files::Retrieval::Download
    }
}

pub fn path_uuid(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Login {
        login: String,
        password: String,
        totp: Option<String>,
        nested: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn field_of(body: &str) -> String {
        match parse_json::<Login>(body.as_bytes()) {
            Err(ApiError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn wrong_type_names_the_field() {
        assert_eq!(field_of(r#"{"login": 5, "password": "x"}"#), "login");
        assert_eq!(field_of(r#"{"login": "a", "password": "x", "nested": {"count": "many"}}"#), "nested.count");
    }

    #[test]
    fn missing_field_is_named() {
        assert_eq!(field_of(r#"{"login": "a"}"#), "password");
    }

    #[test]
    fn not_json_names_the_body() {
        assert_eq!(field_of("{not json"), "body");
        assert_eq!(field_of(""), "body");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(parse_json::<Login>(br#"{"login":"a","password":"b","extra":1}"#).is_ok());
    }
}

#[cfg(test)]
mod enum_field_tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Mode {
        Disable,
        Revoke,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Offboard {
        mode: Mode,
    }

    #[test]
    fn a_wrong_type_or_unknown_value_for_an_enum_names_the_field() {
        for body in [r#"{"mode": true}"#, r#"{"mode": 3}"#, r#"{"mode": "explode"}"#, r#"{"mode": {"a": 1}}"#] {
            match parse_json::<Offboard>(body.as_bytes()) {
                Err(ApiError::InvalidInput { field, .. }) => assert_eq!(field, "mode", "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
