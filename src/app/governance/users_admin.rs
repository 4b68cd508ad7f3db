//! Portal users seen from governance: the list for step 1 of the link wizard, blocking and
//! unblocking, the MFA reset, and employees (admins upsert them with their role and company scope;
//! a new employee gets an invitation like a client).
//!
//! Scope: a manager sees external users linked to their companies plus external users with no live
//! link (the wizard must find a returning client), and changes only external users all of whose
//! live links are within their companies (an unlinked user qualifies); anything else is 404.
//! Employees are admins' business. The last active admin cannot be demoted or blocked (409).

use crate::app::kit::governor::LIVE_LINK_COMPANIES;
use crate::app::kit::error::Conflict;
use crate::app::kit::page::{Page, decode_cursor, encode_cursor};
use crate::app::kit::rows::{changes, json_list, rows};
use crate::app::kit::text::{dedup, like_pattern, required_text};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{admin_alive, governs_user, is_admin};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::credentials;
use crate::app::kit::outbox::invitation_email_stmt;
use crate::app::kit::governor::employee_reads;
use crate::app::kit::governor::Governor;
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::kit::session::{Bearer, Role};
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::domain::login::{Email, Login};
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, sql::flag, Row, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;


/// The user view, with `?$scope_user`'s view of the links: all live links for an admin, the live
/// links holding one of a manager's companies (listing only those companies) otherwise.
macro_rules! user_view_sql {
    ($scope_user:literal, $now:literal) => {
        concat!(
            "SELECT u.id, u.login, u.login_key, u.email, u.first_name, u.last_name, u.kind, u.role, u.status, \
             (u.locked_until IS NOT NULL AND u.locked_until > ?", $now, ") AS locked, u.password_hash IS NOT NULL AS has_password, \
             u.totp_secret IS NOT NULL AS mfa_enrolled, u.created_at, u.updated_at, u.last_login_at, \
             CASE WHEN u.locked_until > ?", $now, " THEN u.locked_until END AS locked_until, \
             (SELECT json_group_array(ec.company_id) FROM employee_companies ec WHERE ec.user_id = u.id) AS scope_json, \
             (SELECT json_group_array(json_object('id', l.id, 'contact_id', l.contact_id, 'status', l.status, \
                'default_company_id', l.default_company_id, 'company_ids', json((SELECT json_group_array(lc.company_id) \
                FROM link_companies lc WHERE lc.link_id = l.id AND (", is_admin!($scope_user), " OR lc.company_id IN \
                (SELECT x.company_id FROM employee_companies x WHERE x.user_id = ?", $scope_user, ")))))) \
              FROM links l WHERE l.user_id = u.id AND l.status <> 'revoked' AND (", is_admin!($scope_user), " OR EXISTS \
                (SELECT 1 FROM link_companies y WHERE y.link_id = l.id AND y.company_id IN \
                (SELECT x.company_id FROM employee_companies x WHERE x.user_id = ?", $scope_user, ")))) AS links \
             FROM users u"
        )
    };
}

// ?1 acting employee, ?2 LIKE pattern, ?3/?4 cursor (login_key, id), ?5 limit, ?6 now, ?7 kind.
const LIST_USERS: &str = concat!(
    user_view_sql!(1, 6),
    " WHERE (", is_admin!(1), " OR (u.kind = 'external' AND (NOT EXISTS (SELECT 1 FROM links l2 WHERE l2.user_id = u.id AND l2.status <> 'revoked') \
       OR EXISTS (SELECT 1 FROM links l3 JOIN link_companies lc3 ON lc3.link_id = l3.id WHERE l3.user_id = u.id AND l3.status <> 'revoked' \
       AND lc3.company_id IN (SELECT x.company_id FROM employee_companies x WHERE x.user_id = ?1))))) \
     AND (?7 IS NULL OR u.kind = ?7) \
     AND (?2 IS NULL OR u.login_key LIKE ?2 ESCAPE '\\' OR u.email LIKE ?2 ESCAPE '\\' OR (u.first_name || ' ' || u.last_name) LIKE ?2 ESCAPE '\\') \
     AND (?3 IS NULL OR (u.login_key, u.id) > (?3, ?4)) ORDER BY u.login_key, u.id LIMIT ?5"
);
// ?1 acting employee (whose view of the links), ?2 now, ?3 the user.
const SELECT_USER: &str = concat!(user_view_sql!(1, 2), " WHERE u.id = ?3");
const OTHER_ACTIVE_ADMINS: &str = "SELECT count(*) AS n FROM users WHERE role = 'admin' AND status = 'active' AND id <> ?1";

