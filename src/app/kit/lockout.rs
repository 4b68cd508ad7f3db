//! The lockout claim: one failed-attempt counter per user, shared by every check of a secret
//! (login's password and code, step-up's password). An attempt is counted before it is verified, so
//! parallel guesses cannot slip past the limit: only an attempt that finds the account unlocked
//! gets a row back (and so a real verify). The attempt that reaches the limit sets the lock, and an
//! expired lock restarts the count. `?2` is now; the caller's WHERE picks the user.

/// `claim_attempt!("login_key = ?1", "RETURNING ...")`: the counting UPDATE for the user matched by
/// the first argument, returning what the second asks for.
macro_rules! claim_attempt {
    ($which:expr, $returning:expr) => {
        concat!(
            "UPDATE users SET \
             failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN 1 ELSE failed_logins + 1 END, \
             locked_until = CASE \
               WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 THEN 1 ELSE failed_logins + 1 END) \
                    >= (SELECT max_failed_attempts FROM security_settings WHERE id = 1) \
                 THEN ?2 + 60 * (SELECT lockout_minutes FROM security_settings WHERE id = 1) \
               ELSE NULL END, \
             updated_at = ?2 WHERE (locked_until IS NULL OR locked_until <= ?2) AND ",
            $which, " ", $returning
        )
    };
}
pub(crate) use claim_attempt;

/// Every factor passed: the counter starts again (`?1` the user).
pub const RESET_COUNTER: &str = "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?1";
