//! What must hold inside WebAssembly, where native tests cannot look: randomness and the clock
//! come from JavaScript, and argon2 and Ed25519 run as wasm. Run under node with
//! `cargo test --target wasm32-unknown-unknown --test wasm`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use extranet::auth::jwt::{self, AccessClaims, Scope};
use extranet::auth::keys::{format_entry, KeyRing};
use extranet::auth::password_hash::{hash_password, verify_password, Verify};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn getrandom_draws_fresh_bytes() {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    getrandom::fill(&mut a).unwrap();
    getrandom::fill(&mut b).unwrap();
    assert_ne!(a, [0u8; 32]);
    assert_ne!(a, b);
}

#[wasm_bindgen_test]
fn the_clock_is_the_javascript_clock() {
    // std::time::SystemTime::now() panics on wasm32-unknown-unknown; chrono's wasmbind reads Date.now().
    let now = Utc::now();
    assert!(now > Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(), "{now}");
}

#[wasm_bindgen_test]
fn argon2_hashes_and_verifies() {
    let phc = hash_password("correct horse battery staple", *b"0123456789abcdef").unwrap();
    // The same PHC string as the native build and the reference implementation produce.
    assert_eq!(
        phc,
        "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0"
    );
    assert_eq!(verify_password("correct horse battery staple", &phc), Verify { ok: true, needs_rehash: false });
    assert!(!verify_password("wrong horse battery staple", &phc).ok);
}

#[wasm_bindgen_test]
fn access_tokens_sign_and_verify() {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    let keys = KeyRing::parse(&format_entry("k1", seed)).unwrap();
    let now = Utc::now();
    let claims = AccessClaims {
        iss: "https://extranet.example".into(),
        aud: "extranet-api".into(),
        sub: "u".into(),
        sid: "s".into(),
        lid: Some("l".into()),
        pv: 1,
        scope: Scope::Full,
        vis: None,
        iat: Utc.timestamp_opt(now.timestamp(), 0).unwrap(),
        exp: Utc.timestamp_opt(now.timestamp() + 600, 0).unwrap(),
    };
    let token = jwt::issue(&keys, &claims).unwrap();
    assert_eq!(jwt::verify(&keys, &token, now, "https://extranet.example", "extranet-api"), Ok(claims));
    assert!(
        jwt::verify(&keys, &token, now + Duration::minutes(11), "https://extranet.example", "extranet-api").is_err()
    );
}

/// The CRM webhook's signature is computed in wasm at the edge: the Standard Webhooks example
/// must come out the same there (the e2e test checks it again with the npm package).
#[wasm_bindgen_test]
fn standard_webhooks_signatures_match_the_specification_inside_wasm() {
    use extranet::channels::standard_webhooks::WebhookSecret;
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert_eq!(secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