/// Blocking the last active admin would lock governance for good.
macro_rules! not_last_admin {
    ($target:literal, $blocking:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM users la WHERE la.id = ?", $target, " AND la.role = 'admin' AND la.status = 'active' AND ", $blocking,
            " AND NOT EXISTS (SELECT 1 FROM users oa WHERE oa.role = 'admin' AND oa.status = 'active' AND oa.id <> ?", $target, "))"
        )
    };
}

// ?1 user, ?2 new status, ?3 now, ?4 session. Blocking also moves tokens_valid_after, so even an
// access token whose session check were skipped would be refused.
const SET_STATUS: &str = concat!(
    "UPDATE users SET status = ?2, updated_at = ?3, tokens_valid_after = CASE WHEN ?2 = 'blocked' THEN ?3 ELSE tokens_valid_after END \
     WHERE id = ?1 AND status <> ?2 AND ",
    governs_user!(4, 3, 1),
    " AND ",
    not_last_admin!(1, "?2 = 'blocked'")
);
// ?1 user, ?2 now. Only a blocked user's sessions end: harmless to repeat, so it needs no other guard.
const REVOKE_BLOCKED_SESSIONS: &str = "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'blocked' \
     WHERE user_id = ?1 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM users WHERE id = ?1 AND status = 'blocked')";
// ?1 user, ?2 now, ?3 new status: the user's status changed in this batch.
const BUMP_USER_LINKS: &str = "UPDATE links SET policy_version = policy_version + 1 \
     WHERE user_id = ?1 AND EXISTS (SELECT 1 FROM users WHERE id = ?1 AND status = ?3 AND updated_at = ?2)";
const AUDIT_IF_STATUS_SET: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM users WHERE id = ?14 AND status = ?15 AND updated_at = ?2)");

// ?1 user, ?2 now, ?3 session.
const RESET_MFA: &str = concat!(
    "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL, tokens_valid_after = ?2, updated_at = ?2 \
     WHERE id = ?1 AND ",
    governs_user!(3, 2, 1)
);
const AUDIT_IF_MFA_RESET: AuditGuard = audit_guard!(
    "EXISTS (SELECT 1 FROM users WHERE id = ?14 AND totp_secret IS NULL AND tokens_valid_after = ?2) AND ",
    governs_user!(15, 2, 14)
);

#[derive(Debug, Clone, Deserialize)]
struct UserRow {
    id: String,
    login: String,
    login_key: String,
    email: Option<String>,
    first_name: String,
    last_name: String,
    kind: String,
    role: Option<String>,
    status: String,
    #[serde(with = "flag")]
    locked: bool,
    #[serde(with = "flag")]
    has_password: bool,
    #[serde(with = "flag")]
    mfa_enrolled: bool,
    created_at: i64,
    updated_at: i64,
    last_login_at: Option<i64>,
    locked_until: Option<i64>,
    scope_json: String,
    links: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkSummary {
    pub id: String,
    pub contact_id: String,
    pub status: String,
    pub default_company_id: String,
    pub company_ids: Vec<String>,
}

/// A portal user as governance sees it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub login: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Employees: the companies of their scope (an admin's are unused: admins see everything).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_ids: Option<Vec<String>>,
    pub status: String,
    pub locked: bool,
    /// Until when a lockout after failed sign-ins holds (absent when not locked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<String>,
    /// The last successful sign-in (absent before the first).
    pub last_login_at: Option<String>,
    pub has_password: bool,
    pub mfa_enrolled: bool,
    /// Live (active or disabled) links, as far as the caller may see them.
    pub links: Vec<LinkSummary>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    login_key: String,
}

