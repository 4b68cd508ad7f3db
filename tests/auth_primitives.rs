//! The credential primitives as the login, refresh and activation use cases rely on them:
//! password rules, hashing, access tokens, refresh tokens and TOTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use extranet::auth::jwt::{self, AccessClaims, InvalidToken, Scope, TokenError};
use extranet::auth::keys::{format_entry, KeyRing};
use extranet::auth::password_hash::{dummy_verify, hash_password, verify_password, Verify, DUMMY_PHC};
use extranet::auth::refresh::{RefreshToken, RefreshTokenError};
use extranet::auth::totp::{self, TotpSecret};
use extranet::auth::{constant_time_eq, sha256_hex};
use extranet::domain::password::{Blocklist, Password, PasswordPolicy, PasswordRule};
use uuid::Uuid;

// ---------------------------------------------------------------- password policy

fn rule_of(candidate: &str, policy: &PasswordPolicy) -> Option<PasswordRule> {
    Password::check(candidate, policy, "ecarter", Some("emily.carter@northern-light.example"), Blocklist::shipped()).err().map(|w| w.rule)
}

#[test]
fn each_weak_password_rule_triggers_and_names_itself() {
    let default = PasswordPolicy::default();
    let strict = PasswordPolicy {
        require_lower: true,
        require_upper: true,
        require_digit: true,
        require_special: true,
        ..default.clone()
    };
    let cases: [(&str, &PasswordPolicy, PasswordRule, &str); 10] = [
        ("short pass", &default, PasswordRule::MinLength, "min_length"),
        (&"x".repeat(257), &default, PasswordRule::MaxLength, "max_length"),
        ("QWERTY123456", &default, PasswordRule::CommonPassword, "common_password"),
        ("my name is ecarter!", &default, PasswordRule::ContainsLogin, "contains_login"),
        ("Emily.Carter@Northern-Light.example", &default, PasswordRule::ContainsLogin, "contains_login"),
        ("emily.carter wrote this", &default, PasswordRule::ContainsLogin, "contains_login"),
        ("NO LOWERCASE 42!", &strict, PasswordRule::RequireLower, "require_lower"),
        ("no uppercase 42!", &strict, PasswordRule::RequireUpper, "require_upper"),
        ("No Digits Here!", &strict, PasswordRule::RequireDigit, "require_digit"),
        ("NoSpecials4242x", &strict, PasswordRule::RequireSpecial, "require_special"),
    ];
    for (candidate, policy, rule, code) in cases {
        let weak =
            Password::check(candidate, policy, "ecarter", Some("emily.carter@northern-light.example"), Blocklist::shipped()).unwrap_err();
        assert_eq!((weak.rule, weak.rule.code()), (rule, code), "{candidate}");
        assert!(!weak.message.is_empty());
    }
    assert_eq!(rule_of("Has all 4 kinds!", &strict), None);
    assert_eq!(rule_of("a plain long passphrase", &default), None);
}

#[test]
fn length_counts_characters_not_bytes() {
    let policy = PasswordPolicy::default();
    // 11 characters but 22 bytes in UTF-8: still too short.
    assert_eq!(rule_of("пароль-пар1", &policy), Some(PasswordRule::MinLength));
    assert_eq!(rule_of("пароль-пароль", &policy), None);
    // Multi-byte characters all the way (not one repeated: that is a sequence of its own).
    let long = |n: usize| "éàüö wild fjord ".chars().cycle().take(n).collect::<String>();
    assert_eq!(rule_of(&long(256), &policy), None);
    assert_eq!(rule_of(&long(257), &policy), Some(PasswordRule::MaxLength));
    assert_eq!(rule_of(&"é".repeat(256), &policy), Some(PasswordRule::Sequence));
}

#[test]
fn min_length_follows_the_policy() {
    let eight = PasswordPolicy { min_length: 8, ..PasswordPolicy::default() };
    assert_eq!(rule_of("zq7vw!pk", &eight), None);
    assert_eq!(rule_of("zq7vw!p", &eight), Some(PasswordRule::MinLength));
    assert_eq!(rule_of("zq7vw!pkzq7vw!pk", &PasswordPolicy { min_length: 20, ..eight }), Some(PasswordRule::MinLength));
}

