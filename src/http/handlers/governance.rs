//! Governance handlers for policies, diagnostics, what a link sees, offboarding, a user's
//! sessions and lockout, the audit trail and channel links.

use crate::app::governance::audit_query::{self, AuditFilter};
use crate::app::governance::channel_admin::{self, ChannelFilter};
use crate::app::governance::diagnostics::{self, DiagnosticsQuery};
use crate::app::governance::{admin_sessions, offboarding, policies};
use crate::app::Ports;
use crate::domain::policy::CompanyPolicy;
use crate::http::input::{json_body, path_uuid, Query};
use crate::http::{reply, ApiError, Ctx, Req, Resp};


fn id<P: Ports>(cx: &Ctx<'_, P>) -> Result<uuid::Uuid, ApiError> {
    path_uuid(cx.param("id"))
}

pub async fn get_company_policy<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&policies::get_company(cx.ports, b, cx.now, id(cx)?).await?)
}

pub async fn put_company_policy<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let company = id(cx)?;
    let input: CompanyPolicy = json_body(req)?;
    reply::ok(&policies::put_company(cx.ports, b, &cx.client, cx.now, company, input).await?)
}

pub async fn get_contact_policy<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&policies::get_contact(cx.ports, b, cx.now, id(cx)?).await?)
}

pub async fn put_contact_policy<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let contact = id(cx)?;
    let input = policies::parse_contact_policy(&json_body(req)?)?;
    reply::ok(&policies::put_contact(cx.ports, b, &cx.client, cx.now, contact, input).await?)
}

pub async fn link_policy<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&crate::app::governance::link_policy::link_policy(cx.ports, b, cx.now, id(cx)?).await?)
}

pub async fn link_diagnostics<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let link = id(cx)?;
    let q = Query::of(req);
    let query = DiagnosticsQuery::parse(q.get("object"), q.get("action"), q.uuid("company")?)?;
    reply::ok(&diagnostics::diagnose(cx.ports, b, cx.now, link, query).await?)
}

pub async fn link_visible<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let link = id(cx)?;
    let company = Query::of(req).uuid("company")?;
    reply::ok(&diagnostics::visible(cx.ports, b, cx.now, link, company).await?)
}

pub async fn offboard_link<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let link = id(cx)?;
    let input = json_body(req)?;
    reply::ok(&offboarding::offboard(cx.ports, b, &cx.client, cx.now, link, input).await?)
}

pub async fn user_sessions<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let user = id(cx)?;
    let q = Query::of(req);
    let status = q
        .get("status")
        .map(|s| admin_sessions::SessionStatus::parse(s).ok_or_else(|| ApiError::invalid("status", "status must be live, revoked or expired")))
        .transpose()?;
    reply::ok(&admin_sessions::list(cx.ports, b, cx.now, user, status, q.limit()?, q.get("cursor")).await?)
}

pub async fn revoke_user_sessions<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let only = if req.body().is_empty() { None } else { json_body::<admin_sessions::RevokeSessionsInput>(req)?.session_id };
    reply::ok(&admin_sessions::revoke_all(cx.ports, b, &cx.client, cx.now, id(cx)?, only).await?)
}

pub async fn unlock_user<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&admin_sessions::unlock(cx.ports, b, &cx.client, cx.now, id(cx)?).await?)
}

pub async fn audit<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let filter = AuditFilter {
        actor: q.get("actor").map(str::to_owned),
        action: q.get("action").map(str::to_owned),
        target: q.get("target").map(str::to_owned),
        since: AuditFilter::parse_since(q.get("since"))?,
        link: q.uuid("link")?,
        kind: AuditFilter::parse_kind(q.get("kind"))?,
        new_country: match q.get("new_country") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(ApiError::invalid("new_country", "new_country must be true or false.")),
        },
        limit: q.limit()?,
        cursor: q.get("cursor").map(str::to_owned),
    };
    reply::ok(&audit_query::query(cx.ports, b, cx.now, filter).await?)
}

pub async fn channel_links<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    let q = Query::of(req);
    let filter = ChannelFilter::parse(q.get("kind"), q.get("status"), q.uuid("company")?, q.uuid("link")?)?;
    reply::ok(&channel_admin::list(cx.ports, b, cx.now, filter, q.limit()?, q.get("cursor")).await?)
}

pub async fn revoke_channel_link<P: Ports>(cx: &Ctx<'_, P>, _req: &Req) -> Result<Resp, ApiError> {
    let b = cx.bearer()?;
    reply::ok(&channel_admin::revoke(cx.ports, b, &cx.client, cx.now, id(cx)?).await?)
}
