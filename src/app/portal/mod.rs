//! What a client does in the portal: requests, chats, calls, documents, attachments, channels and
//! `me`. Every action passes the client gate (kit::client_gate) and the access decision.

pub mod attachments;
pub mod calls;
pub mod channels;
pub mod chat;
pub mod documents;
pub mod me;
pub mod requests;
