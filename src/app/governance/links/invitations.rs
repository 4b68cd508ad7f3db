//! Invitations from the governance side: issue one for a link (revoking its pending ones in the
//! same batch, so an old invitation stops working the moment a new one exists), list them with a
//! status filter, revoke one. The client's side (preview, activation) is `activation`.
//!
//! Writes use the links module's pattern: the audit event is the batch's guard and nonce.

use crate::app::kit::error::Conflict;
use crate::app::kit::page::{Page, encode_id_cursor};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{employee_alive, all_in_scope, governs_user, link_in_scope};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::credentials;
use crate::app::kit::outbox::invitation_email_stmt;
use crate::app::kit::rows::rows;
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::kit::session::Bearer;
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::access::facts::{LinkStatus, UserStatus};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, sql::flag, Row, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Every view query reads `now` from ?1: a pending invitation past its expiry shows as expired
/// even before the cron writes it.
macro_rules! select_views {
    ($($rest:tt)*) => {
        concat!(
            "SELECT i.id, i.link_id, i.user_id, u.login, u.first_name, u.last_name, \
             CASE WHEN i.status = 'pending' AND i.expires_at <= ?1 THEN 'expired' ELSE i.status END AS status, \
             i.expires_at, i.created_at, i.created_by, i.used_at, i.revoked_at \
             FROM invitations i JOIN users u ON u.id = i.user_id WHERE ",
            $($rest)*
        )
    };
}

const SELECT_FOR_LINK: &str = select_views!("i.link_id = ?2 ORDER BY i.id DESC");
const SELECT_ONE: &str = select_views!("i.id = ?2");
// ?2 link, ?3 status, ?4 the caller (managers: only invitations of links wholly in scope), ?5 cursor, ?6 limit.
const SELECT_LIST: &str = select_views!(
    "(?2 IS NULL OR i.link_id = ?2) \
     AND (?3 IS NULL OR (CASE WHEN i.status = 'pending' AND i.expires_at <= ?1 THEN 'expired' ELSE i.status END) = ?3) \
     AND (EXISTS (SELECT 1 FROM users WHERE id = ?4 AND role = 'admin') OR (i.link_id IS NOT NULL AND ",
    link_in_scope!(4, "i.link_id"),
    ")) AND (?5 IS NULL OR i.id < ?5) ORDER BY i.id DESC LIMIT ?6"
);

/// An invitation as employees see it: never its token or hash.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: String,
    pub link_id: Option<String>,
    pub user: serde_json::Value,
    pub status: String,
    pub expires_at: String,
    pub created_at: String,
    pub created_by: Option<String>,
    pub used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Deserialize)]