#[test]
fn the_blocklist_is_large_and_case_insensitive() {
    assert!(Blocklist::shipped().len() >= 10_000, "{}", Blocklist::shipped().len());
    let eight = PasswordPolicy { min_length: 8, ..PasswordPolicy::default() };
    for common in ["password", "Password1", "iloveyou", "qwerty123456", "1q2w3e4r5t6y", "PASSWORD1234", "sunshine1"] {
        assert_eq!(rule_of(common, &eight), Some(PasswordRule::CommonPassword), "{common}");
    }
}

#[test]
fn short_logins_only_match_exactly() {
    let policy = PasswordPolicy::default();
    // A 3-letter login inside a passphrase is fine; from 4 letters on it counts as a substring.
    assert!(Password::check("bobsled over the hill", &policy, "bob", None, Blocklist::shipped()).is_ok());
    assert_eq!(
        Password::check("xx-NorthernLight-xx", &policy, "northernlight", None, Blocklist::shipped()).unwrap_err().rule,
        PasswordRule::ContainsLogin
    );
}

// ---------------------------------------------------------------- password hashing

const SALT: [u8; 16] = *b"0123456789abcdef";

#[test]
fn hashes_match_the_reference_argon2_implementation() {
    // Produced by argon2-cffi (the reference C implementation) with the same password, salt
    // and parameters: our PHC strings are readable by other tools and vice versa.
    let reference = "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$gy5SuVm5Z7Vw7keB9se9p87QGcomaseB/S2U1OhTsM0";
    assert_eq!(hash_password("correct horse battery staple", SALT).unwrap(), reference);
}

#[test]
fn verify_accepts_the_password_and_refuses_others() {
    let phc = hash_password("correct horse battery staple", SALT).unwrap();
    assert_eq!(verify_password("correct horse battery staple", &phc), Verify { ok: true, needs_rehash: false });
    assert_eq!(verify_password("correct horse battery stapl", &phc), Verify { ok: false, needs_rehash: false });
    assert!(!verify_password("Correct horse battery staple", &phc).ok);
    assert!(!verify_password("correct horse battery staple", "not a phc string").ok);
}

#[test]
fn hashes_with_older_parameters_verify_and_ask_for_a_rehash() {
    // argon2-cffi at m=8192, t=1: weaker than today's parameters.
    let old = "$argon2id$v=19$m=8192,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$E00YDK579zCFKHdylDWWbt4Db/32fqyFEYPCGpqFXXw";
    assert_eq!(verify_password("correct horse battery staple", old), Verify { ok: true, needs_rehash: true });
    // A wrong password never asks for a rehash (nothing to rehash it with).
    assert_eq!(verify_password("wrong", old), Verify { ok: false, needs_rehash: false });
}

#[test]
fn the_dummy_hash_costs_what_a_real_one_does() {
    // Same parameters as real hashes, so an unknown login takes as long as a wrong password.
    let real = hash_password("whatever", SALT).unwrap();
    let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
    assert_eq!(params(DUMMY_PHC), params(&real));
    dummy_verify("guess");
}

// ---------------------------------------------------------------- access tokens

const SEED_NEW: [u8; 32] = [0x11; 32];
const SEED_OLD: [u8; 32] = [0x22; 32];
const ISS: &str = "https://extranet.example";
const AUD: &str = "extranet-api";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn ring(entries: &[(&str, [u8; 32])]) -> KeyRing {
    let value: Vec<String> = entries.iter().map(|(kid, seed)| format_entry(kid, *seed)).collect();
    KeyRing::parse(&value.join(",")).unwrap()
}

fn claims(now: DateTime<Utc>) -> AccessClaims {
    AccessClaims {
        iss: ISS.into(),
        aud: AUD.into(),
        sub: "01960000-0000-7000-8000-000000000401".into(),
        sid: "01960000-0000-7000-8000-000000000901".into(),
        lid: Some("01960000-0000-7000-8000-000000000501".into()),
        pv: 7,
        scope: Scope::Full,
        vis: None,
        iat: now,
        exp: now + Duration::minutes(10),
    }
}

