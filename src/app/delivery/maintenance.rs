//! The scheduled maintenance run (cron): expire invitations, purge dead sessions and codes, mark
//! links whose review date has passed, purge old webhook dedupe rows, write the day's review
//! digests, purge what is past its retention (audit events after AUDIT_RETENTION_DAYS, delivered
//! emails and notifications after 30 days, given-up CRM pushes after CRM_EVENTS_RETENTION_DAYS);
//! then one pass of the outbox (`deliver_outbox`):
//! Telegram notifications, email, CRM webhooks, each with bounded retries and backoff. Each step
//! is one guarded statement, safe to repeat.

use crate::app::delivery::crm_events::{self, PushReport};
use crate::app::delivery::email::{self, EmailReport};
use crate::app::delivery::notify::{self, Bot, DeliveryReport};
use crate::app::{Ports, Queued};
use crate::config::Config;
use crate::store::{Sql, Stmt, StoreError};
use chrono::{DateTime, Utc};

/// What one maintenance run changed, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MaintenanceReport {
    pub invitations_expired: u64,
    pub sessions_purged: u64,
    pub refresh_tokens_purged: u64,
    pub channel_codes_purged: u64,
    pub links_marked_review_due: u64,
    pub webhook_events_purged: u64,
    pub review_digests_written: u64,
    pub audit_events_purged: u64,
    pub emails_purged: u64,
    pub notifications_purged: u64,
    pub crm_push_failures_purged: u64,
}

/// How long what the cron purges is kept (from the config; defaults without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub audit_days: i64,
    pub crm_events_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { audit_days: crate::config::DEFAULT_AUDIT_RETENTION_DAYS, crm_events_days: crate::config::DEFAULT_CRM_EVENTS_RETENTION_DAYS }
    }
}

impl Retention {
    pub fn of(config: &Config) -> Retention {
        Retention { audit_days: config.audit_retention_days, crm_events_days: config.crm_events_retention_days }
    }
}

const EXPIRE_INVITATIONS: &str =
    "UPDATE invitations SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?1";
// Sessions are kept a week after they end, so the owner and admins can still see how they ended.
const PURGE_REFRESH_TOKENS: &str = "DELETE FROM refresh_tokens WHERE session_id IN \
     (SELECT id FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at <= ?1) OR absolute_expires_at <= ?1 OR idle_expires_at <= ?1)";
const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at <= ?1) \
     OR absolute_expires_at <= ?1 OR idle_expires_at <= ?1";
const PURGE_CHANNEL_CODES: &str = "DELETE FROM channel_link_codes WHERE expires_at <= ?1 OR used_at IS NOT NULL";
const MARK_REVIEW_DUE: &str =
    "UPDATE links SET review_due = 1 WHERE status != 'revoked' AND review_at <= ?1 AND review_due = 0";

// Telegram retries an update for about a day and a widget signature is stale after 300 s, so a
// week of dedupe rows is plenty.
const PURGE_WEBHOOK_EVENTS: &str = "DELETE FROM webhook_events WHERE received_at <= ?1";

// ?1 the oldest time kept. Never the newest row, whose seq the next `max(seq) + 1` continues from
// (the streams would otherwise number new events from where old ones stood), and never a row the
// email or CRM cursor has not passed yet (they read the log as a stream).
const PURGE_AUDIT: &str = "DELETE FROM audit_events WHERE created_at <= ?1 \
     AND seq < (SELECT max(seq) FROM audit_events) AND seq <= (SELECT min(seq) FROM outbox_cursors)";
// Messages that are done with (sent, or failed for good). A pending one stays whatever its age.
const PURGE_EMAILS: &str = "DELETE FROM emails WHERE status IN ('sent', 'failed') AND created_at <= ?1";
// The same for Telegram notices (a reply to one older than this reaches the general chat).
const PURGE_NOTIFICATIONS: &str = "DELETE FROM notifications WHERE status IN ('sent', 'failed', 'dropped') AND created_at <= ?1";
// Given-up pushes are listed as long as a replay could still send them (the CRM retention).
const PURGE_CRM_FAILURES: &str = "DELETE FROM crm_push_failures WHERE failed_at <= ?1";

/// Sent or failed emails and Telegram notices are kept this long (the console's recent history).
pub const DELIVERED_RETENTION_SECONDS: i64 = 30 * 24 * 3600;
pub const SESSION_RETENTION_SECONDS: i64 = 7 * 24 * 3600;
pub const WEBHOOK_EVENT_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

pub async fn run_maintenance<P: Ports>(ports: &P, now: DateTime<Utc>) -> Result<MaintenanceReport, StoreError> {
    run_maintenance_with(ports, now, Retention::default()).await
}

