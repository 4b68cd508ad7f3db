//! Requests, chats, calls and request attachments: the client's routes and the team's.

use crate::app::kit::messages::{MessageInput, ThreadOrder};
use crate::app::kit::page::{ListOptions, decode_time_cursor};
use crate::app::portal::attachments::{self, UploadInput};
use crate::app::portal::calls::{self, NewCallInput};
use crate::app::portal::chat::{self};
use crate::app::portal::requests::{self, NewRequestInput, RequestFilter};
use crate::app::governance::team_requests::{self, StatusInput, TeamFilter};
use crate::app::Ports;
use crate::http::input::{json_body, path_uuid, retrieval, Query};
use crate::http::{reply, ApiError, Ctx, Req, Resp};



fn list_options(q: &Query) -> Result<ListOptions, ApiError> {
    Ok(ListOptions { limit: q.limit()?, cursor: q.get("cursor").map(decode_time_cursor).transpose()? })
}

fn open_filter(q: &Query) -> Result<Option<bool>, ApiError> {
    bool_filter(q, "open")
}

/// `?name=true|false` (or 1/0); absent is no filter.
fn bool_filter(q: &Query, name: &'static str) -> Result<Option<bool>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid(name, format!("{name} is true or false"))),
    }
}

fn status_filter(q: &Query) -> Result<Option<String>, ApiError> {
    match q.get("status") {
        Some(s) if s.chars().count() > 64 => Err(ApiError::invalid("status", "status is a stage id (at most 64 characters)")),
        other => Ok(other.map(str::to_owned)),
    }
}

fn id_param<P: Ports>(cx: &Ctx<'_, P>, name: &str) -> Result<uuid::Uuid, ApiError> {
    path_uuid(cx.param(name))
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

pub async fn list_pipelines<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let company = Query::of(req).uuid("company")?;
    reply::ok(&requests::pipelines(cx.ports, b, cx.now, company).await?)
}

pub async fn list_requests<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let filter = RequestFilter {
        company: q.uuid("company")?,
        pipeline: q.uuid("pipeline")?,
        status: status_filter(&q)?,
        open: open_filter(&q)?,
        list: list_options(&q)?,
    };
    reply::ok(&requests::list(cx.ports, b, cx.now, &filter).await?)
}

pub async fn create_request<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = json_body::<NewRequestInput>(req)?;
    reply::created(&requests::create(cx.ports, b, &cx.client, cx.now, input).await?)
}

pub async fn get_request<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&requests::get(cx.ports, b, cx.now, id_param(cx, "id")?).await?)
}

pub async fn upload_attachment<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = id_param(cx, "id")?;
    let upload = json_body::<UploadInput>(req)?.parse()?;
    reply::created(&attachments::upload(cx.ports, b, &cx.client, cx.now, id, upload).await?)
}

pub async fn list_attachments<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let list = list_options(&Query::of(req))?;
    reply::ok(&attachments::list(cx.ports, b, cx.now, id_param(cx, "id")?, &list).await?)
}

pub async fn download_attachment<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::download(attachments::download(cx.ports, b, &cx.client, cx.now, id_param(cx, "id")?, id_param(cx, "aid")?, retrieval(req)).await?)
}

pub async fn list_request_messages<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    reply::ok(&chat::list_thread(cx.ports, b, cx.now, id_param(cx, "id")?, &list_options(&q)?, ThreadOrder::parse(q.get("order"))?).await?)
}

pub async fn post_request_message<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = id_param(cx, "id")?;
    let input = json_body::<MessageInput>(req)?;
    reply::created(&chat::post_to_thread(cx.ports, b, &cx.client, cx.now, id, input).await?)
}

pub async fn list_chat_messages<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    reply::ok(&chat::list_general(cx.ports, b, cx.now, q.uuid("company")?, &list_options(&q)?, ThreadOrder::parse(q.get("order"))?).await?)
}

pub async fn post_chat_message<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let company = Query::of(req).uuid("company")?;
    let input = json_body::<MessageInput>(req)?;
    reply::created(&chat::post_general(cx.ports, b, &cx.client, cx.now, company, input).await?)
}

pub async fn create_call<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = json_body::<NewCallInput>(req)?;
    reply::created(&calls::create(cx.ports, b, cx.now, &cx.config.calls_url_template, input).await?)
}

pub async fn list_calls<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    reply::ok(&calls::list(cx.ports, b, cx.now, q.uuid("company")?, &list_options(&q)?).await?)
}

// ---------------------------------------------------------------------------------------------
// The team
// ---------------------------------------------------------------------------------------------

pub async fn team_list_requests<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let filter = TeamFilter {
        company: q.uuid("company")?,
        pipeline: q.uuid("pipeline")?,
        status: status_filter(&q)?,
        open: open_filter(&q)?,
        waiting: bool_filter(&q, "waiting")?,
        list: list_options(&q)?,
    };
    reply::ok(&team_requests::list(cx.ports, b, cx.now, &filter).await?)
}

pub async fn team_get_request<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&team_requests::get(cx.ports, b, cx.now, id_param(cx, "id")?).await?)
}

pub async fn team_patch_request<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = id_param(cx, "id")?;
    let input = json_body::<StatusInput>(req)?;
    reply::ok(&team_requests::set_status(cx.ports, b, &cx.client, cx.now, id, input).await?)
}

pub async fn team_list_request_messages<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    reply::ok(&team_requests::list_thread(cx.ports, b, cx.now, id_param(cx, "id")?, &list_options(&q)?, ThreadOrder::parse(q.get("order"))?).await?)
}

pub async fn team_post_request_message<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = id_param(cx, "id")?;
    let input = json_body::<MessageInput>(req)?;
    reply::created(&team_requests::post_to_thread(cx.ports, b, cx.now, id, input).await?)
}

pub async fn team_upload_attachment<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = id_param(cx, "id")?;
    let upload = json_body::<UploadInput>(req)?.parse()?;
    reply::created(&attachments::team_upload(cx.ports, b, &cx.client, cx.now, id, upload).await?)
}

pub async fn team_list_attachments<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let list = list_options(&Query::of(req))?;
    reply::ok(&attachments::team_list(cx.ports, b, cx.now, id_param(cx, "id")?, &list).await?)
}

pub async fn team_download_attachment<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::download(attachments::team_download(cx.ports, b, &cx.client, cx.now, id_param(cx, "id")?, id_param(cx, "aid")?, retrieval(req)).await?)
}

/// The team's chat routes need `?company=` (or `company_id` in a POST body).
fn required_company(q: &Query, body: Option<&MessageInput>) -> Result<uuid::Uuid, ApiError> {
    q.uuid("company")?.or(body.and_then(|b| b.company_id)).ok_or_else(|| ApiError::invalid("company", "company is required"))
}

pub async fn team_list_chat_messages<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let company = required_company(&q, None)?;
    reply::ok(&team_requests::list_general(cx.ports, b, cx.now, company, &list_options(&q)?, ThreadOrder::parse(q.get("order"))?).await?)
}

pub async fn team_post_chat_message<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = json_body::<MessageInput>(req)?;
    let company = required_company(&Query::of(req), Some(&input))?;
    reply::created(&team_requests::post_general(cx.ports, b, cx.now, company, input).await?)
}

pub async fn team_create_call<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = json_body::<NewCallInput>(req)?;
    reply::created(&calls::team_create(cx.ports, b, cx.now, &cx.config.calls_url_template, input).await?)
}

pub async fn team_list_calls<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    reply::ok(&calls::team_list(cx.ports, b, cx.now, q.uuid("company")?, &list_options(&q)?).await?)
}
