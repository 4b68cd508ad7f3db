//! CRM events out: the pull feed (`GET /api/crm/events`), the Standard Webhooks push to
//! CRM_WEBHOOK_URL and its replay. Both read the audit log as a stream: every audit row has its
//! place in commit order (`seq`, migration 0011), and the event types below are the client actions
//! and access changes the CRM hears of, so an event exists exactly when its change committed (the
//! audit row is written in the change's own batch) and no use case can forget to emit it.
//!
//! Push order: one pusher at a time (a lease on the `crm_webhook` cursor), oldest first; an event
//! that fails waits for its retry (1, 2, 4, 8 minutes) and holds back the ones after it, so the CRM
//! receives them in order. After the fifth failure it is recorded in `crm_push_failures` (the
//! console lists them) and the push moves on; `POST /api/admin/crm/events/replay` sends everything
//! after a cursor again. An event keeps its `webhook-id` across retries and replays, so a receiver
//! that dedupes on it sees each event once.

use crate::app::delivery::notify::backoff_seconds;
use crate::app::kit::audit::{audit_guard, ActorKind, AuditGuard, Event};
use crate::app::kit::governor::{crm_or_admin_reads, employee_reads, Caller};
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::kit::meta::ClientMeta;
use crate::app::kit::rows::{changes, rows};
use crate::app::kit::session::Bearer;
use crate::app::kit::time::rfc3339;
use crate::app::{ApiError, Ports};
use crate::app::kit::error::Gone;
use crate::channels::standard_webhooks::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::config::{Config, CrmWebhook};
use crate::store::{decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Tries per event before the push gives up on it (the same budget as the other outbox rows).
pub const MAX_PUSH_ATTEMPTS: i64 = 5;
/// Events one push run sends at most.
pub const PUSH_BATCH: u32 = 50;
/// How far past a run's latest step its lease reaches. Renewed with every event's save, so it must
/// only cover one send (the outbound timeout is 5 s) and its save, with room to spare; a run that
/// dies holds the push back this long at most.
pub const LEASE_SECONDS: i64 = 60;
/// A run takes no new event after this long (the rest wait for the next run): with the lease
/// renewed per event, no run can outlive its lease, and one slow CRM cannot hold a worker for
/// 50 x 5 s.
pub const RUN_BUDGET_MS: f64 = 60_000.0;

/// The audit actions that are CRM events, as SQL (the types the OpenAPI document lists).
macro_rules! crm_event {
    ($a:literal) => {
        concat!($a, ".outcome = 'success' AND ", $a, ".action IN (\
            'request.created', 'message.sent', 'attachment.uploaded', 'attachment.downloaded', \
            'document.downloaded', 'document.reviewed', 'document.approved', 'document.rejected', 'document.signed', \
            'channel_link.telegram_linked', 'channel_link.widget_created', 'channel_link.revoked', \
            'request.status_changed', 'document.published', 'document.signature_requested', 'document.withdrawn', \
            'link.created', 'link.updated', 'link.enabled', 'link.disabled', 'link.revoked', 'link.reviewed', \
            'link.offboarded', 'link.companies_dropped_by_crm', 'policy.company.updated', 'policy.contact.updated', \
            'invitation.issued', 'invitation.activated', 'invitation.revoked', 'user.blocked', 'user.unblocked', \
            'account.locked', 'account.unlocked', 'mfa.reset', 'password.changed')")
    };
}

/// The event types, for the OpenAPI document and the docs (the same list as `crm_event!`).
pub const EVENT_TYPES: [&str; 35] = [
    "request.created", "message.sent", "attachment.uploaded", "attachment.downloaded",
    "document.downloaded", "document.reviewed", "document.approved", "document.rejected", "document.signed",
    "channel_link.telegram_linked", "channel_link.widget_created", "channel_link.revoked",
    "request.status_changed", "document.published", "document.signature_requested", "document.withdrawn",
    "link.created", "link.updated", "link.enabled", "link.disabled", "link.revoked", "link.reviewed",
    "link.offboarded", "link.companies_dropped_by_crm", "policy.company.updated", "policy.contact.updated",
    "invitation.issued", "invitation.activated", "invitation.revoked", "user.blocked", "user.unblocked",
    "account.locked", "account.unlocked", "mfa.reset", "password.changed",
];

macro_rules! event_columns {
    () => {
        "SELECT a.seq, a.id, a.action AS type, a.created_at AS occurred_at, json_object(\
           'actor', json_object('kind', a.actor_kind, 'id', a.actor_id), \
           'target', CASE WHEN a.target_kind IS NULL THEN NULL ELSE json_object('kind', a.target_kind, 'id', a.target_id) END, \
           'company_ids', json(a.company_ids), 'details', json(a.details)) AS data FROM audit_events a "
    };
}

// ?1 after, ?2 limit + 1, ?3 the oldest time kept.
const PAGE: &str = concat!(event_columns!(), "WHERE a.seq > ?1 AND a.created_at > ?3 AND ", crm_event!("a"), " ORDER BY a.seq LIMIT ?2");
// ?1 after, ?2 the oldest time kept: an event after the cursor the retention already hides.
const EXPIRED: &str = concat!("SELECT 1 AS expired FROM audit_events a WHERE a.seq > ?1 AND a.created_at <= ?2 AND ", crm_event!("a"), " LIMIT 1");
// ?1 now, ?2 lease end, ?3 this run's random token: the lease, and where the push stands.
const TAKE_LEASE: &str = "UPDATE outbox_cursors SET lease_until = ?2, lease_token = ?3 WHERE name = 'crm_webhook' AND lease_until <= ?1 \
     RETURNING seq, attempts, next_attempt_at, last_error";
// ?1 limit, ?2 the oldest time kept (the retention: an older event is never sent). Read in the
// lease's batch, so only the lease holder acts on it.
const DUE: &str = concat!(event_columns!(), "WHERE a.seq > (SELECT seq FROM outbox_cursors WHERE name = 'crm_webhook') \
    AND a.created_at > ?2 AND ", crm_event!("a"), " ORDER BY a.seq LIMIT ?1");
// ?1 lease token, ?2 new position, ?3 tries at the next event, ?4 when to try it, ?5 last error,
// ?6 now, ?7 the lease's new end: one event's outcome, saved only by the run that holds the lease.
const SAVE: &str = "UPDATE outbox_cursors SET seq = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5, lease_until = ?7, updated_at = ?6 \
     WHERE name = 'crm_webhook' AND lease_token = ?1";
// ?1 lease token: the run is over, the next may start at once.
const RELEASE: &str = "UPDATE outbox_cursors SET lease_until = 0, lease_token = NULL WHERE name = 'crm_webhook' AND lease_token = ?1";
// ?1 seq, ?2 event id, ?3 type, ?4 attempts, ?5 error, ?6 now, ?7 lease token (before the SAVE of
// its batch, which keeps the token: a run that lost the lease records nothing).
const RECORD_FAILURE: &str = "INSERT INTO crm_push_failures (seq, event_id, type, attempts, last_error, failed_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM outbox_cursors WHERE name = 'crm_webhook' AND lease_token = ?7) \
     ON CONFLICT (seq) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error, failed_at = excluded.failed_at";
// ?1 after, ?2 now: the push goes back to the cursor and starts again at once.
// A push running meanwhile loses its lease, so its save cannot undo the replay.
const REPLAY: &str = "UPDATE outbox_cursors SET seq = ?1, attempts = 0, next_attempt_at = 0, last_error = NULL, lease_until = 0, lease_token = NULL, \
     updated_at = ?2 WHERE name = 'crm_webhook'";
// While no webhook is configured the push stands at the present, so one configured later starts
// there (the feed still has the history, and a replay sends it).
const SKIP_TO_PRESENT: &str = "UPDATE outbox_cursors SET seq = (SELECT coalesce(max(seq), 0) FROM audit_events), attempts = 0, \
     next_attempt_at = 0, last_error = NULL WHERE name = 'crm_webhook'";
// ?1 after, ?2 the oldest time kept.
const REPLAY_COUNT: &str = concat!("SELECT count(*) AS queued FROM audit_events a WHERE a.seq > ?1 AND a.created_at > ?2 AND ", crm_event!("a"));
// The replay is audited (who, from which cursor to which event), in the batch that moves the
// cursor: ?14 the cursor it went back to.
const AUDIT_REPLAY: AuditGuard = audit_guard!(
    details = "json_set(?13, '$.to_seq', (SELECT coalesce(max(seq), 0) FROM audit_events))";
    "EXISTS (SELECT 1 FROM outbox_cursors WHERE name = 'crm_webhook' AND seq = ?14 AND updated_at = ?2)");
const STATUS: &str = concat!("SELECT c.seq AS pushed_cursor, c.attempts, c.next_attempt_at, c.last_error, c.updated_at, \
     (SELECT count(*) FROM audit_events a WHERE a.seq > c.seq AND ", crm_event!("a"), ") AS pending, \
     (SELECT count(*) FROM crm_push_failures) AS failed FROM outbox_cursors c WHERE c.name = 'crm_webhook'");
const FAILURES: &str = "SELECT seq, event_id, type, attempts, last_error, failed_at FROM crm_push_failures ORDER BY seq DESC LIMIT 10";

#[derive(Debug, Deserialize)]
struct EventRow {
    seq: i64,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: i64,
    data: String,
}

/// One event as the feed lists it and the webhook carries it.
#[derive(Debug, Clone, Serialize)]
pub struct CrmEvent {
    pub id: String,
    /// The feed cursor just after this event (`after=` it to read what follows).
    pub cursor: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: String,
    /// `{actor: {kind, id}, target: {kind, id} | null, company_ids, details}`.
    pub data: Value,
}

impl From<EventRow> for CrmEvent {
    fn from(e: EventRow) -> CrmEvent {
        CrmEvent { id: e.id, cursor: e.seq.to_string(), kind: e.kind, occurred_at: rfc3339(e.occurred_at), data: serde_json::from_str(&e.data).unwrap_or(Value::Null) }
    }
}

#[derive(Debug, Serialize)]
pub struct Feed {
    pub items: Vec<CrmEvent>,
    /// Where to read from next: the last item's cursor, or the one given when nothing is new.
    pub next_cursor: String,
    pub has_more: bool,
}

/// The feed's cursor: a position in commit order; 0 is the start of what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub i64);

impl Cursor {
    pub fn parse(raw: Option<&str>) -> Result<Cursor, ApiError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Cursor(0)),
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(Cursor(n)),
                _ => Err(ApiError::invalid("after", "after must be a cursor from this feed (a whole number, 0 for the start)")),
            },
        }
    }
}

