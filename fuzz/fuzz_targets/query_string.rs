//! Query strings of list routes (`?limit=&cursor=&company=...`): nothing panics, and a refused
//! value is a client error.
#![no_main]

use extranet::app::audit_query::decode_cursor;
use extranet::http::input::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let Ok(req) = http::Request::builder().uri(format!("https://portal.test/api/requests?{query}")).body(Vec::new()) else { return };
    let q = Query::of(&req);
    if let Err(err) = q.limit() {
        assert!(err.status().is_client_error());
    }
    if let Err(err) = q.uuid("company") {
        assert!(err.status().is_client_error());
    }
    if let Some(cursor) = q.get("cursor") {
        if let Err(err) = decode_cursor(cursor) {
            assert!(err.status().is_client_error());
        }
    }
});
