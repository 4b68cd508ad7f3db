//! The one route table: every route's method, path pattern, guard and body limit. The dispatcher,
//! the OpenAPI document and the tests all read this table, so they cannot drift apart.

use http::Method;

/// Default body limit (API.md: 1 MiB; document uploads 10 MiB).
pub const BODY_LIMIT: usize = 1024 * 1024;
pub const UPLOAD_LIMIT: usize = 10 * 1024 * 1024;
/// Webhook bodies: a Telegram update (with the message it replies to, escaped) or a widget event
/// stays far below this.
pub const WEBHOOK_LIMIT: usize = 256 * 1024;

/// Who may call a route; the dispatcher checks it before the handler runs (`http::guard`), and the
/// use case then checks the session, user and role afresh in its own batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    Public,
    /// A valid access token, a client's or an employee's.
    Session,
    /// A client's access token (it carries a link).
    Client,
    /// An employee's access token (admin or manager).
    Employee,
    /// An admin's access token.
    Admin,
    /// An admin's access token or the CRM's machine credential.
    CrmOrAdmin,
    /// The webhook checks its own signature.
    Webhook,
}

impl Guard {
    pub fn as_str(self) -> &'static str {
        match self {
            Guard::Public => "public",
            Guard::Session => "session",
            Guard::Client => "client",
            Guard::Employee => "employee",
            Guard::Admin => "admin",
            Guard::CrmOrAdmin => "crm_or_admin",
            Guard::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    Health,
    OpenApi,
    Login,
    Refresh,
    Logout,
    InvitationPreview,
    InvitationActivate,
    Me,
    MySessions,
    RevokeMySession,
    ChangePassword,
    StartTotp,
    ConfirmTotp,
    Bootstrap,
    GetSecurity,
    PutSecurity,
    // [directory routes]
    UpsertCompany,
    UpsertContact,
    UpsertPipeline,
    ListCompanies,
    ListContacts,
    ListPipelines,
    ListUsers,
    GetUser,
    PatchUser,
    ResetUserMfa,
    UpsertEmployee,
    GetBranding,
    PutBranding,
    PublicBranding,
    // [links routes]
    ListLinks,
    PreviewLink,
    CreateLink,
    GetLink,
    PatchLink,
    IssueInvitation,
    ListInvitations,
    RevokeInvitation,
    // [policies routes]
    GetCompanyPolicy,
    PutCompanyPolicy,
    GetContactPolicy,
    PutContactPolicy,
    GetLinkPolicy,
    LinkDiagnostics,
    LinkVisible,
    OffboardLink,
    UserSessions,
    RevokeUserSessions,
    UnlockUser,
    AuditQuery,
    ChannelLinks,
    RevokeChannelLink,
    // [requests routes]
    ClientPipelines,
    ListRequests,
    CreateRequest,
    GetRequest,
    UploadRequestAttachment,
    ListRequestAttachments,
    DownloadRequestAttachment,
    ListRequestMessages,
    PostRequestMessage,
    ListChatMessages,
    PostChatMessage,
    CreateCall,
    ListCalls,
    TeamListRequests,
    TeamGetRequest,
    TeamPatchRequest,
    TeamListRequestMessages,
    TeamPostRequestMessage,
    TeamUploadAttachment,
    TeamListAttachments,
    TeamDownloadAttachment,
    TeamListChatMessages,
    TeamPostChatMessage,
    TeamListCalls,
    TeamCreateCall,
    // [documents routes]
    ListTeamDocuments,
    UploadDocument,
    GetTeamDocument,
    TeamDocumentFile,
    PublishDocument,
    RequestSignature,
    WithdrawDocument,
    ListDocuments,
    GetDocument,
    DocumentFile,
    ActOnDocument,
    // [channels routes]
    ListChannels,
    CreateTelegramLink,
    CreateWidget,
    RotateWidget,
    RevokeChannel,
    TelegramWebhook,
    WidgetWebhook,
    DeliverNotifications,
    // [outbox routes]
    CrmEvents,
    ReplayCrmEvents,
    OutboxStatus,
    DeliverOutbox,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// Path with `{name}` segments for parameters.
    pub path: &'static str,
    pub id: RouteId,
    pub guard: Guard,
    pub summary: &'static str,
    pub tag: &'static str,
    pub body_limit: usize,
    /// Auth and invitation routes omit `Server-Timing`: it would tell which branch ran.
    pub server_timing: bool,
}

/// Where a route's queries may run under D1 read replication (the Sessions API; the edge starts
/// the request's session from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The primary: every write, and every read that must be exact.
    Primary,
    /// A replica at least as fresh as the client's bookmark, or any replica when it sent none.
    Replica,
}