/// The oldest event time the feed still serves.
fn kept_since(config: &Config, now: DateTime<Utc>) -> i64 {
    now.timestamp() - config.crm_events_retention_days * 24 * 3600
}

/// `GET /api/crm/events`: the events after `after`, oldest first, within the retention. 410
/// `cursor_expired` when events after the cursor have passed the retention unread (the CRM must
/// reconcile from the start).
pub async fn feed<P: Ports>(ports: &P, caller: &Caller, config: &Config, now: DateTime<Utc>, after: Cursor, limit: u32) -> Result<Feed, ApiError> {
    let since = kept_since(config, now);
    let mut reads = vec![Stmt::new(PAGE).bind(after.0).bind(limit + 1).bind(since)];
    if after.0 > 0 {
        reads.push(Stmt::new(EXPIRED).bind(after.0).bind(since));
    }
    let (_, out) = crm_or_admin_reads(ports, caller, now, reads).await?;
    if !rows(&out, 1).is_empty() {
        return Err(ApiError::Gone { code: Gone::CursorExpired });
    }
    let mut page: Vec<EventRow> = decode_all(rows(&out, 0))?;
    let has_more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next_cursor = page.last().map_or(after.0, |e| e.seq).to_string();
    Ok(Feed { items: page.into_iter().map(CrmEvent::from).collect(), next_cursor, has_more })
}

