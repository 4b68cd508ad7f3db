//! The scheduled maintenance run (cron): expire invitations, purge dead sessions and codes, mark
//! links whose review date has passed, purge old webhook dedupe rows, write the day's review
//! digests; then one pass of the outbox (`deliver_outbox`):
//! Telegram notifications, email, CRM webhooks, each with bounded retries and backoff. Each step
//! is one guarded statement, safe to repeat.

use crate::app::delivery::crm_events::{self, PushReport};
use crate::app::delivery::email::{self, EmailReport};
use crate::app::delivery::notify::{self, Bot, DeliveryReport};
use crate::app::Ports;
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

pub const SESSION_RETENTION_SECONDS: i64 = 7 * 24 * 3600;
pub const WEBHOOK_EVENT_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

pub async fn run_maintenance<P: Ports>(ports: &P, now: DateTime<Utc>) -> Result<MaintenanceReport, StoreError> {
    let now_s = now.timestamp();
    let purge_before = now_s - SESSION_RETENTION_SECONDS;
    let stmts = vec![
        Stmt::new(EXPIRE_INVITATIONS).bind(now_s),
        Stmt::new(PURGE_REFRESH_TOKENS).bind(purge_before),
        Stmt::new(PURGE_SESSIONS).bind(purge_before),
        Stmt::new(PURGE_CHANNEL_CODES).bind(now_s),
        Stmt::new(MARK_REVIEW_DUE).bind(now_s),
        Stmt::new(PURGE_WEBHOOK_EVENTS).bind(now_s - WEBHOOK_EVENT_RETENTION_SECONDS),
        // After MARK_REVIEW_DUE, so today's digest counts the links it just marked.
        email::digest_stmt(now),
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
    match run_maintenance(ports, now).await {
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
        match crm_events::push_due(ports, hook, now, crm_events::PUSH_BATCH).await {
            Ok(d) => report.crm_webhook = Some(d),
            Err(e) => report.errors.push(format!("crm webhook: {e:?}")),
        }
    }
    report
}
