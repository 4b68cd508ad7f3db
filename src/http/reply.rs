//! Building responses: JSON bodies, errors and the security headers every API response carries.

use super::{ApiError, Resp};
use http::header::{HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use crate::app::kit::files::Download;
use serde::Serialize;

pub fn json(status: StatusCode, body: &impl Serialize) -> Result<Resp, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(format!("serialize: {e}")))?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(bytes)
        .map_err(|e| ApiError::internal(format!("response: {e}")))
}

pub fn ok(body: &impl Serialize) -> Result<Resp, ApiError> {
    json(StatusCode::OK, body)
}

pub fn created(body: &impl Serialize) -> Result<Resp, ApiError> {
    json(StatusCode::CREATED, body)
}

pub fn no_content() -> Resp {
    let mut resp = Response::new(Vec::new());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

pub fn error(err: &ApiError) -> Resp {
    let mut resp = Response::new(serde_json::to_vec(&err.body()).unwrap_or_default());
    *resp.status_mut() = err.status();
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    match err {
        ApiError::RateLimited { retry_after_seconds } => {
            if let Ok(v) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                headers.insert("retry-after", v);
            }
        }
        ApiError::MethodNotAllowed { allow } => {
            if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
                headers.insert("allow", v);
            }
        }
        ApiError::Unauthenticated | ApiError::TokenExpired | ApiError::TokenStale => {
            headers.insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        _ => {}
    }
    resp
}

/// API responses are data, never pages: nothing may frame, sniff or cache them.
pub fn secure_headers(headers: &mut HeaderMap, request_id: &str) {
    let fixed = [
        ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("cross-origin-resource-policy", "same-origin"),
    ];
    for (name, value) in fixed {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    headers.entry("cache-control").or_insert(HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
}

/// A file download: the headers come from `app::kit::files::Download`.
pub fn download(download: Download) -> Result<Resp, ApiError> {
    let mut builder = Response::builder().status(StatusCode::OK);
    for (name, value) in download.headers() {
        builder = builder.header(name, value);
    }
    builder.body(download.bytes).map_err(|e| ApiError::internal(format!("download response: {e}")))
}