/// What one push run did, for the log and the admin's "deliver now".
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    /// True when another run held the lease (this one did nothing).
    pub busy: bool,
    /// True when this run lost its lease mid-way (a replay reset it, or it outlived it): it
    /// stopped at once and wrote nothing more.
    pub lease_lost: bool,
    /// True when the run stopped at its time budget with events still due (the next run goes on).
    pub budget_spent: bool,
}

/// The webhook body (Standard Webhooks' `{type, timestamp, data}`): the feed's item is the data.
pub fn payload(event: &CrmEvent) -> String {
    json!({"type": event.kind, "timestamp": event.occurred_at, "data": event}).to_string()
}

#[derive(Debug, Deserialize)]
struct Position {
    seq: i64,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
}

/// Pushes the due events in order; stops at the first that must wait for its retry, when the run
/// has spent its time budget, or when it finds it no longer holds the lease.
///
/// One run at a time: the lease is a random token, each event's outcome is saved (cursor moved,
/// failure recorded, lease extended) in one batch guarded by that token right after its send, so
/// two runs never both move the cursor, and the events after a lost lease go out once, from the
/// run that holds it. Events older than the retention are never sent.
pub async fn push_due<P: Ports>(ports: &P, hook: &CrmWebhook, config: &Config, now: DateTime<Utc>, limit: u32) -> Result<PushReport, ApiError> {
    let t = now.timestamp();
    let started = ports.elapsed_ms();
    // Wall time as the run goes on: `now` plus what the ports' clock measured since.
    let clock = || t + ((ports.elapsed_ms() - started) / 1000.0).floor() as i64;
    let token = crate::auth::refresh::hex(&secret_bytes::<P, 16>(ports)?);
    let out = ports
        .db()
        .batch(vec![Stmt::new(TAKE_LEASE).bind(t).bind(t + LEASE_SECONDS).bind(token.as_str()), Stmt::new(DUE).bind(limit).bind(kept_since(config, now))])
        .await?;
    let Some(mut at) = decode_all::<Position>(rows(&out, 0))?.into_iter().next() else {
        return Ok(PushReport { busy: true, ..PushReport::default() });
    };
    let due: Vec<EventRow> = decode_all(rows(&out, 1))?;
    let mut report = PushReport::default();
    for row in due {
        if at.next_attempt_at > t {
            break;
        }
        if ports.elapsed_ms() - started >= RUN_BUDGET_MS {
            report.budget_spent = true;
            break;
        }
        let seq = row.seq;
        let event = CrmEvent::from(row);
        let body = payload(&event);
        let sent_at = clock();
        let headers = [
            (ID_HEADER, event.id.clone()),
            (TIMESTAMP_HEADER, sent_at.to_string()),
            (SIGNATURE_HEADER, hook.secret.sign(&event.id, sent_at, &body)),
        ];
        let problem = match ports.post_json_with(&hook.url, &headers, &body).await {
            Ok((status, _)) if (200..300).contains(&status) => None,
            Ok((status, _)) => Some(format!("the CRM answered {status}")),
            Err(e) => Some(format!("no answer: {}", e.0)),
        };
        let mut writes = Vec::new();
        let retry = match problem {
            None => {
                report.sent += 1;
                at = Position { seq, attempts: 0, next_attempt_at: 0, last_error: None };
                false
            }
            Some(reason) if at.attempts + 1 < MAX_PUSH_ATTEMPTS => {
                report.retried += 1;
                at.attempts += 1;
                at.next_attempt_at = t + backoff_seconds(at.attempts);
                at.last_error = Some(reason);
                true
            }
            Some(reason) => {
                report.failed += 1;
                writes.push(
                    Stmt::new(RECORD_FAILURE)
                        .bind(seq)
                        .bind(event.id.as_str())
                        .bind(event.kind.as_str())
                        .bind(at.attempts + 1)
                        .bind(reason.as_str())
                        .bind(t)
                        .bind(token.as_str()),
                );
                at = Position { seq, attempts: 0, next_attempt_at: 0, last_error: Some(reason) };
                false
            }
        };
        let step = clock();
        let save = Stmt::new(SAVE).bind(token.as_str()).bind(at.seq).bind(at.attempts).bind(at.next_attempt_at).bind(at.last_error.clone()).bind(step).bind(step + LEASE_SECONDS);
        writes.push(save);
        let saved = ports.db().batch(writes).await?;
        if saved.last().map_or(0, |o| o.changes) != 1 {
            // Another run holds the push now: it resends from the cursor it finds.
            report.lease_lost = true;
            ports.log(&json!({"level": "warn", "crm_webhook": "lease lost", "at_seq": seq}).to_string());
            return Ok(report);
        }
        if retry {
            break;
        }
    }
    ports.db().batch(vec![Stmt::new(RELEASE).bind(token.as_str())]).await?;
    Ok(report)
}

