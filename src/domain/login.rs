//! Logins and emails, parsed once at the boundary. A login is an email address or a simple
//! username; it is unique case-insensitively through its lowercase key.
//!
//! Only ASCII is accepted: Unicode logins invite look-alikes (Cyrillic `а` for Latin `a`) that two
//! people could not tell apart in the console.

use serde::{Deserialize, Serialize};

pub const LOGIN_MIN_LENGTH: usize = 3;
pub const LOGIN_MAX_LENGTH: usize = 254;
const EMAIL_MAX_LENGTH: usize = 254;
const EMAIL_LOCAL_MAX_LENGTH: usize = 64;
const DOMAIN_LABEL_MAX_LENGTH: usize = 63;

/// Why a login was refused; [`LoginError::code`] is stable, [`std::fmt::Display`] is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    TooShort,
    TooLong,
    /// A character outside the username alphabet (letters, digits, `.`, `_`, `-`).
    InvalidCharacter,
    /// Contains `@` but is not a well-formed email address.
    InvalidEmail,
}

impl LoginError {
    pub fn code(self) -> &'static str {
        match self {
            LoginError::TooShort => "too_short",
            LoginError::TooLong => "too_long",
            LoginError::InvalidCharacter => "invalid_character",
            LoginError::InvalidEmail => "invalid_email",
        }
    }
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoginError::TooShort => "The login must be at least 3 characters long.",
            LoginError::TooLong => "The login must be at most 254 characters long.",
            LoginError::InvalidCharacter => {
                "A login is an email address or a username of letters, digits, '.', '_' and '-', starting with a letter or digit."
            }
            LoginError::InvalidEmail => "The login looks like an email address but is not a valid one.",
        })
    }
}

impl std::error::Error for LoginError {}

/// A login as the user typed it (trimmed), e.g. `Emily.Carter@northern-light.example` or `ecarter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Login(String);

impl Login {
    pub fn parse(input: &str) -> Result<Login, LoginError> {
        let login = input.trim();
        let length = login.chars().count();
        if length < LOGIN_MIN_LENGTH {
            return Err(LoginError::TooShort);
        }
        if length > LOGIN_MAX_LENGTH {
            return Err(LoginError::TooLong);
        }
        if login.contains('@') {
            Email::parse(login).map_err(|_| LoginError::InvalidEmail)?;
        } else if !is_username(login) {
            return Err(LoginError::InvalidCharacter);
        }
        Ok(Login(login.to_owned()))
    }

    /// The login as typed: shown back to the user and to employees.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uniqueness key (`users.login_key`): the login lowercased, so `Emily` and `emily` are one.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl std::fmt::Display for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Login {
    type Error = LoginError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Login::parse(&value)
    }
}

impl From<Login> for String {
    fn from(login: Login) -> String {
        login.0
    }
}

fn is_username(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Why an email address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailError;

impl EmailError {
    pub fn code(self) -> &'static str {
        "invalid_email"
    }
}

impl std::fmt::Display for EmailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("This is not a valid email address.")
    }
}

impl std::error::Error for EmailError {}

/// An email address that is structurally sound: `local@domain.tld`, ASCII, with RFC 5321's
/// lengths. Whether it receives mail is not something a parser can know.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let email = input.trim();
        if email.len() > EMAIL_MAX_LENGTH || !email.is_ascii() {
            return Err(EmailError);
        }
        let (local, domain) = email.split_once('@').ok_or(EmailError)?;
        if !is_local_part(local) || !is_domain(domain) {
            return Err(EmailError);
        }
        Ok(Email(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lowercased, for comparisons (the local part is case-sensitive in theory, never in practice).
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

/// RFC 5322 dot-atom: atext runs separated by single dots (no quoted local parts).
fn is_local_part(local: &str) -> bool {
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b);
    !local.is_empty()
        && local.len() <= EMAIL_LOCAL_MAX_LENGTH
        && local.split('.').all(|run| !run.is_empty() && run.bytes().all(atext))
}

/// At least two labels of letters, digits and inner hyphens; the last one not all digits (so
/// `user@10.0.0.1` is refused).
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= DOMAIN_LABEL_MAX_LENGTH
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels.last().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_trimmed_and_keyed_case_insensitively() {
        let a = Login::parse("  Emily.Carter@Northern-Light.example ").unwrap();
        let b = Login::parse("emily.carter@northern-light.example").unwrap();
        assert_eq!(a.as_str(), "Emily.Carter@Northern-Light.example");
        assert_eq!(a.key(), b.key());
        assert_eq!(Login::parse("ECarter").unwrap().key(), "ecarter");
    }

    #[test]
    fn logins_are_refused_with_a_reason() {
        assert_eq!(Login::parse("  ab "), Err(LoginError::TooShort));
        assert_eq!(Login::parse(&"a".repeat(255)), Err(LoginError::TooLong));
        assert!(Login::parse(&"a".repeat(254)).is_ok());
        assert_eq!(Login::parse("emily carter"), Err(LoginError::InvalidCharacter));
        assert_eq!(Login::parse(".emily"), Err(LoginError::InvalidCharacter));
        assert_eq!(Login::parse("émily"), Err(LoginError::InvalidCharacter));
        assert_eq!(Login::parse("emily@"), Err(LoginError::InvalidEmail));
        assert_eq!(Login::parse("emily@localhost"), Err(LoginError::InvalidEmail));
        assert!(Login::parse("e.carter_2-x").is_ok());
    }

    #[test]
    fn login_deserializes_through_parse() {
        let l: Login = serde_json::from_str("\" ecarter \"").unwrap();
        assert_eq!(l.as_str(), "ecarter");
        assert!(serde_json::from_str::<Login>("\"a b\"").is_err());
    }

    #[test]
    fn emails_are_checked_structurally() {
        for ok in ["a@b.co", "emily.carter+crm@northern-light.example", "x_y@sub.domain.org"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@b.co",
            "a@",
            "a@b",
            "a@@b.co",
            "a@b@c.co",
            "a..b@c.co",
            ".a@c.co",
            "a@-b.co",
            "a@b-.co",
            "a@b..co",
            "a@10.0.0.1",
            "a b@c.co",
            "émily@c.co",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError), "{bad}");
        }
        assert_eq!(Email::parse("Emily@Example.COM").unwrap().key(), "emily@example.com");
    }
}
