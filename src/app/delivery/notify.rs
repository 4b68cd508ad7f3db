//! Telegram notifications: the outbox rows producers add to their own batches (a team message on a
//! request, a status change, a document awaiting the client), their delivery through the Bot API
//! with bounded retries, and direct replies to a chat (the webhook's answers).
//!
//! Who receives what: the outbox statement writes one row per live Telegram channel link at the
//! object's company (a cheap SQL superset, in the producer's batch, so a notification exists iff
//! its event does); delivery then asks the access engine, at send time, whether the link may still
//! use Telegram there and still sees the object (a message needs read_request_chat on its request,
//! a status change the request), and drops the row otherwise. Documents have no column in the
//! outbox, so their addressee (every contact, or one) is filtered when the row is written and
//! only the Telegram permission is checked at send time. A failed send never touches the request
//! that caused it: the row records the error and is retried with backoff, then marked failed.

use crate::app::kit::outbox::{MARK_UNREACHABLE, RESUME_LINK, SUSPEND_LINK};
use crate::app::kit::governor::Governor;
use crate::app::kit::session::Bearer;
use crate::app::kit::link_facts::{decode_facts, facts_stmts, FACTS_STMT_COUNT};
use crate::app::{ApiError, Ports};
use crate::access::decision::{decide, Action, Object};
use crate::access::facts::{DocumentFacts, LinkFacts, RequestFacts};
use crate::channels::telegram::{self, SendFailure};
use crate::config::{Config, Secret};
use crate::store::{decode_all, sql::flag, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Sends after the first that fail temporarily: at most this many in all, then `failed`.
pub const MAX_ATTEMPTS: i64 = 5;
/// A claimed row is left alone this long (a run that dies mid-send is retried after it).
const LEASE_SECONDS: i64 = 300;
/// How many rows one delivery run claims.
pub const DELIVERY_BATCH: u32 = 20;
const REPLY_HINT: &str = "\n\nReply to this message to answer in the request.";

/// The bot, when configured (a token is needed to send anything).
#[derive(Debug, Clone)]
pub struct Bot {
    api_base: String,
    token: Secret,
}

impl Bot {
    pub fn from_config(config: &Config) -> Option<Bot> {
        config.telegram_bot_token.clone().map(|token| Bot { api_base: config.telegram_api_base.clone(), token })
    }

    fn url(&self, method: &str) -> String {
        telegram::method_url(&self.api_base, self.token.expose(), method)
    }

    /// Sends a text to a chat; the id of the sent message.
    pub async fn send<P: Ports>(&self, ports: &P, chat_id: &str, text: &str) -> Result<i64, SendFailure> {
        let body = telegram::send_message_body(chat_id, text);
        match ports.post_json(&self.url("sendMessage"), &body).await {
            Ok((status, answer)) => telegram::sent_message_id(status, &answer),
            Err(e) => Err(SendFailure::Temporary(format!("no answer: {}", e.0))),
        }
    }
}

/// A best-effort answer to a chat (the webhook's replies): not queued, not retried, only logged
/// when it fails. Never breaks the webhook (Telegram must get its 200).
pub async fn reply<P: Ports>(ports: &P, bot: Option<&Bot>, chat_id: i64, text: &str) {
    let Some(bot) = bot else {
        ports.log(&json!({"level": "warn", "telegram": "reply skipped", "reason": "TELEGRAM_BOT_TOKEN is not set"}).to_string());
        return;
    };
    if let Err(failure) = bot.send(ports, &chat_id.to_string(), text).await {
        ports.log(&json!({"level": "warn", "telegram": "reply failed", "error": failure.reason()}).to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// The outbox statements producers add to their batches
// ---------------------------------------------------------------------------------------------

// Ids: the event's fresh UUIDv7 up to its last group (?1, 24 characters) and the last group of the
// channel link's id, so each row of one event has its own id with no randomness in SQL.
// Recipients: live Telegram links at the company; delivery decides the rest with the engine.

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

// ?1 now, ?2 lease end, ?3 limit. One statement, so two runs never claim the same row.
const CLAIM: &str = "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?2 \
     WHERE status = 'pending' AND id IN (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?1 \
       ORDER BY next_attempt_at LIMIT ?3) \
     RETURNING id, channel_link_id, company_id, request_id, message_id, document_id, body, attempts";
const SELECT_TARGETS: &str = "SELECT cl.id, cl.status, cl.external_id, cl.link_id, cl.unreachable_at FROM channel_links cl \
     WHERE cl.id IN (SELECT value FROM json_each(?1))";
const SELECT_REQUESTS: &str = "SELECT id, company_id, pipeline_id FROM requests WHERE id IN (SELECT value FROM json_each(?1))";
pub(super) const SELECT_DOCUMENTS: &str = "SELECT id, company_id, contact_id, status = 'published' AS published, \
     (status = 'published' AND required_action <> 'none' AND completed_at IS NULL) AS awaiting FROM documents WHERE id IN (SELECT value FROM json_each(?1))";
const MARK_SENT: &str = "UPDATE notifications SET status = 'sent', sent_at = ?2, external_message_id = ?3, last_error = NULL WHERE id = ?1";
const MARK_RETRY: &str = "UPDATE notifications SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1 AND status = 'pending'";
const MARK_FINAL: &str = "UPDATE notifications SET status = ?2, last_error = ?3 WHERE id = ?1 AND status = 'pending'";

#[derive(Debug, Deserialize)]
struct Claimed {
    id: String,
    channel_link_id: String,
    company_id: Uuid,
    request_id: Option<Uuid>,
    message_id: Option<String>,
    document_id: Option<Uuid>,
    body: String,
    attempts: i64,
}

#[derive(Debug, Deserialize)]
struct Target {
    id: String,
    status: String,
    external_id: Option<String>,
    link_id: String,
    unreachable_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RequestRow {
    id: Uuid,
    company_id: Uuid,
    pipeline_id: Uuid,
}

/// A document as the send-time checks see it (Telegram here, email in `email_recipients`).
#[derive(Debug, Deserialize)]
pub(super) struct DocumentRow {
    pub(super) id: Uuid,
    company_id: Uuid,
    contact_id: Option<Uuid>,
    #[serde(with = "flag")]
    published: bool,
    /// Published with an action still expected of the client.
    #[serde(with = "flag")]
    pub(super) awaiting: bool,
}

impl DocumentRow {
    pub(super) fn object(&self) -> Object {
        Object::Document(DocumentFacts { id: self.id, company_id: self.company_id, contact_id: self.contact_id, published: self.published })
    }
}

/// What one delivery run did, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub claimed: u64,
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// What to do with one claimed row.
enum Plan {
    Send { chat_id: String, text: String },
    Drop(&'static str),
}

/// Whether the engine lets this link receive this notification now, and the text to send.
fn plan(n: &Claimed, target: Option<&Target>, facts: Option<&LinkFacts>, request: Option<&RequestRow>, document: Option<&DocumentRow>) -> Plan {
    let Some(target) = target.filter(|t| t.status != "revoked") else {
        return Plan::Drop("the channel link is revoked");
    };
    let Some(chat_id) = target.external_id.clone() else {
        return Plan::Drop("the channel link has no chat");
    };
    if target.unreachable_at.is_some() {
        return Plan::Drop("the chat blocked the bot");
    }
    let Some(facts) = facts else {
        return Plan::Drop("the link is gone");
    };
    if !decide(facts, Action::Telegram, &Object::Company(n.company_id)).is_allowed() {
        return Plan::Drop("the policy does not allow telegram");
    }
    if let Some(wanted) = n.document_id {
        let Some(doc) = document.filter(|d| d.id == wanted) else {
            return Plan::Drop("the document is gone");
        };
        if !doc.awaiting {
            return Plan::Drop("the document no longer awaits the client");
        }
        if !decide(facts, Action::View, &doc.object()).is_allowed() {
            return Plan::Drop("the user may not see it");
        }
    }
    let mut text = n.body.clone();
    if let Some(wanted) = n.request_id {
        let Some(request) = request.filter(|r| r.id == wanted) else {
            return Plan::Drop("the request is gone");
        };
        let object = Object::Request(RequestFacts { id: request.id, company_id: request.company_id, pipeline_id: request.pipeline_id });
        let needs = if n.message_id.is_some() { Action::ReadRequestChat } else { Action::View };
        if !decide(facts, needs, &object).is_allowed() {
            return Plan::Drop("the user may not see it");
        }
        if decide(facts, Action::SendRequestChat, &object).is_allowed() {
            text = telegram::clip(&text, telegram::TEXT_MAX - REPLY_HINT.chars().count());
            text.push_str(REPLY_HINT);
        }
    }
    Plan::Send { chat_id, text }
}

/// Delivers up to `limit` due notifications: claims them, asks the engine about each, sends, and
/// records the outcome (sent, retried with backoff, failed for good, or dropped).
pub async fn deliver_due<P: Ports>(ports: &P, bot: &Bot, now: DateTime<Utc>, limit: u32) -> Result<DeliveryReport, ApiError> {
    let t = now.timestamp();
    let claimed = ports.db().all(Stmt::new(CLAIM).bind(t).bind(t + LEASE_SECONDS).bind(limit)).await?;
    let claimed: Vec<Claimed> = decode_all(claimed)?;
    let mut report = DeliveryReport { claimed: claimed.len() as u64, ..DeliveryReport::default() };
    if claimed.is_empty() {
        return Ok(report);
    }

    let json_list = |ids: Vec<String>| serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let link_ids = json_list(claimed.iter().map(|n| n.channel_link_id.clone()).collect());
    let request_ids = json_list(claimed.iter().filter_map(|n| n.request_id.map(|r| r.to_string())).collect());
    let document_ids = json_list(claimed.iter().filter_map(|n| n.document_id.map(|d| d.to_string())).collect());
    let out = ports
        .db()
        .batch(vec![Stmt::new(SELECT_TARGETS).bind(link_ids), Stmt::new(SELECT_REQUESTS).bind(request_ids), Stmt::new(SELECT_DOCUMENTS).bind(document_ids)])
        .await?;
    let targets: Vec<Target> = decode_all(out.first().map(|o| o.rows.clone()).unwrap_or_default())?;
    let requests: Vec<RequestRow> = decode_all(out.get(1).map(|o| o.rows.clone()).unwrap_or_default())?;
    let documents: Vec<DocumentRow> = decode_all(out.get(2).map(|o| o.rows.clone()).unwrap_or_default())?;

    // The facts of every link involved, in one batch.
    let mut links: Vec<String> = targets.iter().map(|t| t.link_id.clone()).collect();
    links.sort();
    links.dedup();
    let stmts: Vec<Stmt> = links.iter().flat_map(|l| facts_stmts(l)).collect();
    let out = ports.db().batch(stmts).await?;
    let mut facts: BTreeMap<String, LinkFacts> = BTreeMap::new();
    for (i, link) in links.iter().enumerate() {
        let slice = out.get(i * FACTS_STMT_COUNT..(i + 1) * FACTS_STMT_COUNT).unwrap_or_default();
        if let Some((_, f)) = decode_facts(slice)? {
            facts.insert(link.clone(), f);
        }
    }

    let mut writes = Vec::new();
    let mut allowed_links: BTreeMap<String, bool> = BTreeMap::new();
    // Chats found blocked during this run: their later rows are dropped, not sent into a 403.
    let mut blocked: Vec<String> = Vec::new();
    for n in &claimed {
        let target = targets.iter().find(|t| t.id == n.channel_link_id);
        let link_facts = target.and_then(|t| facts.get(&t.link_id));
        let request = n.request_id.and_then(|r| requests.iter().find(|q| q.id == r));
        if let (Some(target), Some(f)) = (target, link_facts) {
            let allowed = decide(f, Action::Telegram, &Object::Company(n.company_id)).is_allowed();
            allowed_links.insert(target.id.clone(), allowed);
        }
        let document = n.document_id.and_then(|d| documents.iter().find(|x| x.id == d));
        let planned = if blocked.contains(&n.channel_link_id) { Plan::Drop("the chat blocked the bot") } else { plan(n, target, link_facts, request, document) };
        match planned {
            Plan::Drop(reason) => {
                report.dropped += 1;
                writes.push(Stmt::new(MARK_FINAL).bind(n.id.as_str()).bind("dropped").bind(reason));
            }
            Plan::Send { chat_id, text } => match bot.send(ports, &chat_id, &text).await {
                Ok(message_id) => {
                    report.sent += 1;
                    // Written at once, not with the rest: a reply that comes while later rows are
                    // still being sent must find the notification it answers.
                    ports.db().batch(vec![Stmt::new(MARK_SENT).bind(n.id.as_str()).bind(t).bind(message_id.to_string())]).await?;
                }
                Err(SendFailure::Unreachable(reason)) => {
                    report.failed += 1;
                    writes.push(Stmt::new(MARK_FINAL).bind(n.id.as_str()).bind("failed").bind(reason));
                    writes.push(Stmt::new(MARK_UNREACHABLE).bind(n.channel_link_id.as_str()).bind(t));
                    blocked.push(n.channel_link_id.clone());
                }
                Err(SendFailure::Temporary(reason)) if n.attempts < MAX_ATTEMPTS => {
                    report.retried += 1;
                    writes.push(Stmt::new(MARK_RETRY).bind(n.id.as_str()).bind(t + backoff_seconds(n.attempts)).bind(reason));
                }
                Err(failure) => {
                    report.failed += 1;
                    writes.push(Stmt::new(MARK_FINAL).bind(n.id.as_str()).bind("failed").bind(failure.reason()));
                }
            },
        }
    }
    for (link, allowed) in allowed_links {
        writes.push(Stmt::new(if allowed { RESUME_LINK } else { SUSPEND_LINK }).bind(link).bind(t));
    }
    ports.db().batch(writes).await?;
    Ok(report)
}

/// `POST /api/admin/notifications/deliver` (admins): one delivery run now, as the cron does. For
/// operations (after fixing the bot token) and for local runs, where `wrangler dev` cannot fire
/// the cron of a worker that serves static assets.
pub async fn deliver_now<P: Ports>(ports: &P, config: &Config, bearer: &Bearer, now: DateTime<Utc>) -> Result<DeliveryReport, ApiError> {
    let out = ports.db().batch(vec![Governor::check_stmt(bearer, now)]).await?;
    Governor::from_check(bearer, out.first())?.require_admin()?;
    let bot = Bot::from_config(config).ok_or_else(|| ApiError::Unavailable { what: "Telegram delivery (TELEGRAM_BOT_TOKEN is not set)".into() })?;
    deliver_due(ports, &bot, now, DELIVERY_BATCH).await
}

/// Wait before the next attempt after `attempts` tries: 1, 2, 4, 8 minutes...
pub fn backoff_seconds(attempts: i64) -> i64 {
    60 * (1i64 << attempts.clamp(1, 10).saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff_seconds(1), 60);
        assert_eq!(backoff_seconds(2), 120);
        assert_eq!(backoff_seconds(4), 480);
        assert_eq!(backoff_seconds(0), 60);
    }
}
