//! The one error table: every failure a use case can end in, its HTTP status, its stable code and
//! its message, each in one place (`ApiError::row`, `Conflict`, `Gone`).
//! Use cases return it and the HTTP layer renders it, so a code means the same thing everywhere.

use http::StatusCode;
use std::borrow::Cow;
use serde_json::{json, Map, Value};

/// A failure as the client sees it. Internals never travel in it: `Internal` carries a log line
/// that is written to the log and replaced by a generic message in the response.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    InvalidInput { field: String, message: String },
    WeakPassword { field: String, rule: String, message: String },
    Unauthenticated,
    InvalidCredentials,
    MfaRequired,
    TokenExpired,
    TokenStale,
    Forbidden,
    PolicyDenied { permission: String },
    MfaEnrollmentRequired,
    NotFound,
    MethodNotAllowed { allow: Vec<&'static str> },
    /// 409 with the table's message, or one that names what the caller must change.
    Conflict { code: Conflict, message: String },
    Gone { code: Gone },
    TooLarge { limit: usize },
    UnsupportedMediaType,
    RateLimited { retry_after_seconds: u64 },
    Unavailable { what: String },
    Internal { log: String },
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidInput { field: field.into(), message: message.into() }
    }

    /// A 409 with the table's message.
    pub fn conflict(code: Conflict) -> Self {
        ApiError::Conflict { code, message: code.message().to_owned() }
    }

    /// A 409 whose message names the specifics (which stage, which problems).
    pub fn conflict_because(code: Conflict, message: impl Into<String>) -> Self {
        ApiError::Conflict { code, message: message.into() }
    }

    pub fn internal(log: impl Into<String>) -> Self {
        ApiError::Internal { log: log.into() }
    }

    /// The one table: status, stable code and the message a person reads, for every variant.
    fn row(&self) -> (StatusCode, &'static str, Cow<'static, str>) {
        let fixed = |status, code, message: &'static str| (status, code, Cow::Borrowed(message));
        match self {
            ApiError::InvalidInput { message, .. } => (StatusCode::BAD_REQUEST, "invalid_input", Cow::Owned(message.clone())),
            ApiError::WeakPassword { message, .. } => (StatusCode::BAD_REQUEST, "weak_password", Cow::Owned(message.clone())),
            ApiError::Unauthenticated => fixed(StatusCode::UNAUTHORIZED, "unauthenticated", "Sign in to continue."),
            ApiError::InvalidCredentials => fixed(StatusCode::UNAUTHORIZED, "invalid_credentials", "The login or password is incorrect."),
            ApiError::MfaRequired => fixed(StatusCode::UNAUTHORIZED, "mfa_required", "Enter the code from your authenticator app."),
            ApiError::TokenExpired => fixed(StatusCode::UNAUTHORIZED, "token_expired", "The access token has expired: refresh it."),
            ApiError::TokenStale => fixed(StatusCode::UNAUTHORIZED, "token_stale", "Your access changed: refresh the token."),
            ApiError::Forbidden => fixed(StatusCode::FORBIDDEN, "forbidden", "You are not allowed to do this."),
            ApiError::PolicyDenied { permission } => {
                (StatusCode::FORBIDDEN, "policy_denied", Cow::Owned(format!("The access policy does not allow {permission}.")))
            }
            ApiError::MfaEnrollmentRequired => {
                fixed(StatusCode::FORBIDDEN, "mfa_enrollment_required", "Set up two-factor authentication first.")
            }
            ApiError::NotFound => fixed(StatusCode::NOT_FOUND, "not_found", "Not found."),
            ApiError::MethodNotAllowed { .. } => {
                fixed(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "This method is not allowed here.")
            }
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, code.code(), Cow::Owned(message.clone())),
            ApiError::Gone { code } => (StatusCode::GONE, code.code(), Cow::Borrowed(code.message())),
            ApiError::TooLarge { limit } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large", Cow::Owned(format!("The request body is larger than {limit} bytes.")))
            }
            ApiError::UnsupportedMediaType => {
                fixed(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Send the body as application/json.")
            }
            ApiError::RateLimited { .. } => fixed(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many attempts: wait and try again."),
            ApiError::Unavailable { what } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", Cow::Owned(format!("{what} is unavailable."))),
            ApiError::Internal { .. } => fixed(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side."),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.row().0
    }

    pub fn code(&self) -> &'static str {
        self.row().1
    }

    pub fn message(&self) -> String {
        self.row().2.into_owned()
    }

    /// Every code a client can receive with its status, each once: one value of every variant
    /// through the table, then every conflict and every gone code.
    pub fn all_codes_with_status() -> Vec<(u16, &'static str)> {
        let text = String::new;
        let one_of_each = [
            ApiError::InvalidInput { field: text(), message: text() },
            ApiError::WeakPassword { field: text(), rule: text(), message: text() },
            ApiError::Unauthenticated,
            ApiError::InvalidCredentials,
            ApiError::MfaRequired,
            ApiError::TokenExpired,
            ApiError::TokenStale,
            ApiError::Forbidden,
            ApiError::PolicyDenied { permission: text() },
            ApiError::MfaEnrollmentRequired,
            ApiError::NotFound,
            ApiError::MethodNotAllowed { allow: Vec::new() },
            ApiError::TooLarge { limit: 0 },
            ApiError::UnsupportedMediaType,
            ApiError::RateLimited { retry_after_seconds: 0 },
            ApiError::Unavailable { what: text() },
            ApiError::Internal { log: text() },
        ];
        let mut codes: Vec<(u16, &'static str)> = one_of_each.iter().map(|e| (e.status().as_u16(), e.code())).collect();
        codes.extend(Conflict::ALL.iter().map(|c| (409, c.code())));
        codes.extend(Gone::ALL.iter().map(|g| (410, g.code())));
        codes
    }

    /// The codes sent with one status (the OpenAPI document lists them per response).
    pub fn codes_with_status(status: u16) -> Vec<&'static str> {
        Self::all_codes_with_status().into_iter().filter(|(s, _)| *s == status).map(|(_, c)| c).collect()
    }

    /// Every code a client can receive, each once. The OpenAPI document lists exactly these.
    pub fn all_codes() -> Vec<&'static str> {
        Self::all_codes_with_status().into_iter().map(|(_, c)| c).collect()
    }

    /// The JSON body of API.md: `{"error": {"code", "message", "field"?, "permission"?}}`.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code()));
        error.insert("message".into(), json!(self.message()));
        match self {
            ApiError::InvalidInput { field, .. } => {
                error.insert("field".into(), json!(field));
            }
            ApiError::WeakPassword { field, rule, .. } => {
                error.insert("field".into(), json!(field));
                error.insert("rule".into(), json!(rule));
            }
            ApiError::PolicyDenied { permission } => {
                error.insert("permission".into(), json!(permission));
            }
            _ => {}
        }
        json!({ "error": error })
    }
}

