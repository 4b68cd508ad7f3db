//! Directory routes: CRM upserts (companies, contacts, pipelines) and lists, portal users (list,
//! block, MFA reset), employees, and branding.

use crate::app::kit::page::ListQuery;
use crate::app::governance::crm::{self, Upserted};
use crate::app::governance::{branding, users_admin};
use crate::app::Ports;
use crate::http::input::{json_body, path_uuid, Query};
use crate::http::{reply, ApiError, Ctx, Req, Resp};
use serde::Serialize;



fn upserted<T: Serialize>(u: Upserted<T>) -> Result<Resp, ApiError> {
    if u.created {
        reply::created(&u.view)
    } else {
        reply::ok(&u.view)
    }
}

/// `?q=`, `?cursor=`, `?limit=` and the list's one enum filter.
fn list_query(req: &Req, filter: &str) -> Result<ListQuery, ApiError> {
    let q = Query::of(req);
    Ok(ListQuery {
        q: q.get("q").map(str::to_owned),
        filter: q.get(filter).map(str::to_owned),
        cursor: q.get("cursor").map(str::to_owned),
        limit: q.limit()?,
    })
}

pub async fn upsert_company<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let who = cx.caller()?;
    let id = path_uuid(cx.param("id"))?;
    let input = json_body(req)?;
    upserted(crm::upsert_company(cx.ports, who, &cx.client, cx.now, id, input).await?)
}

pub async fn upsert_contact<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let who = cx.caller()?;
    let id = path_uuid(cx.param("id"))?;
    let input = json_body(req)?;
    upserted(crm::upsert_contact(cx.ports, who, &cx.client, cx.now, id, input).await?)
}

pub async fn upsert_pipeline<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let who = cx.caller()?;
    let id = path_uuid(cx.param("id"))?;
    let input = json_body(req)?;
    upserted(crm::upsert_pipeline(cx.ports, who, &cx.client, cx.now, id, input).await?)
}

pub async fn list_companies<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&crm::list_companies(cx.ports, b, cx.now, list_query(req, "status")?).await?)
}

pub async fn list_contacts<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&crm::list_contacts(cx.ports, b, cx.now, list_query(req, "state")?).await?)
}

pub async fn list_pipelines<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&crm::list_pipelines(cx.ports, b, cx.now, list_query(req, "archived")?).await?)
}

pub async fn list_users<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&users_admin::list_users(cx.ports, b, cx.now, list_query(req, "kind")?).await?)
}

pub async fn get_user<P: Ports>(cx: &Ctx<'_, P>) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&users_admin::get_user(cx.ports, b, cx.now, path_uuid(cx.param("id"))?).await?)
}

pub async fn patch_user<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    let input = json_body(req)?;
    reply::ok(&users_admin::set_status(cx.ports, b, &cx.client, cx.now, id, input).await?)
}

pub async fn reset_user_mfa<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    reply::ok(&users_admin::reset_mfa(cx.ports, b, &cx.client, cx.now, id).await?)
}

pub async fn upsert_employee<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let id = path_uuid(cx.param("id"))?;
    let input = json_body(req)?;
    let origin = cx.config.portal_url.clone().unwrap_or_else(|| request_origin(req));
    let email_on = crate::app::delivery::email::availability(cx.ports, cx.config).is_ok();
    let done = users_admin::upsert_employee(cx.ports, b, &cx.client, cx.now, &origin, id, input, email_on).await?;
    if done.created {
        reply::created(&done.view)
    } else {
        reply::ok(&done.view)
    }
}

pub async fn get_branding<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    reply::ok(&branding::get(cx.ports, cx.bearer()?, cx.now).await?)
}

pub async fn put_branding<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let input = json_body(req)?;
    reply::ok(&branding::put(cx.ports, b, &cx.client, cx.now, input).await?)
}

/// Public: the login page reads it before anyone signs in. A minute of HTTP caching spares the
/// database on busy login pages; a change shows within that minute.
pub async fn public_branding<P: Ports>(cx: &Ctx<'_, P>) -> Result<Resp, ApiError> {
    let mut resp = reply::ok(&branding::public(cx.ports).await?)?;
    resp.headers_mut().insert("cache-control", http::HeaderValue::from_static("public, max-age=60"));
    Ok(resp)
}

/// `scheme://host` of the request, for activation links when PORTAL_URL is not set.
fn request_origin(req: &Req) -> String {
    let uri = req.uri();
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
        _ => {
            let host = req.headers().get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost");
            format!("https://{host}")
        }
    }
}
