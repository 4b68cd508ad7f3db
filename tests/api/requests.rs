//! Requests, chats, calls and request attachments over HTTP, client and team sides.
