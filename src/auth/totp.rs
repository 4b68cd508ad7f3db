//! TOTP second factor (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits, 30-second steps, a 160-bit
//! secret shown to authenticator apps as unpadded RFC 4648 base32. A code is accepted one step
//! early or late (clock drift, slow typing) and only once: the caller stores the matched step and
//! passes it back as `last_used_step`.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

pub const SECRET_LEN: usize = 20;
pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Steps accepted on either side of the current one.
const WINDOW: i64 = 1;

/// A TOTP shared secret. Debug hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// A stored or typed secret that is not 32 base32 characters encoding 20 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTotpSecret;

impl std::fmt::Display for BadTotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TOTP secret is not 160 bits of base32")
    }
}

impl std::error::Error for BadTotpSecret {}

impl TotpSecret {
    /// A secret from 20 random bytes supplied by the caller.
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> TotpSecret {
        TotpSecret(bytes)
    }

    /// Reads the base32 form (as stored, or as shown to the user: case and spaces are ignored).
    pub fn from_base32(text: &str) -> Result<TotpSecret, BadTotpSecret> {
        let bytes = base32_decode(text).ok_or(BadTotpSecret)?;
        bytes.try_into().map(TotpSecret).map_err(|_| BadTotpSecret)
    }

    /// The base32 form: 32 uppercase characters, what authenticator apps expect.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }
}

/// The step a unix time falls in.
pub fn step_at(now_unix: i64) -> i64 {
    now_unix.div_euclid(STEP_SECONDS)
}

/// The 6-digit code of `step` (RFC 4226 dynamic truncation), zero-padded.
pub fn code_at_step(secret: &TotpSecret, step: i64) -> String {
    format!("{:06}", hotp(secret, step))
}

fn hotp(secret: &TotpSecret, step: i64) -> u32 {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(&secret.0) else {
        // HMAC takes keys of any length; this branch cannot run.
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = [digest[offset], digest[offset + 1], digest[offset + 2], digest[offset + 3]];
    (u32::from_be_bytes(word) & 0x7fff_ffff) % 10u32.pow(DIGITS)
}

/// Checks `code` at `now_unix`. Returns the step it matched, to be stored as the new
/// `last_used_step`, or `None`: wrong, malformed, outside the +-1 step window, or for a step at or
/// before `last_used_step` (a code, or an older one, already used).
pub fn verify(secret: &TotpSecret, code: &str, now_unix: i64, last_used_step: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now_unix);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not tell which step matched.
    for step in (current - WINDOW)..=(current + WINDOW) {
        let fresh = last_used_step.is_none_or(|last| step > last) && step >= 0;
        let equal: bool = code_at_step(secret, step).as_bytes().ct_eq(code.as_bytes()).into();
        if equal && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// The `otpauth://` URI authenticator apps read from a QR code (Google's Key URI format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(account),
        secret.to_base32()
    )
}

/// RFC 3986: everything but unreserved characters is %-encoded (spaces as %20, not `+`, which
/// some authenticator apps would show literally; `:` too, as it separates issuer and account).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, uppercase, without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes RFC 4648 base32, ignoring case, spaces and trailing `=`. `None` for any other
/// character, an impossible length, or non-zero leftover bits (a non-canonical encoding).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let symbols: Vec<u8> = text.bytes().filter(|b| *b != b' ').collect();
    let end = symbols.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    let symbols = symbols.get(..end)?;
    if matches!(symbols.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(symbols.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &c in symbols {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (buffer == 0).then_some(out)
}
