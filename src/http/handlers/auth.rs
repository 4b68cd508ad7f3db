//! Sign-in routes: login, refresh, logout, and invitation preview and activation.

use crate::app::auth::activation::{self, ActivateInput};
use crate::app::auth::login::{self, LoginInput};
use crate::app::auth::refresh::{self, LogoutBy, RefreshInput};
use crate::app::kit::session::{Bearer, Issued, Transport};
use crate::app::Ports;
use crate::http::input::{json_body, optional_json_body};
use crate::http::transport::{bearer, check_same_origin, clear_refresh_cookie, refresh_cookie, set_refresh_cookie};
use crate::http::{reply, ApiError, Ctx, Req, Resp};
use serde::Deserialize;

pub async fn login<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let input: LoginInput = json_body(req)?;
    let issued = login::login(cx.ports, cx.config, &cx.client, cx.now, input).await?;
    session_reply(issued)
}

pub async fn refresh<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let input: RefreshInput = optional_json_body(req)?;
    let (token, transport) = match input.refresh_token.filter(|t| !t.is_empty()) {
        Some(token) => (token, input.refresh_transport.unwrap_or_default()),
        None => {
            // The cookie rides along on any request the browser makes, so only our own pages may use it.
            let token = refresh_cookie(req).ok_or(ApiError::Unauthenticated)?;
            check_same_origin(req)?;
            // Cookie in, cookie out: a script on the page must not lift the HttpOnly token into
            // the body by asking for the body transport.
            (token, Transport::Cookie)
        }
    };
    let issued = refresh::refresh(cx.ports, cx.config, &cx.client, cx.now, &token, transport).await?;
    session_reply(issued)
}

pub async fn logout<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let input: RefreshInput = optional_json_body(req)?;
    let by = if let Some(token) = input.refresh_token.filter(|t| !t.is_empty()) {
        LogoutBy::Refresh(token)
    } else if let Ok(b) = Bearer::from_token(cx.config, bearer(req), cx.now) {
        LogoutBy::Session { session_id: b.claims.sid, user_id: b.claims.sub }
    } else if let Some(token) = refresh_cookie(req) {
        check_same_origin(req)?;
        LogoutBy::Refresh(token)
    } else {
        return Err(ApiError::Unauthenticated);
    };
    // The cookie goes either way: a browser holding a dead session's token should drop it.
    let mut resp = match refresh::logout(cx.ports, &cx.client, cx.now, by).await {
        Ok(()) => reply::no_content(),
        Err(ApiError::Unauthenticated) => reply::error(&ApiError::Unauthenticated),
        Err(other) => return Err(other),
    };
    if let Ok(v) = http::HeaderValue::from_str(&clear_refresh_cookie()) {
        resp.headers_mut().insert("set-cookie", v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct TokenInput {
    token: String,
}

pub async fn preview_invitation<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let input: TokenInput = json_body(req)?;
    reply::ok(&activation::preview(cx.ports, cx.now, &input.token).await?)
}

pub async fn activate_invitation<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let input: ActivateInput = json_body(req)?;
    let issued = activation::activate(cx.ports, cx.config, &cx.client, cx.now, input).await?;
    session_reply(issued)
}

/// The token pair as JSON, and the refresh cookie when the browser transport was chosen.
pub fn session_reply(issued: Issued) -> Result<Resp, ApiError> {
    let mut resp = reply::ok(&issued.body)?;
    if let Some((token, max_age)) = issued.cookie {
        let cookie = http::HeaderValue::from_str(&set_refresh_cookie(&token, max_age)).map_err(|e| ApiError::internal(format!("cookie: {e}")))?;
        resp.headers_mut().insert("set-cookie", cookie);
    }
    Ok(resp)
}
