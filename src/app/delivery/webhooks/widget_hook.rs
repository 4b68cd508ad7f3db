//! The website widget's webhook: a signed event from the client's server, checked against the
//! connection's current or previous secret, written like any channel message.

use super::*;

const SOURCE_WIDGET: &str = "widget";

const SELECT_WIDGET: &str = "SELECT c.id, c.user_id, c.link_id, c.company_id, co.name AS company_name, c.status, c.secret, \
     CASE WHEN c.previous_secret_expires_at > ?2 THEN c.previous_secret END AS previous_secret \
     FROM channel_links c JOIN companies co ON co.id = c.company_id WHERE c.id = ?1 AND c.kind = 'widget' AND c.status <> 'revoked'";

#[derive(Debug, Deserialize)]
struct WidgetRow {
    #[serde(flatten)]
    channel: ChannelRow,
    secret: Option<String>,
    previous_secret: Option<String>,
}

/// `200 {accepted, reason?, message_id?}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WidgetAnswer {
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

impl WidgetAnswer {
    fn refused(reason: &'static str) -> WidgetAnswer {
        WidgetAnswer { accepted: false, reason: Some(reason), message_id: None }
    }
}

/// The signed request as it came.
pub struct SignedRequest<'a> {
    pub connection: &'a str,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

/// `POST /webhooks/widget/{id}`: 401 for an unknown or revoked connection and for a bad, stale or
/// missing signature alike; then 400 for a body that is not the event, and 200 with whether the
/// message was accepted.
pub async fn widget<P: Ports>(ports: &P, now: DateTime<Utc>, req: SignedRequest<'_>) -> Result<WidgetAnswer, ApiError> {
    let t = now.timestamp();
    let connection = Uuid::parse_str(req.connection).ok();
    let row = match connection {
        Some(id) => ports.db().first(Stmt::new(SELECT_WIDGET).bind(id.to_string()).bind(t)).await?,
        None => None,
    };
    let row: Option<WidgetRow> = row.map(decode).transpose()?;
    let secrets: Vec<&str> = row.iter().flat_map(|r| [r.secret.as_deref(), r.previous_secret.as_deref()]).flatten().collect();
    if widget::verify(&secrets, req.timestamp, req.signature, req.body, t).is_err() {
        return Err(ApiError::Unauthenticated);
    }
    let Some(row) = row else {
        return Err(ApiError::Unauthenticated);
    };
    let channel = row.channel;
    let input: widget::EventInput = crate::app::kit::json::parse_json(req.body)?;
    let (event_id, text, request_id) = match widget::validate(input).map_err(|(field, message)| ApiError::invalid(field, message))? {
        WidgetEvent::Message { event_id, text, request_id } => (event_id, text, request_id),
        WidgetEvent::Unsupported { event_id } => {
            let key = format!("{}:{event_id}", channel.id);
            let done = record(ports, vec![event_stmt(SOURCE_WIDGET, &key, Some(&channel.id), "ignored", Some("unsupported_type"), t)]).await?;
            return Ok(WidgetAnswer::refused(if done.is_some() { "unsupported_type" } else { "duplicate" }));
        }
    };
    let key = format!("{}:{event_id}", channel.id);

    let mut stmts = vec![Stmt::new(SELECT_SEEN).bind(SOURCE_WIDGET).bind(key.as_str())];
    stmts.extend(facts_stmts(&channel.link_id));
    if let Some(r) = request_id {
        stmts.push(Stmt::new(crate::app::kit::requests::SELECT_REQUEST).bind(r.to_string()));
    }
    let out = ports.db().batch(stmts).await?;
    if first_row(&out, 0).is_some() {
        return Ok(WidgetAnswer::refused("duplicate"));
    }
    let facts_end = 1 + crate::app::kit::link_facts::FACTS_STMT_COUNT;
    let facts = decode_facts(out.get(1..facts_end).unwrap_or_default())?;
    let target = request_id.map(|_| request_row(rows(&out, facts_end).into_iter().next())).transpose()?;

    match route(facts.as_ref().map(|(_, f)| f), Action::Widget, channel.company_id, target) {
        Route::Refuse { reason } => {
            let mut stmts = vec![event_stmt(SOURCE_WIDGET, &key, Some(&channel.id), "refused", Some(reason), t)];
            if reason == "channel_suspended" {
                stmts.push(Stmt::new(SUSPEND_LINK).bind(channel.id.as_str()).bind(t));
            }
            let done = record(ports, stmts).await?;
            Ok(WidgetAnswer::refused(if done.is_none() {
                "duplicate"
            } else if reason == "channel_suspended" {
                "policy_denied"
            } else {
                reason
            }))
        }
        Route::Deliver { request } => {
            let Some((link, _)) = facts else {
                return Ok(WidgetAnswer::refused("policy_denied"));
            };
            let id = new_id(ports, now)?;
            let mut stmts = message_stmts(&id, &channel, "widget", request, &event_id, &text, t, link.policy_version);
            stmts.push(Stmt::new(INSERT_EVENT_FOR_MESSAGE).bind(SOURCE_WIDGET).bind(key.as_str()).bind(id.as_str()).bind(channel.id.as_str()).bind(t));
            stmts.push(touch_request_stmt(&id, t));
            match record(ports, stmts).await? {
                None => Ok(WidgetAnswer::refused("duplicate")),
                Some(out) if out.first().is_some_and(|o| o.changes == 1) => Ok(WidgetAnswer { accepted: true, reason: None, message_id: Some(id) }),
                Some(_) => Ok(WidgetAnswer::refused("changed_meanwhile")),
            }
        }
    }
}