/// For the cron when CRM_WEBHOOK_URL is not set.
pub fn skip_to_present_stmt() -> Stmt {
    Stmt::new(SKIP_TO_PRESENT)
}

#[derive(Debug, Deserialize)]
struct StatusRow {
    pushed_cursor: i64,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    updated_at: i64,
    pending: i64,
    failed: i64,
}

#[derive(Debug, Deserialize)]
struct FailureRow {
    seq: i64,
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    attempts: i64,
    last_error: String,
    failed_at: i64,
}

#[derive(Debug, Serialize)]
pub struct PushFailure {
    pub cursor: String,
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub attempts: i64,
    pub error: String,
    pub failed_at: String,
}

/// The push as the console shows it.
#[derive(Debug, Serialize)]
pub struct PushStatus {
    pub configured: bool,
    pub reason: Option<&'static str>,
    /// Events after the last one the CRM acknowledged.
    pub pending: i64,
    pub pushed_cursor: String,
    /// Tries at the next event so far, and when the next comes.
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub last_activity_at: Option<String>,
    /// Events given up on after every retry (replay them, or read them from the feed).
    pub failed: i64,
    pub recent_failures: Vec<PushFailure>,
}

pub fn status_stmts() -> Vec<Stmt> {
    vec![Stmt::new(STATUS), Stmt::new(FAILURES)]
}