impl TryFrom<UserRow> for UserView {
    type Error = ApiError;
    fn try_from(r: UserRow) -> Result<Self, ApiError> {
        let links = serde_json::from_str(&r.links).map_err(|e| ApiError::internal(format!("user links: {e}")))?;
        let employee = r.kind == "employee";
        let company_ids = if employee {
            let mut ids: Vec<String> = serde_json::from_str(&r.scope_json).map_err(|e| ApiError::internal(format!("user scope: {e}")))?;
            ids.sort();
            Some(ids)
        } else {
            None
        };
        Ok(UserView {
            id: r.id,
            login: r.login,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            kind: r.kind,
            role: r.role,
            company_ids,
            status: r.status,
            locked: r.locked,
            locked_until: r.locked_until.map(rfc3339),
            last_login_at: r.last_login_at.map(rfc3339),
            has_password: r.has_password,
            mfa_enrolled: r.mfa_enrolled,
            links,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            login_key: r.login_key,
        })
    }
}

fn user_view(row: Option<Row>) -> Result<Option<UserView>, ApiError> {
    row.map(|r| decode::<UserRow>(r).map_err(ApiError::from).and_then(UserView::try_from)).transpose()
}

/// `GET /api/admin/users?q=&kind=`.
pub async fn list_users<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, query: crate::app::kit::page::ListQuery) -> Result<Page<UserView>, ApiError> {
    let kind = query.enum_filter("kind", &["external", "employee"])?;
    let cursor = decode_cursor(query.cursor.as_deref(), 2)?.unwrap_or_default();
    let list = Stmt::new(LIST_USERS)
        .bind(bearer.claims.sub.as_str())
        .bind(like_pattern(query.q.as_deref()))
        .bind(cursor.first().cloned())
        .bind(cursor.get(1).cloned())
        .bind(query.limit + 1)
        .bind(now.timestamp())
        .bind(kind);
    let (_, out) = employee_reads(ports, bearer, now, vec![list]).await?;
    let items = rows(&out, 0).into_iter().map(|r| user_view(Some(r))).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
    Ok(Page::of(items, query.limit, |u: &UserView| encode_cursor(&[&u.login_key, &u.id])))
}

/// `GET /api/admin/users/{id}`: one user, when the caller governs them (404 otherwise, as for the
/// changes: the page shows what the caller may act on).
pub async fn get_user<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, user_id: Uuid) -> Result<UserView, ApiError> {
    Ok(load_target(ports, bearer, now, &user_id.to_string()).await?.user)
}

/// The target of a user change, read with the caller's check; 404 unless the caller may change it.
struct Target {
    gov: Governor,
    user: UserView,
    companies: Vec<String>,
    other_active_admins: i64,
}

