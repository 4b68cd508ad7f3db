//! The outbox statements producers add to their own batches (a team message on a request, a status
//! change, a document awaiting the client), so a notification exists exactly when its event does.
//! Ids: the event's fresh UUIDv7 up to its last group (?1, 24 characters) and the last group of the
//! channel link's id, so each row of one event has its own id with no randomness in SQL.
//! Recipients: live Telegram links at the company; delivery (`delivery::notify`) decides the rest.

use crate::app::kit::ids::new_id;
use crate::app::{ApiError, Ports};
use crate::store::Stmt;
use chrono::{DateTime, Utc};

/// ?1 id prefix, ?2 now, ?3 message. Only messages on a request (the general chat notifies no one).
const TEAM_MESSAGE: &str = "INSERT INTO notifications (id, channel, channel_link_id, company_id, request_id, message_id, body, next_attempt_at, created_at) \
     SELECT ?1 || substr(cl.id, 25), 'telegram', cl.id, m.company_id, m.request_id, m.id, \
       'New message from ' || coalesce(nullif(trim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')), ''), 'the team') \
       || ' on \"' || r.title || '\":' || char(10) || char(10) || m.body, ?2, ?2 \
     FROM messages m JOIN requests r ON r.id = m.request_id LEFT JOIN users u ON u.id = m.author_user_id \
     JOIN channel_links cl ON cl.company_id = m.company_id AND cl.kind = 'telegram' AND cl.status <> 'revoked' AND cl.unreachable_at IS NULL \
     WHERE m.id = ?3 AND m.author_kind = 'employee'";

/// ?1 id prefix, ?2 now, ?3 request, ?4 the audit event that guards the change.
const STATUS_CHANGE: &str = "INSERT INTO notifications (id, channel, channel_link_id, company_id, request_id, body, next_attempt_at, created_at) \
     SELECT ?1 || substr(cl.id, 25), 'telegram', cl.id, r.company_id, r.id, \
       'Request \"' || r.title || '\" is now: ' || st.name, ?2, ?2 \
     FROM requests r JOIN pipeline_stages st ON st.pipeline_id = r.pipeline_id AND st.id = r.stage_id \
     JOIN channel_links cl ON cl.company_id = r.company_id AND cl.kind = 'telegram' AND cl.status <> 'revoked' AND cl.unreachable_at IS NULL \
     WHERE r.id = ?3 AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";

/// ?1 id prefix, ?2 now, ?3 document, ?4 the audit event that guards the change. Only a published
/// document with an action still expected, and only for links of its addressee.
const DOCUMENT: &str = "INSERT INTO notifications (id, channel, channel_link_id, company_id, document_id, body, next_attempt_at, created_at) \
     SELECT ?1 || substr(cl.id, 25), 'telegram', cl.id, d.company_id, d.id, \
       'Document \"' || d.title || '\" awaits your ' || CASE d.required_action WHEN 'review' THEN 'review' \
       WHEN 'approve' THEN 'approval' ELSE 'signature' END || ' in the portal.', ?2, ?2 \
     FROM documents d JOIN channel_links cl ON cl.company_id = d.company_id AND cl.kind = 'telegram' AND cl.status <> 'revoked' AND cl.unreachable_at IS NULL \
     JOIN links l ON l.id = cl.link_id \
     WHERE d.id = ?3 AND d.status = 'published' AND d.required_action <> 'none' AND d.completed_at IS NULL \
       AND (d.contact_id IS NULL OR d.contact_id = l.contact_id) AND EXISTS (SELECT 1 FROM audit_events WHERE id = ?4)";

fn id_prefix<P: Ports>(ports: &P, now: DateTime<Utc>) -> Result<String, ApiError> {
    let id = new_id(ports, now)?;
    Ok(id.get(..24).unwrap_or_default().to_owned())
}