struct ViewRow {
    id: String,
    link_id: Option<String>,
    user_id: String,
    login: String,
    first_name: String,
    last_name: String,
    status: String,
    expires_at: i64,
    created_at: i64,
    created_by: Option<String>,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// A link's invitations, newest first (for the link's detail).
pub fn for_link_stmt(link_id: &str, now: i64) -> Stmt {
    Stmt::new(SELECT_FOR_LINK).bind(now).bind(link_id)
}

pub fn decode_views(rows: Vec<Row>) -> Result<Vec<InvitationView>, ApiError> {
    Ok(decode_all::<ViewRow>(rows)?
        .into_iter()
        .map(|r| InvitationView {
            id: r.id,
            link_id: r.link_id,
            user: json!({"id": r.user_id, "login": r.login, "first_name": r.first_name, "last_name": r.last_name}),
            status: r.status,
            expires_at: rfc3339(r.expires_at),
            created_at: rfc3339(r.created_at),
            created_by: r.created_by,
            used_at: r.used_at.map(rfc3339),
            revoked_at: r.revoked_at.map(rfc3339),
        })
        .collect())
}

const REVOKE_PENDING: &str = "UPDATE invitations SET status = 'revoked', revoked_at = ?2 \
     WHERE link_id = ?1 AND status = 'pending' AND expires_at > ?2 AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";

/// Revokes the link's pending invitations, in a batch guarded by the audit event `event_id`.
pub fn revoke_pending_stmt(link_id: &str, now: i64, event_id: &str) -> Stmt {
    Stmt::new(REVOKE_PENDING).bind(link_id).bind(now).bind(event_id)
}

// ---------------------------------------------------------------------------------------------
// Issue
// ---------------------------------------------------------------------------------------------

// The link, its user and, because an invitation sets the password of the whole user, the companies
// of every live link of that user (`user_company_ids`).
const SELECT_LINK: &str = "SELECT l.id, l.status, l.user_id, u.kind, u.status AS user_status, u.password_hash IS NOT NULL AS has_password, \
     u.email IS NOT NULL AS has_email, (SELECT json_group_array(lc.company_id) FROM link_companies lc WHERE lc.link_id = l.id) AS company_ids, \
     (SELECT json_group_array(DISTINCT ulc.company_id) FROM links ul JOIN link_companies ulc ON ulc.link_id = ul.id \
       WHERE ul.user_id = l.user_id AND ul.status <> 'revoked') AS user_company_ids \
     FROM links l JOIN users u ON u.id = l.user_id WHERE l.id = ?1";
// ?14 link, ?15 the acting session, ?16 the link's user; ?2 now and ?4 the acting employee. The
// employee must govern the user (every company of every live link), not only this link: the
// activation replaces the password the user signs in with everywhere.
const ISSUE_GUARD: AuditGuard = audit_guard!(concat!(
    "EXISTS (SELECT 1 FROM links l JOIN users u ON u.id = l.user_id WHERE l.id = ?14 AND l.user_id = ?16 AND l.status = 'active' AND u.status = 'active') AND ",
    employee_alive!(15, 2),
    " AND ",
    link_in_scope!(4, "?14"),
    " AND ",
    governs_user!(15, 2, 16)
));
const INSERT_INVITATION: &str = "INSERT INTO invitations (id, user_id, link_id, token_hash, status, expires_at, created_by, created_at) \
     SELECT ?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM audit_events WHERE id = ?8)";

#[derive(Deserialize)]
struct LinkRow {
    status: LinkStatus,
    user_id: String,
    kind: String,
    user_status: UserStatus,
    #[serde(with = "flag")]
    has_password: bool,
    company_ids: Option<String>,
    user_company_ids: Option<String>,
    #[serde(with = "flag")]
    has_email: bool,
}

// ?1 the invitation's email: the address it goes to (no row when the user has no email).
const EMAILED_TO: &str = "SELECT to_address FROM emails WHERE id = ?1";

#[derive(Debug, Deserialize)]
struct EmailedTo {
    to_address: String,
}

fn company_ids(json: Option<&str>) -> Result<Vec<String>, ApiError> {
    json.map(serde_json::from_str).transpose().map_err(|e| ApiError::internal(format!("company ids: {e}"))).map(Option::unwrap_or_default)
}

/// `201 {id, status, expires_at, activation_url}`: the token of a first invitation appears here
/// only, in the URL's fragment, which browsers never send to a server. A password reset's token
/// goes to the user's own address only (`activation_url` is null): whoever issues a reset must not
/// be able to become the user.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub id: String,
    pub link_id: String,
    pub status: &'static str,
    pub expires_at: String,
    pub activation_url: Option<String>,
    /// The user already has a password: activating replaces it.
    pub password_reset: bool,
    /// Where the activation link was emailed to, when it was.
    pub emailed_to: Option<String>,
    /// `queued` (emailed_to names the address), `not_requested` (send_email: false), `off` (email
    /// is not set up: EMAIL_FROM or the binding missing) or `no_address` (the user has no email).
    pub email: &'static str,
}

/// Whether to email the activation link: asked for and possible, asked for but email is off, or
/// not asked for (the employee hands the link over by another trusted channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChoice {
    Send,
    Off,
    NotRequested,
}

/// `POST /api/admin/links/{id}/invitations` body: `{send_email?: bool}` (default true).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueInput {
    pub send_email: Option<bool>,
}

