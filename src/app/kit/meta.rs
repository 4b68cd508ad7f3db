//! Who is calling and from where, as the edge saw it: the facts an audit row and a session record.

/// The caller's network facts and the request id, read once per request by the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub country: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}