/// For a team message's batch, after the message's INSERT: notifies the request's company.
pub fn team_message_stmt<P: Ports>(ports: &P, now: DateTime<Utc>, message_id: &str) -> Result<Stmt, ApiError> {
    ports.outbox_queued();
    Ok(Stmt::new(TEAM_MESSAGE).bind(id_prefix(ports, now)?).bind(now.timestamp()).bind(message_id))
}

/// For a status change's batch, after the UPDATE (the row then holds the new stage).
pub fn status_change_stmt<P: Ports>(ports: &P, now: DateTime<Utc>, request_id: &str, event_id: &str) -> Result<Stmt, ApiError> {
    ports.outbox_queued();
    Ok(Stmt::new(STATUS_CHANGE).bind(id_prefix(ports, now)?).bind(now.timestamp()).bind(request_id).bind(event_id))
}

/// For a document change's batch, after the UPDATE: writes rows only when the document now awaits
/// the client (published with a required action), so it may ride in every change's batch.
pub fn document_stmt<P: Ports>(ports: &P, now: DateTime<Utc>, document_id: &str, event_id: &str) -> Result<Stmt, ApiError> {
    ports.outbox_queued();
    Ok(Stmt::new(DOCUMENT).bind(id_prefix(ports, now)?).bind(now.timestamp()).bind(document_id).bind(event_id))
}

/// The stored status follows the engine's verdict at use time (a policy may come back).
pub const SUSPEND_LINK: &str = "UPDATE channel_links SET status = 'suspended', updated_at = ?2 WHERE id = ?1 AND status = 'active'";

pub const RESUME_LINK: &str = "UPDATE channel_links SET status = 'active', updated_at = ?2 WHERE id = ?1 AND status = 'suspended'";

/// The user blocked the bot (a `my_chat_member` update, or a Bot API 403 on send): ?1 channel link, ?2 now.
pub const MARK_UNREACHABLE: &str = "UPDATE channel_links SET unreachable_at = ?2, updated_at = ?2 WHERE id = ?1 AND status <> 'revoked' AND unreachable_at IS NULL";
/// The same, by chat: ?1 the Telegram chat id, ?2 now.
pub const MARK_CHAT_UNREACHABLE: &str = "UPDATE channel_links SET unreachable_at = ?2, updated_at = ?2 \
     WHERE kind = 'telegram' AND external_id = ?1 AND status <> 'revoked' AND unreachable_at IS NULL";
/// The chat is reachable again (unblocked, a new /start, a message from it): ?1 chat id, ?2 now.
pub const MARK_CHAT_REACHABLE: &str = "UPDATE channel_links SET unreachable_at = NULL, updated_at = ?2 \
     WHERE kind = 'telegram' AND external_id = ?1 AND status <> 'revoked' AND unreachable_at IS NOT NULL";

// ?1 email id, ?2 invitation id, ?3 URL, ?4 now, ?5 expiry, ?6 whether it replaces a password.
// Written only when the invitation row exists (its batch's guard held) and the user has an email.
// The invitation's id lets delivery drop the message (and its URL) once the invitation is no
// longer pending: a revoked, used or expired link is never mailed.
const INVITATION_EMAIL: &str = "INSERT INTO emails (id, kind, user_id, to_address, data, next_attempt_at, created_at) \
     SELECT ?1, 'invitation', u.id, u.email, json_object('url', ?3, 'expires_at', ?5, 'password_reset', ?6, 'invitation_id', ?2), ?4, ?4 \
     FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.id = ?2 AND i.status = 'pending' AND u.email IS NOT NULL";

/// For an invitation's batch, after its INSERT: the message with the activation link. No
/// `outbox_queued()`: that flag asks for a Telegram pass, and the edge already runs the email pass
/// after every write while email is on (the only time this row is written).
pub fn invitation_email_stmt(email_id: &str, invitation_id: &str, url: &str, now: i64, expires_at: i64, password_reset: bool) -> Stmt {
    Stmt::new(INVITATION_EMAIL).bind(email_id).bind(invitation_id).bind(url).bind(now).bind(expires_at).bind(i64::from(password_reset))
}
