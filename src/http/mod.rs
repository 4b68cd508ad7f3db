//! The HTTP layer on `http` crate types: one route table, thin handlers, one error table. It runs
//! natively (tests drive it directly) and inside the worker (the edge converts to and from it).


pub mod guard;
pub mod handlers;
pub mod input;
pub mod openapi;
pub mod openapi_bodies;
pub mod reply;
pub mod routes;
pub mod transport;

use crate::app::kit::governor::Caller;
use crate::app::kit::session::Bearer;
use crate::app::Ports;
use crate::config::Config;
use chrono::{DateTime, Utc};
pub use crate::app::kit::error::ApiError;
pub use crate::app::kit::meta::ClientMeta;
use http::{Method, Request, Response};
use routes::{Matched, Route, RouteId};

pub type Req = Request<Vec<u8>>;
pub type Resp = Response<Vec<u8>>;


/// Everything a handler may use: the ports, the validated config, the time of the request, the
/// caller's metadata and the matched path parameters.
pub struct Ctx<'a, P: Ports> {
    pub ports: &'a P,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    pub client: ClientMeta,
    pub route: &'static Route,
    pub params: Vec<(&'static str, String)>,
    /// The caller the route's guard verified (None for public and webhook routes).
    pub caller: Option<Caller>,
}

impl<P: Ports> Ctx<'_, P> {
    /// The verified access token of a guarded route. A handler of a public route that asks for it
    /// answers 401: the guard is the only place a token is verified.
    pub fn bearer(&self) -> Result<&Bearer, ApiError> {
        match &self.caller {
            Some(Caller::Token(bearer)) => Ok(bearer),
            _ => Err(ApiError::Unauthenticated),
        }
    }

    /// The verified caller of a route open to the CRM's credential as well as to tokens.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or(ApiError::Unauthenticated)
    }

    /// A path parameter by name (the route table guarantees it is present).
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
    }
}

/// A body over the route's limit: 413. Except an authenticated Telegram update: Telegram retries
/// any other answer for a day, so it is acknowledged (200), dropped and logged.
pub fn oversized(config: &Config, route: Option<&Route>, telegram_secret: Option<&str>, limit: usize, log: impl Fn(&str)) -> Result<Resp, ApiError> {
    let telegram = route.is_some_and(|r| r.id == RouteId::TelegramWebhook);
    if telegram && crate::channels::secret_matches(config.telegram_webhook_secret.as_ref().map(|s| s.expose()), telegram_secret) {
        log(&serde_json::json!({"level": "warn", "telegram": "update dropped", "reason": "too_large", "limit": limit}).to_string());
        return reply::json(http::StatusCode::OK, &serde_json::json!({"ok": true}));
    }
    Err(ApiError::TooLarge { limit })
}

/// An answer the edge gives before (or instead of) `handle`: a refused header, a missing binding,
/// a runtime failure. The same JSON error and security headers as every API answer; `random`
/// makes its request id (the id the log line beside it carries).
pub fn edge_error(err: &ApiError, random: [u8; 8]) -> Resp {
    let mut resp = reply::error(err);
    reply::secure_headers(resp.headers_mut(), &hex(&random));
    resp
}

/// Serves one request. Never panics and never answers with internals: every failure goes through
/// the error table, and internal ones are logged with the request id.
pub async fn handle<P: Ports>(ports: &P, config: &Config, now: DateTime<Utc>, req: Req) -> Resp {
    let started = Started { ms: ports.elapsed_ms(), queries: ports.db_stats().queries(), db_ms: ports.db_stats().millis(), log_access: false };
    let (client, draw) = client_meta(ports, &req);
    let request_id = client.request_id.clone();
    let started = Started { log_access: config.access_log.samples(draw), ..started };
    let (route, params) = match routes::find(req.method(), req.uri().path()) {
        Matched::Route(route, params) => (route, params),
        Matched::WrongMethod(allow) => return finish(ports, None, &request_id, started, Err(ApiError::MethodNotAllowed { allow }), &req),
        Matched::NotFound => return finish(ports, None, &request_id, started, Err(ApiError::NotFound), &req),
    };
    if req.body().len() > route.body_limit {
        let secret = req.headers().get(crate::channels::telegram::SECRET_HEADER).and_then(|v| v.to_str().ok());
        let answer = oversized(config, Some(route), secret, route.body_limit, |line| ports.log(line));
        return finish(ports, Some(route), &request_id, started, answer, &req);
    }
    let (result, verified) = match guard::verify(route.guard, config, &req, now) {
        Ok(caller) => {
            let verified = caller.is_some();
            let cx = Ctx { ports, config, now, client, route, params, caller };
            (dispatch(&cx, &req).await, verified)
        }
        Err(err) => (Err(err), false),
    };
    let mut resp = finish(ports, Some(route), &request_id, started, result, &req);
    if carries_bookmark(route.id, verified, resp.status()) {
        if let Some(value) = ports.db_bookmark().and_then(|b| http::HeaderValue::from_str(&b).ok()) {
            resp.headers_mut().insert(transport::BOOKMARK_HEADER, value);
        }
    }
    resp
}

