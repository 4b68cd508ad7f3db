//! The edge webhooks: Telegram updates (`/start <code>` links a private chat; later messages land
//! in the general chat or in the request whose notification they reply to) and the widget's signed
//! events. Both dedupe on the event's id with a plain INSERT into `webhook_events` placed in the
//! very batch that acts on the event: a UNIQUE failure rolls the whole batch back and means "seen
//! already", and a failed batch leaves no trace, so a retry is processed. Every decision is the
//! access engine's, made on the link's facts at use time; a refusal is recorded too, so a retried
//! refusal is not answered twice.

use crate::app::kit::outbox::{MARK_CHAT_REACHABLE, MARK_CHAT_UNREACHABLE, RESUME_LINK, SUSPEND_LINK};
use crate::app::kit::requests::{RequestRow, request_row, request_select};
use crate::app::kit::rows::{first_row, rows};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event as AuditEvent};
use crate::app::kit::ids::{new_id, nonce};
use crate::app::kit::link_facts::{decode_facts, facts_stmts};
use crate::app::delivery::notify::{self, Bot};
use crate::app::kit::requests::touch_request_stmt;
use crate::app::{ApiError, Ports};
use crate::access::decision::{decide, Action, Object, Verdict};
use crate::access::facts::LinkFacts;
use crate::auth::refresh::sha256_hex;
use crate::channels::telegram::{self, Chat, Event, StartCode, Update, INCOMING_TEXT_MAX};
use crate::channels::widget::{self, WidgetEvent};
use crate::channels::secret_matches;
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, Outcome, Sql, Stmt, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

mod telegram_hook;
mod widget_hook;

pub use telegram_hook::telegram;
pub use widget_hook::{widget, SignedRequest, WidgetAnswer};

/// Where the portal's Channels page is, for the bot's hints.
const PORTAL_HINT: &str = "the Channels page of the portal";

const SELECT_SEEN: &str = "SELECT 1 AS seen FROM webhook_events WHERE source = ?1 AND event_id = ?2";
// Plain INSERT: a second one for the same event fails the batch (the duplicate answer).
const INSERT_EVENT: &str =
    "INSERT INTO webhook_events (source, event_id, channel_link_id, outcome, reason, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
// The same, its outcome read from whether the message it guards was written (?3 message id).
const INSERT_EVENT_FOR_MESSAGE: &str = "INSERT INTO webhook_events (source, event_id, channel_link_id, outcome, reason, received_at) \
     SELECT ?1, ?2, ?4, CASE WHEN EXISTS (SELECT 1 FROM messages WHERE id = ?3) THEN 'accepted' ELSE 'refused' END, \
     CASE WHEN EXISTS (SELECT 1 FROM messages WHERE id = ?3) THEN NULL ELSE 'changed_meanwhile' END, ?5";

/// A webhook's duplicate: the dedupe row's UNIQUE failure (anything else is a real failure).
fn is_duplicate(e: &StoreError) -> bool {
    e.is_unique_violation() && e.context.contains("webhook_events")
}

/// Runs an event's batch: Some(outcomes) when it committed, None when the event was seen already.
async fn record<P: Ports>(ports: &P, stmts: Vec<Stmt>) -> Result<Option<Vec<Outcome>>, ApiError> {
    match ports.db().batch(stmts).await {
        Ok(out) => Ok(Some(out)),
        Err(e) if is_duplicate(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn event_stmt(source: &str, event_id: &str, channel_link: Option<&str>, outcome: &str, reason: Option<&str>, now: i64) -> Stmt {
    Stmt::new(INSERT_EVENT).bind(source).bind(event_id).bind(channel_link).bind(outcome).bind(reason).bind(now)
}

// A message from a channel, written only while the channel link is live and its link active at
// the policy version the decision was made on. ?1 id, ?2 company, ?3 request (NULL: general chat),
// ?4 author kind, ?5 user, ?6 channel link, ?7 external id, ?8 body, ?9 now, ?10 policy version.
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, company_id, request_id, author_kind, author_user_id, channel_link_id, external_id, body, created_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS (SELECT 1 FROM channel_links c JOIN links l ON l.id = c.link_id \
       JOIN users u ON u.id = l.user_id WHERE c.id = ?6 AND c.status <> 'revoked' AND l.status = 'active' AND u.status = 'active' \
       AND l.policy_version = ?10)";

/// The statements that write a channel's message: the insert guarded by the link's policy version
/// the decision was made on, and a suspended channel link resumed (it writes again under a policy
/// that allows it). `author` is the channel's kind, `external_id` the message's id there.
#[allow(clippy::too_many_arguments)]
fn message_stmts(id: &str, channel: &ChannelRow, author: &str, request: Option<Uuid>, external_id: &str, text: &str, t: i64, policy_version: i64) -> Vec<Stmt> {
    let mut stmts = vec![Stmt::new(INSERT_MESSAGE)
        .bind(id)
        .bind(channel.company_id.to_string())
        .bind(request.map(|r| r.to_string()))
        .bind(author)
        .bind(channel.user_id.as_str())
        .bind(channel.id.as_str())
        .bind(external_id)
        .bind(text)
        .bind(t)
        .bind(policy_version)];
    if channel.status == "suspended" {
        stmts.push(Stmt::new(RESUME_LINK).bind(channel.id.as_str()).bind(t));
    }
    stmts
}

/// A live channel link and what it belongs to.
#[derive(Debug, Clone, Deserialize)]
struct ChannelRow {
    id: String,
    user_id: String,
    link_id: String,
    company_id: Uuid,
    company_name: String,
    status: String,
}

/// Where a channel's message goes, as the engine decided.
enum Route {
    Deliver { request: Option<Uuid> },
    Refuse { reason: &'static str },
}

/// The engine's answer for a message from `channel` (Telegram or Widget) to `request` or, with
/// none, to the general chat. Refusals are named for the record and the bot's hint.
fn route(facts: Option<&LinkFacts>, channel: Action, company: Uuid, request: Option<Option<RequestRow>>) -> Route {
    let Some(facts) = facts else {
        return Route::Refuse { reason: "channel_suspended" };
    };
    if decide(facts, channel, &Object::Company(company)).verdict != Verdict::Allow {
        return Route::Refuse { reason: "channel_suspended" };
    }
    match request {
        None => match decide(facts, Action::GeneralChat, &Object::Company(company)).verdict {
            Verdict::Allow => Route::Deliver { request: None },
            _ => Route::Refuse { reason: "general_chat_denied" },
        },
        Some(None) => Route::Refuse { reason: "request_not_found" },
        // A request of another company than the channel's is not one this channel may write to.
        Some(Some(r)) if r.company_id != company => Route::Refuse { reason: "request_not_found" },
        Some(Some(r)) => match decide(facts, Action::SendRequestChat, &r.object()).verdict {
            Verdict::Allow => Route::Deliver { request: Some(r.id) },
            Verdict::NotVisible => Route::Refuse { reason: "request_not_found" },
            Verdict::PolicyDenied(_) => Route::Refuse { reason: "send_request_chat_denied" },
        },
    }
}
