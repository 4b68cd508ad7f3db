//! Telegram and widget: signature checks and payload parsing (pure), and the outbound notifier port.
//!
//! Nothing here does I/O: `telegram` reads Bot API updates and writes sendMessage calls (the
//! notifier sends them through `Ports::post_json`), `widget` checks the `v1=` HMAC signatures and
//! reads the widget's event body. The use cases live in `app::webhooks`, `app::notify` and
//! `app::channels`.

pub mod standard_webhooks;
pub mod telegram;
pub mod widget;

use crate::auth::refresh::constant_time_eq;

/// Whether the presented webhook secret equals the configured one, in time that does not depend
/// on where they differ. No configured secret means the webhook is closed: nothing matches.
pub fn secret_matches(expected: Option<&str>, given: Option<&str>) -> bool {
    match (expected, given) {
        (Some(expected), Some(given)) if !expected.is_empty() => {
            // Compare digests, so the comparison time does not even depend on the lengths.
            let a = sha2_digest(expected.as_bytes());
            let b = sha2_digest(given.as_bytes());
            constant_time_eq(&a, &b)
        }
        _ => false,
    }
}

fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_must_match_exactly_and_be_configured() {
        assert!(secret_matches(Some("s3cret-token"), Some("s3cret-token")));
        assert!(!secret_matches(Some("s3cret-token"), Some("s3cret-tokem")));
        assert!(!secret_matches(Some("s3cret-token"), Some("s3cret-token ")));
        assert!(!secret_matches(Some("s3cret-token"), None));
        assert!(!secret_matches(None, Some("")));
        assert!(!secret_matches(Some(""), Some("")));
    }
}
