//! Reading the security settings row. Every auth use case reads it inside its first batch.

use crate::app::ApiError;
use crate::domain::password::PasswordPolicy;
use crate::domain::settings::{LockoutSettings, MfaSettings, SecuritySettings, SessionSettings};
use crate::store::{decode, sql::flag, Row, Stmt};
use serde::Deserialize;

pub const SELECT_SETTINGS: &str = "SELECT version, min_length, require_lower, require_upper, require_digit, require_special, \
     max_failed_attempts, lockout_minutes, access_ttl_seconds, refresh_ttl_seconds, session_max_age_seconds, \
     invitation_ttl_hours, mfa_required_for_clients, mfa_required_for_employees FROM security_settings WHERE id = 1";

pub fn select_settings() -> Stmt {
    Stmt::new(SELECT_SETTINGS)
}

#[derive(Deserialize)]
struct SettingsRow {
    version: i64,
    min_length: u32,
    #[serde(with = "flag")]
    require_lower: bool,
    #[serde(with = "flag")]
    require_upper: bool,
    #[serde(with = "flag")]
    require_digit: bool,
    #[serde(with = "flag")]
    require_special: bool,
    max_failed_attempts: u32,
    lockout_minutes: u32,
    access_ttl_seconds: u32,
    refresh_ttl_seconds: u32,
    session_max_age_seconds: u32,
    invitation_ttl_hours: u32,
    #[serde(with = "flag")]
    mfa_required_for_clients: bool,
    #[serde(with = "flag")]
    mfa_required_for_employees: bool,
}

/// The settings and their version, from the row of [`select_settings`]; a missing row (a broken
/// migration) falls back to the defaults rather than locking everyone out.
pub fn settings_from(row: Option<Row>) -> Result<(SecuritySettings, i64), ApiError> {
    let Some(row) = row else {
        return Ok((SecuritySettings::default(), 0));
    };
    let r: SettingsRow = decode(row)?;
    let settings = SecuritySettings {
        password: PasswordPolicy {
            min_length: r.min_length,
            require_lower: r.require_lower,
            require_upper: r.require_upper,
            require_digit: r.require_digit,
            require_special: r.require_special,
        },
        lockout: LockoutSettings { max_failed_attempts: r.max_failed_attempts, lockout_minutes: r.lockout_minutes },
        sessions: SessionSettings {
            access_ttl_seconds: r.access_ttl_seconds,
            refresh_ttl_seconds: r.refresh_ttl_seconds,
            session_max_age_seconds: r.session_max_age_seconds,
            invitation_ttl_hours: r.invitation_ttl_hours,
        },
        mfa: MfaSettings { required_for_clients: r.mfa_required_for_clients, required_for_employees: r.mfa_required_for_employees },
    };
    Ok((settings, r.version))
}
