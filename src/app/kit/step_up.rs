//! Step-up: the current password and the TOTP code asked again before a sensitive action (changing
//! the password, signing a document, replacing the authenticator). Each attempt counts against the
//! same lockout counter as login, claimed before the verify, so a stolen access token can guess
//! neither the password at argon2 speed nor a code at TOTP's 10^6.

use crate::app::kit::credentials;
use crate::app::kit::lockout::{claim_attempt, RESET_COUNTER};
use crate::app::{ApiError, Ports};
use crate::store::{Sql, Stmt};
use chrono::{DateTime, Utc};

/// The lockout claim, keyed by user id and only for a live session of that user.
const CLAIM_STEP_UP: &str = claim_attempt!(
    "id = ?1 AND EXISTS (SELECT 1 FROM sessions WHERE id = ?3 AND user_id = ?1 AND revoked_at IS NULL)",
    "RETURNING id"
);

/// A TOTP code a step-up checks: the user's secret, the code given (if any), the last step used,
/// and the input field to name when it is wrong.
pub struct TotpCheck<'a> {
    pub secret: &'a str,
    pub code: Option<&'a str>,
    pub last_step: Option<i64>,
    pub field: &'static str,
}

/// A password a step-up checks: the one given, the stored PHC hash and the field to name.
pub struct PasswordCheck<'a> {
    pub given: &'a str,
    pub phc: Option<&'a str>,
    pub field: &'static str,
}

/// The lockout claim for a check made without a session (activation by invitation).
const CLAIM_BY_USER: &str = claim_attempt!("id = ?1", "RETURNING id");

/// Checks every factor of a step-up under one lockout claim (the counter login uses): a wrong
/// password or a wrong code counts as a failed attempt, the counter resets only when every factor
/// passed, and a locked account answers 429 whatever it sends. A missing code is asked for (400)
/// before anything is counted. Returns the TOTP step the code used, for the caller's guarded write
/// (which refuses a step already used, so a code works once).
pub async fn verify_factors<P: Ports>(
    ports: &P,
    user_id: &str,
    session_id: Option<&str>,
    password: Option<PasswordCheck<'_>>,
    totp: Option<TotpCheck<'_>>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, ApiError> {
    let code = match &totp {
        Some(check) => {
            let code = check.code.map(str::trim).filter(|c| !c.is_empty());
            Some(code.ok_or_else(|| ApiError::invalid(check.field, "Enter the code from your authenticator app."))?)
        }
        None => None,
    };
    let t = now.timestamp();
    let claim = match session_id {
        Some(session) => Stmt::new(CLAIM_STEP_UP).bind(user_id).bind(t).bind(session),
        None => Stmt::new(CLAIM_BY_USER).bind(user_id).bind(t),
    };
    let claimed = !ports.db().all(claim).await?.is_empty();
    // The verify runs (against a dummy hash when locked) so a locked account answers in the same time.
    let password_ok = password.as_ref().map(|p| credentials::verify_password(p.given, if claimed { p.phc } else { None }).ok);
    if !claimed {
        return Err(ApiError::RateLimited { retry_after_seconds: 60 });
    }
    if let (Some(check), Some(false)) = (&password, password_ok) {
        return Err(ApiError::invalid(check.field, "The password is incorrect."));
    }
    let step = match (&totp, code) {
        (Some(check), Some(code)) => Some(
            credentials::totp_verify(check.secret, code, t, check.last_step)
                .ok_or_else(|| ApiError::invalid(check.field, "The code is incorrect or was already used."))?,
        ),
        _ => None,
    };
    ports.db().run(Stmt::new(RESET_COUNTER).bind(user_id)).await?;
    Ok(step)
}
