//! A measurement, not a test of behaviour: the cost of one argon2id verify at the production
//! parameters inside WebAssembly (V8, as in workerd). `make bench` runs it in release mode with
//! `--nocapture` and reads the `BENCH` line; under `make test` it is not run.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use extranet::auth::password_hash::{hash_password, verify_password};
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

#[wasm_bindgen_test]
fn argon2_verify_cost_in_wasm() {
    let phc = hash_password("a benchmark passphrase", [7u8; 16]).unwrap();
    let mut samples = Vec::new();
    for _ in 0..15 {
        let t = js_sys::Date::now();
        assert!(verify_password("a benchmark passphrase", &phc).ok);
        samples.push(js_sys::Date::now() - t);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    console_log!("BENCH wasm_argon2_verify_ms p50={:.1} min={:.1} max={:.1} n={}", samples[samples.len() / 2], samples[0], samples[samples.len() - 1], samples.len());
}
