//! Extranet: the external-access side of a CRM, compiled to WebAssembly for Cloudflare Workers.
//!
//! Data flows one way: `edge` -> `http` -> `app` -> (`access`, `auth`, `domain`), and `app` -> `store`
//! ports. Nothing outside `edge` knows `worker` types, so everything else runs and is tested natively.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![allow(async_fn_in_trait)]

pub mod access;
pub mod app;
pub mod auth;
pub mod channels;
pub mod config;
pub mod domain;
pub mod http;
pub mod store;

#[cfg(target_arch = "wasm32")]
mod edge;
