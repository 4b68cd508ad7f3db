//! Outbox routes: the CRM's event feed and its replay, the outbox status and "deliver now".

use crate::app::delivery::crm_events::{self, Cursor};
use crate::app::delivery::outbox_status;
use crate::app::Ports;
use crate::http::input::{optional_json_body, Query};
use crate::http::{reply, ApiError, Ctx, Req, Resp};

pub async fn crm_events<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let who = cx.caller()?;
    let q = Query::of(req);
    let after = Cursor::parse(q.get("after"))?;
    reply::ok(&crm_events::feed(cx.ports, who, cx.config, cx.now, after, q.limit()?).await?)
}

pub async fn replay_crm_events<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&crm_events::replay(cx.ports, cx.config, b, &cx.client, cx.now, optional_json_body(req)?).await?)
}

pub async fn status<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&outbox_status::status(cx.ports, cx.config, b, cx.now).await?)
}

pub async fn deliver<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&outbox_status::deliver_now(cx.ports, cx.config, b, cx.now).await?)
}
