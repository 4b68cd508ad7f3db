//! The JSON body parser (`http::input::parse_json`) into the request types of the public and the
//! most used routes: nothing panics, and a refusal is a client error whose body serializes.
#![no_main]

use extranet::app::activation::ActivateInput;
use extranet::app::links::LinkInput;
use extranet::app::login::LoginInput;
use extranet::app::refresh::RefreshInput;
use extranet::app::requests::NewRequestInput;
use extranet::channels::widget::EventInput;
use extranet::http::input::parse_json;
use extranet::http::ApiError;
use libfuzzer_sys::fuzz_target;

fn check<T: serde::de::DeserializeOwned>(bytes: &[u8]) {
    if let Err(err) = parse_json::<T>(bytes) {
        refused(&err);
    }
}

fn refused(err: &ApiError) {
    assert!(err.status().is_client_error(), "a bad body is the client's error: {err:?}");
    assert!(serde_json::to_vec(&err.body()).is_ok());
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 6 {
        0 => check::<LoginInput>(body),
        1 => check::<RefreshInput>(body),
        2 => check::<ActivateInput>(body),
        3 => check::<LinkInput>(body),
        4 => check::<NewRequestInput>(body),
        _ => match parse_json::<EventInput>(body) {
            Ok(event) => {
                let _ = extranet::channels::widget::validate(event);
            }
            Err(err) => refused(&err),
        },
    }
});