/// Whether an answer carries the D1 bookmark: only to a caller who proved who they are, by a
/// token the guard verified (and the use case did not refuse as signed out), or by the sign-in
/// that just opened a session (its next read must see that session). An anonymous caller learns
/// nothing of the database's write position.
pub fn carries_bookmark(route: RouteId, verified: bool, status: http::StatusCode) -> bool {
    if status == http::StatusCode::UNAUTHORIZED {
        return false;
    }
    let opens_session = matches!(route, RouteId::Login | RouteId::Refresh | RouteId::InvitationActivate);
    verified || (opens_session && status.is_success())
}

async fn dispatch<P: Ports>(cx: &Ctx<'_, P>, req: &Req) -> Result<Resp, ApiError> {
    match cx.route.id {
        RouteId::Health => handlers::health::health(cx, req).await,
        RouteId::OpenApi => Ok(handlers::health::openapi()),
        RouteId::Login => handlers::auth::login(cx, req).await,
        RouteId::Refresh => handlers::auth::refresh(cx, req).await,
        RouteId::Logout => handlers::auth::logout(cx, req).await,
        RouteId::InvitationPreview => handlers::auth::preview_invitation(cx, req).await,
        RouteId::InvitationActivate => handlers::auth::activate_invitation(cx, req).await,
        RouteId::Me => handlers::account::me(cx, req).await,
        RouteId::MySessions => handlers::account::my_sessions(cx, req).await,
        RouteId::RevokeMySession => handlers::account::revoke_my_session(cx, req).await,
        RouteId::ChangePassword => handlers::account::change_password(cx, req).await,
        RouteId::StartTotp => handlers::account::start_totp(cx, req).await,
        RouteId::ConfirmTotp => handlers::account::confirm_totp(cx, req).await,
        RouteId::Bootstrap => handlers::account::bootstrap(cx, req).await,
        RouteId::GetSecurity => handlers::account::get_security(cx, req).await,
        RouteId::PutSecurity => handlers::account::put_security(cx, req).await,
        // [directory dispatch]
        RouteId::UpsertCompany => handlers::directory::upsert_company(cx, req).await,
        RouteId::UpsertContact => handlers::directory::upsert_contact(cx, req).await,
        RouteId::UpsertPipeline => handlers::directory::upsert_pipeline(cx, req).await,
        RouteId::ListCompanies => handlers::directory::list_companies(cx, req).await,
        RouteId::ListContacts => handlers::directory::list_contacts(cx, req).await,
        RouteId::ListPipelines => handlers::directory::list_pipelines(cx, req).await,
        RouteId::ListUsers => handlers::directory::list_users(cx, req).await,
        RouteId::GetUser => handlers::directory::get_user(cx).await,
        RouteId::PatchUser => handlers::directory::patch_user(cx, req).await,
        RouteId::ResetUserMfa => handlers::directory::reset_user_mfa(cx, req).await,
        RouteId::UpsertEmployee => handlers::directory::upsert_employee(cx, req).await,
        RouteId::GetBranding => handlers::directory::get_branding(cx, req).await,
        RouteId::PutBranding => handlers::directory::put_branding(cx, req).await,
        RouteId::PublicBranding => handlers::directory::public_branding(cx).await,
        // [links dispatch]
        RouteId::ListLinks => handlers::links::list_links(cx, req).await,
        RouteId::PreviewLink => handlers::links::preview_link(cx, req).await,
        RouteId::CreateLink => handlers::links::create_link(cx, req).await,
        RouteId::GetLink => handlers::links::get_link(cx, req).await,
        RouteId::PatchLink => handlers::links::patch_link(cx, req).await,
        RouteId::IssueInvitation => handlers::links::issue_invitation(cx, req).await,
        RouteId::ListInvitations => handlers::links::list_invitations(cx, req).await,
        RouteId::RevokeInvitation => handlers::links::revoke_invitation(cx, req).await,
        // [policies dispatch]
        RouteId::GetCompanyPolicy => handlers::governance::get_company_policy(cx, req).await,
        RouteId::PutCompanyPolicy => handlers::governance::put_company_policy(cx, req).await,
        RouteId::GetContactPolicy => handlers::governance::get_contact_policy(cx, req).await,
        RouteId::PutContactPolicy => handlers::governance::put_contact_policy(cx, req).await,
        RouteId::GetLinkPolicy => handlers::governance::link_policy(cx, req).await,
        RouteId::LinkDiagnostics => handlers::governance::link_diagnostics(cx, req).await,
        RouteId::LinkVisible => handlers::governance::link_visible(cx, req).await,
        RouteId::OffboardLink => handlers::governance::offboard_link(cx, req).await,
        RouteId::UserSessions => handlers::governance::user_sessions(cx, req).await,
        RouteId::RevokeUserSessions => handlers::governance::revoke_user_sessions(cx, req).await,
        RouteId::UnlockUser => handlers::governance::unlock_user(cx, req).await,
        RouteId::AuditQuery => handlers::governance::audit(cx, req).await,
        RouteId::ChannelLinks => handlers::governance::channel_links(cx, req).await,
        RouteId::RevokeChannelLink => handlers::governance::revoke_channel_link(cx, req).await,
        // [requests dispatch]
        RouteId::ClientPipelines => handlers::requests::list_pipelines(cx, req).await,
        RouteId::ListRequests => handlers::requests::list_requests(cx, req).await,
        RouteId::CreateRequest => handlers::requests::create_request(cx, req).await,
        RouteId::GetRequest => handlers::requests::get_request(cx, req).await,
        RouteId::UploadRequestAttachment => handlers::requests::upload_attachment(cx, req).await,
        RouteId::ListRequestAttachments => handlers::requests::list_attachments(cx, req).await,
        RouteId::DownloadRequestAttachment => handlers::requests::download_attachment(cx, req).await,
        RouteId::ListRequestMessages => handlers::requests::list_request_messages(cx, req).await,
        RouteId::PostRequestMessage => handlers::requests::post_request_message(cx, req).await,
        RouteId::ListChatMessages => handlers::requests::list_chat_messages(cx, req).await,
        RouteId::PostChatMessage => handlers::requests::post_chat_message(cx, req).await,
        RouteId::CreateCall => handlers::requests::create_call(cx, req).await,
        RouteId::ListCalls => handlers::requests::list_calls(cx, req).await,
        RouteId::TeamListRequests => handlers::requests::team_list_requests(cx, req).await,
        RouteId::TeamGetRequest => handlers::requests::team_get_request(cx, req).await,
        RouteId::TeamPatchRequest => handlers::requests::team_patch_request(cx, req).await,
        RouteId::TeamListRequestMessages => handlers::requests::team_list_request_messages(cx, req).await,
        RouteId::TeamPostRequestMessage => handlers::requests::team_post_request_message(cx, req).await,
        RouteId::TeamUploadAttachment => handlers::requests::team_upload_attachment(cx, req).await,
        RouteId::TeamListAttachments => handlers::requests::team_list_attachments(cx, req).await,
        RouteId::TeamDownloadAttachment => handlers::requests::team_download_attachment(cx, req).await,
        RouteId::TeamListChatMessages => handlers::requests::team_list_chat_messages(cx, req).await,
        RouteId::TeamPostChatMessage => handlers::requests::team_post_chat_message(cx, req).await,
        RouteId::TeamListCalls => handlers::requests::team_list_calls(cx, req).await,
        RouteId::TeamCreateCall => handlers::requests::team_create_call(cx, req).await,
        // [documents dispatch]
        RouteId::ListTeamDocuments => handlers::documents::list_team_documents(cx, req).await,
        RouteId::UploadDocument => handlers::documents::upload_document(cx, req).await,
        RouteId::GetTeamDocument => handlers::documents::get_team_document(cx, req).await,
        RouteId::TeamDocumentFile => handlers::documents::team_document_file(cx, req).await,
        RouteId::PublishDocument => handlers::documents::publish_document(cx, req).await,
        RouteId::RequestSignature => handlers::documents::request_signature(cx, req).await,
        RouteId::WithdrawDocument => handlers::documents::withdraw_document(cx, req).await,
        RouteId::ListDocuments => handlers::documents::list_documents(cx, req).await,
        RouteId::GetDocument => handlers::documents::get_document(cx, req).await,
        RouteId::DocumentFile => handlers::documents::document_file(cx, req).await,
        RouteId::ActOnDocument => handlers::documents::act_on_document(cx, req).await,
        // [channels dispatch]
        RouteId::ListChannels => handlers::channels::list_channels(cx, req).await,
        RouteId::CreateTelegramLink => handlers::channels::create_telegram_link(cx, req).await,
        RouteId::CreateWidget => handlers::channels::create_widget(cx, req).await,
        RouteId::RotateWidget => handlers::channels::rotate_widget(cx, req).await,
        RouteId::RevokeChannel => handlers::channels::revoke_channel(cx, req).await,
        RouteId::TelegramWebhook => handlers::channels::telegram_webhook(cx, req).await,
        RouteId::WidgetWebhook => handlers::channels::widget_webhook(cx, req).await,
        RouteId::DeliverNotifications => handlers::channels::deliver_notifications(cx, req).await,
        RouteId::CrmEvents => handlers::outbox::crm_events(cx, req).await,
        RouteId::ReplayCrmEvents => handlers::outbox::replay_crm_events(cx, req).await,
        RouteId::OutboxStatus => handlers::outbox::status(cx, req).await,
        RouteId::DeliverOutbox => handlers::outbox::deliver(cx, req).await,
    }
}