pub fn decode_status(config: &Config, status: Vec<crate::store::Row>, failures: Vec<crate::store::Row>) -> Result<PushStatus, ApiError> {
    let s = decode_all::<StatusRow>(status)?.into_iter().next().ok_or_else(|| ApiError::internal("the crm_webhook cursor is missing"))?;
    let configured = config.crm_webhook.is_some();
    Ok(PushStatus {
        configured,
        reason: (!configured).then_some("CRM_WEBHOOK_URL is not set (the pull feed still serves every event)"),
        pending: s.pending,
        pushed_cursor: s.pushed_cursor.to_string(),
        attempts: s.attempts,
        next_attempt_at: (s.next_attempt_at > 0).then(|| rfc3339(s.next_attempt_at)),
        last_error: s.last_error,
        last_activity_at: (s.updated_at > 0).then(|| rfc3339(s.updated_at)),
        failed: s.failed,
        recent_failures: decode_all::<FailureRow>(failures)?
            .into_iter()
            .map(|f| PushFailure { cursor: f.seq.to_string(), event_id: f.event_id, kind: f.kind, attempts: f.attempts, error: f.last_error, failed_at: rfc3339(f.failed_at) })
            .collect(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    pub after: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Replayed {
    /// Events that go out again.
    pub queued: i64,
    pub push: PushReport,
}

#[derive(Debug, Deserialize)]
struct Queued {
    queued: i64,
}

/// `POST /api/admin/crm/events/replay` (admins): every event after the cursor goes out again, in
/// order (after an outage at the CRM, or after fixing CRM_WEBHOOK_URL), and a push runs now.
pub async fn replay<P: Ports>(ports: &P, config: &Config, bearer: &Bearer, client: &ClientMeta, now: DateTime<Utc>, input: ReplayInput) -> Result<Replayed, ApiError> {
    let after = Cursor::parse(input.after.as_deref())?;
    let (gov, _) = employee_reads(ports, bearer, now, Vec::new()).await?;
    gov.require_admin()?;
    let hook = config.crm_webhook.as_ref().ok_or_else(|| ApiError::Unavailable { what: "the CRM webhook (CRM_WEBHOOK_URL is not set)".into() })?;
    let t = now.timestamp();
    let event = Event::new("crm.events_replayed", ActorKind::Employee, Some(gov.user_id())).details(json!({"from_seq": after.0}));
    let audit = event.insert_if(&new_id(ports, now)?, client, t, AUDIT_REPLAY).bind(after.0);
    let out = ports
        .db()
        .batch(vec![Stmt::new(REPLAY).bind(after.0).bind(t), Stmt::new(REPLAY_COUNT).bind(after.0).bind(kept_since(config, now)), audit])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::internal("the crm_webhook cursor is missing"));
    }
    let queued = decode_all::<Queued>(rows(&out, 1))?.into_iter().next().map_or(0, |q| q.queued);
    let push = push_due(ports, hook, config, now, PUSH_BATCH).await?;
    Ok(Replayed { queued, push })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_types_are_exactly_those_the_sql_selects() {
        let sql = crm_event!("a");
        let list = sql.split_once("IN (").map(|(_, l)| l.trim_end_matches(')')).unwrap();
        let selected: Vec<&str> = list.split(',').map(|t| t.trim().trim_matches('\'')).collect();
        assert_eq!(selected, EVENT_TYPES.to_vec());
    }

    #[test]
    fn a_cursor_is_a_whole_number_from_zero() {
        assert_eq!(Cursor::parse(None).unwrap(), Cursor(0));
        assert_eq!(Cursor::parse(Some("42")).unwrap(), Cursor(42));
        for bad in ["-1", "abc", "1.5", "99999999999999999999"] {
            match Cursor::parse(Some(bad)) {
                Err(ApiError::InvalidInput { field, .. }) => assert_eq!(field, "after"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
