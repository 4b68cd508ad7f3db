//! Step-up: the current password asked again before a sensitive action (changing the password,
//! signing a document). Each attempt counts against the same lockout counter as login, claimed
//! before the verify, so a stolen access token cannot be used to guess the password at argon2 speed.

use crate::app::kit::credentials;
use crate::app::{ApiError, Ports};
use crate::store::{Sql, Stmt};
use chrono::{DateTime, Utc};

/// Login's claim (see `login.rs`), keyed by user id and only for a live session of that user.
const CLAIM_STEP_UP: &str = "UPDATE users SET \
     failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN 1 ELSE failed_logins + 1 END, \
     locked_until = CASE \
       WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN 1 ELSE failed_logins + 1 END) \
            >= (SELECT max_failed_attempts FROM security_settings WHERE id = 1) \
         THEN ?2 + 60 * (SELECT lockout_minutes FROM security_settings WHERE id = 1) \
       ELSE NULL END, \
     updated_at = ?2 \
     WHERE id = ?1 AND (locked_until IS NULL OR locked_until <= ?2) \
     AND EXISTS (SELECT 1 FROM sessions WHERE id = ?3 AND user_id = ?1 AND revoked_at IS NULL) \
     RETURNING id";
const RESET_COUNTER: &str = "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?1";

/// Verifies `password` against `phc` for the step-up named by `field`. Wrong: 400 naming the
/// field. Locked (by login failures or earlier step-ups): 429, and the verify is still spent.
pub async fn verify_step_up<P: Ports>(
    ports: &P,
    user_id: &str,
    session_id: &str,
    password: &str,
    phc: Option<&str>,
    field: &'static str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let t = now.timestamp();
    let claimed = !ports.db().all(Stmt::new(CLAIM_STEP_UP).bind(user_id).bind(t).bind(session_id)).await?.is_empty();
    let verified = credentials::verify_password(password, if claimed { phc } else { None });
    if !claimed {
        return Err(ApiError::RateLimited { retry_after_seconds: 60 });
    }
    if !verified.ok {
        return Err(ApiError::invalid(field, "The password is incorrect."));
    }
    ports.db().run(Stmt::new(RESET_COUNTER).bind(user_id)).await?;
    Ok(())
}