fn finish<P: Ports>(ports: &P, route: Option<&Route>, request_id: &str, started: Started, result: Result<Resp, ApiError>, req: &Req) -> Resp {
    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            if let ApiError::Internal { log } = &err {
                ports.log(&serde_json::json!({"level": "error", "request_id": request_id, "path": req.uri().path(), "error": log}).to_string());
            }
            reply::error(&err)
        }
    };
    let total = ports.elapsed_ms() - started.ms;
    if route.is_none_or(|r| r.server_timing) {
        let stats = ports.db_stats();
        let (queries, db_ms) = (stats.queries() - started.queries, stats.millis() - started.db_ms);
        let value = format!("total;dur={total:.1}, db;dur={db_ms:.1};desc=\"{queries} queries\"");
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            resp.headers_mut().insert("server-timing", v);
        }
    }
    reply::secure_headers(resp.headers_mut(), request_id);
    if req.method() == Method::HEAD {
        resp.body_mut().clear();
    }
    if started.log_access {
        ports.log(
            &serde_json::json!({"level": "info", "request_id": request_id, "method": req.method().as_str(),
                "path": req.uri().path(), "status": resp.status().as_u16(), "ms": (total * 10.0).round() / 10.0})
            .to_string(),
        );
    }
    resp
}

/// Counters at the start of a request, so `Server-Timing` reports this request alone.
#[derive(Clone, Copy)]
struct Started {
    ms: f64,
    queries: u32,
    db_ms: f64,
    /// Whether this request's access-log line is written (`ACCESS_LOG`).
    log_access: bool,
}

/// The caller's metadata, and a random draw for the access-log sample (from the request id's bytes).
fn client_meta<P: Ports>(ports: &P, req: &Req) -> (ClientMeta, u32) {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut id = [0u8; 8];
    let (request_id, draw) = match ports.fill_random(&mut id) {
        Ok(()) => (hex(&id), u32::from_le_bytes([id[0], id[1], id[2], id[3]])),
        Err(_) => ("unknown".to_owned(), 0),
    };
    let meta = ClientMeta {
        ip: header("cf-connecting-ip"),
        country: header("cf-ipcountry"),
        user_agent: header("user-agent").map(|ua| ua.chars().take(400).collect()),
        request_id,
    };
    (meta, draw)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}