/// Reads that write nothing yet must see the latest state: the sessions pages, where a session
/// just revoked must show as revoked at once (a person checks there that a thief is out), and the
/// client and team downloads, which write their audit row (the security review, finding 9).
const PRIMARY_READS: &[RouteId] = &[RouteId::MySessions, RouteId::UserSessions, RouteId::DownloadRequestAttachment, RouteId::DocumentFile, RouteId::TeamDownloadAttachment, RouteId::TeamDocumentFile];

impl Route {
    /// Writes (every method but GET and HEAD) and the reads of [`PRIMARY_READS`] run on the
    /// primary; every other read may run on a replica.
    pub fn read_from(&self) -> ReadFrom {
        if self.method == Method::GET && !PRIMARY_READS.contains(&self.id) {
            ReadFrom::Replica
        } else {
            ReadFrom::Primary
        }
    }
}

/// Auth and invitation routes: no `Server-Timing`, which would tell which branch ran.
const fn quiet(method: Method, path: &'static str, id: RouteId, guard: Guard, tag: &'static str, summary: &'static str) -> Route {
    Route { method, path, id, guard, summary, tag, body_limit: 16 * 1024, server_timing: false }
}

const fn route(method: Method, path: &'static str, id: RouteId, guard: Guard, tag: &'static str, summary: &'static str) -> Route {
    Route { method, path, id, guard, summary, tag, body_limit: BODY_LIMIT, server_timing: true }
}

