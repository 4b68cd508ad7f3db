//! Refresh token parsing (cookie or JSON body of /api/auth/refresh and logout): nothing panics,
//! and an accepted token has exactly one text, so one token has one hash at rest.
#![no_main]

use extranet::auth::refresh::RefreshToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(token) = RefreshToken::parse(text) {
        assert_eq!(token.to_string(), text, "only the canonical text is accepted");
        assert_eq!(RefreshToken::parse(&token.to_string()).as_ref(), Ok(&token));
        assert_eq!(token.secret_hash().len(), 64);
    }
});
