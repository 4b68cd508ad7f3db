//! New passwords: the password policy (part of the security settings) and the check every new
//! password passes: length, optional character classes, the common-password blocklist, and not
//! being the user's own login or email.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Longer passwords are refused so one request cannot make argon2 chew on megabytes.
pub const MAX_PASSWORD_LENGTH: usize = 256;

/// The password rules of the security settings. Character classes are off by default, as NIST
/// 800-63B and ASVS 5 advise (they push people to `Password1!`); length and the blocklist do the work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub require_lower: bool,
    pub require_upper: bool,
    pub require_digit: bool,
    pub require_special: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            require_lower: false,
            require_upper: false,
            require_digit: false,
            require_special: false,
        }
    }
}

/// The rule a password failed; [`PasswordRule::code`] is the stable `rule` of a 400 `weak_password`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    MinLength,
    MaxLength,
    RequireLower,
    RequireUpper,
    RequireDigit,
    RequireSpecial,
    CommonPassword,
    ContainsLogin,
}

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            PasswordRule::MinLength => "min_length",
            PasswordRule::MaxLength => "max_length",
            PasswordRule::RequireLower => "require_lower",
            PasswordRule::RequireUpper => "require_upper",
            PasswordRule::RequireDigit => "require_digit",
            PasswordRule::RequireSpecial => "require_special",
            PasswordRule::CommonPassword => "common_password",
            PasswordRule::ContainsLogin => "contains_login",
        }
    }
}

/// A refused password: the rule it failed and a message the user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakPassword {
    pub rule: PasswordRule,
    pub message: String,
}

impl WeakPassword {
    fn new(rule: PasswordRule, message: impl Into<String>) -> Self {
        WeakPassword { rule, message: message.into() }
    }
}

impl std::fmt::Display for WeakPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.rule.code())
    }
}

impl std::error::Error for WeakPassword {}

/// A new password that passed the policy. The text is kept exactly as typed (no trimming, no
/// case change): it is what gets hashed. Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    /// Checks `candidate` against `policy` and the user's own `login` and `email`. The first
    /// failed rule is reported, in this order: length, blocklist, login/email, character classes
    /// (a common password is refused as common even when it also lacks a digit).
    pub fn check(
        candidate: &str,
        policy: &PasswordPolicy,
        login: &str,
        email: Option<&str>,
    ) -> Result<Password, WeakPassword> {
        let length = candidate.chars().count();
        let min = usize::try_from(policy.min_length).unwrap_or(usize::MAX);
        if length < min {
            return Err(WeakPassword::new(
                PasswordRule::MinLength,
                format!("The password must be at least {min} characters long."),
            ));
        }
        if length > MAX_PASSWORD_LENGTH {
            return Err(WeakPassword::new(
                PasswordRule::MaxLength,
                format!("The password must be at most {MAX_PASSWORD_LENGTH} characters long."),
            ));
        }
        if is_common_password(candidate) {
            return Err(WeakPassword::new(
                PasswordRule::CommonPassword,
                "This password is one of the most common ones: choose another.",
            ));
        }
        if contains_identity(candidate, login, email) {
            return Err(WeakPassword::new(
                PasswordRule::ContainsLogin,
                "The password must not contain your login or email.",
            ));
        }
        let classes = [
            CharClass {
                required: policy.require_lower,
                test: char::is_lowercase,
                rule: PasswordRule::RequireLower,
                what: "a lowercase letter",
            },
            CharClass {
                required: policy.require_upper,
                test: char::is_uppercase,
                rule: PasswordRule::RequireUpper,
                what: "an uppercase letter",
            },
            CharClass {
                required: policy.require_digit,
                test: char::is_numeric,
                rule: PasswordRule::RequireDigit,
                what: "a digit",
            },
            CharClass {
                required: policy.require_special,
                test: is_special,
                rule: PasswordRule::RequireSpecial,
                what: "a symbol or space",
            },
        ];
        for class in classes {
            if class.required && !candidate.chars().any(class.test) {
                return Err(WeakPassword::new(class.rule, format!("The password must contain {}.", class.what)));
            }
        }
        Ok(Password(candidate.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

struct CharClass {
    required: bool,
    test: fn(char) -> bool,
    rule: PasswordRule,
    what: &'static str,
}

/// Anything that is neither a letter nor a digit counts, space included (OWASP's definition).
fn is_special(c: char) -> bool {
    !c.is_alphanumeric()
}

/// Identities shorter than 4 characters only count as an exact match: a 3-letter login would
/// otherwise forbid every password that happens to contain those letters.
fn contains_identity(candidate: &str, login: &str, email: Option<&str>) -> bool {
    let candidate = candidate.to_lowercase();
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    let local_part = email.and_then(|e| e.split_once('@')).map(|(local, _)| local);
    [Some(login.trim()), email, local_part].into_iter().flatten().any(|identity| {
        let identity = identity.to_lowercase();
        !identity.is_empty()
            && (candidate == identity || (identity.chars().count() >= 4 && candidate.contains(&identity)))
    })
}

const COMMON_PASSWORDS_FILE: &str = include_str!("../../data/common-passwords.txt");

/// The blocklist, lowercased and sorted once (the file keeps its source's frequency order).
fn common_passwords() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list: Vec<&'static str> =
            COMMON_PASSWORDS_FILE.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        list.sort_unstable();
        list.dedup();
        list
    })
}

/// Whether `candidate` is on the shipped blocklist, ignoring case (the list itself is lowercase).
pub fn is_common_password(candidate: &str) -> bool {
    common_passwords().binary_search(&candidate.to_lowercase().as_str()).is_ok()
}

/// How many distinct passwords the blocklist holds.
pub fn common_password_count() -> usize {
    common_passwords().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_is_lowercase() {
        // is_common_password lowercases the candidate, so an uppercase entry could never match.
        assert!(common_passwords().iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn debug_hides_the_password() {
        let p = Password::check("a long unusual passphrase", &PasswordPolicy::default(), "emily", None).unwrap();
        assert!(!format!("{p:?}").contains("passphrase"));
    }
}
