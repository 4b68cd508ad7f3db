//! Measurements, not tests of behaviour: the cost of one argon2id verify at the production
//! parameters inside WebAssembly (V8, as in workerd), of one access-token verify and of one request page (fixture: D1 JSON of 51 rows). `make bench` runs them in release mode with
//! `--nocapture` and reads the `BENCH` line; under `make test` it is not run.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, TimeZone, Utc};
use extranet::auth::jwt::{self, AccessClaims, Scope};
use extranet::auth::keys::{format_entry, KeyRing};
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

/// The per-request CPU of an authenticated read: verifying the Ed25519 access token.
#[wasm_bindgen_test]
fn jwt_verify_cost_in_wasm() {
    let keys = KeyRing::parse(&format_entry("k1", [9u8; 32])).unwrap();
    let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let claims = AccessClaims {
        iss: "https://portal.example".into(),
        aud: "extranet".into(),
        sub: "01960000-0000-7000-8000-000000000401".into(),
        sid: "01960000-0000-7000-8000-000000000501".into(),
        lid: Some("01960000-0000-7000-8000-000000000601".into()),
        pv: 3,
        scope: Scope::Full,
        vis: Some(serde_json::json!({"01960000-0000-7000-8000-000000000101": ["01960000-0000-7000-8000-000000000301"]})),
        iat: now,
        exp: now + Duration::minutes(10),
    };
    // Distinct tokens (another policy version each), so every verify checks the signature: the
    // isolate remembers signatures it verified, and a page's next calls with the same token are
    // measured apart ("remembered").
    let tokens: Vec<String> = (0..2000).map(|pv| jwt::issue(&keys, &AccessClaims { pv, ..claims.clone() }).unwrap()).collect();
    let time = |label: &str, token_of: &dyn Fn(usize) -> usize| {
        let mut samples = Vec::new();
        for sample in 0..200 {
            let t = js_sys::Date::now();
            for i in 0..10 {
                jwt::verify(&keys, &tokens[token_of(sample * 10 + i)], now, "https://portal.example", "extranet").unwrap();
            }
            samples.push((js_sys::Date::now() - t) / 10.0);
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        console_log!("BENCH {label} p50={:.3} min={:.3} max={:.3} n={}", samples[samples.len() / 2], samples[0], samples[samples.len() - 1], samples.len());
    };
    time("wasm_jwt_verify_ms", &|i| i);
    time("wasm_jwt_verify_remembered_ms", &|_| 0);
}

/// The CPU of one page of GET /api/requests after D1 answered: parse D1's JSON (51 rows as the
/// local runtime returns them), decode the rows, build the views, serialize the page.
#[wasm_bindgen_test]
fn request_page_cost_in_wasm() {
    use extranet::app::kit::page::Page;
    use extranet::app::kit::requests::{RequestRow, RequestView};
    use extranet::store::{decode_all, Row};
    let text = include_str!("fixtures/d1_request_page.json");
    let stage = |name: &str, f: &dyn Fn() -> usize| {
        let mut samples = Vec::new();
        for _ in 0..100 {
            let t = js_sys::Date::now();
            for _ in 0..10 {
                assert!(f() > 0);
            }
            samples.push((js_sys::Date::now() - t) / 10.0);
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        console_log!("BENCH wasm_request_page_{name}_ms p50={:.3} min={:.3}", samples[samples.len() / 2], samples[0]);
    };
    stage("parse", &|| serde_json::from_str::<Vec<Row>>(text).unwrap().len());
    stage("parse_decode", &|| decode_all::<RequestRow>(serde_json::from_str::<Vec<Row>>(text).unwrap()).unwrap().len());
    stage("whole", &|| {
        let rows: Vec<RequestRow> = decode_all(serde_json::from_str::<Vec<Row>>(text).unwrap()).unwrap();
        let page = Page::of(rows, 50, |r: &RequestRow| extranet::app::kit::page::encode_time_cursor(r.created_at, &r.id.to_string())).try_map(RequestView::try_from).unwrap();
        serde_json::to_vec(&page).unwrap().len()
    });
}