/// Every 409 the API gives, one variant each: its code and its message live here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    ActionNotExpected,
    AlreadyBootstrapped,
    ChannelLinkChanged,
    ChannelLinkRevoked,
    CompanyArchived,
    DocumentChanged,
    DocumentNotDraft,
    DocumentNotPublished,
    DocumentSigned,
    DocumentWithdrawn,
    InvitationNotPending,
    LastAdmin,
    LinkChanged,
    LinkNotActive,
    LinkProblems,
    LinkRevoked,
    LoginTaken,
    NoPendingEnrolment,
    NotAWidget,
    NotAnEmployee,
    NotApplied,
    PolicyNotSaved,
    ReferenceChanged,
    RefreshConflict,
    RequestChanged,
    ResetNeedsEmail,
    SettingsChanged,
    StageInUse,
    UploadRefused,
    UserBlocked,
    UserOutsideScope,
}

impl Conflict {
    pub const ALL: &'static [Conflict] = &[Conflict::ActionNotExpected, Conflict::AlreadyBootstrapped, Conflict::ChannelLinkChanged, Conflict::ChannelLinkRevoked, Conflict::CompanyArchived, Conflict::DocumentChanged, Conflict::DocumentNotDraft, Conflict::DocumentNotPublished, Conflict::DocumentSigned, Conflict::DocumentWithdrawn, Conflict::InvitationNotPending, Conflict::LastAdmin, Conflict::LinkChanged, Conflict::LinkNotActive, Conflict::LinkProblems, Conflict::LinkRevoked, Conflict::LoginTaken, Conflict::NoPendingEnrolment, Conflict::NotAWidget, Conflict::NotAnEmployee, Conflict::NotApplied, Conflict::PolicyNotSaved, Conflict::ReferenceChanged, Conflict::RefreshConflict, Conflict::RequestChanged, Conflict::ResetNeedsEmail, Conflict::SettingsChanged, Conflict::StageInUse, Conflict::UploadRefused, Conflict::UserBlocked, Conflict::UserOutsideScope];

