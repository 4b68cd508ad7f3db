//! The widget webhook's signature: `X-Extranet-Signature: v1=<hex of HMAC-SHA256(secret,
//! timestamp + "." + body)>` with `X-Extranet-Timestamp` (unix seconds) at most 300 s away from
//! now. During a rotation the sender may put several `v1=` values in the header (space-separated),
//! and both the current secret and the previous one (for 24 h) are accepted. Every candidate pair
//! is compared in constant time and none is skipped, so timing says nothing about which matched.
//! Also the event body the widget posts.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

pub const TIMESTAMP_HEADER: &str = "x-extranet-timestamp";
pub const SIGNATURE_HEADER: &str = "x-extranet-signature";
/// How far the timestamp may be from now, either way.
pub const WINDOW_SECONDS: i64 = 300;
/// At most this many space-separated items in the signature header.
pub const MAX_SIGNATURES: usize = 4;
/// The previous secret stays valid this long after a rotation.
pub const ROTATION_GRACE_SECONDS: i64 = 24 * 3600;
pub const EVENT_ID_MAX: usize = 200;
pub const TEXT_MAX: usize = 5_000;

/// Why a request was refused; the API answers every one of them with the same 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

/// The `v1=` value for a body: what the client's server computes.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!("v1={}", crate::auth::refresh::hex(&mac(secret, timestamp, body)))
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // HMAC takes keys of any length, so this cannot fail; a zero MAC would match nothing real.
    if let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        m.update(timestamp.as_bytes());
        m.update(b".");
        m.update(body);
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}

/// The `v1=` values of the header, decoded. Other schemes (`v0=`...) are skipped, so a sender
/// may add them later; anything else, no `v1=` at all, or too many items is malformed.
pub fn parse_signatures(header: &str) -> Result<Vec<[u8; 32]>, Rejection> {
    let items: Vec<&str> = header.split_ascii_whitespace().collect();
    if items.is_empty() || items.len() > MAX_SIGNATURES {
        return Err(Rejection::Malformed);
    }
    let mut found = Vec::new();
    for item in items {
        let (scheme, value) = item.split_once('=').ok_or(Rejection::Malformed)?;
        if scheme == "v1" {
            found.push(decode_hex32(value).ok_or(Rejection::Malformed)?);
        } else if !(scheme.len() >= 2 && scheme.starts_with('v') && scheme[1..].bytes().all(|b| b.is_ascii_digit())) {
            return Err(Rejection::Malformed);
        }
    }
    if found.is_empty() {
        return Err(Rejection::Malformed);
    }
    Ok(found)
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// The timestamp header: unix seconds, digits only, within the window around `now`.
pub fn check_timestamp(header: Option<&str>, now: i64) -> Result<i64, Rejection> {
    let text = header.ok_or(Rejection::Missing)?;
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::Malformed);
    }
    let at: i64 = text.parse().map_err(|_| Rejection::Malformed)?;
    if (now - at).abs() > WINDOW_SECONDS {
        return Err(Rejection::Stale);
    }
    Ok(at)
}

/// Checks a request against the connection's valid secrets (the current one, and the previous one
/// during a rotation). With no secret (an unknown connection) the work is the same and the answer
/// a mismatch, so the caller can answer both alike.
pub fn verify(secrets: &[&str], timestamp: Option<&str>, signature: Option<&str>, body: &[u8], now: i64) -> Result<(), Rejection> {
    let given = parse_signatures(signature.ok_or(Rejection::Missing)?)?;
    check_timestamp(timestamp, now)?;
    let stamp = timestamp.unwrap_or_default();
    let expected: Vec<[u8; 32]> = secrets.iter().map(|s| mac(s, stamp, body)).collect();
    if expected.is_empty() {
        // The same work as for a known connection; the result matches nothing.
        let _ = mac("unknown-connection", stamp, body);
    }
    let mut matched = subtle::Choice::from(0u8);
    for g in &given {
        for e in &expected {
            matched |= g.ct_eq(e);
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(Rejection::Mismatch)
    }
}

/// The event body as sent: `{id, type: "message", text, request_id?}`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventInput {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub request_id: Option<Uuid>,
}

/// What the widget asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WidgetEvent {
    Message { event_id: String, text: String, request_id: Option<Uuid> },
    /// A type this version does not handle: acknowledged (so the sender stops) and refused.
    Unsupported { event_id: String },
}

