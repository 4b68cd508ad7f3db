//! Invitations seen from the client: preview (who it is for, the password rules) and activation,
//! which consumes the token, sets the password and opens a session in one nonce-guarded batch.

use crate::app::kit::step_up::{verify_factors, TotpCheck};
use crate::app::kit::error::Gone;
use crate::app::kit::time::rfc3339;
use crate::app::kit::audit::{self, ActorKind, Event};
use crate::app::kit::credentials;
use crate::app::kit::ids::{new_id, nonce};
use crate::app::kit::link_facts::{facts_stmts_for, token_scope};
use crate::app::kit::session::{Issued, Opening, Scope, SessionGuard, SessionUser, Transport};
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::domain::password::PasswordPolicy;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

const SELECT_INVITATION: &str = "SELECT i.id, i.status, i.expires_at, i.link_id, i.created_by, u.id AS user_id, u.kind, u.role, u.status AS user_status, \
     u.login, u.email, u.first_name, u.last_name, u.password_hash IS NOT NULL AS has_password, u.totp_secret IS NOT NULL AS has_totp, u.totp_secret, u.totp_last_step, \
     (SELECT json_group_array(co.name) FROM link_companies nlc JOIN companies co ON co.id = nlc.company_id WHERE nlc.link_id = i.link_id) AS company_names, \
     l.status AS link_status, l.policy_version \
     FROM invitations i JOIN users u ON u.id = i.user_id LEFT JOIN links l ON l.id = i.link_id WHERE i.token_hash = ?1";

/// ?4 the TOTP step the activation's code used (NULL without one), ?5 the user: a step already used
/// consumes nothing, so a code works once here as at login.
const CONSUME: &str = "UPDATE invitations SET status = 'used', used_at = ?2, used_nonce = ?3 \
     WHERE id = ?1 AND status = 'pending' AND expires_at > ?2 \
     AND (?4 IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = ?5 AND (totp_last_step IS NULL OR totp_last_step < ?4)))";
/// ?7 how (`invitation` or `reset`): the row remembers who issued the invitation that set it, for
/// the signing evidence.
const SET_PASSWORD: &str = "UPDATE users SET password_hash = ?2, password_changed_at = ?3, tokens_valid_after = ?3, failed_logins = 0, \
     locked_until = NULL, totp_last_step = COALESCE(?6, totp_last_step), updated_at = ?3, password_set_via = ?7, \
     password_set_by = (SELECT created_by FROM invitations WHERE id = ?4) \
     WHERE id = ?1 AND EXISTS (SELECT 1 FROM invitations WHERE id = ?4 AND used_nonce = ?5)";
const END_OTHER_SESSIONS: &str = "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'password_reset' \
     WHERE user_id = ?1 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM invitations WHERE id = ?3 AND used_nonce = ?4)";

/// The employees' guide: "after the client's first login, the access is checked one more time".
/// The first activation of a never-reviewed link makes it review-due at once, so it shows under the
/// console's review-due filter until someone marks it reviewed (which moves the date on).
const DUE_AFTER_FIRST_LOGIN: &str = "UPDATE links SET review_at = ?2, review_due = 1, updated_at = ?2 \
     WHERE id = ?1 AND status = 'active' AND reviewed_at IS NULL \
     AND EXISTS (SELECT 1 FROM invitations WHERE id = ?3 AND used_nonce = ?4) \
     AND NOT EXISTS (SELECT 1 FROM invitations WHERE link_id = ?1 AND status = 'used' AND id <> ?3)";

#[derive(Deserialize)]
struct InvitationRow {
    id: String,
    status: String,
    expires_at: i64,
    link_id: Option<String>,
    created_by: Option<String>,
    user_id: String,
    kind: String,
    role: Option<String>,
    user_status: String,
    login: String,
    email: Option<String>,
    first_name: String,
    last_name: String,
    has_password: i64,
    has_totp: i64,
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
    company_names: Option<String>,
    link_status: Option<String>,
    policy_version: Option<i64>,
}