pub static ROUTES: &[Route] = &[
    route(Method::GET, "/health", RouteId::Health, Guard::Public, "public", "Liveness; ?deep=1 runs one trivial D1 query, ?deep=all also reads KV"),
    route(Method::GET, "/openapi.json", RouteId::OpenApi, Guard::Public, "public", "This API as an OpenAPI 3.1 document"),
    quiet(Method::POST, "/api/auth/login", RouteId::Login, Guard::Public, "auth", "Sign in with login, password and (when enrolled) a TOTP code"),
    quiet(Method::POST, "/api/auth/refresh", RouteId::Refresh, Guard::Public, "auth", "Rotate the refresh token (cookie or body) for a new token pair"),
    quiet(Method::POST, "/api/auth/logout", RouteId::Logout, Guard::Public, "auth", "End the current session"),
    quiet(Method::POST, "/api/invitations/preview", RouteId::InvitationPreview, Guard::Public, "auth", "Who an invitation is for and the password rules"),
    quiet(Method::POST, "/api/invitations/activate", RouteId::InvitationActivate, Guard::Public, "auth", "Set a password with an invitation and open a session"),
    route(Method::GET, "/api/me", RouteId::Me, Guard::Session, "me", "The user; for a client the link, contact and companies with their effective policies"),
    route(Method::GET, "/api/me/sessions", RouteId::MySessions, Guard::Session, "me", "Own sessions (created, last seen, ip, country, user agent, current)"),
    route(Method::DELETE, "/api/me/sessions/{id}", RouteId::RevokeMySession, Guard::Session, "me", "Sign out one of own sessions"),
    quiet(Method::POST, "/api/me/password", RouteId::ChangePassword, Guard::Session, "me", "Change password (current password and code in the same request)"),
    quiet(Method::POST, "/api/me/mfa/totp", RouteId::StartTotp, Guard::Session, "me", "Start TOTP enrolment (replacing a secret needs current_code)"),
    quiet(Method::POST, "/api/me/mfa/totp/confirm", RouteId::ConfirmTotp, Guard::Session, "me", "Confirm TOTP enrolment with a code"),
    quiet(Method::POST, "/api/admin/bootstrap", RouteId::Bootstrap, Guard::Public, "governance", "Create the first admin with the bootstrap secret"),
    route(Method::GET, "/api/admin/security", RouteId::GetSecurity, Guard::Admin, "governance", "Security settings (admins)"),
    route(Method::PUT, "/api/admin/security", RouteId::PutSecurity, Guard::Admin, "governance", "Change the security settings (admins; validated ranges; audited)"),
    // [directory table]
    route(Method::PUT, "/api/admin/companies/{id}", RouteId::UpsertCompany, Guard::CrmOrAdmin, "governance", "Create or update a company from the CRM (admins or CRM_SYNC_TOKEN); 201 when created"),
    route(Method::PUT, "/api/admin/contacts/{id}", RouteId::UpsertContact, Guard::CrmOrAdmin, "governance", "Create or update a contact and replace its companies (admins or CRM_SYNC_TOKEN)"),
    route(Method::PUT, "/api/admin/pipelines/{id}", RouteId::UpsertPipeline, Guard::CrmOrAdmin, "governance", "Create or update a pipeline with its stages and request fields (admins or CRM_SYNC_TOKEN)"),
    route(Method::GET, "/api/admin/companies", RouteId::ListCompanies, Guard::Employee, "governance", "Companies (managers: their own); ?q=&status=&cursor=&limit="),
    route(Method::GET, "/api/admin/contacts", RouteId::ListContacts, Guard::Employee, "governance", "Contacts (managers: those of their companies); ?q=&state=&cursor=&limit="),
    route(Method::GET, "/api/admin/pipelines", RouteId::ListPipelines, Guard::Employee, "governance", "Pipelines with stages and request fields; ?q=&archived=&cursor=&limit="),
    route(Method::GET, "/api/admin/users", RouteId::ListUsers, Guard::Employee, "governance", "Portal users for the link wizard, with their live links; ?q=&kind=&cursor=&limit="),
    route(Method::GET, "/api/admin/users/{id}", RouteId::GetUser, Guard::Employee, "governance", "One user the caller governs: status, lockout (locked_until), last sign-in, two-factor, live links (404 otherwise)"),
    route(Method::PATCH, "/api/admin/users/{id}", RouteId::PatchUser, Guard::Employee, "governance", "Block or unblock a user (blocking ends their sessions at once; audited)"),
    route(Method::POST, "/api/admin/users/{id}/mfa/reset", RouteId::ResetUserMfa, Guard::Employee, "governance", "Clear a user's TOTP so they enrol again (audited)"),
    route(Method::PUT, "/api/admin/employees/{id}", RouteId::UpsertEmployee, Guard::Admin, "governance", "Create or update an employee with role and company scope (admins); a new one gets an invitation"),
    route(Method::GET, "/api/admin/branding", RouteId::GetBranding, Guard::Admin, "governance", "Branding (admins)"),
    route(Method::PUT, "/api/admin/branding", RouteId::PutBranding, Guard::Admin, "governance", "Change the portal name, logo URL and primary colour (admins; audited)"),
    route(Method::GET, "/api/branding", RouteId::PublicBranding, Guard::Public, "public", "Portal name, logo URL and primary colour for the login page"),
    // [links table]
    route(Method::GET, "/api/admin/links", RouteId::ListLinks, Guard::Employee, "governance", "Client links: search (q), status, company, review_due and responsible (an employee id) filters; each with its responsible employee"),
    route(Method::POST, "/api/admin/links/preview", RouteId::PreviewLink, Guard::Employee, "governance", "Link wizard review step: the combination, its blocking problems and warnings (writes nothing)"),
    route(Method::POST, "/api/admin/links", RouteId::CreateLink, Guard::Employee, "governance", "Confirm the link wizard: create the user when new and the link (409 link_problems)"),
    route(Method::GET, "/api/admin/links/{id}", RouteId::GetLink, Guard::Employee, "governance", "A link with its user, contact, companies, review dates, invitations and channel links"),
    route(Method::PATCH, "/api/admin/links/{id}", RouteId::PatchLink, Guard::Employee, "governance", "Change a link: status, companies, default company, review date, reviewed, responsible_id (an active admin, or a manager of all its companies)"),
    route(Method::POST, "/api/admin/links/{id}/invitations", RouteId::IssueInvitation, Guard::Employee, "governance", "Issue an invitation for the link (revokes its pending ones); the token only in activation_url"),
    route(Method::GET, "/api/admin/invitations", RouteId::ListInvitations, Guard::Employee, "governance", "Invitations by link and status"),
    route(Method::POST, "/api/admin/invitations/{id}/revoke", RouteId::RevokeInvitation, Guard::Employee, "governance", "Revoke a pending invitation"),
    // [policies table]
    route(Method::GET, "/api/admin/companies/{id}/policy", RouteId::GetCompanyPolicy, Guard::Employee, "governance", "A company's policy (the perimeter); a company without one shows the deny-everything default and the recommended preset"),
    route(Method::PUT, "/api/admin/companies/{id}/policy", RouteId::PutCompanyPolicy, Guard::Employee, "governance", "Set a company's policy; bumps its links' policy versions; audited; warns about settings that stay denied"),
    route(Method::GET, "/api/admin/contacts/{id}/policy", RouteId::GetContactPolicy, Guard::Employee, "governance", "A contact's policy: inherit, allow or deny per field"),
    route(Method::PUT, "/api/admin/contacts/{id}/policy", RouteId::PutContactPolicy, Guard::Employee, "governance", "Set a contact's policy (an allow never widens the company policy: warned); bumps the contact's links; audited"),
    route(Method::GET, "/api/admin/links/{id}/policy", RouteId::GetLinkPolicy, Guard::Employee, "governance", "Per company of the link: company policy, contact policy and the effective policy with the level and reason of every denial"),
    route(Method::GET, "/api/admin/links/{id}/diagnostics", RouteId::LinkDiagnostics, Guard::Employee, "governance", "Why the link may or may not do an action on an object: the decision chain and the verdict (the gates' own function)"),
    route(Method::GET, "/api/admin/links/{id}/visible", RouteId::LinkVisible, Guard::Employee, "governance", "What the link's client sees right now: pipelines, requests, documents and permitted actions per company"),
    route(Method::POST, "/api/admin/links/{id}/offboard", RouteId::OffboardLink, Guard::Employee, "governance", "Disable or revoke a link and revoke its invitations, channel links and sessions; lists its open requests"),
    route(Method::GET, "/api/admin/users/{id}/sessions", RouteId::UserSessions, Guard::Employee, "governance", "A user's sessions: live, revoked (with the reason) or expired"),
    route(Method::POST, "/api/admin/users/{id}/sessions/revoke", RouteId::RevokeUserSessions, Guard::Employee, "governance", "Revoke every live session of a user, or only `{session_id}` (audited; 404 unless it is one of theirs)"),
    route(Method::POST, "/api/admin/users/{id}/unlock", RouteId::UnlockUser, Guard::Employee, "governance", "Clear a user's lockout (audited)"),
    route(Method::GET, "/api/admin/audit", RouteId::AuditQuery, Guard::Employee, "governance", "The audit trail, newest first, by actor, action (prefix with *), target and since"),
    route(Method::GET, "/api/admin/channel-links", RouteId::ChannelLinks, Guard::Employee, "governance", "Telegram and widget links by kind and status"),
    route(Method::POST, "/api/admin/channel-links/{id}/revoke", RouteId::RevokeChannelLink, Guard::Employee, "governance", "Revoke a channel link (audited)"),
    // [requests table]
    route(Method::GET, "/api/pipelines", RouteId::ClientPipelines, Guard::Client, "portal", "Pipelines the effective policy allows at ?company= (default: the link's default company), with stages and request fields"),
    route(Method::GET, "/api/requests", RouteId::ListRequests, Guard::Client, "portal", "Visible requests, newest first: company, pipeline, status (stage id) and open filters"),
    route(Method::POST, "/api/requests", RouteId::CreateRequest, Guard::Client, "portal", "Create a request `{company_id, pipeline_id, title, description, fields?}` in the pipeline's first stage"),
    route(Method::GET, "/api/requests/{id}", RouteId::GetRequest, Guard::Client, "portal", "A visible request: status (stage id), status_name, is_open, fields"),
    Route { method: Method::POST, path: "/api/requests/{id}/attachments", id: RouteId::UploadRequestAttachment, guard: Guard::Client, summary: "Attach a file `{file_name, content_type, content_base64}` (allowlisted types; needs create_requests or send_request_chat)", tag: "portal", body_limit: UPLOAD_LIMIT, server_timing: true },
    route(Method::GET, "/api/requests/{id}/attachments", RouteId::ListRequestAttachments, Guard::Client, "portal", "The files of a visible request"),
    route(Method::GET, "/api/requests/{id}/attachments/{aid}", RouteId::DownloadRequestAttachment, Guard::Client, "portal", "Download a request's file (as an attachment, nosniff, sandboxed)"),
    route(Method::GET, "/api/requests/{id}/messages", RouteId::ListRequestMessages, Guard::Client, "portal", "The request's chat, oldest first, or with ?order=newest the latest page first and its cursor leading to older ones (read_request_chat)"),
    route(Method::POST, "/api/requests/{id}/messages", RouteId::PostRequestMessage, Guard::Client, "portal", "Post `{body}` in the request's chat (send_request_chat)"),
    route(Method::GET, "/api/chat/messages", RouteId::ListChatMessages, Guard::Client, "portal", "The general chat of ?company= (the default company without it), oldest first, or with ?order=newest the latest page first and its cursor leading to older ones (general_chat)"),
    route(Method::POST, "/api/chat/messages", RouteId::PostChatMessage, Guard::Client, "portal", "Post `{body}` in the general chat of ?company= (general_chat)"),
    route(Method::POST, "/api/calls", RouteId::CreateCall, Guard::Client, "portal", "Start a call `{company_id, request_id?}` -> `{id, join_url, status}` (calls)"),
    route(Method::GET, "/api/calls", RouteId::ListCalls, Guard::Client, "portal", "Calls of the visible threads at ?company= (calls)"),
    route(Method::GET, "/api/admin/requests", RouteId::TeamListRequests, Guard::Employee, "team", "Requests across the employee's companies, newest activity first: company, pipeline, status, open and waiting (the client side wrote last) filters; each with activity_at and waiting_for_team"),
    route(Method::GET, "/api/admin/requests/{id}", RouteId::TeamGetRequest, Guard::Employee, "team", "A request with its pipeline's stages"),
    route(Method::PATCH, "/api/admin/requests/{id}", RouteId::TeamPatchRequest, Guard::Employee, "team", "Move a request to another stage `{status}` (audited)"),
    route(Method::GET, "/api/admin/requests/{id}/messages", RouteId::TeamListRequestMessages, Guard::Employee, "team", "A request's chat, oldest first, or with ?order=newest the latest page first and its cursor leading to older ones"),
    route(Method::POST, "/api/admin/requests/{id}/messages", RouteId::TeamPostRequestMessage, Guard::Employee, "team", "Reply `{body}` in a request's chat"),
    Route { method: Method::POST, path: "/api/admin/requests/{id}/attachments", id: RouteId::TeamUploadAttachment, guard: Guard::Employee, summary: "Attach a file to a request `{file_name, content_type, content_base64}`", tag: "team", body_limit: UPLOAD_LIMIT, server_timing: true },
    route(Method::GET, "/api/admin/requests/{id}/attachments", RouteId::TeamListAttachments, Guard::Employee, "team", "A request's files"),
    route(Method::GET, "/api/admin/requests/{id}/attachments/{aid}", RouteId::TeamDownloadAttachment, Guard::Employee, "team", "Download a request's file"),
    route(Method::GET, "/api/admin/chat/messages", RouteId::TeamListChatMessages, Guard::Employee, "team", "A company's general chat, oldest first, or with ?order=newest the latest page first"),
    route(Method::POST, "/api/admin/chat/messages", RouteId::TeamPostChatMessage, Guard::Employee, "team", "Reply `{body}` in a company's general chat"),
    route(Method::POST, "/api/admin/calls", RouteId::TeamCreateCall, Guard::Employee, "team", "Start a call `{company_id, request_id?}` on a request or a company's general channel of the employee's companies -> `{id, join_url, status}`"),
    route(Method::GET, "/api/admin/calls", RouteId::TeamListCalls, Guard::Employee, "team", "Calls of the employee's companies"),
    // [documents table]
    route(Method::GET, "/api/admin/documents", RouteId::ListTeamDocuments, Guard::Employee, "documents", "Documents of the team's companies, newest first (company and status filters)"),
    Route { method: Method::POST, path: "/api/admin/documents", id: RouteId::UploadDocument, guard: Guard::Employee, summary: "Upload a draft document `{company_id, contact_id?, title, content_type, content_base64}` (allowlisted types, 10 MiB)", tag: "documents", body_limit: UPLOAD_LIMIT, server_timing: true },
    route(Method::GET, "/api/admin/documents/{id}", RouteId::GetTeamDocument, Guard::Employee, "documents", "A document with its clients' actions and their evidence"),
    route(Method::GET, "/api/admin/documents/{id}/file", RouteId::TeamDocumentFile, Guard::Employee, "documents", "Download a document's file (attachment, nosniff, sandbox CSP)"),
    route(Method::POST, "/api/admin/documents/{id}/publish", RouteId::PublishDocument, Guard::Employee, "documents", "Publish a draft `{required_action?: review | approve | sign}`"),
    route(Method::POST, "/api/admin/documents/{id}/request-signature", RouteId::RequestSignature, Guard::Employee, "documents", "Ask the client to sign a published document (409 when already signed)"),
    route(Method::POST, "/api/admin/documents/{id}/withdraw", RouteId::WithdrawDocument, Guard::Employee, "documents", "Withdraw a document: it disappears from the portal"),
    route(Method::GET, "/api/documents", RouteId::ListDocuments, Guard::Client, "documents", "Published documents visible to the client (company filter)"),
    route(Method::GET, "/api/documents/{id}", RouteId::GetDocument, Guard::Client, "documents", "A document: metadata, required action and the client action status"),
    route(Method::GET, "/api/documents/{id}/file", RouteId::DocumentFile, Guard::Client, "documents", "Download a document's file (attachment, nosniff, sandbox CSP)"),
    route(Method::POST, "/api/documents/{id}/actions", RouteId::ActOnDocument, Guard::Client, "documents", "Act on a document: reviewed, approved, rejected (comment) or signed (name, password, TOTP)"),
    // [channels table]
    route(Method::GET, "/api/channels", RouteId::ListChannels, Guard::Client, "channels", "Own channel links (Telegram chats, widget connections), newest first, with their status under the current policy"),
    route(Method::POST, "/api/channels/telegram", RouteId::CreateTelegramLink, Guard::Client, "channels", "A Telegram deep link `{company_id}` -> `{deep_link, expires_at}` with a single-use code valid 10 minutes (telegram)"),
    route(Method::POST, "/api/channels/widget", RouteId::CreateWidget, Guard::Client, "channels", "Connect a website widget `{company_id}` -> 201 `{id, signing_secret}`; the secret is shown only here (widget)"),
    route(Method::POST, "/api/channels/{id}/rotate", RouteId::RotateWidget, Guard::Client, "channels", "A new widget signing secret, shown once; the previous one stays valid 24 h"),
    route(Method::DELETE, "/api/channels/{id}", RouteId::RevokeChannel, Guard::Client, "channels", "Revoke one of own channel links"),
    Route { method: Method::POST, path: "/webhooks/telegram", id: RouteId::TelegramWebhook, guard: Guard::Webhook, summary: "Telegram updates (X-Telegram-Bot-Api-Secret-Token); 200 once authenticated, deduped on update_id", tag: "webhooks", body_limit: WEBHOOK_LIMIT, server_timing: false },
    Route { method: Method::POST, path: "/webhooks/widget/{id}", id: RouteId::WidgetWebhook, guard: Guard::Webhook, summary: "A widget event `{id, type, text, request_id?}` signed `v1=` HMAC-SHA256 -> `{accepted, reason?}`; 401 for any bad signature or unknown connection", tag: "webhooks", body_limit: WEBHOOK_LIMIT, server_timing: false },
    route(Method::POST, "/api/admin/notifications/deliver", RouteId::DeliverNotifications, Guard::Admin, "governance", "Deliver due Telegram notifications now, as the cron does (admins) -> `{claimed, sent, retried, failed, dropped}`"),
    // [outbox table]
    route(Method::GET, "/api/crm/events", RouteId::CrmEvents, Guard::CrmOrAdmin, "crm", "Client actions and access changes in commit order, `?after=<cursor>&limit=` -> `{items: [{id, cursor, type, occurred_at, data}], next_cursor, has_more}`; 410 cursor_expired past the retention"),
    route(Method::POST, "/api/admin/crm/events/replay", RouteId::ReplayCrmEvents, Guard::Admin, "crm", "Push every CRM event after `{after}` again, in order (admins; needs CRM_WEBHOOK_URL) -> `{queued, push}`"),
    route(Method::GET, "/api/admin/outbox", RouteId::OutboxStatus, Guard::Admin, "governance", "Telegram, email and CRM webhook delivery: configured or why not, pending, failed, last error (admins)"),
    route(Method::POST, "/api/admin/outbox/deliver", RouteId::DeliverOutbox, Guard::Admin, "governance", "One pass of every configured outbound channel now, as the cron does (admins) -> `{telegram, email, crm_webhook, errors}`"),
];

