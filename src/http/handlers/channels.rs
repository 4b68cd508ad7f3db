//! Channels: the client's channel links (list, Telegram deep link, widget connection, rotation,
//! revocation) and the two webhooks, which authenticate themselves (secret header, signature).

use crate::app::kit::page::{ListOptions, decode_time_cursor};
use crate::app::portal::channels::{self, ChannelInput};
use crate::app::delivery::notify;
use crate::app::delivery::webhooks::{self, SignedRequest};
use crate::app::Ports;
use crate::channels::{telegram, widget};
use crate::http::input::{json_body, path_uuid, Query};
use crate::http::{reply, ApiError, Ctx, Req, Resp};
use http::StatusCode;


fn header<'r>(req: &'r Req, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub async fn list_channels<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let list = ListOptions { limit: q.limit()?, cursor: q.get("cursor").map(decode_time_cursor).transpose()? };
    reply::ok(&channels::list(cx.ports, b, cx.now, &list).await?)
}

pub async fn create_telegram_link<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input: ChannelInput = json_body(req)?;
    reply::ok(&channels::telegram_link(cx.ports, cx.config, b, cx.now, input).await?)
}

pub async fn create_widget<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input: ChannelInput = json_body(req)?;
    reply::created(&channels::create_widget(cx.ports, b, &cx.client, cx.now, input).await?)
}

pub async fn rotate_widget<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&channels::rotate(cx.ports, b, &cx.client, cx.now, id).await?)
}

pub async fn revoke_channel<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    channels::revoke(cx.ports, b, &cx.client, cx.now, id).await?;
    Ok(reply::no_content())
}

/// Always 200 once the secret header matched: Telegram retries anything else.
pub async fn telegram_webhook<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let secret = header(req, telegram::SECRET_HEADER);
    webhooks::telegram(cx.ports, cx.config, &cx.client, cx.now, secret, req.body()).await?;
    reply::json(StatusCode::OK, &serde_json::json!({"ok": true}))
}

pub async fn widget_webhook<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let signed = SignedRequest {
        connection: cx.param("id"),
        timestamp: header(req, widget::TIMESTAMP_HEADER),
        signature: header(req, widget::SIGNATURE_HEADER),
        body: req.body(),
    };
    reply::ok(&webhooks::widget(cx.ports, cx.now, signed).await?)
}

pub async fn deliver_notifications<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&notify::deliver_now(cx.ports, cx.config, b, cx.now).await?)
}
