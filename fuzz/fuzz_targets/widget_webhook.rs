//! The widget webhook's signature check (`X-Extranet-Timestamp`, `X-Extranet-Signature: v1=...`)
//! on any headers and body: nothing panics, a made-up signature never passes, and the signature a
//! client's server computes always does (with the current or the previous secret).
#![no_main]

use extranet::channels::widget::{check_timestamp, parse_signatures, sign, verify};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000;
const SECRETS: [&str; 2] = ["current-widget-secret", "previous-widget-secret"];

fuzz_target!(|input: (&str, &str, &[u8])| {
    let (timestamp, signature, body) = input;
    let _ = parse_signatures(signature);
    let _ = check_timestamp(Some(timestamp), NOW);
    let forged = verify(&SECRETS, Some(timestamp), Some(signature), body, NOW);
    let real = SECRETS.iter().any(|s| signature.split_ascii_whitespace().any(|item| item == sign(s, timestamp, body)));
    if !real {
        assert!(forged.is_err(), "a signature nobody computed passed: {signature:?}");
    }
    let stamp = NOW.to_string();
    for secret in SECRETS {
        assert_eq!(verify(&SECRETS, Some(&stamp), Some(&sign(secret, &stamp, body)), body, NOW), Ok(()));
    }
    assert!(verify(&SECRETS, Some(&stamp), Some(&sign("someone-else", &stamp, body)), body, NOW).is_err());
});
