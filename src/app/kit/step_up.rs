//! Step-up: the current password asked again before a sensitive action (changing the password,
//! signing a document). Each attempt counts against the same lockout counter as login, claimed
//! before the verify, so a stolen access token cannot be used to guess the password at argon2 speed.

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