/// The maintenance batch with the configured retention.
pub async fn run_maintenance_with<P: Ports>(ports: &P, now: DateTime<Utc>, retention: Retention) -> Result<MaintenanceReport, StoreError> {
    let now_s = now.timestamp();
    let purge_before = now_s - SESSION_RETENTION_SECONDS;
    let day = 24 * 3600;
    let stmts = vec![
        Stmt::new(EXPIRE_INVITATIONS).bind(now_s),
        Stmt::new(PURGE_REFRESH_TOKENS).bind(purge_before),
        Stmt::new(PURGE_SESSIONS).bind(purge_before),
        Stmt::new(PURGE_CHANNEL_CODES).bind(now_s),
        Stmt::new(MARK_REVIEW_DUE).bind(now_s),
        Stmt::new(PURGE_WEBHOOK_EVENTS).bind(now_s - WEBHOOK_EVENT_RETENTION_SECONDS),
        // After MARK_REVIEW_DUE, so today's digest counts the links it just marked.
        email::digest_stmt(now),
        Stmt::new(PURGE_AUDIT).bind(now_s - retention.audit_days * day),
        Stmt::new(PURGE_EMAILS).bind(now_s - DELIVERED_RETENTION_SECONDS),
        Stmt::new(PURGE_NOTIFICATIONS).bind(now_s - DELIVERED_RETENTION_SECONDS),
        Stmt::new(PURGE_CRM_FAILURES).bind(now_s - retention.crm_events_days * day),
    ];
    let out = ports.db().batch(stmts).await?;
    let changes = |i: usize| out.get(i).map_or(0, |o| o.changes);
    Ok(MaintenanceReport {
        invitations_expired: changes(0),
        refresh_tokens_purged: changes(1),
        sessions_purged: changes(2),
        channel_codes_purged: changes(3),
        links_marked_review_due: changes(4),
        webhook_events_purged: changes(5),
        review_digests_written: changes(6),
        audit_events_purged: changes(7),
        emails_purged: changes(8),
        notifications_purged: changes(9),
        crm_push_failures_purged: changes(10),
    })
}

/// What one cron run did, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CronReport {
    pub maintenance: Option<MaintenanceReport>,
    /// None when no bot token is configured (notifications wait in the outbox).
    pub notifications: Option<DeliveryReport>,
    /// None when email is off (EMAIL_FROM or the binding missing).
    pub email: Option<EmailReport>,
    /// None when CRM_WEBHOOK_URL is not set (the pull feed still has every event).
    pub crm_webhook: Option<PushReport>,
    pub errors: Vec<String>,
}

/// The whole cron: maintenance, then one pass of the outbox. A failing step is reported and does
/// not stop the others.
pub async fn run_cron<P: Ports>(ports: &P, config: Option<&Config>, now: DateTime<Utc>) -> CronReport {
    let mut report = CronReport::default();
    match run_maintenance_with(ports, now, config.map(Retention::of).unwrap_or_default()).await {
        Ok(m) => report.maintenance = Some(m),
        Err(e) => report.errors.push(format!("maintenance: {e}")),
    }
    if let Some(config) = config {
        if config.crm_webhook.is_none() {
            if let Err(e) = ports.db().batch(vec![crm_events::skip_to_present_stmt()]).await {
                report.errors.push(format!("crm cursor: {e}"));
            }
        }
        let outbox = deliver_outbox(ports, config, now, true).await;
        report.notifications = outbox.telegram;
        report.email = outbox.email;
        report.crm_webhook = outbox.crm_webhook;
        report.errors.extend(outbox.errors);
    }
    report
}

/// Whether a request's answer is followed by an outbox pass, and whether it includes Telegram
/// (`Some(telegram)`), from what its statements actually wrote. Nothing queued, no pass: a write
/// that changed nothing (a refused logout, a guard that failed) must not cost the three or so
/// statements of a pass on the primary, which anyone could otherwise trigger unthrottled.
/// Audit rows and emails matter only where email or the CRM push is on (the audit rows feed both).
pub fn pass_after_response(succeeded: bool, queued: Queued, config: &Config) -> Option<bool> {
    if !succeeded {
        return None;
    }
    let telegram = queued.notifications;
    let streams_on = config.crm_webhook.is_some() || config.email_from.is_some();
    let others = streams_on && (queued.audit || queued.emails);
    (telegram || others).then_some(telegram)
}

/// One pass of every outbound channel that is configured.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxReport {
    pub telegram: Option<DeliveryReport>,
    pub email: Option<EmailReport>,
    pub crm_webhook: Option<PushReport>,
    pub errors: Vec<String>,
}

impl OutboxReport {
    /// Nothing was due and nothing went wrong (the pass after most writes): not worth a log line.
    pub fn is_quiet(&self) -> bool {
        self.errors.is_empty()
            && self.telegram.as_ref().is_none_or(|r| r.claimed == 0)
            && self.email.as_ref().is_none_or(|r| r.claimed == 0)
            && self.crm_webhook.as_ref().is_none_or(|r| r.sent + r.retried + r.failed == 0)
    }
}

/// Sends what is due: Telegram (when `telegram` and a bot is configured), email (when on), CRM
/// webhooks (when CRM_WEBHOOK_URL is set). The cron, the pass after a write's response and the
/// admin's "deliver now" all run this.
pub async fn deliver_outbox<P: Ports>(ports: &P, config: &Config, now: DateTime<Utc>, telegram: bool) -> OutboxReport {
    let mut report = OutboxReport::default();
    if let Some(bot) = Bot::from_config(config).filter(|_| telegram) {
        match notify::deliver_due(ports, &bot, now, notify::DELIVERY_BATCH).await {
            Ok(d) => report.telegram = Some(d),
            Err(e) => report.errors.push(format!("notifications: {e:?}")),
        }
    }
    let sender = email::availability(ports, config);
    // Off, the projection only moves past the events (a channel switched on later mails no old news).
    if let Err(e) = email::project(ports, sender.is_ok(), now).await {
        report.errors.push(format!("email projection: {e:?}"));
    }
    if let Ok(from) = sender {
        match email::deliver_due(ports, &from, config.portal_url.as_deref(), now, email::EMAIL_BATCH).await {
            Ok(d) => report.email = Some(d),
            Err(e) => report.errors.push(format!("email: {e:?}")),
        }
    }
    if let Some(hook) = &config.crm_webhook {
        match crm_events::push_due(ports, hook, config, now, crm_events::PUSH_BATCH).await {
            Ok(d) => report.crm_webhook = Some(d),
            Err(e) => report.errors.push(format!("crm webhook: {e:?}")),
        }
    }
    report
}