fn verify_at(keys: &KeyRing, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
    jwt::verify(keys, token, now, ISS, AUD)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

#[test]
fn a_token_round_trips_with_its_header() {
    let keys = ring(&[("k2", SEED_NEW)]);
    let mut employee = claims(t0());
    employee.lid = None;
    employee.scope = Scope::MfaEnroll;
    let token = jwt::issue(&keys, &employee).unwrap();
    assert_eq!(verify_at(&keys, &token, t0() + Duration::minutes(9)), Ok(employee));

    let header: serde_json::Value = serde_json::from_slice(&unb64(token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], "k2");
    assert_eq!(header["alg"], "EdDSA");
    let payload: serde_json::Value = serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(payload["scope"], "mfa_enroll");
    assert_eq!(payload["exp"], t0().timestamp() + 600);
    assert!(payload.get("lid").is_none());
}

#[test]
fn a_token_expires_at_exp() {
    let keys = ring(&[("k", SEED_NEW)]);
    let token = jwt::issue(&keys, &claims(t0())).unwrap();
    assert!(verify_at(&keys, &token, t0() + Duration::seconds(599)).is_ok());
    assert_eq!(verify_at(&keys, &token, t0() + Duration::seconds(600)), Err(TokenError::Expired));
    assert_eq!(verify_at(&keys, &token, t0() + Duration::days(1)), Err(TokenError::Expired));
}

#[test]
fn a_tampered_payload_fails_the_signature() {
    let keys = ring(&[("k", SEED_NEW)]);
    let token = jwt::issue(&keys, &claims(t0())).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(&unb64(parts[1])).unwrap();
    payload["pv"] = serde_json::json!(8);
    let forged = format!("{}.{}.{}", parts[0], b64(payload.to_string().as_bytes()), parts[2]);
    assert_eq!(verify_at(&keys, &forged, t0()), Err(TokenError::Invalid(InvalidToken::BadSignature)));
}

#[test]
fn a_tampered_signature_fails() {
    let keys = ring(&[("k", SEED_NEW)]);
    let token = jwt::issue(&keys, &claims(t0())).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut signature = unb64(parts[2]);
    signature[10] ^= 1;
    let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
    assert_eq!(verify_at(&keys, &forged, t0()), Err(TokenError::Invalid(InvalidToken::BadSignature)));
    // And an expired token with a bad signature is invalid, not merely expired.
    assert_eq!(
        verify_at(&keys, &forged, t0() + Duration::days(1)),
        Err(TokenError::Invalid(InvalidToken::BadSignature))
    );
}

#[test]
fn a_token_verified_once_is_still_checked_in_full_the_next_times() {
    // The isolate remembers signatures it verified: what it remembers must not widen anything.
    let keys = ring(&[("k", SEED_NEW)]);
    let token = jwt::issue(&keys, &claims(t0())).unwrap();
    assert!(verify_at(&keys, &token, t0()).is_ok());
    assert!(verify_at(&keys, &token, t0()).is_ok(), "the second time, from memory");
    // Expiry, issuer and audience are still checked on the remembered token.
    assert_eq!(verify_at(&keys, &token, t0() + Duration::seconds(600)), Err(TokenError::Expired));
    assert_eq!(jwt::verify(&keys, &token, t0(), ISS, "another-api"), Err(TokenError::Invalid(InvalidToken::WrongAudience)));
    // Another ring with a different key under the same kid does not inherit the memory.
    let impostor = ring(&[("k", [0x44; 32])]);
    assert_eq!(verify_at(&impostor, &token, t0()), Err(TokenError::Invalid(InvalidToken::BadSignature)));
    // A ring without the key refuses it, remembered or not.
    assert_eq!(verify_at(&ring(&[("other", SEED_NEW)]), &token, t0()), Err(TokenError::Invalid(InvalidToken::UnknownKey)));
    // One changed signature byte is another token: verified afresh, and refused.
    let parts: Vec<&str> = token.split('.').collect();
    let mut signature = unb64(parts[2]);
    signature[0] ^= 1;
    let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
    assert_eq!(verify_at(&keys, &forged, t0()), Err(TokenError::Invalid(InvalidToken::BadSignature)));
}

#[test]
fn issuer_and_audience_must_match() {
    let keys = ring(&[("k", SEED_NEW)]);
    let token = jwt::issue(&keys, &claims(t0())).unwrap();
    assert_eq!(
        jwt::verify(&keys, &token, t0(), ISS, "another-api"),
        Err(TokenError::Invalid(InvalidToken::WrongAudience))
    );
    assert_eq!(
        jwt::verify(&keys, &token, t0(), "https://evil.example", AUD),
        Err(TokenError::Invalid(InvalidToken::WrongIssuer))
    );
}

#[test]
fn a_token_from_a_key_outside_the_ring_is_refused() {
    let ours = ring(&[("k", SEED_NEW)]);
    // Another key under an unknown kid, and another key reusing our kid.
    let theirs = ring(&[("x", [0x33; 32])]);
    let token = jwt::issue(&theirs, &claims(t0())).unwrap();
    assert_eq!(verify_at(&ours, &token, t0()), Err(TokenError::Invalid(InvalidToken::UnknownKey)));
    let impostor = ring(&[("k", [0x33; 32])]);
    let token = jwt::issue(&impostor, &claims(t0())).unwrap();
    assert_eq!(verify_at(&ours, &token, t0()), Err(TokenError::Invalid(InvalidToken::BadSignature)));
}

#[test]
fn rotation_keeps_old_tokens_valid_and_signs_with_the_first_key() {
    let before = ring(&[("2025-01", SEED_OLD)]);
    let old_token = jwt::issue(&before, &claims(t0())).unwrap();

    let after = ring(&[("2025-06", SEED_NEW), ("2025-01", SEED_OLD)]);
    assert_eq!(verify_at(&after, &old_token, t0()), Ok(claims(t0())));
    let new_token = jwt::issue(&after, &claims(t0())).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&unb64(new_token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"], "2025-06");
    assert!(verify_at(&after, &new_token, t0()).is_ok());
    // Once the old key is dropped, its tokens stop working.
    let later = ring(&[("2025-06", SEED_NEW)]);
    assert_eq!(verify_at(&later, &old_token, t0()), Err(TokenError::Invalid(InvalidToken::UnknownKey)));
}

#[test]
fn other_token_types_and_garbage_are_refused() {
    let keys = ring(&[("k", SEED_NEW)]);
    for garbage in ["", "a.b", "a.b.c", "not a token at all", "....."] {
        assert_eq!(verify_at(&keys, garbage, t0()), Err(TokenError::Invalid(InvalidToken::Malformed)), "{garbage}");
    }
    // Same key, same claims, but typ "JWT": an ID token or other JWT must not pass as an access token.
    let token = jwt::issue(&keys, &claims(t0())).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header = b64(br#"{"alg":"EdDSA","kid":"k","typ":"JWT"}"#);
    let retyped = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(verify_at(&keys, &retyped, t0()), Err(TokenError::Invalid(InvalidToken::WrongType)));
    // alg "none" with the right typ and kid.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","kid":"k","typ":"at+jwt"}"#), parts[1]);
    assert!(matches!(verify_at(&keys, &none, t0()), Err(TokenError::Invalid(_))));
}

#[test]
fn a_token_issued_in_the_future_is_refused() {
    let keys = ring(&[("k", SEED_NEW)]);
    let token = jwt::issue(&keys, &claims(t0() + Duration::minutes(5))).unwrap();
    assert_eq!(verify_at(&keys, &token, t0()), Err(TokenError::Invalid(InvalidToken::IssuedInFuture)));
    assert!(verify_at(&keys, &token, t0() + Duration::minutes(4)).is_ok());
}

// ---------------------------------------------------------------- refresh tokens

const SESSION: &str = "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

#[test]
fn a_refresh_token_round_trips_and_hashes_its_secret() {
    let token = RefreshToken::new(Uuid::parse_str(SESSION).unwrap(), [0xab; 32]);
    let text = token.to_string();
    assert_eq!(text.len(), 36 + 1 + 43);
    assert!(text.starts_with(&format!("{SESSION}.")));
    let parsed = RefreshToken::parse(&text).unwrap();
    assert_eq!(parsed, token);
    assert_eq!(parsed.session_id().to_string(), SESSION);
    assert_eq!(parsed.secret_hash(), sha256_hex(&[0xab; 32]));
    assert_ne!(parsed.secret_hash(), RefreshToken::new(parsed.session_id(), [0xac; 32]).secret_hash());
    assert!(!format!("{token:?}").contains(&text[37..]));
}

#[test]
fn refresh_token_parse_errors_are_clear() {
    let good = RefreshToken::new(Uuid::parse_str(SESSION).unwrap(), [7; 32]).to_string();
    let (session, secret) = good.split_once('.').unwrap();
    let cases = [
        (String::new(), RefreshTokenError::Malformed),
        ("garbage".to_string(), RefreshTokenError::Malformed),
        (format!("{session}{secret}x"), RefreshTokenError::Malformed),
        (format!("{session}.{}.", &secret[..42]), RefreshTokenError::Malformed),
        (format!("{good}{good}"), RefreshTokenError::Malformed),
        (format!("{}.{secret}", session.to_uppercase()), RefreshTokenError::BadSessionId),
        (format!("{}.{secret}", session.replace('-', "x")), RefreshTokenError::BadSessionId),
        (format!("{session}.{}!", &secret[..42]), RefreshTokenError::BadSecret),
        (format!("{}.{secret}A", &session[..35]), RefreshTokenError::Malformed),
    ];
    for (text, expected) in cases {
        assert_eq!(RefreshToken::parse(&text), Err(expected), "{text:?}");
    }
    // The last character carries 2 unused bits; setting one gives a second text for the same
    // bytes, which would also hash differently from the token we issued.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = ALPHABET.iter().position(|c| *c == secret.as_bytes()[42]).unwrap();
    let bent = format!("{session}.{}{}", &secret[..42], char::from(ALPHABET[last ^ 1]));
    assert_eq!(RefreshToken::parse(&bent), Err(RefreshTokenError::BadSecret));
}

#[test]
fn secret_helpers() {
    // SHA-256("abc"), FIPS 180-2.
    assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert!(constant_time_eq(b"same secret", b"same secret"));
    assert!(!constant_time_eq(b"same secret", b"same secreT"));
    assert!(!constant_time_eq(b"short", b"longer"));
}

// ---------------------------------------------------------------- TOTP

fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(*b"12345678901234567890")
}

#[test]
fn totp_matches_the_rfc_6238_sha1_vectors() {
    // RFC 6238 appendix B gives 8 digits; 6-digit codes are their last 6 digits.
    let vectors = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    for (time, eight) in vectors {
        assert_eq!(totp::code_at_step(&rfc_secret(), totp::step_at(time)), eight[2..], "t={time}");
        assert_eq!(totp::verify(&rfc_secret(), &eight[2..], time, None), Some(time / 30), "t={time}");
    }
}

#[test]
fn totp_accepts_one_step_either_side() {
    let secret = rfc_secret();
    let now = 1_234_567_890;
    let step = totp::step_at(now);
    for offset in [-1, 0, 1] {
        let code = totp::code_at_step(&secret, step + offset);
        assert_eq!(totp::verify(&secret, &code, now, None), Some(step + offset), "offset {offset}");
    }
    for offset in [-2, 2] {
        let code = totp::code_at_step(&secret, step + offset);
        assert_eq!(totp::verify(&secret, &code, now, None), None, "offset {offset}");
    }
    assert_eq!(totp::verify(&secret, "12345", now, None), None);
    assert_eq!(totp::verify(&secret, "1234567", now, None), None);
    assert_eq!(totp::verify(&secret, "abcdef", now, None), None);
}

#[test]
fn a_totp_code_works_once() {
    let secret = rfc_secret();
    let now = 1_234_567_890;
    let code = totp::code_at_step(&secret, totp::step_at(now));
    let used = totp::verify(&secret, &code, now, None).unwrap();
    // The same code again, even a few seconds later inside the window: refused.
    assert_eq!(totp::verify(&secret, &code, now + 5, Some(used)), None);
    // An older code (previous step) after a newer one was used: refused too.
    let previous = totp::code_at_step(&secret, used - 1);
    assert_eq!(totp::verify(&secret, &previous, now, Some(used)), None);
    // The next step's code is fresh.
    let next = totp::code_at_step(&secret, used + 1);
    assert_eq!(totp::verify(&secret, &next, now + 30, Some(used)), Some(used + 1));
}

#[test]
fn totp_secrets_travel_as_base32() {
    let secret = rfc_secret();
    // RFC 4648 test vector style: "12345678901234567890" in base32.
    assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_eq!(TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(), secret);
    assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQ").is_err());
    assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1").is_err());
    assert_eq!(totp::base32_encode(b"foobar"), "MZXW6YTBOI");
    assert_eq!(totp::base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
    assert_eq!(totp::base32_decode("MZXW6YTBOJ"), None);
    assert!(!format!("{secret:?}").contains("GEZD"));
    let uri = totp::otpauth_uri("Vector Agency", "emily@northern-light.example", &secret);
    assert_eq!(
        uri,
        "otpauth://totp/Vector%20Agency:emily%40northern-light.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
         &issuer=Vector%20Agency&algorithm=SHA1&digits=6&period=30"
    );
}
