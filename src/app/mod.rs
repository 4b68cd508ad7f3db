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
// [links modules]
// [policies modules]
// [requests modules]
// [documents modules]
pub mod ids;
pub mod link_facts;
pub mod login;
pub mod me;
pub mod mfa;
pub mod refresh;
pub mod security_settings;
pub mod session;
pub mod settings;
pub mod maintenance;
pub mod ports;

pub use ports::{random_array, Ports, QueryStats, RandomUnavailable};

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub use error::ApiError;
