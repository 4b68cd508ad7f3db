//! Use cases, generic over the ports, given `now` explicitly.

pub mod account;
pub mod activation;
pub mod audit;
pub mod bootstrap;
pub mod credentials;
pub mod error;
pub mod client_gate;
pub mod governance;
// [directory modules]
pub mod branding;
pub mod crm;
pub mod directory;
pub mod users_admin;
// [links modules]
pub mod invitations;
pub mod links;
// [policies modules]
pub mod admin_sessions;
pub mod audit_query;
pub mod channel_admin;
pub mod diagnostics;
pub mod offboarding;
pub mod policies;
// [requests modules]
pub mod attachments;
pub mod calls;
pub mod chat;
pub mod requests;
pub mod team_requests;
// [documents modules]
pub mod documents;
pub mod files;
pub mod team_documents;
// [channels modules]
pub mod channels;
pub mod notify;
pub mod webhooks;
pub mod ids;
pub mod link_facts;
pub mod login;
pub mod me;
pub mod mfa;
pub mod refresh;
pub mod security_settings;
pub mod session;
pub mod step_up;
pub mod settings;
pub mod maintenance;
pub mod ports;

pub use ports::{random_array, OutboundError, Ports, QueryStats, RandomUnavailable};

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub use error::ApiError;
