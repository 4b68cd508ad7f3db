//! Credentials on the wire: the bearer header, the refresh cookie and the Origin check that
//! guards cookie-authenticated endpoints.

use super::{ApiError, Req};

pub const REFRESH_COOKIE: &str = "__Host-extranet_refresh";

/// The D1 session bookmark: sent on every answer that touched the database, sent back by the
/// pages so a client's next read sees at least what it wrote or read before.
pub const BOOKMARK_HEADER: &str = "x-d1-bookmark";

/// A bookmark as the client sent it back. D1's are a few hex fields joined by `-`; anything else
/// (too long, other characters, one of the session constraint words) is refused at the boundary
/// rather than handed to the database.
pub fn parse_bookmark(value: &str) -> Result<&str, ApiError> {
    let well_formed = (1..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && value.bytes().any(|b| b.is_ascii_hexdigit());
    if well_formed {
        Ok(value)
    } else {
        Err(ApiError::invalid(BOOKMARK_HEADER, "The x-d1-bookmark header must be a bookmark this API sent (hex fields joined by '-'); send none to start afresh."))
    }
}

/// The request the HTTP layer sees, built from what the edge received: the client's headers but
/// `cf-ipcountry`, which is set from Cloudflare's own `cf` object (`country`) or left out. A
/// client-sent one never survives: the login's new-country check reads it, and a client must not
/// be able to pick (or hide) its country.
pub fn edge_request<'h>(method: &str, url: &str, headers: impl IntoIterator<Item = (&'h str, &'h str)>, country: Option<&str>, body: Vec<u8>) -> Result<Req, ApiError> {
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case(COUNTRY_HEADER) {
            builder = builder.header(name, value);
        }
    }
    if let Some(country) = country {
        builder = builder.header(COUNTRY_HEADER, country);
    }
    builder.body(body).map_err(|_| ApiError::invalid("request", "The request line or headers are malformed."))
}

/// The caller's country as Cloudflare saw it (only the edge sets it, from `request.cf`).
pub const COUNTRY_HEADER: &str = "cf-ipcountry";

/// The token of `Authorization: Bearer <token>`, if present.
pub fn bearer(req: &Req) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The refresh token from the cookie, if present.
pub fn refresh_cookie(req: &Req) -> Option<String> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// A cookie-authenticated call must come from our own pages: a browser always sends Origin on a
/// cross-site POST, so a foreign or missing Origin is refused (SameSite=Strict is the first wall).
pub fn check_same_origin(req: &Req) -> Result<(), ApiError> {
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    let host = req.uri().authority().map(|a| a.as_str()).or_else(|| req.headers().get("host").and_then(|v| v.to_str().ok()));
    match (origin, host) {
        (Some(origin), Some(host)) if origin.split_once("://").is_some_and(|(_, h)| h == host) => Ok(()),
        _ => Err(ApiError::Forbidden),
    }
}

/// `Set-Cookie` for a new refresh token: HttpOnly, Secure, SameSite=Strict, scoped to the auth API.
pub fn set_refresh_cookie(token: &str, max_age_seconds: i64) -> String {
    format!("{REFRESH_COOKIE}={token}; Path=/; Max-Age={max_age_seconds}; HttpOnly; Secure; SameSite=Strict")
}

pub fn clear_refresh_cookie() -> String {
    format!("{REFRESH_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Req {
        let mut b = http::Request::builder().uri("https://portal.test/api/auth/refresh");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Vec::new()).unwrap()
    }

    #[test]
    fn bearer_is_read_case_insensitively_and_empty_is_none() {
        assert_eq!(bearer(&req(&[("authorization", "bearer abc")])), Some("abc"));
        assert_eq!(bearer(&req(&[("authorization", "Bearer ")])), None);
        assert_eq!(bearer(&req(&[("authorization", "Basic abc")])), None);
    }

    #[test]
    fn refresh_cookie_is_found_among_others() {
        let r = req(&[("cookie", &format!("a=1; {REFRESH_COOKIE}=tok.en; b=2"))]);
        assert_eq!(refresh_cookie(&r).as_deref(), Some("tok.en"));
    }

    #[test]
    fn foreign_or_missing_origin_is_refused() {
        assert!(check_same_origin(&req(&[("origin", "https://portal.test")])).is_ok());
        assert_eq!(check_same_origin(&req(&[("origin", "https://evil.test")])), Err(ApiError::Forbidden));
        assert_eq!(check_same_origin(&req(&[])), Err(ApiError::Forbidden));
    }
}
