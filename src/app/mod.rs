//! Use cases, generic over the ports, given `now` explicitly; grouped by who they serve.
//!
//! - `auth`: signing in and staying signed in (login, refresh, activation, account, MFA, bootstrap).
//! - `portal`: what a client does (requests, chats, calls, documents, attachments, channels, me).
//! - `governance`: what employees do (links, invitations, policies, diagnostics, offboarding, the CRM's
//!   directory, users, branding, security settings, audit, channel links, the team's requests and documents).
//! - `delivery`: what runs beside requests (webhooks in, notifications out, maintenance).
//! - `kit`: the shared rules every feature uses; it never imports a feature module.

pub mod auth;
pub mod delivery;
pub mod governance;
pub mod kit;
pub mod portal;

pub use kit::error::{self, ApiError};
pub use kit::ports::{self, random_array, BlocklistUnavailable, OutboundError, OutgoingEmail, Ports, QueryStats, Queued, RandomUnavailable};

#[cfg(not(target_arch = "wasm32"))]
pub use kit::native;
