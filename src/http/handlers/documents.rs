//! Documents: the client's list, detail, download and actions, and the team's upload, list,
//! detail, download, publish, signature request and withdrawal.

use crate::app::kit::documents::{DocStatus, ListPage};
use crate::app::portal::documents::{self, ActionInput};
use crate::app::kit::files::parse_multipart;
use crate::app::governance::team_documents::{self, Change, PublishInput, TeamFilter, UploadInput, UploadRequest};
use crate::app::Ports;
use crate::http::input::{json_body, optional_json_body, path_uuid, retrieval, Query};
use crate::http::{reply, ApiError, Ctx, Req, Resp};


fn paging(q: &Query) -> Result<ListPage, ApiError> {
    Ok(ListPage { limit: q.limit()?, cursor: q.get("cursor").map(str::to_owned) })
}


pub async fn list_documents<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    reply::ok(&documents::list(cx.ports, b, cx.now, q.uuid("company")?, &paging(&q)?).await?)
}

pub async fn get_document<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&documents::get(cx.ports, b, cx.now, &id).await?)
}

pub async fn document_file<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::download(documents::file(cx.ports, b, &cx.client, cx.now, &id, retrieval(req)).await?)
}

pub async fn act_on_document<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    let input: ActionInput = json_body(req)?;
    reply::ok(&documents::act(cx.ports, b, &cx.client, cx.now, &id, input).await?)
}

pub async fn upload_document<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let input = if content_type.trim_start().to_ascii_lowercase().starts_with("multipart/form-data") {
        UploadRequest::from_parts(&parse_multipart(content_type, req.body())?)?
    } else {
        UploadRequest::from(json_body::<UploadInput>(req)?)
    };
    reply::created(&team_documents::upload(cx.ports, b, &cx.client, cx.now, input).await?)
}

pub async fn list_team_documents<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let status = match q.get("status") {
        None => None,
        Some("draft") => Some(DocStatus::Draft),
        Some("published") => Some(DocStatus::Published),
        Some("withdrawn") => Some(DocStatus::Withdrawn),
        Some(_) => return Err(ApiError::invalid("status", "status is one of draft, published, withdrawn")),
    };
    let filter = TeamFilter { company: q.uuid("company")?, status, paging: paging(&q)? };
    reply::ok(&team_documents::list(cx.ports, b, cx.now, &filter).await?)
}

pub async fn get_team_document<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&team_documents::get(cx.ports, b, cx.now, &id).await?)
}

pub async fn team_document_file<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::download(team_documents::file(cx.ports, b, &cx.client, cx.now, &id, retrieval(req)).await?)
}

pub async fn publish_document<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    let input: PublishInput = optional_json_body(req)?;
    let change = Change::Publish(input.required_action.unwrap_or_default());
    reply::ok(&team_documents::change(cx.ports, b, &cx.client, cx.now, &id, change).await?)
}

pub async fn request_signature<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&team_documents::change(cx.ports, b, &cx.client, cx.now, &id, Change::RequestSignature).await?)
}

pub async fn withdraw_document<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&team_documents::change(cx.ports, b, &cx.client, cx.now, &id, Change::Withdraw).await?)
}
