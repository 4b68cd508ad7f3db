//! Use cases, generic over the ports, given `now` explicitly.

pub mod maintenance;
pub mod ports;

pub use ports::{random_array, Ports, QueryStats, RandomUnavailable};

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
