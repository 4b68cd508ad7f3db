//! Client links and invitations (governance): the wizard's preview and confirm, the link list,
//! detail and changes, and issuing, listing and revoking invitations.

use crate::app::kit::error::Conflict;
use crate::app::kit::page::{decode_id_cursor};
use crate::app::governance::links::invitations::{self, Status};
use crate::app::governance::links::{self, Confirmed, LinkInput, PatchInput};
use crate::app::delivery::email;
use crate::app::Ports;
use crate::access::facts::LinkStatus;
use crate::http::input::{json_body, optional_json_body, path_uuid, Query};
use crate::http::{reply, ApiError, Ctx, Req, Resp};
use http::StatusCode;
use serde_json::json;


fn cursor(q: &Query) -> Result<Option<uuid::Uuid>, ApiError> {
    q.get("cursor").map(decode_id_cursor).transpose()
}

pub async fn list_links<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let status = match q.get("status") {
        None => None,
        Some("active") => Some(LinkStatus::Active),
        Some("disabled") => Some(LinkStatus::Disabled),
        Some("revoked") => Some(LinkStatus::Revoked),
        Some(_) => return Err(ApiError::invalid("status", "status is one of active, disabled, revoked")),
    };
    let review_due = match q.get("review_due") {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => return Err(ApiError::invalid("review_due", "review_due is true or false")),
    };
    let filter = links::ListFilter {
        q: q.get("q").map(str::to_owned),
        status,
        company: q.uuid("company")?,
        review_due,
        responsible: q.uuid("responsible")?,
        limit: q.limit()?,
        after: cursor(&q)?,
    };
    reply::ok(&links::list(cx.ports, b, cx.now, &filter).await?)
}

pub async fn preview_link<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let wizard = json_body::<LinkInput>(req)?.parse()?;
    reply::ok(&links::preview(cx.ports, b, cx.now, &wizard).await?)
}

pub async fn create_link<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let wizard = json_body::<LinkInput>(req)?.parse()?;
    match links::confirm(cx.ports, b, &cx.client, cx.now, &wizard).await? {
        Confirmed::Created(link) => reply::created(&link),
        Confirmed::Refused(problems) => {
            // The error table's shape, plus the problems the review step would have shown.
            let codes: Vec<&str> = problems.iter().map(|p| p.code).collect();
            let err = ApiError::conflict_because(Conflict::LinkProblems, format!("The link cannot be saved: {}.", codes.join(", ")));
            let mut body = err.body();
            body["error"]["problems"] = json!(problems);
            reply::json(StatusCode::CONFLICT, &body)
        }
    }
}

pub async fn get_link<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&links::get(cx.ports, b, cx.now, &id).await?)
}

pub async fn patch_link<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    let input: PatchInput = json_body(req)?;
    reply::ok(&links::patch(cx.ports, b, &cx.client, cx.now, &id, &input).await?)
}

/// PORTAL_URL, or the origin the request came to (scheme and host).
fn public_origin<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> String {
    if let Some(url) = &cx.config.portal_url {
        return url.trim_end_matches('/').to_owned();
    }
    let scheme = req.uri().scheme_str().unwrap_or("https");
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| req.headers().get("host").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .unwrap_or_default();
    format!("{scheme}://{host}")
}

pub async fn issue_invitation<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    let origin = public_origin(cx, req);
    let input: invitations::IssueInput = optional_json_body(req)?;
    let email = match (input.send_email.unwrap_or(true), email::availability(cx.ports, cx.config).is_ok()) {
        (false, _) => invitations::EmailChoice::NotRequested,
        (true, false) => invitations::EmailChoice::Off,
        (true, true) => invitations::EmailChoice::Send,
    };
    reply::created(&invitations::issue(cx.ports, b, &cx.client, cx.now, &id, &origin, email).await?)
}

pub async fn list_invitations<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let status = q
        .get("status")
        .map(|s| Status::parse(s).ok_or_else(|| ApiError::invalid("status", "status is one of pending, used, revoked, expired")))
        .transpose()?;
    let filter = invitations::ListFilter { link: q.uuid("link")?, status, limit: q.limit()?, after: cursor(&q)? };
    reply::ok(&invitations::list(cx.ports, b, cx.now, &filter).await?)
}

pub async fn revoke_invitation<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&invitations::revoke(cx.ports, b, &cx.client, cx.now, &id).await?)
}
