//! The HTTP layer on `http` crate types: one route table, thin handlers, one error table.
