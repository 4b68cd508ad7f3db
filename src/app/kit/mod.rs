//! The shared kit: the rules every feature uses (ports, errors, ids, sessions, the client gate, the
//! employee's scope, audit events, settings, credentials, file rules). It never imports a feature module.

pub mod audit;
pub mod client_gate;
pub mod credentials;
pub mod documents;
pub mod error;
pub mod files;
pub mod governor;
pub mod ids;
pub mod json;
pub mod link_facts;
pub mod messages;
pub mod lockout;
pub mod meta;
pub mod outbox;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod page;
pub mod pipelines;
pub mod requests;
pub mod ports;
pub mod rows;
pub mod session;
pub mod settings;
pub mod sql;
pub mod step_up;
pub mod text;
pub mod time;
pub mod user_view;
