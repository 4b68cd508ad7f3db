//! The access-token signing keys, from the `JWT_SIGNING_KEYS` secret:
//! `<kid>:<base64url, no padding, 32-byte Ed25519 seed>` entries separated by commas, the current
//! (signing) key first. The others still verify, so a rotation is: prepend a new key, wait one
//! access-token lifetime, drop the old one.
//!
//! Neither Debug nor any error message ever shows key material.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_compact::{KeyPair, PublicKey, SecretKey, Seed};

/// A key id: 1..=64 characters of `[A-Za-z0-9._-]` (it travels in every token header).
const KID_MAX_LENGTH: usize = 64;

/// Why `JWT_SIGNING_KEYS` could not be read. Entries are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Empty,
    /// Entry `entry` is not `<kid>:<seed>`, or its kid has other characters than `[A-Za-z0-9._-]`.
    MalformedEntry {
        entry: usize,
    },
    /// Entry `entry`'s seed is not base64url without padding.
    SeedNotBase64 {
        entry: usize,
    },
    /// Entry `entry`'s seed does not decode to exactly 32 bytes, or is all zeros.
    BadSeed {
        entry: usize,
    },
    DuplicateKid {
        kid: String,
    },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Empty => f.write_str("JWT_SIGNING_KEYS is empty: expected <kid>:<base64url 32-byte seed>[,...]"),
            KeyError::MalformedEntry { entry } => write!(
                f,
                "JWT_SIGNING_KEYS entry {entry} is not <kid>:<seed> with a kid of 1-64 characters [A-Za-z0-9._-]"
            ),
            KeyError::SeedNotBase64 { entry } => {
                write!(f, "JWT_SIGNING_KEYS entry {entry}: the seed is not base64url without padding")
            }
            KeyError::BadSeed { entry } => {
                write!(f, "JWT_SIGNING_KEYS entry {entry}: the seed must decode to 32 bytes, not all zero")
            }
            KeyError::DuplicateKid { kid } => write!(f, "JWT_SIGNING_KEYS lists the kid {kid:?} twice"),
        }
    }
}

impl std::error::Error for KeyError {}

pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) secret: SecretKey,
    pub(crate) public: PublicKey,
}

/// The parsed key list: never empty, current key first.
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("kids", &self.kids().collect::<Vec<_>>()).finish()
    }
}

impl KeyRing {
    /// Parses the secret's value. Whitespace around entries is ignored (secrets pasted with a
    /// trailing newline are common); an empty entry (`a:..,,b:..`) is malformed.
    pub fn parse(value: &str) -> Result<KeyRing, KeyError> {
        if value.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        let mut keys: Vec<SigningKey> = Vec::new();
        for (index, entry) in value.split(',').enumerate() {
            let entry_no = index + 1;
            let (kid, seed) = entry.trim().split_once(':').ok_or(KeyError::MalformedEntry { entry: entry_no })?;
            if !is_kid(kid) {
                return Err(KeyError::MalformedEntry { entry: entry_no });
            }
            let seed = URL_SAFE_NO_PAD.decode(seed).map_err(|_| KeyError::SeedNotBase64 { entry: entry_no })?;
            let seed = Seed::from_slice(&seed).map_err(|_| KeyError::BadSeed { entry: entry_no })?;
            let pair = KeyPair::try_from_seed(seed).map_err(|_| KeyError::BadSeed { entry: entry_no })?;
            if keys.iter().any(|k| k.kid == kid) {
                return Err(KeyError::DuplicateKid { kid: kid.to_owned() });
            }
            keys.push(SigningKey { kid: kid.to_owned(), secret: pair.sk, public: pair.pk });
        }
        Ok(KeyRing { keys })
    }

    /// The kid new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        self.current().map(|k| k.kid.as_str()).unwrap_or_default()
    }

    /// Every kid, current first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    pub(crate) fn current(&self) -> Option<&SigningKey> {
        self.keys.first()
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Formats one `JWT_SIGNING_KEYS` entry from 32 random bytes (for setup scripts and docs).
pub fn format_entry(kid: &str, seed: [u8; 32]) -> String {
    format!("{kid}:{}", URL_SAFE_NO_PAD.encode(seed))
}

fn is_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= KID_MAX_LENGTH
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_A: [u8; 32] = [7; 32];
    const SEED_B: [u8; 32] = [9; 32];

    #[test]
    fn parses_a_list_current_first() {
        let value = format!(" {} ,\n{}\n", format_entry("2025-06", SEED_A), format_entry("2025-01", SEED_B));
        let ring = KeyRing::parse(&value).unwrap();
        assert_eq!(ring.current_kid(), "2025-06");
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["2025-06", "2025-01"]);
    }

    #[test]
    fn refuses_bad_lists_with_a_clear_error() {
        let a = format_entry("a", SEED_A);
        assert_eq!(KeyRing::parse("  \n").unwrap_err(), KeyError::Empty);
        assert_eq!(KeyRing::parse(&format!("{a},")).unwrap_err(), KeyError::MalformedEntry { entry: 2 });
        assert_eq!(KeyRing::parse("nocolon").unwrap_err(), KeyError::MalformedEntry { entry: 1 });
        assert_eq!(KeyRing::parse(":AAAA").unwrap_err(), KeyError::MalformedEntry { entry: 1 });
        assert_eq!(KeyRing::parse("k y:AAAA").unwrap_err(), KeyError::MalformedEntry { entry: 1 });
        assert_eq!(KeyRing::parse("k:not base64!").unwrap_err(), KeyError::SeedNotBase64 { entry: 1 });
        let padded = format!("k:{}=", URL_SAFE_NO_PAD.encode(SEED_A));
        assert_eq!(KeyRing::parse(&padded).unwrap_err(), KeyError::SeedNotBase64 { entry: 1 });
        assert_eq!(KeyRing::parse("k:AAAA").unwrap_err(), KeyError::BadSeed { entry: 1 });
        assert_eq!(KeyRing::parse(&format_entry("k", [0; 32])).unwrap_err(), KeyError::BadSeed { entry: 1 });
        let dup = format!("{a},{}", format_entry("a", SEED_B));
        assert_eq!(KeyRing::parse(&dup).unwrap_err(), KeyError::DuplicateKid { kid: "a".into() });
    }

    #[test]
    fn debug_and_errors_never_show_the_seed() {
        let encoded = URL_SAFE_NO_PAD.encode(SEED_A);
        let ring = KeyRing::parse(&format_entry("a", SEED_A)).unwrap();
        let debug = format!("{ring:?}");
        assert!(debug.contains("\"a\"") && !debug.contains(&encoded[..10]), "{debug}");
        let err = KeyRing::parse(&format!("{},b:{}x", format_entry("a", SEED_A), &encoded)).unwrap_err();
        assert!(!err.to_string().contains(&encoded[..10]), "{err}");
    }
}
