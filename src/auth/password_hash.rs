//! Password hashing: argon2id at OWASP's parameters, stored as PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, B64 without padding).
//!
//! The PHC string is written and read here rather than through argon2's `password-hash` feature:
//! the format is small and fixed, and a strict reader refuses anything we would never have written.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// Memory cost in KiB (OWASP: 19 MiB with t=2, p=1).
pub const M_COST: u32 = 19_456;
/// Number of passes.
pub const T_COST: u32 = 2;
/// Degree of parallelism.
pub const P_COST: u32 = 1;
/// Length of the derived hash in bytes.
pub const OUTPUT_LEN: usize = 32;
/// Length of the salt in bytes (callers pass 16 random bytes).
pub const SALT_LEN: usize = 16;

// Bounds on what a stored hash may ask for, so a corrupt or hostile row cannot make one verify
// exhaust a Worker's 128 MB or loop for minutes. Well above anything this project writes.
const MAX_M_COST: u32 = 65_536;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

/// argon2 refused to hash (only possible with unusable parameters or no memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashError(pub String);

impl std::fmt::Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "password hashing failed: {}", self.0)
    }
}

impl std::error::Error for HashError {}

/// The outcome of a verify. `needs_rehash` is only meaningful when `ok`: the stored hash used
/// other parameters than today's, so the caller should store a fresh hash of the same password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verify {
    pub ok: bool,
    pub needs_rehash: bool,
}

impl Verify {
    const FAILED: Verify = Verify { ok: false, needs_rehash: false };
}

/// Hashes `password` with today's parameters and the given random salt, as a PHC string.
pub fn hash_password(password: &str, salt: [u8; SALT_LEN]) -> Result<String, HashError> {
    let params = Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|e| HashError(e.to_string()))?;
    let mut out = [0u8; OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// Checks `password` against a stored PHC string. A malformed or unsupported string is simply
/// "not ok" (and logs nothing here: the caller decides whether a corrupt hash is worth an alert).
pub fn verify_password(password: &str, phc: &str) -> Verify {
    let Some(parsed) = Phc::parse(phc) else {
        return Verify::FAILED;
    };
    let Ok(params) = Params::new(parsed.m, parsed.t, parsed.p, Some(parsed.hash.len())) else {
        return Verify::FAILED;
    };
    let mut out = vec![0u8; parsed.hash.len()];
    if Argon2::new(parsed.algorithm, parsed.version, params)
        .hash_password_into(password.as_bytes(), &parsed.salt, &mut out)
        .is_err()
    {
        return Verify::FAILED;
    }
    let ok: bool = out.ct_eq(&parsed.hash).into();
    let current = parsed.algorithm == Algorithm::Argon2id
        && parsed.version == Version::V0x13
        && (parsed.m, parsed.t, parsed.p) == (M_COST, T_COST, P_COST)
        && parsed.hash.len() == OUTPUT_LEN
        && parsed.salt.len() == SALT_LEN;
    Verify { ok, needs_rehash: ok && !current }
}

/// A hash of a password nobody knows, at today's parameters (a test keeps it that way).
pub const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXktc2FsdC0xNmJ5dA$9t/5F8dP4jkaqDFFFXowqOYcmMJ/iL08pn9iIkQF/aQ";

/// Spends one verify against [`DUMMY_PHC`], for logins that have no hash to check (unknown,
/// locked, blocked): they then take as long as a wrong password, so timing tells nothing.
/// The caller answers exactly as for a wrong password.
pub fn dummy_verify(password: &str) {
    std::hint::black_box(verify_password(password, std::hint::black_box(DUMMY_PHC)));
}

struct Phc {
    algorithm: Algorithm,
    version: Version,
    m: u32,
    t: u32,
    p: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Phc {
    /// `$<alg>$v=<n>$m=<n>,t=<n>,p=<n>$<salt>$<hash>`, exactly (no keyid/data, no missing parts).
    fn parse(s: &str) -> Option<Phc> {
        let mut parts = s.split('$');
        if !parts.next()?.is_empty() {
            return None;
        }
        let algorithm = match parts.next()? {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            _ => return None,
        };
        let version = match parts.next()? {
            "v=19" => Version::V0x13,
            "v=16" => Version::V0x10,
            _ => return None,
        };
        let mut params = parts.next()?.split(',');
        let m = number(params.next()?, "m=")?;
        let t = number(params.next()?, "t=")?;
        let p = number(params.next()?, "p=")?;
        if params.next().is_some() || m > MAX_M_COST || t > MAX_T_COST || p > MAX_P_COST {
            return None;
        }
        let salt = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
        let hash = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
        if parts.next().is_some() || salt.len() < 8 || salt.len() > 64 || hash.len() < 16 || hash.len() > 64 {
            return None;
        }
        Some(Phc { algorithm, version, m, t, p, salt, hash })
    }
}

fn number(field: &str, prefix: &str) -> Option<u32> {
    let digits = field.strip_prefix(prefix)?;
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_strings_are_not_ok() {
        for bad in [
            "",
            "$",
            "plain",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1,x=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=-1,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA$extra",
        ] {
            assert_eq!(verify_password("whatever", bad), Verify::FAILED, "{bad}");
        }
    }
}
