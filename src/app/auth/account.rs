//! The signed-in user's own account: who am I, my sessions, signing one out, changing my password.

use crate::app::kit::step_up::{verify_factors, PasswordCheck, TotpCheck};
use uuid::Uuid;
use crate::app::kit::user_view::{select_user, user_view};
use crate::app::kit::audit::{self, ActorKind, Event};
use crate::app::kit::credentials;
use crate::app::kit::ids::new_id;
use crate::app::kit::session::{Bearer, Issued, Opening, Principal, SessionGuard, SessionUser, Transport};
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

const SELECT_OWN_SESSIONS: &str = "SELECT id, created_at, last_seen_at, ip, country, user_agent, scope FROM sessions \
     WHERE user_id = ?1 AND revoked_at IS NULL AND idle_expires_at > ?2 AND absolute_expires_at > ?2 \
     ORDER BY created_at DESC, id DESC LIMIT 200";
const REVOKE_OWN_SESSION: &str = "UPDATE sessions SET revoked_at = ?3, revoked_reason = 'user' \
     WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL";
const SELECT_CREDENTIALS: &str = "SELECT u.login, u.email, u.password_hash, u.totp_secret, u.totp_last_step, u.first_name, u.last_name, \
     (SELECT json_group_array(co.name) FROM links nl JOIN link_companies nlc ON nlc.link_id = nl.id JOIN companies co ON co.id = nlc.company_id \
       WHERE nl.user_id = u.id AND nl.status <> 'revoked') AS company_names FROM users u WHERE u.id = ?1";
/// ?6: 1 to end every other session (tokens issued and sessions opened before now stop working).
const CHANGE_PASSWORD: &str = "UPDATE users SET password_hash = ?2, password_changed_at = ?3, \
     tokens_valid_after = CASE WHEN ?6 = 1 THEN ?3 ELSE tokens_valid_after END, \
     totp_last_step = COALESCE(?4, totp_last_step), login_nonce = ?5, updated_at = ?3, \
     password_set_via = 'change', password_set_by = NULL \
     WHERE id = ?1 AND status = 'active' AND (?4 IS NULL OR totp_last_step IS NULL OR totp_last_step < ?4)";
// Both depend on the nonce CHANGE_PASSWORD wrote: if its guard failed, no session ends.
const END_SESSION: &str = "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'password_change' WHERE id = ?1 AND revoked_at IS NULL \
     AND EXISTS (SELECT 1 FROM users WHERE id = ?3 AND login_nonce = ?4)";
const END_ALL_SESSIONS: &str = "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'password_change' \
     WHERE user_id = ?1 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM users WHERE id = ?3 AND login_nonce = ?4)";

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub scope: String,
    pub current: bool,
}

#[derive(Deserialize)]
struct SessionRow {
    id: String,
    created_at: i64,
    last_seen_at: i64,
    ip: Option<String>,
    country: Option<String>,
    user_agent: Option<String>,
    scope: String,
}

pub async fn my_sessions<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>) -> Result<Vec<SessionView>, ApiError> {
    let out = ports
        .db()
        .batch(vec![bearer.check_stmt(now), Stmt::new(SELECT_OWN_SESSIONS).bind(bearer.claims.sub.as_str()).bind(now.timestamp())])
        .await?;
    let me = bearer.principal(out.first())?;
    let rows: Vec<SessionRow> = decode_all(out.get(1).map(|o| o.rows.clone()).unwrap_or_default())?;
    Ok(rows
        .into_iter()
        .map(|r| SessionView {
            current: r.id == me.session_id,
            id: r.id,
            created_at: crate::app::kit::time::rfc3339(r.created_at),
            last_seen_at: crate::app::kit::time::rfc3339(r.last_seen_at),
            ip: r.ip,
            country: r.country,
            user_agent: r.user_agent,
            scope: r.scope,
        })
        .collect())
}

/// Signs out one of the caller's own sessions; another user's session id answers 404.
pub async fn revoke_my_session<P: Ports>(ports: &P, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, session_id: Uuid) -> Result<(), ApiError> {
    let session_id = session_id.to_string();
    let session_id = session_id.as_str();
    let t = now.timestamp();
    let me_sub = bearer.claims.sub.as_str();
    let event = Event::new("session.revoked", ActorKind::External, Some(me_sub)).target("session", session_id).details(json!({"by": "owner"}));
    let out = ports
        .db()
        .batch(vec![bearer.check_stmt(now), Stmt::new(REVOKE_OWN_SESSION).bind(session_id).bind(me_sub).bind(t)])
        .await?;
    let me = bearer.principal(out.first())?;
    if out.get(1).map_or(0, |o| o.changes) == 0 {
        return Err(ApiError::NotFound);
    }
    let event = Event { actor_kind: ActorKind::of_user_kind(if me.employee { "employee" } else { "external" }), ..event };
    crate::app::kit::audit::write_events(ports, client, now, vec![event]).await
}