/// Checks the body's values: the field name and a message for a 400 otherwise.
pub fn validate(input: EventInput) -> Result<WidgetEvent, (&'static str, String)> {
    let event_id = input.id.trim().to_owned();
    if event_id.is_empty() || event_id.chars().count() > EVENT_ID_MAX || event_id.chars().any(char::is_control) {
        return Err(("id", format!("id must be 1 to {EVENT_ID_MAX} printable characters")));
    }
    if input.kind != "message" {
        return Ok(WidgetEvent::Unsupported { event_id });
    }
    let text = input.text.as_deref().map(str::trim).unwrap_or_default().to_owned();
    if text.is_empty() || text.chars().count() > TEXT_MAX {
        return Err(("text", format!("text must be 1 to {TEXT_MAX} characters")));
    }
    Ok(WidgetEvent::Message { event_id, text, request_id: input.request_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "widget-secret-one";
    const NOW: i64 = 1_800_000_000;

    fn header(values: &[String]) -> String {
        values.join(" ")
    }

    #[test]
    fn a_fresh_signature_with_the_secret_verifies() {
        let body = br#"{"id":"e1","type":"message","text":"hi"}"#;
        let sig = sign(SECRET, "1800000000", body);
        assert!(sig.starts_with("v1=") && sig.len() == 67);
        assert_eq!(verify(&[SECRET], Some("1800000000"), Some(&sig), body, NOW), Ok(()));
        // Upper-case hex is the same signature.
        let upper = format!("v1={}", sig[3..].to_uppercase());
        assert_eq!(verify(&[SECRET], Some("1800000000"), Some(&upper), body, NOW), Ok(()));
    }

    #[test]
    fn forged_tampered_and_stale_requests_fail() {
        let body = b"{}";
        let good = sign(SECRET, "1800000000", body);
        assert_eq!(verify(&[SECRET], Some("1800000000"), Some(&sign("other", "1800000000", body)), body, NOW), Err(Rejection::Mismatch));
        assert_eq!(verify(&[SECRET], Some("1800000000"), Some(&good), b"{ }", NOW), Err(Rejection::Mismatch));
        assert_eq!(verify(&[SECRET], Some("1800000001"), Some(&good), body, NOW), Err(Rejection::Mismatch));
        let old = sign(SECRET, "1799999699", body);
        assert_eq!(verify(&[SECRET], Some("1799999699"), Some(&old), body, NOW), Err(Rejection::Stale));
        let edge = sign(SECRET, "1799999700", body);
        assert_eq!(verify(&[SECRET], Some("1799999700"), Some(&edge), body, NOW), Ok(()));
        let future = sign(SECRET, "1800000301", body);
        assert_eq!(verify(&[SECRET], Some("1800000301"), Some(&future), body, NOW), Err(Rejection::Stale));
        assert_eq!(verify(&[SECRET], None, Some(&good), body, NOW), Err(Rejection::Missing));
        assert_eq!(verify(&[SECRET], Some("1800000000"), None, body, NOW), Err(Rejection::Missing));
        assert_eq!(verify(&[], Some("1800000000"), Some(&good), body, NOW), Err(Rejection::Mismatch));
        assert_eq!(verify(&[SECRET], Some("-5"), Some(&good), body, NOW), Err(Rejection::Malformed));
    }

    #[test]
    fn rotation_accepts_either_secret_and_several_values() {
        let body = b"{}";
        let new = sign("new-secret", "1800000000", body);
        let old = sign("old-secret", "1800000000", body);
        assert_eq!(verify(&["new-secret", "old-secret"], Some("1800000000"), Some(&old), body, NOW), Ok(()));
        assert_eq!(verify(&["new-secret"], Some("1800000000"), Some(&header(&[old.clone(), new.clone()])), body, NOW), Ok(()));
        assert_eq!(verify(&["new-secret"], Some("1800000000"), Some(&header(&[old.clone(), "v0=legacy".into()])), body, NOW), Err(Rejection::Mismatch));
        let many = header(&[old.clone(), old.clone(), old.clone(), old.clone(), new]);
        assert_eq!(verify(&["new-secret"], Some("1800000000"), Some(&many), body, NOW), Err(Rejection::Malformed));
    }

    #[test]
    fn malformed_headers() {
        for h in ["", "v1=", "v1=zz", "sha256=abc", "v0=only", &format!("v1={}", "a".repeat(63)), "v1 =ab"] {
            assert!(parse_signatures(h).is_err(), "{h:?}");
        }
    }

    #[test]
    fn event_bodies() {
        let input = |v: serde_json::Value| serde_json::from_value::<EventInput>(v).unwrap();
        assert_eq!(
            validate(input(serde_json::json!({"id": " e1 ", "type": "message", "text": " hi "}))),
            Ok(WidgetEvent::Message { event_id: "e1".into(), text: "hi".into(), request_id: None })
        );
        assert_eq!(validate(input(serde_json::json!({"id": "e2", "type": "typing"}))), Ok(WidgetEvent::Unsupported { event_id: "e2".into() }));
        assert_eq!(validate(input(serde_json::json!({"id": "", "type": "message", "text": "x"}))).unwrap_err().0, "id");
        assert_eq!(validate(input(serde_json::json!({"id": "e3", "type": "message", "text": "  "}))).unwrap_err().0, "text");
    }
}
