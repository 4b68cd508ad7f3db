//! Branding: the portal's name, logo and primary colour. Admins read and change it (validated,
//! versioned, audited); the login page reads it through the public `GET /api/branding`.
//!
//! No KV cache: a cache keyed by the branding version would need the version from D1 first, which
//! is the same single round trip as reading the one row itself. The public answer carries a short
//! HTTP max-age instead (set by the handler).

use crate::app::kit::rows::{changes, rows};
use crate::app::kit::text::{required_text};
use crate::app::kit::sql::{admin_alive};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::governor::employee_reads;
use crate::app::kit::ids::new_id;
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, Row, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

const SELECT_BRANDING: &str = "SELECT version, portal_name, logo_url, primary_color, updated_at FROM branding WHERE id = 1";
// ?1 name, ?2 logo, ?3 colour, ?4 admin, ?5 now, ?6 session.
const UPDATE_BRANDING: &str = concat!(
    "UPDATE branding SET version = version + 1, portal_name = ?1, logo_url = ?2, primary_color = ?3, updated_by = ?4, updated_at = ?5 \
     WHERE id = 1 AND ",
    admin_alive!(6, 5)
);
const AUDIT_IF_UPDATED: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM branding WHERE id = 1 AND updated_at = ?2 AND updated_by = ?4 AND version = ?14 + 1)");

pub const PORTAL_NAME_MAX: usize = 80;
const LOGO_URL_MAX: usize = 2048;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branding {
    pub portal_name: String,
    pub logo_url: Option<String>,
    pub primary_color: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BrandingView {
    #[serde(flatten)]
    pub branding: Branding,
    pub version: i64,
}

#[derive(Deserialize)]
struct BrandingRow {
    version: i64,
    portal_name: String,
    logo_url: Option<String>,
    primary_color: String,
}

fn view(row: Option<Row>) -> Result<BrandingView, ApiError> {
    let r: BrandingRow = decode(row.ok_or_else(|| ApiError::internal("branding row missing"))?)?;
    Ok(BrandingView { branding: Branding { portal_name: r.portal_name, logo_url: r.logo_url, primary_color: r.primary_color }, version: r.version })
}

impl Branding {
    /// portal_name 1..=80 characters; logo_url an https URL with a host (or null); primary_color
    /// `#rrggbb` (stored lowercase).
    pub fn validate(self) -> Result<Branding, ApiError> {
        let portal_name = required_text("portal_name", &self.portal_name, PORTAL_NAME_MAX)?;
        let logo_url = self.logo_url.map(|u| https_url(&u)).transpose()?;
        let c = self.primary_color.trim();
        let color_ok = c.len() == 7 && c.starts_with('#') && c.bytes().skip(1).all(|b| b.is_ascii_hexdigit());
        if !color_ok {
            return Err(ApiError::invalid("primary_color", "primary_color is a colour like #1f6feb."));
        }
        Ok(Branding { portal_name, logo_url, primary_color: c.to_ascii_lowercase() })
    }
}

/// The logo is shown on the login page: only https, a real host, no credentials, nothing that could
/// break out of an attribute.
fn https_url(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid("logo_url", "logo_url is an https:// address (or null).");
    let u = raw.trim();
    if u.len() > LOGO_URL_MAX || u.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\')) {
        return Err(bad());
    }
    let uri: http::Uri = u.parse().map_err(|_| bad())?;
    let authority = uri.authority().ok_or_else(bad)?;
    let host_ok = !authority.host().is_empty() && !authority.as_str().contains('@');
    if uri.scheme_str() != Some("https") || !host_ok {
        return Err(bad());
    }
    Ok(u.to_owned())
}

/// `GET /api/branding`: public, for the login page.
pub async fn public<P: Ports>(ports: &P) -> Result<Branding, ApiError> {
    let row = ports.db().first(Stmt::new(SELECT_BRANDING)).await?;
    Ok(view(row)?.branding)
}

/// `GET /api/admin/branding` (admins).
pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>) -> Result<BrandingView, ApiError> {
    let (gov, out) = employee_reads(ports, bearer, now, vec![Stmt::new(SELECT_BRANDING)]).await?;
    gov.require_admin()?;
    view(rows(&out, 0).into_iter().next())
}

/// `PUT /api/admin/branding` (admins): validated, version bumped, audited with before and after.
pub async fn put<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, input: Branding) -> Result<BrandingView, ApiError> {
    let (gov, out) = employee_reads(ports, bearer, now, vec![Stmt::new(SELECT_BRANDING)]).await?;
    gov.require_admin()?;
    let next = input.validate()?;
    let before = view(rows(&out, 0).into_iter().next())?;
    let t = now.timestamp();
    let event = Event::new("branding.updated", ActorKind::Employee, Some(gov.user_id()))
        .target("branding", "1")
        .details(json!({"before": before.branding, "after": next}));
    let audit = event.insert_if(&new_id(ports, now)?, client, t, AUDIT_IF_UPDATED).bind(before.version);
    let stmts = vec![
        Stmt::new(UPDATE_BRANDING)
            .bind(next.portal_name.as_str())
            .bind(next.logo_url.clone())
            .bind(next.primary_color.as_str())
            .bind(gov.user_id())
            .bind(t)
            .bind(gov.principal.session_id.as_str()),
        audit,
        Stmt::new(SELECT_BRANDING),
    ];
    let out = ports.db().batch(stmts).await?;
    if changes(&out, 0) == 0 {
        return Err(ApiError::Forbidden);
    }
    view(rows(&out, 2).into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(name: &str, logo: Option<&str>, color: &str) -> Result<Branding, ApiError> {
        Branding { portal_name: name.into(), logo_url: logo.map(str::to_owned), primary_color: color.into() }.validate()
    }

    fn field(r: Result<Branding, ApiError>) -> String {
        match r {
            Err(ApiError::InvalidInput { field, .. }) => field,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(field(b("", None, "#112233")), "portal_name");
        assert_eq!(field(b(&"x".repeat(81), None, "#112233")), "portal_name");
        assert_eq!(field(b("Vector", Some("http://cdn.example/logo.png"), "#112233")), "logo_url");
        assert_eq!(field(b("Vector", Some("https://user@cdn.example/logo.png"), "#112233")), "logo_url");
        assert_eq!(field(b("Vector", Some("https://cdn.example/a\"b"), "#112233")), "logo_url");
        assert_eq!(field(b("Vector", Some("javascript:alert(1)"), "#112233")), "logo_url");
        assert_eq!(field(b("Vector", None, "red")), "primary_color");
        assert_eq!(field(b("Vector", None, "#12345g")), "primary_color");
    }

    #[test]
    fn a_good_branding_is_normalised() {
        let ok = b(&"x".repeat(80), Some("https://cdn.example/logo.png"), "#1F6FEB");
        assert_eq!(ok.map(|b| b.primary_color), Ok("#1f6feb".to_owned()));
    }
}