fn signs_out_others() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub struct ChangePasswordInput {
    pub current_password: String,
    #[serde(default)]
    pub totp: Option<String>,
    pub new_password: String,
    /// Ends every other session of the user (the default); with false, they stay signed in.
    #[serde(default = "signs_out_others")]
    pub sign_out_other_sessions: bool,
    #[serde(default)]
    pub refresh_transport: Option<Transport>,
}

#[derive(Deserialize)]
struct CredentialRow {
    login: String,
    email: Option<String>,
    password_hash: Option<String>,
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
    first_name: String,
    last_name: String,
    company_names: Option<String>,
}

/// Step-up: the current password (and code, where enrolled) in the same request. The current
/// session ends and a new one replaces it, so the old access token stops working at once.
pub async fn change_password<P: Ports>(
    ports: &P,
    config: &Config,
    bearer: &Bearer,
    client: &ClientMeta,
    now: DateTime<Utc>,
    input: ChangePasswordInput,
) -> Result<Issued, ApiError> {
    let t = now.timestamp();
    let out = ports
        .db()
        .batch(
            vec![
            bearer.check_stmt(now),
            select_settings(),
            Stmt::new(SELECT_CREDENTIALS).bind(bearer.claims.sub.as_str()),
            select_user(&bearer.claims.sub),
        ]
        .into_iter()
        .chain(crate::app::kit::link_facts::facts_stmts_for(bearer.claims.lid.as_deref()))
        .collect())
        .await?;
    let scope = crate::app::kit::link_facts::token_scope(out.get(4..).unwrap_or_default())?;
    let me: Principal = bearer.full_principal(out.first())?;
    let (settings, _) = settings_from(out.get(1).and_then(|o| o.rows.first().cloned()))?;
    let creds: CredentialRow = decode(out.get(2).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::Unauthenticated)?)?;
    let user = user_view(out.get(3).and_then(|o| o.rows.first().cloned()))?;
    let password = PasswordCheck { given: &input.current_password, phc: creds.password_hash.as_deref(), field: "current_password" };
    let totp = creds.totp_secret.as_deref().map(|secret| TotpCheck { secret, code: input.totp.as_deref(), last_step: creds.totp_last_step, field: "totp" });
    let step = match verify_factors(ports, &me.user_id, Some(&me.session_id), Some(password), totp, now).await {
        Ok(step) => step,
        Err(err) => {
            let event = Event::new("password.change_failed", ActorKind::of_user_kind(&user.kind), Some(&me.user_id))
                .target("user", &me.user_id)
                .failed()
                .details(json!({"reason": err.code()}));
            crate::app::kit::audit::write_events(ports, client, now, vec![event]).await?;
            return Err(err);
        }
    };
    let companies: Vec<String> = creds.company_names.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    let mut names: Vec<&str> = vec![creds.first_name.as_str(), creds.last_name.as_str()];
    names.extend(companies.iter().map(String::as_str));
    credentials::check_new_password(ports, "new_password", &input.new_password, &settings.password, &creds.login, creds.email.as_deref(), &names).await?;
    if input.new_password == input.current_password {
        return Err(ApiError::WeakPassword { field: "new_password".into(), rule: "unchanged".into(), message: "Choose a password different from the current one.".into() });
    }
    let hash = credentials::hash_password(ports, &input.new_password)?;
    let mut opening = Opening::new(ports, now, me.scope, me.link_id.clone(), me.policy_version)?;
    opening.vis = scope.map(|(_, vis)| vis);
    let n = crate::app::kit::ids::nonce(ports)?;
    let mut stmts = vec![Stmt::new(CHANGE_PASSWORD).bind(me.user_id.as_str()).bind(hash).bind(t).bind(step).bind(n.as_str()).bind(input.sign_out_other_sessions)];
    let end = if input.sign_out_other_sessions {
        Stmt::new(END_ALL_SESSIONS).bind(me.user_id.as_str())
    } else {
        Stmt::new(END_SESSION).bind(me.session_id.as_str())
    };
    stmts.push(end.bind(t).bind(me.user_id.as_str()).bind(n.as_str()));
    let guard = SessionGuard::LoginNonce { user_id: me.user_id.clone(), nonce: n.clone() };
    stmts.extend(opening.insert_stmts(&me.user_id, &settings, client, t, &guard));
    let event = Event::new("password.changed", ActorKind::of_user_kind(&user.kind), Some(&me.user_id))
        .target("user", &me.user_id)
        .details(json!({"signed_out_other_sessions": input.sign_out_other_sessions}));
    stmts.push(event.insert_if(&new_id(ports, now)?, client, t, audit::USER_LOGIN_NONCE).bind(me.user_id.as_str()).bind(n.as_str()));
    let out = ports.db().batch(stmts).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::invalid("totp", "The code is incorrect or was already used."));
    }
    let session_user = SessionUser { id: user.id, kind: user.kind, role: user.role, login: user.login, first_name: user.first_name, last_name: user.last_name };
    opening.issue(config, &settings, session_user, now, input.refresh_transport.unwrap_or(Transport::Cookie))
}
