//! A link's detail: its user, contact, companies, channel links, invitations and review dates.

use super::*;
use crate::app::kit::rows::rows;
use crate::app::kit::time::{rfc3339};
use crate::app::kit::governor::Governor;
use super::invitations::{self, InvitationView};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::facts::{CompanyStatus, ContactState, LinkStatus, UserStatus};
use crate::store::{decode, decode_all, sql::flag, Outcome, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;


pub(super) const SELECT_DETAIL: &str = "SELECT l.id, l.status, l.default_company_id, l.policy_version, l.review_at, \
     (l.status <> 'revoked' AND l.review_at <= ?2) AS review_due, l.reviewed_at, l.created_by, l.created_at, l.updated_at, l.revoked_at, \
     u.id AS user_id, u.login, u.email AS user_email, u.first_name AS user_first_name, u.last_name AS user_last_name, \
     u.status AS user_status, u.password_hash IS NOT NULL AS has_password, \
     c.id AS contact_id, c.first_name AS contact_first_name, c.last_name AS contact_last_name, c.email AS contact_email, \
     c.state AS contact_state, l.responsible_id, \
     (SELECT trim(ru.first_name || ' ' || ru.last_name) FROM users ru WHERE ru.id = l.responsible_id) AS responsible_name, \
     (SELECT s.created_at FROM sessions s WHERE s.link_id = l.id ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS last_sign_in_at, \
     (SELECT s.country FROM sessions s WHERE s.link_id = l.id ORDER BY s.created_at DESC, s.id DESC LIMIT 1) AS last_sign_in_country \
     FROM links l JOIN users u ON u.id = l.user_id JOIN contacts c ON c.id = l.contact_id WHERE l.id = ?1";
pub(super) const SELECT_DETAIL_COMPANIES: &str = "SELECT co.id, co.name, co.status FROM link_companies lc JOIN companies co ON co.id = lc.company_id \
     WHERE lc.link_id = ?1 ORDER BY co.name, co.id";
pub(super) const SELECT_DETAIL_CHANNELS: &str = "SELECT id, kind, company_id, status, external_label, created_at, revoked_at FROM channel_links \
     WHERE link_id = ?1 ORDER BY created_at, id";

/// The detail's statements (four), for any batch; decode with [`decode_detail`].
pub fn detail_stmts(link_id: &str, now: i64) -> Vec<Stmt> {
    vec![
        Stmt::new(SELECT_DETAIL).bind(link_id).bind(now),
        Stmt::new(SELECT_DETAIL_COMPANIES).bind(link_id),
        invitations::for_link_stmt(link_id, now),
        Stmt::new(SELECT_DETAIL_CHANNELS).bind(link_id),
    ]
}

pub(super) const DETAIL_STMT_COUNT: usize = 4;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct DetailRow {
    id: String,
    status: LinkStatus,
    default_company_id: String,
    policy_version: i64,
    review_at: i64,
    #[serde(with = "flag")]
    review_due: bool,
    reviewed_at: Option<i64>,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
    revoked_at: Option<i64>,
    last_sign_in_at: Option<i64>,
    last_sign_in_country: Option<String>,
    user_id: String,
    login: String,
    user_email: Option<String>,
    user_first_name: String,
    user_last_name: String,
    user_status: UserStatus,
    #[serde(with = "flag")]
    has_password: bool,
    contact_id: String,
    contact_first_name: String,
    contact_last_name: String,
    contact_email: String,
    contact_state: ContactState,
    responsible_id: Option<String>,
    responsible_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkCompany {
    pub id: String,
    pub name: String,
    pub status: CompanyStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelView {
    pub id: String,
    pub kind: String,
    pub company_id: String,
    pub status: String,
    pub external_label: Option<String>,
    #[serde(skip_serializing)]
    pub created_at: i64,
    #[serde(skip_serializing)]
    pub revoked_at: Option<i64>,
}

/// `GET /api/admin/links/{id}` (also the answer of confirm and PATCH).
#[derive(Debug, Clone, Serialize)]
pub struct LinkDetail {
    #[serde(flatten)]
    pub summary: LinkSummary,
    pub policy_version: i64,
    pub reviewed_at: Option<String>,
    pub created_by: Option<String>,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    /// The link's latest sign-in (a session opened through it): when and from which country.
    pub last_sign_in: Option<Value>,
    pub invitations: Vec<InvitationView>,
    pub channel_links: Vec<Value>,
    /// The raw pieces a change is decided on.
    #[serde(skip)]
    pub facts: DetailFacts,
}

#[derive(Debug, Clone, Default)]
pub struct DetailFacts {
    pub company_ids: Vec<String>,
    pub review_at: i64,
    pub reviewed_at: Option<i64>,
    pub contact_id: String,
    pub responsible_id: Option<String>,
}

/// The detail from the outcomes of [`detail_stmts`]; None when the link does not exist.
pub fn decode_detail(out: &[Outcome]) -> Result<Option<LinkDetail>, ApiError> {
    let Some(row) = rows(out, 0).into_iter().next() else {
        return Ok(None);
    };
    let l: DetailRow = decode(row)?;
    let companies: Vec<LinkCompany> = decode_all(rows(out, 1))?;
    let invitations = invitations::decode_views(rows(out, 2))?;
    let channels: Vec<ChannelView> = decode_all(rows(out, 3))?;
    let facts = DetailFacts {
        company_ids: companies.iter().map(|c| c.id.clone()).collect(),
        review_at: l.review_at,
        reviewed_at: l.reviewed_at,
        contact_id: l.contact_id.clone(),
        responsible_id: l.responsible_id.clone(),
    };
    let summary = LinkSummary {
        companies: companies
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "status": c.status, "is_default": c.id == l.default_company_id}))
            .collect(),
        user: json!({
            "id": l.user_id, "login": l.login, "email": l.user_email, "first_name": l.user_first_name,
            "last_name": l.user_last_name, "status": l.user_status, "has_password": l.has_password,
        }),
        contact: json!({
            "id": l.contact_id, "name": full_name(&l.contact_first_name, &l.contact_last_name), "first_name": l.contact_first_name,
            "last_name": l.contact_last_name, "email": l.contact_email, "state": l.contact_state,
        }),
        id: l.id,
        status: l.status,
        default_company_id: l.default_company_id,
        review_at: rfc3339(l.review_at),
        review_due: l.review_due,
        created_at: rfc3339(l.created_at),
        responsible: super::list::responsible_view(l.responsible_id, l.responsible_name),
    };
    Ok(Some(LinkDetail {
        summary,
        policy_version: l.policy_version,
        reviewed_at: l.reviewed_at.map(rfc3339),
        created_by: l.created_by,
        updated_at: rfc3339(l.updated_at),
        revoked_at: l.revoked_at.map(rfc3339),
        last_sign_in: l.last_sign_in_at.map(|at| json!({"at": rfc3339(at), "country": l.last_sign_in_country})),
        invitations,
        channel_links: channels
            .iter()
            .map(|c| {
                json!({"id": c.id, "kind": c.kind, "company_id": c.company_id, "status": c.status, "external_label": c.external_label,
                    "created_at": rfc3339(c.created_at), "revoked_at": c.revoked_at.map(rfc3339)})
            })
            .collect(),
        facts,
    }))
}

/// `GET /api/admin/links/{id}`: 404 when unknown or (managers) any of its companies is outside scope.
pub async fn get<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, link_id: &Uuid) -> Result<LinkDetail, ApiError> {
    let mut stmts = vec![Governor::check_stmt(bearer, now)];
    stmts.extend(detail_stmts(&link_id.to_string(), now.timestamp()));
    let out = ports.db().batch(stmts).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let detail = decode_detail(out.get(1..).unwrap_or_default())?.ok_or(ApiError::NotFound)?;
    if !gov.sees_all(detail.facts.company_ids.iter().map(String::as_str)) {
        return Err(ApiError::NotFound);
    }
    Ok(detail)
}