async fn load_target<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, user_id: &str) -> Result<Target, ApiError> {
    let reads = vec![
        Stmt::new(SELECT_USER).bind(bearer.claims.sub.as_str()).bind(now.timestamp()).bind(user_id),
        Stmt::new(LIVE_LINK_COMPANIES).bind(user_id),
        Stmt::new(OTHER_ACTIVE_ADMINS).bind(user_id),
    ];
    let (gov, out) = employee_reads(ports, bearer, now, reads).await?;
    let user = user_view(rows(&out, 0).into_iter().next())?.ok_or(ApiError::NotFound)?;
    let companies: Vec<String> = rows(&out, 1).into_iter().filter_map(|r| r.get("company_id").and_then(|v| v.as_str()).map(str::to_owned)).collect();
    if !gov.governs_user(&user.kind, &companies) {
        return Err(ApiError::NotFound);
    }
    let other_active_admins = rows(&out, 2).first().and_then(|r| r.get("n")).and_then(serde_json::Value::as_i64).unwrap_or(0);
    Ok(Target { gov, user, companies, other_active_admins })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Blocked,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusInput {
    pub status: UserStatus,
}

fn last_admin() -> ApiError {
    ApiError::conflict(Conflict::LastAdmin)
}

/// `PATCH /api/admin/users/{id}`: block or unblock. Blocking ends the user's sessions at once;
/// either way the user's links move to a new policy version. Same batch, audited.
pub async fn set_status<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, user_id: Uuid, input: StatusInput) -> Result<UserView, ApiError> {
    let id = user_id.to_string();
    let target = load_target(ports, bearer, now, &id).await?;
    let status = input.status.as_str();
    if target.user.status == status {
        // Nothing to change, nothing to audit.
        return Ok(target.user);
    }
    let blocking = input.status == UserStatus::Blocked;
    if blocking && target.user.role.as_deref() == Some("admin") && target.user.status == "active" && target.other_active_admins == 0 {
        return Err(last_admin());
    }
    let t = now.timestamp();
    let gov = &target.gov;
    let action = if blocking { "user.blocked" } else { "user.unblocked" };
    let kind = if target.user.kind == "employee" { "employee" } else { "user" };
    let event = Event::new(action, ActorKind::Employee, Some(gov.user_id()))
        .target(kind, &id)
        .companies(target.companies.clone())
        .details(json!({"before": target.user.status, "after": status, "login": target.user.login}));
    let audit = event.insert_if(&new_id(ports, now)?, client, t, AUDIT_IF_STATUS_SET).bind(id.as_str()).bind(status);
    let stmts = vec![
        Stmt::new(SET_STATUS).bind(id.as_str()).bind(status).bind(t).bind(gov.principal.session_id.as_str()),
        Stmt::new(REVOKE_BLOCKED_SESSIONS).bind(id.as_str()).bind(t),
        Stmt::new(BUMP_USER_LINKS).bind(id.as_str()).bind(t).bind(status),
        audit,
        Stmt::new(SELECT_USER).bind(gov.user_id()).bind(t).bind(id.as_str()),
    ];
    let out = ports.db().batch(stmts).await?;
    let after = user_view(rows(&out, 4).into_iter().next())?.ok_or(ApiError::NotFound)?;
    if changes(&out, 0) == 0 && after.status != status {
        // The guard refused: the last admin meanwhile, or the caller lost the right to this user.
        return Err(if blocking && after.role.as_deref() == Some("admin") { last_admin() } else { ApiError::NotFound });
    }
    Ok(after)
}

