//! The one error table: every failure a use case can end in, its HTTP status and its stable code.
//! Use cases return it and the HTTP layer renders it, so a code means the same thing everywhere.

use http::StatusCode;
use serde_json::{json, Map, Value};

/// A failure as the client sees it. Internals never travel in it: `Internal` carries a log line
/// that is written to the log and replaced by a generic message in the response.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    InvalidInput { field: String, message: String },
    WeakPassword { field: String, rule: String, message: String },
    Unauthenticated,
    InvalidCredentials,
    MfaRequired,
    TokenExpired,
    TokenStale,
    Forbidden,
    PolicyDenied { permission: String },
    MfaEnrollmentRequired,
    NotFound,
    MethodNotAllowed { allow: Vec<&'static str> },
    Conflict { code: &'static str, message: String },
    Gone { code: &'static str, message: String },
    TooLarge { limit: usize },
    UnsupportedMediaType,
    RateLimited { retry_after_seconds: u64 },
    Unavailable { what: String },
    Internal { log: String },
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidInput { field: field.into(), message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict { code, message: message.into() }
    }

    pub fn internal(log: impl Into<String>) -> Self {
        ApiError::Internal { log: log.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidInput { .. } | ApiError::WeakPassword { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated
            | ApiError::InvalidCredentials
            | ApiError::MfaRequired
            | ApiError::TokenExpired
            | ApiError::TokenStale => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::PolicyDenied { .. } | ApiError::MfaEnrollmentRequired => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidInput { .. } => "invalid_input",
            ApiError::WeakPassword { .. } => "weak_password",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::MfaRequired => "mfa_required",
            ApiError::TokenExpired => "token_expired",
            ApiError::TokenStale => "token_stale",
            ApiError::Forbidden => "forbidden",
            ApiError::PolicyDenied { .. } => "policy_denied",
            ApiError::MfaEnrollmentRequired => "mfa_enrollment_required",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict { code, .. } | ApiError::Gone { code, .. } => code,
            ApiError::TooLarge { .. } => "too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal { .. } => "internal",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::InvalidInput { message, .. }
            | ApiError::WeakPassword { message, .. }
            | ApiError::Conflict { message, .. }
            | ApiError::Gone { message, .. } => message.clone(),
            ApiError::Unauthenticated => "Sign in to continue.".into(),
            ApiError::InvalidCredentials => "The login or password is incorrect.".into(),
            ApiError::MfaRequired => "Enter the code from your authenticator app.".into(),
            ApiError::TokenExpired => "The access token has expired: refresh it.".into(),
            ApiError::TokenStale => "Your access changed: refresh the token.".into(),
            ApiError::Forbidden => "You are not allowed to do this.".into(),
            ApiError::PolicyDenied { permission } => format!("The access policy does not allow {permission}."),
            ApiError::MfaEnrollmentRequired => "Set up two-factor authentication first.".into(),
            ApiError::NotFound => "Not found.".into(),
            ApiError::MethodNotAllowed { .. } => "This method is not allowed here.".into(),
            ApiError::TooLarge { limit } => format!("The request body is larger than {limit} bytes."),
            ApiError::UnsupportedMediaType => "Send the body as application/json.".into(),
            ApiError::RateLimited { .. } => "Too many attempts: wait and try again.".into(),
            ApiError::Unavailable { what } => format!("{what} is unavailable."),
            ApiError::Internal { .. } => "Something went wrong on our side.".into(),
        }
    }

    /// The JSON body of API.md: `{"error": {"code", "message", "field"?, "permission"?}}`.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code()));
        error.insert("message".into(), json!(self.message()));
        match self {
            ApiError::InvalidInput { field, .. } => {
                error.insert("field".into(), json!(field));
            }
            ApiError::WeakPassword { field, rule, .. } => {
                error.insert("field".into(), json!(field));
                error.insert("rule".into(), json!(rule));
            }
            ApiError::PolicyDenied { permission } => {
                error.insert("permission".into(), json!(permission));
            }
            _ => {}
        }
        json!({ "error": error })
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Internal { log: e.to_string() }
    }
}
