//! The security settings (one versioned row): password rules, lockout, session lifetimes and MFA,
//! with the ranges that keep them sane. The shape is API.md's `GET/PUT /api/admin/security`.

use crate::domain::password::PasswordPolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutSettings {
    #[serde(deserialize_with = "crate::domain::whole_number::u32")]
    pub max_failed_attempts: u32,
    #[serde(deserialize_with = "crate::domain::whole_number::u32")]
    pub lockout_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSettings {
    #[serde(deserialize_with = "crate::domain::whole_number::u32")]
    pub access_ttl_seconds: u32,
    #[serde(deserialize_with = "crate::domain::whole_number::u32")]
    pub refresh_ttl_seconds: u32,
    #[serde(deserialize_with = "crate::domain::whole_number::u32")]
    pub session_max_age_seconds: u32,
    #[serde(deserialize_with = "crate::domain::whole_number::u32")]
    pub invitation_ttl_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaSettings {
    pub required_for_clients: bool,
    pub required_for_employees: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySettings {
    pub password: PasswordPolicy,
    pub lockout: LockoutSettings,
    pub sessions: SessionSettings,
    pub mfa: MfaSettings,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            password: PasswordPolicy::default(),
            lockout: LockoutSettings { max_failed_attempts: 5, lockout_minutes: 15 },
            sessions: SessionSettings {
                access_ttl_seconds: 600,
                refresh_ttl_seconds: 86_400,
                session_max_age_seconds: 30 * 86_400,
                invitation_ttl_hours: 72,
            },
            mfa: MfaSettings { required_for_clients: false, required_for_employees: false },
        }
    }
}

/// A setting outside its range, named by its path in the JSON (`sessions.access_ttl_seconds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingOutOfRange {
    pub field: &'static str,
    pub message: String,
}

fn within(field: &'static str, value: u32, min: u32, max: u32) -> Result<(), SettingOutOfRange> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SettingOutOfRange { field, message: format!("{field} must be between {min} and {max}") })
    }
}

impl SecuritySettings {
    /// Checks every range. Too-short sessions turn into constant re-logins and too-long ones into
    /// standing access, so both ends are bounded.
    pub fn validate(&self) -> Result<(), SettingOutOfRange> {
        within("password.min_length", self.password.min_length, 8, 128)?;
        within("lockout.max_failed_attempts", self.lockout.max_failed_attempts, 3, 20)?;
        within("lockout.lockout_minutes", self.lockout.lockout_minutes, 1, 24 * 60)?;
        let s = &self.sessions;
        within("sessions.access_ttl_seconds", s.access_ttl_seconds, 60, 3600)?;
        within("sessions.refresh_ttl_seconds", s.refresh_ttl_seconds, 600, 30 * 86_400)?;
        within("sessions.session_max_age_seconds", s.session_max_age_seconds, 3600, 365 * 86_400)?;
        within("sessions.invitation_ttl_hours", s.invitation_ttl_hours, 1, 30 * 24)?;
        if s.session_max_age_seconds < s.refresh_ttl_seconds {
            return Err(SettingOutOfRange {
                field: "sessions.session_max_age_seconds",
                message: "sessions.session_max_age_seconds must be at least sessions.refresh_ttl_seconds".into(),
            });
        }
        Ok(())
    }

    pub fn mfa_required_for(&self, employee: bool) -> bool {
        if employee {
            self.mfa.required_for_employees
        } else {
            self.mfa.required_for_clients
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_design() {
        let s = SecuritySettings::default();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.lockout.max_failed_attempts, 5);
        assert_eq!(s.sessions.access_ttl_seconds, 600);
    }

    #[test]
    fn each_range_names_its_field() {
        let mut s = SecuritySettings::default();
        s.sessions.access_ttl_seconds = 5;
        assert_eq!(s.validate().unwrap_err().field, "sessions.access_ttl_seconds");
        let mut s = SecuritySettings::default();
        s.lockout.max_failed_attempts = 0;
        assert_eq!(s.validate().unwrap_err().field, "lockout.max_failed_attempts");
        let mut s = SecuritySettings::default();
        s.sessions.session_max_age_seconds = 3600;
        s.sessions.refresh_ttl_seconds = 7200;
        assert_eq!(s.validate().unwrap_err().field, "sessions.session_max_age_seconds");
    }
}