/// `POST /api/admin/users/{id}/mfa/reset`: the user enrols again at the next sign-in; access
/// tokens issued before now stop working.
pub async fn reset_mfa<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, user_id: Uuid) -> Result<UserView, ApiError> {
    let id = user_id.to_string();
    let target = load_target(ports, bearer, now, &id).await?;
    let t = now.timestamp();
    let gov = &target.gov;
    let kind = if target.user.kind == "employee" { "employee" } else { "user" };
    let event = Event::new("mfa.reset", ActorKind::Employee, Some(gov.user_id()))
        .target(kind, &id)
        .companies(target.companies.clone())
        .details(json!({"was_enrolled": target.user.mfa_enrolled, "login": target.user.login}));
    let audit = event.insert_if(&new_id(ports, now)?, client, t, AUDIT_IF_MFA_RESET).bind(id.as_str()).bind(gov.principal.session_id.as_str());
    let stmts = vec![
        Stmt::new(RESET_MFA).bind(id.as_str()).bind(t).bind(gov.principal.session_id.as_str()),
        audit,
        Stmt::new(SELECT_USER).bind(gov.user_id()).bind(t).bind(id.as_str()),
    ];
    let out = ports.db().batch(stmts).await?;
    if changes(&out, 0) == 0 {
        return Err(ApiError::NotFound);
    }
    user_view(rows(&out, 2).into_iter().next())?.ok_or(ApiError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Employees

const LOGIN_OWNER: &str = "SELECT id FROM users WHERE login_key = ?1";
const UNKNOWN_COMPANIES: &str = "SELECT value AS id FROM json_each(?1) WHERE value NOT IN (SELECT id FROM companies)";

/// Every statement of an employee upsert carries this guard: an admin's live session (`?$s` at
/// `?$now`); the target `?$t`, if it exists, is an employee; and the change (new role `?$r`, new
/// status `?$st`, NULL keeps it) does not demote or block the last active admin. The user update
/// comes last in the batch, so every statement sees the same answer.
macro_rules! employee_write {
    ($s:literal, $now:literal, $t:literal, $r:literal, $st:literal) => {
        concat!(
            "(", admin_alive!($s, $now),
            " AND NOT EXISTS (SELECT 1 FROM users ek WHERE ek.id = ?", $t, " AND ek.kind <> 'employee')",
            " AND NOT EXISTS (SELECT 1 FROM users la WHERE la.id = ?", $t, " AND la.role = 'admin' AND la.status = 'active' AND (?", $r,
            " <> 'admin' OR COALESCE(?", $st, ", la.status) = 'blocked') AND NOT EXISTS (SELECT 1 FROM users oa WHERE oa.role = 'admin' \
             AND oa.status = 'active' AND oa.id <> ?", $t, ")))"
        )
    };
}

// ?1 id, ?2 status (NULL: keep / active), ?3 role, ?4 login, ?5 login_key, ?6 email, ?7 first, ?8 last,
// ?9 now, ?10 session.
const INSERT_EMPLOYEE: &str = concat!(
    "INSERT INTO users (id, kind, status, role, login, login_key, email, first_name, last_name, created_at, updated_at) \
     SELECT ?1, 'employee', COALESCE(?2, 'active'), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9 WHERE ",
    employee_write!(10, 9, 1, 3, 2),
    " ON CONFLICT (id) DO NOTHING"
);
const UPDATE_EMPLOYEE: &str = concat!(
    "UPDATE users SET status = COALESCE(?2, status), role = ?3, login = ?4, login_key = ?5, email = ?6, first_name = ?7, last_name = ?8, \
     updated_at = ?9, tokens_valid_after = CASE WHEN ?2 = 'blocked' AND status <> 'blocked' THEN ?9 ELSE tokens_valid_after END \
     WHERE id = ?1 AND ",
    employee_write!(10, 9, 1, 3, 2)
);
// ?1 employee, ?2 JSON company ids, ?3 now, ?4 session, ?5 role, ?6 status.
const DELETE_SCOPE: &str = concat!(
    "DELETE FROM employee_companies WHERE user_id = ?1 AND company_id NOT IN (SELECT value FROM json_each(?2)) AND ",
    employee_write!(4, 3, 1, 5, 6)
);
const INSERT_SCOPE: &str = concat!(
    "INSERT INTO employee_companies (user_id, company_id, created_at) SELECT ?1, value, ?3 FROM json_each(?2) WHERE ",
    employee_write!(4, 3, 1, 5, 6),
    " ON CONFLICT DO NOTHING"
);
// ?1 invitation, ?2 employee, ?3 token hash, ?4 expires_at, ?5 created_by, ?6 now, ?7 session. Only
// for an employee this batch created (no password yet) and who has no pending invitation.
const INSERT_INVITATION: &str = concat!(
    "INSERT INTO invitations (id, user_id, link_id, token_hash, status, expires_at, created_by, created_at) \
     SELECT ?1, ?2, NULL, ?3, 'pending', ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND kind = 'employee' \
       AND password_hash IS NULL AND created_at = ?6) \
     AND NOT EXISTS (SELECT 1 FROM invitations WHERE user_id = ?2 AND link_id IS NULL AND status = 'pending') AND ",
    admin_alive!(7, 6)
);
const AUDIT_IF_ADMIN: AuditGuard = audit_guard!(
    "",
    employee_write!(14, 2, 15, 16, 17)
);

#[derive(Debug, Deserialize)]
pub struct EmployeeInput {
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub company_ids: Vec<Uuid>,
    #[serde(default)]
    pub status: Option<UserStatus>,
    /// A new employee's activation link also goes by email (default true; when email is on).
    #[serde(default)]
    pub send_email: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct EmployeeInvitation {
    pub id: String,
    pub status: &'static str,
    pub expires_at: String,
    /// `<portal>/activate#<token>`: the token is shown here only.
    pub activation_url: String,
    /// Where the link was emailed to, when it was.
    pub emailed_to: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EmployeeView {
    #[serde(flatten)]
    pub user: UserView,
    pub invitation: Option<EmployeeInvitation>,
}

/// The outcome of `PUT /api/admin/employees/{id}`: 201 with the invitation when it created one.
pub struct EmployeeUpserted {
    pub created: bool,
    pub view: EmployeeView,
}

/// `PUT /api/admin/employees/{id}` (admins). `portal_origin` is PORTAL_URL or the request's origin.
pub async fn upsert_employee<P: Ports>(
    ports: &P,
    bearer: &Bearer,
    client: &ClientMeta,
    now: DateTime<Utc>,
    portal_origin: &str,
    user_id: Uuid,
    input: EmployeeInput,
    email_on: bool,
) -> Result<EmployeeUpserted, ApiError> {
    let send_email = email_on && input.send_email.unwrap_or(true);
    let login = Login::parse(&input.login).map_err(|e| ApiError::invalid("login", e.to_string()))?;
    let email = Email::parse(&input.email).map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let first_name = required_text("first_name", &input.first_name, 200)?;
    let last_name = required_text("last_name", &input.last_name, 200)?;
    if input.company_ids.len() > 500 {
        return Err(ApiError::invalid("company_ids", "company_ids may list at most 500 companies."));
    }
    let company_ids = dedup(&input.company_ids);
    let id = user_id.to_string();
    let reads = vec![
        Stmt::new(SELECT_USER).bind(bearer.claims.sub.as_str()).bind(now.timestamp()).bind(id.as_str()),
        Stmt::new(LOGIN_OWNER).bind(login.key()),
        Stmt::new(UNKNOWN_COMPANIES).bind(json_list(&company_ids)),
        Stmt::new(OTHER_ACTIVE_ADMINS).bind(id.as_str()),
        select_settings(),
    ];
    let (gov, out) = employee_reads(ports, bearer, now, reads).await?;
    gov.require_admin()?;
    let before = user_view(rows(&out, 0).into_iter().next())?;
    if before.as_ref().is_some_and(|b| b.kind != "employee") {
        return Err(ApiError::conflict(Conflict::NotAnEmployee));
    }
    if rows(&out, 1).iter().any(|r| r.get("id").and_then(|v| v.as_str()) != Some(id.as_str())) {
        return Err(login_taken());
    }
    let unknown: Vec<String> = rows(&out, 2).into_iter().filter_map(|r| r.get("id").and_then(|v| v.as_str()).map(str::to_owned)).collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid("company_ids", format!("company_ids names unknown companies: {}.", unknown.join(", "))));
    }
    let other_admins = rows(&out, 3).first().and_then(|r| r.get("n")).and_then(serde_json::Value::as_i64).unwrap_or(0);
    let role = match input.role {
        Role::Admin => "admin",
        Role::Manager => "manager",
    };
    let status = input.status.map(UserStatus::as_str);
    if let Some(b) = &before {
        let demotes_or_blocks = role != "admin" || status == Some("blocked");
        if b.role.as_deref() == Some("admin") && b.status == "active" && demotes_or_blocks && other_admins == 0 {
            return Err(last_admin());
        }
    }
    let (settings, _) = settings_from(rows(&out, 4).into_iter().next())?;
    let t = now.timestamp();
    let session = gov.principal.session_id.clone();

    let mut touched: Vec<String> = before.as_ref().and_then(|b| b.company_ids.clone()).unwrap_or_default();
    touched.extend(company_ids.iter().filter(|c| !touched.contains(c)).cloned().collect::<Vec<_>>());
    let action = if before.is_some() { "employee.updated" } else { "employee.created" };
    let event = Event::new(action, ActorKind::Employee, Some(gov.user_id())).target("employee", &id).companies(touched).details(json!({
        "before": before.as_ref().map(|b| json!({"login": b.login, "email": b.email, "first_name": b.first_name, "last_name": b.last_name,
            "role": b.role, "status": b.status, "company_ids": b.company_ids})),
        "after": {"login": login.as_str(), "email": email.as_str(), "first_name": first_name, "last_name": last_name,
            "role": role, "status": status, "company_ids": company_ids},
    }));
    let audit = event.insert_if(&new_id(ports, now)?, client, t, AUDIT_IF_ADMIN).bind(session.as_str()).bind(id.as_str()).bind(role).bind(status);
    let user_write = |sql: &'static str| {
        Stmt::new(sql)
            .bind(id.as_str())
            .bind(status)
            .bind(role)
            .bind(login.as_str())
            .bind(login.key())
            .bind(email.as_str())
            .bind(first_name.as_str())
            .bind(last_name.as_str())
            .bind(t)
            .bind(session.as_str())
    };
    let scope_write = |sql: &'static str| Stmt::new(sql).bind(id.as_str()).bind(json_list(&company_ids)).bind(t).bind(session.as_str()).bind(role).bind(status);

    let invitation = if before.is_none() {
        let (token, hash) = credentials::new_invitation_token(secret_bytes(ports)?);
        let expires_at = t + i64::from(settings.sessions.invitation_ttl_hours) * 3600;
        let url = format!("{}/activate#{token}", portal_origin.trim_end_matches('/'));
        Some((new_id(ports, now)?, url, hash, expires_at))
    } else {
        None
    };
    let mut stmts = vec![
        user_write(INSERT_EMPLOYEE),
        scope_write(DELETE_SCOPE),
        scope_write(INSERT_SCOPE),
        audit,
        // Last: it may demote or block the acting admin, after which their guard no longer holds.
        user_write(UPDATE_EMPLOYEE),
        // A blocked employee is out at once (harmless to repeat for one already blocked).
        Stmt::new(REVOKE_BLOCKED_SESSIONS).bind(id.as_str()).bind(t),
    ];
    if let Some((inv_id, url, hash, expires_at)) = &invitation {
        stmts.push(
            Stmt::new(INSERT_INVITATION).bind(inv_id.as_str()).bind(id.as_str()).bind(hash.as_str()).bind(*expires_at).bind(gov.user_id()).bind(t).bind(session.as_str()),
        );
        if send_email {
            // Index 7: written only when the invitation was (its row is the condition).
            stmts.push(invitation_email_stmt(&new_id(ports, now)?, inv_id, url, t, *expires_at, false));
        }
    }
    stmts.push(Stmt::new(SELECT_USER).bind(gov.user_id()).bind(t).bind(id.as_str()));
    let out = ports.db().batch(stmts).await.map_err(|e| if e.is_unique_violation() { login_taken() } else { e.into() })?;
    let last = out.len() - 1;
    if changes(&out, 4) == 0 {
        // The guard refused between our read and our write.
        let demotes_or_blocks = role != "admin" || status == Some("blocked");
        return Err(if demotes_or_blocks { last_admin() } else { ApiError::Forbidden });
    }
    let user = user_view(rows(&out, last).into_iter().next())?.ok_or_else(|| ApiError::internal("employee vanished after upsert"))?;
    let created = changes(&out, 0) == 1;
    let invitation = match invitation {
        Some((inv_id, url, _, expires_at)) if changes(&out, 6) == 1 => Some(EmployeeInvitation {
            id: inv_id,
            status: "pending",
            expires_at: rfc3339(expires_at),
            activation_url: url,
            emailed_to: (send_email && changes(&out, 7) == 1).then(|| email.as_str().to_owned()),
        }),
        _ => None,
    };
    Ok(EmployeeUpserted { created, view: EmployeeView { user, invitation } })
}

fn login_taken() -> ApiError {
    ApiError::conflict(Conflict::LoginTaken)
}
