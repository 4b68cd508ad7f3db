//! The signed-in user's own routes: sessions, password, MFA enrolment; and the first-admin bootstrap
//! and security settings of the governance side.

use super::auth::session_reply;
use crate::app::auth::{account, bootstrap, mfa};
use crate::app::governance::security_settings;
use crate::app::Ports;
use crate::domain::settings::SecuritySettings;
use crate::http::input::{json_body, optional_json_body, path_uuid};
use crate::http::{reply, ApiError, Ctx, Req, Resp};
use serde_json::json;


pub async fn me<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    reply::ok(&crate::app::portal::me::me(cx.ports, cx.bearer()?, cx.now).await?)
}

pub async fn my_sessions<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let items = account::my_sessions(cx.ports, cx.bearer()?, cx.now).await?;
    reply::ok(&json!({"items": items, "next_cursor": null}))
}

pub async fn revoke_my_session<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    account::revoke_my_session(cx.ports, b, &cx.client, cx.now, id).await?;
    Ok(reply::no_content())
}

pub async fn change_password<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = json_body(req)?;
    session_reply(account::change_password(cx.ports, cx.config, b, &cx.client, cx.now, input).await?)
}

pub async fn start_totp<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = optional_json_body(req)?;
    reply::ok(&mfa::start(cx.ports, b, cx.now, &cx.config.token_issuer_label(), input).await?)
}

pub async fn confirm_totp<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = json_body(req)?;
    reply::ok(&mfa::confirm(cx.ports, cx.config, b, &cx.client, cx.now, input).await?)
}

pub async fn bootstrap<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let input = json_body(req)?;
    reply::created(&bootstrap::bootstrap(cx.ports, cx.config, &cx.client, cx.now, input).await?)
}

pub async fn get_security<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    reply::ok(&security_settings::get(cx.ports, cx.bearer()?, cx.now).await?)
}

pub async fn put_security<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let next: SecuritySettings = json_body(req)?;
    reply::ok(&security_settings::put(cx.ports, b, &cx.client, cx.now, next).await?)
}