/// `POST /api/admin/links/{id}/invitations`. `origin` is PORTAL_URL or the request's origin.
pub async fn issue<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, link_id: &Uuid, origin: &str, email: EmailChoice) -> Result<Issued, ApiError> {
    let t = now.timestamp();
    let id = link_id.to_string();
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_LINK).bind(id.as_str()), select_settings()]).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let link: LinkRow = decode(out.get(1).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::NotFound)?)?;
    let companies = company_ids(link.company_ids.as_deref())?;
    if !gov.sees_all(companies.iter().map(String::as_str)) {
        return Err(ApiError::NotFound);
    }
    if link.status != LinkStatus::Active {
        return Err(ApiError::conflict(Conflict::LinkNotActive));
    }
    if link.user_status == UserStatus::Blocked {
        return Err(ApiError::conflict(Conflict::UserBlocked));
    }
    // The activation sets the password the user signs in with on every link they hold.
    let user_companies = company_ids(link.user_company_ids.as_deref())?;
    if !gov.governs_user(&link.kind, &user_companies) {
        return Err(ApiError::conflict(Conflict::UserOutsideScope));
    }
    if link.has_password {
        reset_can_be_emailed(email, link.has_email)?;
    }
    let (settings, _) = settings_from(out.get(2).and_then(|o| o.rows.first().cloned()))?;
    let expires_at = t + i64::from(settings.sessions.invitation_ttl_hours) * 3600;
    let (token, token_hash) = credentials::new_invitation_token(secret_bytes(ports)?);
    let invitation_id = new_id(ports, now)?;
    let event_id = new_id(ports, now)?;
    let event = Event::new("invitation.issued", ActorKind::Employee, Some(gov.user_id()))
        .target("invitation", &invitation_id)
        .companies(user_companies)
        .details(json!({"link_id": id, "user_id": link.user_id, "expires_at": rfc3339(expires_at), "password_reset": link.has_password}));
    let guard = event.insert_if(&event_id, client, t, ISSUE_GUARD);
    let activation_url = format!("{}/activate#{token}", origin.trim_end_matches('/'));
    let mut stmts = vec![
            guard.bind(id.as_str()).bind(gov.principal.session_id.as_str()).bind(link.user_id.as_str()),
            revoke_pending_stmt(&id, t, &event_id),
            Stmt::new(INSERT_INVITATION)
                .bind(invitation_id.as_str())
                .bind(link.user_id.as_str())
                .bind(id.as_str())
                .bind(token_hash)
                .bind(expires_at)
                .bind(gov.user_id())
                .bind(t)
                .bind(event_id.as_str()),
    ];
    if email == EmailChoice::Send {
        let email_id = new_id(ports, now)?;
        stmts.push(invitation_email_stmt(&email_id, &invitation_id, &activation_url, t, expires_at, link.has_password));
        stmts.push(Stmt::new(EMAILED_TO).bind(email_id));
    }
    let out = ports.db().batch(stmts).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::conflict(Conflict::LinkChanged));
    }
    let emailed_to = if email == EmailChoice::Send { decode_all::<EmailedTo>(rows(&out, 4))?.into_iter().next().map(|e| e.to_address) } else { None };
    let email = match (email, &emailed_to) {
        (EmailChoice::Send, Some(_)) => "queued",
        (EmailChoice::Send, None) => "no_address",
        (EmailChoice::Off, _) => "off",
        (EmailChoice::NotRequested, _) => "not_requested",
    };
    Ok(Issued {
        id: invitation_id,
        link_id: id,
        status: "pending",
        expires_at: rfc3339(expires_at),
        // A reset's link went to the user's own address, and only there.
        activation_url: (!link.has_password).then_some(activation_url),
        password_reset: link.has_password,
        emailed_to,
        email,
    })
}

