//! TOTP enrolment: start (a new secret, shown once, pending until a code from it is confirmed) and
//! confirm. A first enrolment needs the password (a step-up), replacing a secret a current code,
//! both counted against the lockout. An admin reset is audited.

use crate::app::kit::step_up::{verify_factors, PasswordCheck, TotpCheck};
use crate::app::kit::error::Conflict;
use crate::app::kit::audit::{self, ActorKind, Event};
use crate::app::kit::credentials::{self, TokenClaims};
use crate::app::kit::ids::{new_id, nonce, secret_bytes};
use crate::app::kit::session::{Bearer, Scope};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, Sql, Stmt};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

const SELECT_TOTP: &str = "SELECT login, kind, password_hash, totp_secret, totp_pending_secret, totp_last_step FROM users WHERE id = ?1";
const SET_PENDING: &str = "UPDATE users SET totp_pending_secret = ?2, totp_last_step = COALESCE(?3, totp_last_step), updated_at = ?4 \
     WHERE id = ?1 AND status = 'active' AND (?3 IS NULL OR totp_last_step IS NULL OR totp_last_step < ?3)";
const CONFIRM: &str = "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = ?3, \
     login_nonce = ?4, tokens_valid_after = CASE WHEN totp_secret IS NULL THEN tokens_valid_after ELSE ?5 END, updated_at = ?5 \
     WHERE id = ?1 AND totp_pending_secret = ?2";
const UPGRADE_SESSION: &str = "UPDATE sessions SET scope = 'full' WHERE id = ?1 AND revoked_at IS NULL \
     AND EXISTS (SELECT 1 FROM users WHERE id = ?2 AND login_nonce = ?3)";

#[derive(Deserialize)]
struct TotpRow {
    login: String,
    kind: String,
    password_hash: Option<String>,
    totp_secret: Option<String>,
    totp_pending_secret: Option<String>,
    totp_last_step: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
pub struct StartInput {
    #[serde(default)]
    pub current_code: Option<String>,
    /// The account's password: a first enrolment (after an MFA reset, or when MFA becomes
    /// required) is a step-up, so whoever holds only an access token cannot bind their own
    /// authenticator to the account.
    #[serde(default)]
    pub current_password: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
}

pub async fn start<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, issuer: &str, input: StartInput) -> Result<Enrolment, ApiError> {
    let out = ports.db().batch(vec![bearer.check_stmt(now), Stmt::new(SELECT_TOTP).bind(bearer.claims.sub.as_str())]).await?;
    let me = bearer.principal(out.first())?;
    let row: TotpRow = decode(out.get(1).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::Unauthenticated)?)?;
    let t = now.timestamp();
    let mut step = None;
    if let Some(secret) = row.totp_secret.as_deref() {
        // Replacing the authenticator needs a current code, counted against the lockout like a
        // password guess: a stolen access token cannot walk the code space.
        let check = TotpCheck { secret, code: input.current_code.as_deref(), last_step: row.totp_last_step, field: "current_code" };
        step = verify_factors(ports, &me.user_id, Some(&me.session_id), None, Some(check), now).await?;
    } else {
        let given = input.current_password.as_deref().filter(|p| !p.is_empty());
        let given = given.ok_or_else(|| ApiError::invalid("current_password", "Enter your password to set up an authenticator."))?;
        let check = PasswordCheck { given, phc: row.password_hash.as_deref(), field: "current_password" };
        verify_factors(ports, &me.user_id, Some(&me.session_id), Some(check), None, now).await?;
    }
    let raw: [u8; 20] = secret_bytes(ports)?;
    let secret = credentials::totp_secret_text(&raw);
    let changed = ports.db().run(Stmt::new(SET_PENDING).bind(me.user_id.as_str()).bind(secret.as_str()).bind(step).bind(t)).await?;
    if changed != 1 {
        return Err(ApiError::invalid("current_code", "The code is incorrect or was already used."));
    }
    Ok(Enrolment { otpauth_uri: credentials::otpauth_uri(issuer, &row.login, &secret), secret })
}

#[derive(Debug, Deserialize)]
pub struct ConfirmInput {
    pub code: String,
}

#[derive(Debug, Serialize)]
pub struct Confirmed {
    pub mfa_enrolled: bool,
    /// A fresh access token with full scope (the enrolment-only one no longer fits).
    pub access_token: String,
    pub access_expires_at: String,
}

pub async fn confirm<P: Ports>(ports: &P, config: &Config, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, input: ConfirmInput) -> Result<Confirmed, ApiError> {
    let out = ports
        .db()
        .batch(
            [bearer.check_stmt(now), Stmt::new(SELECT_TOTP).bind(bearer.claims.sub.as_str()), crate::app::kit::settings::select_settings()]
                .into_iter()
                .chain(crate::app::kit::link_facts::facts_stmts_for(bearer.claims.lid.as_deref()))
                .collect(),
        )
        .await?;
    let me = bearer.principal(out.first())?;
    let row: TotpRow = decode(out.get(1).and_then(|o| o.rows.first().cloned()).ok_or(ApiError::Unauthenticated)?)?;
    let (settings, _) = crate::app::kit::settings::settings_from(out.get(2).and_then(|o| o.rows.first().cloned()))?;
    let vis = crate::app::kit::link_facts::token_scope(out.get(3..).unwrap_or_default())?.map(|(_, vis)| vis);
    let pending = row.totp_pending_secret.ok_or_else(|| ApiError::conflict(Conflict::NoPendingEnrolment))?;
    let t = now.timestamp();
    // Counted against the lockout like every other check of a secret: an enrolment-scope token
    // (stolen, say) cannot guess its way to a full-scope one at 10^6 codes.
    let check = TotpCheck { secret: &pending, code: Some(input.code.as_str()), last_step: None, field: "code" };
    let step = verify_factors(ports, &me.user_id, Some(&me.session_id), None, Some(check), now)
        .await?
        .ok_or_else(|| ApiError::internal("a TOTP check returned no step"))?;
    let n = nonce(ports)?;
    let event = Event::new("mfa.enrolled", ActorKind::of_user_kind(&row.kind), Some(&me.user_id))
        .target("user", &me.user_id)
        .details(json!({"replaced": row.totp_secret.is_some()}));
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(CONFIRM).bind(me.user_id.as_str()).bind(pending.as_str()).bind(step).bind(n.as_str()).bind(t),
            Stmt::new(UPGRADE_SESSION).bind(me.session_id.as_str()).bind(me.user_id.as_str()).bind(n.as_str()),
            event.insert_if(&new_id(ports, now)?, client, t, audit::USER_LOGIN_NONCE).bind(me.user_id.as_str()).bind(n.as_str()),
        ])
        .await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::conflict(Conflict::NoPendingEnrolment));
    }
    let ttl = i64::from(settings.sessions.access_ttl_seconds);
    let claims = TokenClaims {
        sub: me.user_id,
        sid: me.session_id,
        lid: me.link_id,
        pv: me.policy_version,
        scope: Scope::Full.as_str().to_owned(),
        vis,
        iat: t,
        exp: t + ttl,
    };
    Ok(Confirmed {
        mfa_enrolled: true,
        access_token: credentials::sign_access(config, &claims, now)?,
        access_expires_at: (now + chrono::Duration::seconds(ttl)).to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}