    pub fn code(self) -> &'static str {
        match self {
            Conflict::ActionNotExpected => "action_not_expected",
            Conflict::AlreadyBootstrapped => "already_bootstrapped",
            Conflict::ChannelLinkChanged => "channel_link_changed",
            Conflict::ChannelLinkRevoked => "channel_link_revoked",
            Conflict::CompanyArchived => "company_archived",
            Conflict::DocumentChanged => "document_changed",
            Conflict::DocumentNotDraft => "document_not_draft",
            Conflict::DocumentNotPublished => "document_not_published",
            Conflict::DocumentSigned => "document_signed",
            Conflict::DocumentWithdrawn => "document_withdrawn",
            Conflict::InvitationNotPending => "invitation_not_pending",
            Conflict::LastAdmin => "last_admin",
            Conflict::LinkChanged => "link_changed",
            Conflict::LinkNotActive => "link_not_active",
            Conflict::LinkProblems => "link_problems",
            Conflict::LinkRevoked => "link_revoked",
            Conflict::LoginTaken => "login_taken",
            Conflict::NoPendingEnrolment => "no_pending_enrolment",
            Conflict::NotAWidget => "not_a_widget",
            Conflict::NotAnEmployee => "not_an_employee",
            Conflict::NotApplied => "not_applied",
            Conflict::PolicyNotSaved => "policy_not_saved",
            Conflict::ReferenceChanged => "reference_changed",
            Conflict::RefreshConflict => "refresh_conflict",
            Conflict::RequestChanged => "request_changed",
            Conflict::ResetNeedsEmail => "reset_needs_email",
            Conflict::SettingsChanged => "settings_changed",
            Conflict::StageInUse => "stage_in_use",
            Conflict::UploadRefused => "upload_refused",
            Conflict::UserBlocked => "user_blocked",
            Conflict::UserOutsideScope => "user_outside_scope",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Conflict::ActionNotExpected => "This document's action was already completed or changed: reload it.",
            Conflict::AlreadyBootstrapped => "An admin already exists: sign in instead.",
            Conflict::ChannelLinkChanged => "The channel link changed meanwhile (or your access did): reload and try again.",
            Conflict::ChannelLinkRevoked => "The channel link is already revoked.",
            Conflict::CompanyArchived => "The company is archived: documents cannot be added to it.",
            Conflict::DocumentChanged => "The document or your access changed meanwhile: reload and try again.",
            Conflict::DocumentNotDraft => "Only a draft can be published.",
            Conflict::DocumentNotPublished => "The document is not published: publish it first.",
            Conflict::DocumentSigned => "The document is already signed.",
            Conflict::DocumentWithdrawn => "The document is already withdrawn.",
            Conflict::InvitationNotPending => "Only a pending invitation can be revoked.",
            Conflict::LastAdmin => "This is the last active admin: make someone else an admin first.",
            Conflict::LinkChanged => "The link changed meanwhile (or your access did): reload it and try again.",
            Conflict::LinkNotActive => "Invitations are issued for active links only: enable the link first.",
            Conflict::LinkProblems => "The link cannot be saved: see its problems.",
            Conflict::LinkRevoked => "The link is revoked, which is final: create a new link instead.",
            Conflict::LoginTaken => "This login belongs to another user.",
            Conflict::NoPendingEnrolment => "No enrolment is pending (or it changed meanwhile): start again.",
            Conflict::NotAWidget => "Only a widget connection has a signing secret to rotate.",
            Conflict::NotAnEmployee => "This id belongs to a client user, not an employee.",
            Conflict::NotApplied => "Your access changed meanwhile: reload and try again.",
            Conflict::PolicyNotSaved => "Something changed meanwhile (a pipeline, or your access): reload and try again.",
            Conflict::ReferenceChanged => "A company or contact named here changed meanwhile: try again.",
            Conflict::RefreshConflict => "This session was refreshed a moment ago by another request.",
            Conflict::RequestChanged => "The request changed meanwhile (or your access did): reload and try again.",
            Conflict::ResetNeedsEmail => "A password reset is emailed to the user's own address only.",
            Conflict::SettingsChanged => "The settings changed meanwhile: reload and try again.",
            Conflict::StageInUse => "Requests are still in a stage being dropped: move them to another stage first.",
            Conflict::UploadRefused => "The company, the contact or your access changed meanwhile: reload and try again.",
            Conflict::UserBlocked => "The user is blocked: unblock them before inviting.",
            Conflict::UserOutsideScope => "This user also has access through companies you do not govern: an invitation would set their password there too, so an admin or a manager of all of them must send it.",
        }
    }
}