/// A password reset goes by email to the user's own address, or not at all: the employee who
/// issues it never holds the token (ASVS 6.4.1), so an employee cannot become the client.
fn reset_can_be_emailed(email: EmailChoice, has_address: bool) -> Result<(), ApiError> {
    let because = |why: &str| Err(ApiError::conflict_because(Conflict::ResetNeedsEmail, why));
    match email {
        EmailChoice::NotRequested => because("A password reset is always emailed to the user's own address: leave \"send by email\" on."),
        EmailChoice::Off => because("A password reset is emailed to the user's own address, and email is not set up for this portal (an admin sees why under Delivery)."),
        EmailChoice::Send if !has_address => because("A password reset is emailed to the user's own address, and this user has none: add one to the user first."),
        EmailChoice::Send => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// List and revoke
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Used,
    Revoked,
    Expired,
}

impl Status {
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "pending" => Some(Status::Pending),
            "used" => Some(Status::Used),
            "revoked" => Some(Status::Revoked),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Used => "used",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub link: Option<Uuid>,
    pub status: Option<Status>,
    pub limit: u32,
    pub after: Option<Uuid>,
}

/// `GET /api/admin/invitations?link=&status=`: newest first; managers see the invitations of
/// links wholly inside their scope.
pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, f: &ListFilter) -> Result<Page<InvitationView>, ApiError> {
    let query = Stmt::new(SELECT_LIST)
        .bind(now.timestamp())
        .bind(f.link.map(|l| l.to_string()))
        .bind(f.status.map(Status::as_str))
        .bind(bearer.claims.sub.as_str())
        .bind(f.after.map(|a| a.to_string()))
        .bind(f.limit + 1);
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), query]).await?;
    Governor::from_check(bearer, out.first())?;
    let items = decode_views(out.get(1).map(|o| o.rows.clone()).unwrap_or_default())?;
    Ok(Page::of(items, f.limit, |i| encode_id_cursor(&i.id)))
}

const SELECT_FOR_REVOKE: &str = "SELECT i.id, i.link_id, CASE WHEN i.status = 'pending' AND i.expires_at <= ?2 THEN 'expired' ELSE i.status END AS status, \
     (SELECT json_group_array(lc.company_id) FROM link_companies lc WHERE lc.link_id = i.link_id) AS company_ids \
     FROM invitations i WHERE i.id = ?1";
// ?14 invitation, ?15 the acting session, ?16 the link's companies (JSON).
const REVOKE_GUARD: AuditGuard = audit_guard!(concat!(
    "EXISTS (SELECT 1 FROM invitations WHERE id = ?14 AND status = 'pending' AND expires_at > ?2) AND ",
    employee_alive!(15, 2),
    " AND ",
    all_in_scope!(4, 16)
));
const REVOKE_ONE: &str = "UPDATE invitations SET status = 'revoked', revoked_at = ?2 WHERE id = ?1 \
     AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?3)";

#[derive(Deserialize)]
struct RevokeRow {
    link_id: Option<String>,
    status: String,
    company_ids: Option<String>,
}

/// `POST /api/admin/invitations/{id}/revoke`: pending -> revoked; 409 `invitation_not_pending`
/// for one already used, revoked or expired.
pub async fn revoke<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, invitation_id: &Uuid) -> Result<InvitationView, ApiError> {
    let t = now.timestamp();
    let id = invitation_id.to_string();
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now), Stmt::new(SELECT_FOR_REVOKE).bind(id.as_str()).bind(t)]).await?;
    let gov = Governor::from_check(bearer, out.first())?;
    let row: RevokeRow = decode(out.get(1).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::NotFound)?)?;
    let companies = company_ids(row.company_ids.as_deref())?;
    // An employee's own invitation (no link) is an admin's business.
    if !gov.admin && (row.link_id.is_none() || !gov.sees_all(companies.iter().map(String::as_str))) {
        return Err(ApiError::NotFound);
    }
    let not_pending = || ApiError::conflict(Conflict::InvitationNotPending);
    if row.status != "pending" {
        return Err(not_pending());
    }
    let event_id = new_id(ports, now)?;
    let event = Event::new("invitation.revoked", ActorKind::Employee, Some(gov.user_id()))
        .target("invitation", &id)
        .companies(companies.clone())
        .details(json!({"link_id": row.link_id}));
    let guard = event.insert_if(&event_id, client, t, REVOKE_GUARD);
    let companies_json = serde_json::to_string(&companies).unwrap_or_else(|_| "[]".into());
    let out = ports
        .db()
        .batch(vec![
            guard.bind(id.as_str()).bind(gov.principal.session_id.as_str()).bind(companies_json),
            Stmt::new(REVOKE_ONE).bind(id.as_str()).bind(t).bind(event_id.as_str()),
            Stmt::new(SELECT_ONE).bind(t).bind(id.as_str()),
        ])
        .await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(not_pending());
    }
    decode_views(out.get(2).map(|o| o.rows.clone()).unwrap_or_default())?.into_iter().next().ok_or(ApiError::NotFound)
}
