//! Thin handlers: extract input, call one use case, map the result.

pub mod health;