impl InvitationRow {
    /// Pending, or the reason it cannot be used (410); expired also when read after expires_at.
    fn usable(&self, now: i64) -> Result<(), ApiError> {
        let status = if self.status == "pending" && self.expires_at <= now { "expired" } else { self.status.as_str() };
        match status {
            "pending" => {}
            "used" => return Err(ApiError::Gone { code: Gone::InvitationUsed }),
            "revoked" => return Err(ApiError::Gone { code: Gone::InvitationRevoked }),
            _ => return Err(ApiError::Gone { code: Gone::InvitationExpired }),
        }
        // A blocked user or a link no longer active makes the invitation as good as revoked.
        let link_ok = self.link_id.is_none() || self.link_status.as_deref() == Some("active");
        if self.user_status != "active" || !link_ok {
            return Err(ApiError::Gone { code: Gone::InvitationRevoked });
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct Preview {
    pub status: &'static str,
    pub login: String,
    pub first_name: String,
    pub expires_at: String,
    pub password_policy: PasswordPolicy,
    pub mfa_required: bool,
    /// True when the user already has a password: activating replaces it (a password reset).
    pub password_reset: bool,
    /// True when the user has an authenticator: activating needs a code from it, so a reset link
    /// alone (whoever holds it) never gets past the second factor.
    pub totp_required: bool,
}

async fn find<P: Ports>(ports: &P, token: &str) -> Result<(crate::domain::settings::SecuritySettings, InvitationRow), ApiError> {
    let hash = credentials::invitation_token_hash(token).ok_or(ApiError::NotFound)?;
    let out = ports.db().batch(vec![select_settings(), Stmt::new(SELECT_INVITATION).bind(hash)]).await?;
    let (settings, _) = settings_from(out.first().and_then(|o| o.rows.first().cloned()))?;
    let row = out.get(1).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::NotFound)?;
    Ok((settings, decode(row)?))
}

pub async fn preview<P: Ports>(ports: &P, now: DateTime<Utc>, token: &str) -> Result<Preview, ApiError> {
    let (settings, inv) = find(ports, token).await?;
    inv.usable(now.timestamp())?;
    Ok(Preview {
        status: "pending",
        login: inv.login,
        first_name: inv.first_name,
        expires_at: rfc3339(inv.expires_at),
        mfa_required: settings.mfa_required_for(inv.kind == "employee"),
        password_policy: settings.password,
        password_reset: inv.has_password == 1,
        totp_required: inv.has_totp == 1,
    })
}

#[derive(Debug, Deserialize)]
pub struct ActivateInput {
    pub token: String,
    pub password: String,
    /// A code from the user's authenticator, required when they have one (`totp_required`).
    #[serde(default)]
    pub totp: Option<String>,
    #[serde(default)]
    pub refresh_transport: Option<Transport>,
}

pub async fn activate<P: Ports>(ports: &P, config: &Config, client: &ClientMeta, now: DateTime<Utc>, input: ActivateInput) -> Result<Issued, ApiError> {
    let ip_key = format!("activate:{}", client.ip.as_deref().unwrap_or("unknown"));
    if !ports.throttle_allows(&ip_key).await {
        return Err(ApiError::RateLimited { retry_after_seconds: 60 });
    }
    let (settings, inv) = find(ports, &input.token).await?;
    let t = now.timestamp();
    inv.usable(t)?;
    let companies: Vec<String> = inv.company_names.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    let mut names: Vec<&str> = vec![inv.first_name.as_str(), inv.last_name.as_str()];
    names.extend(companies.iter().map(String::as_str));
    credentials::check_new_password(ports, "password", &input.password, &settings.password, &inv.login, inv.email.as_deref(), &names).await?;
    // An enrolled second factor stays in force through a reset: the code is checked (and counted
    // against the lockout) before anything is written.
    let step = match inv.totp_secret.as_deref() {
        Some(secret) => {
            let check = TotpCheck { secret, code: input.totp.as_deref(), last_step: inv.totp_last_step, field: "totp" };
            verify_factors(ports, &inv.user_id, None, None, Some(check), now).await?
        }
        None => None,
    };
    let hash = credentials::hash_password(ports, &input.password)?;
    let employee = inv.kind == "employee";
    let scope = if inv.has_totp == 0 && settings.mfa_required_for(employee) { Scope::MfaEnroll } else { Scope::Full };
    let opening = Opening::new(ports, now, scope, inv.link_id.clone(), inv.policy_version.unwrap_or(0))?;
    let n = nonce(ports)?;
    let guard = SessionGuard::InvitationNonce { invitation_id: inv.id.clone(), nonce: n.clone() };
    let mut stmts = vec![
        Stmt::new(CONSUME).bind(inv.id.as_str()).bind(t).bind(n.as_str()).bind(step).bind(inv.user_id.as_str()),
        Stmt::new(SET_PASSWORD)
            .bind(inv.user_id.as_str())
            .bind(hash)
            .bind(t)
            .bind(inv.id.as_str())
            .bind(n.as_str())
            .bind(step)
            .bind(if inv.has_password == 1 { "reset" } else { "invitation" }),
        // A reset ends every other session: whoever knew the old password is out.
        Stmt::new(END_OTHER_SESSIONS).bind(inv.user_id.as_str()).bind(t).bind(inv.id.as_str()).bind(n.as_str()),
    ];
    if let Some(link_id) = inv.link_id.as_deref() {
        stmts.push(Stmt::new(DUE_AFTER_FIRST_LOGIN).bind(link_id).bind(t).bind(inv.id.as_str()).bind(n.as_str()));
    }
    stmts.extend(opening.insert_stmts(&inv.user_id, &settings, client, t, &guard));
    let event = Event::new("invitation.activated", ActorKind::of_user_kind(&inv.kind), Some(&inv.user_id))
        .target("invitation", &inv.id)
        // The email projection tells the user of a reset (with this row's ip and country); the
        // event's companies are those of every live link of the user (`audit_companies!`).
        .details(json!({"password_reset": inv.has_password == 1, "session_id": opening.session_id, "issued_by": inv.created_by}));
    stmts.push(event.insert_if(&new_id(ports, now)?, client, t, audit::INVITATION_NONCE).bind(inv.id.as_str()).bind(n.as_str()));
    let facts_at = stmts.len();
    stmts.extend(facts_stmts_for(inv.link_id.as_deref()));
    let out = ports.db().batch(stmts).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        // Someone else consumed it between our read and our write: answer as it now stands.
        let (_, again) = find(ports, &input.token).await?;
        again.usable(t)?;
        if step.is_some() {
            return Err(ApiError::invalid("totp", "The code is incorrect or was already used."));
        }
        return Err(ApiError::Gone { code: Gone::InvitationUsed });
    }
    let mut opening = opening;
    if let Some((pv, vis)) = token_scope(out.get(facts_at..).unwrap_or_default())? {
        opening.policy_version = pv;
        opening.vis = Some(vis);
    }
    let user = SessionUser { id: inv.user_id, kind: inv.kind, role: inv.role, login: inv.login, first_name: inv.first_name, last_name: inv.last_name };
    opening.issue(config, &settings, user, now, input.refresh_transport.unwrap_or_default())
}