/// Every 410 the API gives: an invitation that can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    InvitationUsed,
    InvitationRevoked,
    InvitationExpired,
    /// The CRM feed's cursor points before the oldest event kept (retention purged what followed it).
    CursorExpired,
}

impl Gone {
    pub const ALL: &'static [Gone] = &[Gone::InvitationUsed, Gone::InvitationRevoked, Gone::InvitationExpired, Gone::CursorExpired];

    pub fn code(self) -> &'static str {
        match self {
            Gone::InvitationUsed => "invitation_used",
            Gone::InvitationRevoked => "invitation_revoked",
            Gone::InvitationExpired => "invitation_expired",
            Gone::CursorExpired => "cursor_expired",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Gone::InvitationUsed => "This invitation has already been used. Sign in, or ask for a new one.",
            Gone::InvitationRevoked => "This invitation was revoked or is no longer valid. Ask your manager for a new one.",
            Gone::InvitationExpired => "This invitation has expired. Ask your manager for a new one.",
            Gone::CursorExpired => "Events after this cursor are no longer kept (CRM_EVENTS_RETENTION_DAYS): read from after=0 and reconcile.",
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Internal { log: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_snake_case_and_listed_once() {
        let codes = ApiError::all_codes();
        for (i, code) in codes.iter().enumerate() {
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
            assert!(!codes[i + 1..].contains(code), "{code} twice");
        }
        assert!(codes.contains(&"link_changed") && codes.contains(&"invitation_expired") && codes.contains(&"not_found"));
    }

    #[test]
    fn a_conflict_without_specifics_reads_the_table() {
        let err = ApiError::conflict(Conflict::LastAdmin);
        assert_eq!((err.status(), err.code()), (StatusCode::CONFLICT, "last_admin"));
        assert_eq!(err.message(), Conflict::LastAdmin.message());
        assert_eq!(ApiError::Gone { code: Gone::InvitationUsed }.status(), StatusCode::GONE);
    }
}
