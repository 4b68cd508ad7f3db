//! Telegram webhook bodies (`channels::telegram::parse_update`): nothing panics on any bytes, and
//! a `/start` payload that is kept is a plain code (letters, digits, `-`, `_`).
#![no_main]

use extranet::channels::telegram::{parse_update, Event, Update};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Update::Known { event: Event::Start { code: Some(code), .. }, .. } = parse_update(data) {
        assert!(!code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{code:?}");
    }
});
