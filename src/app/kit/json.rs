//! JSON input read into types: errors name the field that failed, for the HTTP layer's bodies and
//! for JSON that use cases take from elsewhere (a webhook's payload, a stored policy).

use crate::app::ApiError;
use serde::de::DeserializeOwned;

/// Parses `bytes` into `T`. A wrong type or a missing field is 400 naming the field; bytes that are
/// not JSON are 400 naming `body`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        // serde_json reports a non-string where an enum is expected as a syntax error, but the
        // path still names the field: prefer the path whenever there is one.
        let has_path = !(path == "." || path == "?" || path.is_empty());
        let field = if has_path { path } else { missing_field_name(&message).unwrap_or_else(|| "body".to_owned()) };
        let message = if !has_path && (inner.is_syntax() || inner.is_eof()) {
            format!("The body is not valid JSON: {message}")
        } else {
            format!("{field}: {}", strip_position(&message))
        };
        ApiError::InvalidInput { field, message }
    })
}

fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

