//! The scheduled maintenance run (cron): expire invitations, purge dead sessions and codes, mark
//! links whose review date has passed, purge old webhook dedupe rows; then deliver the Telegram
//! notifications that are due (bounded retries with backoff: `app::notify`). Each step is one
//! guarded statement, safe to repeat.

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
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(EXPIRE_INVITATIONS).bind(now_s),
            Stmt::new(PURGE_REFRESH_TOKENS).bind(purge_before),
            Stmt::new(PURGE_SESSIONS).bind(purge_before),
            Stmt::new(PURGE_CHANNEL_CODES).bind(now_s),
            Stmt::new(MARK_REVIEW_DUE).bind(now_s),
            Stmt::new(PURGE_WEBHOOK_EVENTS).bind(now_s - WEBHOOK_EVENT_RETENTION_SECONDS),
        ])
        .await?;
    let changes = |i: usize| out.get(i).map_or(0, |o| o.changes);
    Ok(MaintenanceReport {
        invitations_expired: changes(0),
        refresh_tokens_purged: changes(1),
        sessions_purged: changes(2),
        channel_codes_purged: changes(3),
        links_marked_review_due: changes(4),
        webhook_events_purged: changes(5),
    })
}

/// What one cron run did, for the log.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CronReport {
    pub maintenance: Option<MaintenanceReport>,
    /// None when no bot token is configured (notifications wait in the outbox).
    pub notifications: Option<DeliveryReport>,
    pub errors: Vec<String>,
}

/// The whole cron: maintenance, then one delivery run of due notifications. A failing step is
/// reported and does not stop the other.
pub async fn run_cron<P: Ports>(ports: &P, config: Option<&Config>, now: DateTime<Utc>) -> CronReport {
    let mut report = CronReport::default();
    match run_maintenance(ports, now).await {
        Ok(m) => report.maintenance = Some(m),
        Err(e) => report.errors.push(format!("maintenance: {e}")),
    }
    if let Some(bot) = config.and_then(Bot::from_config) {
        match notify::deliver_due(ports, &bot, now, notify::DELIVERY_BATCH).await {
            Ok(d) => report.notifications = Some(d),
            Err(e) => report.errors.push(format!("notifications: {e:?}")),
        }
    }
    report
}