/// What the router found for a method and path.
#[derive(Debug)]
pub enum Matched {
    Route(&'static Route, Vec<(&'static str, String)>),
    /// The path exists but not with this method.
    WrongMethod(Vec<&'static str>),
    NotFound,
}

pub fn find(method: &Method, path: &str) -> Matched {
    let mut allowed = Vec::new();
    for r in ROUTES {
        if let Some(params) = match_path(r.path, path) {
            if r.method == *method || (*method == Method::HEAD && r.method == Method::GET) {
                return Matched::Route(r, params);
            }
            allowed.push(r.method.as_str());
        }
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::WrongMethod(allowed)
    }
}

fn match_path(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(g)) => {
                if let Some(name) = p.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                    if g.is_empty() {
                        return None;
                    }
                    params.push((name, g.to_owned()));
                } else if p != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "duplicate route {} {}", a.method, a.path);
            }
        }
    }

    #[test]
    fn path_parameters_are_extracted() {
        assert_eq!(match_path("/api/requests/{id}", "/api/requests/abc"), Some(vec![("id", "abc".to_owned())]));
        assert_eq!(match_path("/api/requests/{id}", "/api/requests/"), None);
        assert_eq!(match_path("/api/requests/{id}", "/api/requests/a/b"), None);
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        match find(&Method::DELETE, "/health") {
            Matched::WrongMethod(allowed) => assert_eq!(allowed, vec!["GET"]),
            other => panic!("expected WrongMethod, got {other:?}"),
        }
    }
}
