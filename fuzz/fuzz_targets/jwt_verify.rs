//! Access token verification (`Authorization: Bearer ...` on every API call): any text, and
//! mutations of a real token. Nothing may panic, and a token that verifies must carry exactly the
//! claims that were signed: flipping bytes never yields a different accepted token.
#![no_main]

use chrono::{DateTime, Duration, TimeZone, Utc};
use extranet::auth::jwt::{issue, verify, AccessClaims, Scope};
use extranet::auth::keys::KeyRing;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const ISS: &str = "https://portal.test";
const AUD: &str = "extranet";

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).single().expect("time")
}

fn setup() -> &'static (KeyRing, AccessClaims, String) {
    static SETUP: OnceLock<(KeyRing, AccessClaims, String)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let ring = KeyRing::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").expect("key ring");
        let claims = AccessClaims {
            iss: ISS.into(),
            aud: AUD.into(),
            sub: "0190a000-0000-7000-8000-000000000021".into(),
            sid: "0190a000-0000-7000-8000-000000000051".into(),
            lid: Some("0190a000-0000-7000-8000-000000000031".into()),
            pv: 3,
            scope: Scope::Full,
            vis: Some(serde_json::json!([["0190a000-0000-7000-8000-000000000001", ["0190a000-0000-7000-8000-000000000301"]]])),
            iat: now(),
            exp: now() + Duration::seconds(600),
        };
        let token = issue(&ring, &claims).expect("issue");
        assert_eq!(verify(&ring, &token, now(), ISS, AUD).as_ref().ok(), Some(&claims), "a fresh token verifies");
        (ring, claims, token)
    })
}

fuzz_target!(|data: &[u8]| {
    let (ring, claims, valid) = setup();
    let Some((&mode, rest)) = data.split_first() else { return };
    let token = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        // Overwrite bytes of the valid token: (position, byte) pairs.
        let mut bytes = valid.clone().into_bytes();
        for pair in rest.chunks_exact(2) {
            let at = usize::from(pair[0]) * bytes.len() / 256;
            bytes[at] = pair[1];
        }
        String::from_utf8_lossy(&bytes).into_owned()
    };
    if let Ok(got) = verify(ring, &token, now(), ISS, AUD) {
        assert_eq!(&got, claims, "an accepted token carries exactly the signed claims: {token}");
    }
});
