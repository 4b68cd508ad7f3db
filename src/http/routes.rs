//! The one route table: every route's method, path pattern, guard and body limit. The dispatcher,
//! the OpenAPI document and the tests all read this table, so they cannot drift apart.

use http::Method;

/// Default body limit (API.md: 1 MiB; document uploads 10 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;
pub const UPLOAD_LIMIT: usize = 10 * 1024 * 1024;

/// Who may call a route; checked by the dispatcher before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    Public,
    /// A valid access token for a session that is still alive.
    Session,
    /// An employee session (role read afresh on every request).
    Employee,
    /// An admin session or the CRM's machine credential.
    CrmOrAdmin,
    /// The webhook checks its own signature.
    Webhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    Health,
    OpenApi,
    Login,
    Refresh,
    Logout,
    InvitationPreview,
    InvitationActivate,
    Me,
    MySessions,
    RevokeMySession,
    ChangePassword,
    StartTotp,
    ConfirmTotp,
    Bootstrap,
    GetSecurity,
    PutSecurity,
    // [directory routes]
    // [links routes]
    // [policies routes]
    // [requests routes]
    // [documents routes]
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// Path with `{name}` segments for parameters.
    pub path: &'static str,
    pub id: RouteId,
    pub guard: Guard,
    pub summary: &'static str,
    pub tag: &'static str,
    pub body_limit: usize,
    /// Auth and invitation routes omit `Server-Timing`: it would tell which branch ran.
    pub server_timing: bool,
}

/// Auth and invitation routes: no `Server-Timing`, which would tell which branch ran.
const fn quiet(method: Method, path: &'static str, id: RouteId, guard: Guard, tag: &'static str, summary: &'static str) -> Route {
    Route { method, path, id, guard, summary, tag, body_limit: 16 * 1024, server_timing: false }
}

const fn route(method: Method, path: &'static str, id: RouteId, guard: Guard, tag: &'static str, summary: &'static str) -> Route {
    Route { method, path, id, guard, summary, tag, body_limit: BODY_LIMIT, server_timing: true }
}

pub static ROUTES: &[Route] = &[
    route(Method::GET, "/health", RouteId::Health, Guard::Public, "public", "Liveness; ?deep=1 runs one trivial D1 query, ?deep=all also reads KV"),
    route(Method::GET, "/openapi.json", RouteId::OpenApi, Guard::Public, "public", "This API as an OpenAPI 3.1 document"),
    quiet(Method::POST, "/api/auth/login", RouteId::Login, Guard::Public, "auth", "Sign in with login, password and (when enrolled) a TOTP code"),
    quiet(Method::POST, "/api/auth/refresh", RouteId::Refresh, Guard::Public, "auth", "Rotate the refresh token (cookie or body) for a new token pair"),
    quiet(Method::POST, "/api/auth/logout", RouteId::Logout, Guard::Public, "auth", "End the current session"),
    quiet(Method::POST, "/api/invitations/preview", RouteId::InvitationPreview, Guard::Public, "auth", "Who an invitation is for and the password rules"),
    quiet(Method::POST, "/api/invitations/activate", RouteId::InvitationActivate, Guard::Public, "auth", "Set a password with an invitation and open a session"),
    route(Method::GET, "/api/me", RouteId::Me, Guard::Session, "me", "The user; for a client the link, contact and companies with their effective policies"),
    route(Method::GET, "/api/me/sessions", RouteId::MySessions, Guard::Session, "me", "Own sessions (created, last seen, ip, country, user agent, current)"),
    route(Method::DELETE, "/api/me/sessions/{id}", RouteId::RevokeMySession, Guard::Session, "me", "Sign out one of own sessions"),
    quiet(Method::POST, "/api/me/password", RouteId::ChangePassword, Guard::Session, "me", "Change password (current password and code in the same request)"),
    quiet(Method::POST, "/api/me/mfa/totp", RouteId::StartTotp, Guard::Session, "me", "Start TOTP enrolment (replacing a secret needs current_code)"),
    quiet(Method::POST, "/api/me/mfa/totp/confirm", RouteId::ConfirmTotp, Guard::Session, "me", "Confirm TOTP enrolment with a code"),
    quiet(Method::POST, "/api/admin/bootstrap", RouteId::Bootstrap, Guard::Public, "governance", "Create the first admin with the bootstrap secret"),
    route(Method::GET, "/api/admin/security", RouteId::GetSecurity, Guard::Employee, "governance", "Security settings (admins)"),
    route(Method::PUT, "/api/admin/security", RouteId::PutSecurity, Guard::Employee, "governance", "Change the security settings (admins; validated ranges; audited)"),
    // [directory table]
    // [links table]
    // [policies table]
    // [requests table]
    // [documents table]
];

/// What the router found for a method and path.
#[derive(Debug)]
pub enum Matched {
    Route(&'static Route, Vec<(&'static str, String)>),
    /// The path exists but not with this method.
    WrongMethod(Vec<&'static str>),
    NotFound,
}

pub fn find(method: &Method, path: &str) -> Matched {
    let mut allowed = Vec::new();
    for r in ROUTES {
        if let Some(params) = match_path(r.path, path) {
            if r.method == *method || (*method == Method::HEAD && r.method == Method::GET) {
                return Matched::Route(r, params);
            }
            allowed.push(r.method.as_str());
        }
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::WrongMethod(allowed)
    }
}

fn match_path(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(g)) => {
                if let Some(name) = p.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                    if g.is_empty() {
                        return None;
                    }
                    params.push((name, g.to_owned()));
                } else if p != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "duplicate route {} {}", a.method, a.path);
            }
        }
    }

    #[test]
    fn path_parameters_are_extracted() {
        assert_eq!(match_path("/api/requests/{id}", "/api/requests/abc"), Some(vec![("id", "abc".to_owned())]));
        assert_eq!(match_path("/api/requests/{id}", "/api/requests/"), None);
        assert_eq!(match_path("/api/requests/{id}", "/api/requests/a/b"), None);
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        match find(&Method::DELETE, "/health") {
            Matched::WrongMethod(allowed) => assert_eq!(allowed, vec!["GET"]),
            other => panic!("expected WrongMethod, got {other:?}"),
        }
    }
}
