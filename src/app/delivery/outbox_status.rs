//! The outbox as admins see it in the console: for Telegram, email and the CRM webhook, whether
//! it is configured (and why not), what waits, what failed for good and the last error; and the
//! admin's "deliver now", one pass of every configured channel.

use crate::app::delivery::crm_events::{self, PushStatus};
use crate::app::delivery::email;
use crate::app::delivery::maintenance::{deliver_outbox, OutboxReport};
use crate::app::kit::governor::employee_reads;
use crate::app::kit::rows::rows;
use crate::app::kit::session::Bearer;
use crate::app::kit::time::rfc3339;
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::store::{decode_all, Row};
use crate::store::Stmt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const TELEGRAM: &str = "SELECT \
     (SELECT count(*) FROM notifications WHERE status = 'pending') AS pending, \
     (SELECT count(*) FROM notifications WHERE status = 'failed') AS failed, \
     (SELECT last_error FROM notifications WHERE last_error IS NOT NULL ORDER BY created_at DESC LIMIT 1) AS last_error";
const EMAIL: &str = "SELECT \
     (SELECT count(*) FROM emails WHERE status = 'pending') AS pending, \
     (SELECT count(*) FROM emails WHERE status = 'failed') AS failed, \
     (SELECT count(*) FROM emails WHERE status = 'sent') AS sent, \
     (SELECT last_error FROM emails WHERE last_error IS NOT NULL ORDER BY created_at DESC LIMIT 1) AS last_error";
const EMAIL_FAILURES: &str = "SELECT id, kind, to_address, last_error, attempts, created_at FROM emails \
     WHERE status = 'failed' ORDER BY created_at DESC LIMIT 10";

#[derive(Debug, Deserialize)]
struct Counts {
    pending: i64,
    failed: i64,
    #[serde(default)]
    sent: i64,
    last_error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FailureRow {
    id: String,
    kind: String,
    to_address: String,
    last_error: Option<String>,
    attempts: i64,
    created_at: i64,
}

#[derive(Debug, Serialize)]
pub struct ChannelStatus {
    pub configured: bool,
    /// Why the channel is off, when it is.
    pub reason: Option<&'static str>,
    pub pending: i64,
    pub failed: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EmailFailure {
    pub id: String,
    pub kind: String,
    pub to: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct EmailStatus {
    #[serde(flatten)]
    pub channel: ChannelStatus,
    pub sender: Option<String>,
    pub sent: i64,
    pub recent_failures: Vec<EmailFailure>,
}

#[derive(Debug, Serialize)]
pub struct OutboxStatus {
    pub telegram: ChannelStatus,
    pub email: EmailStatus,
    pub crm_webhook: PushStatus,
}

fn counts(out: Vec<Row>) -> Result<Counts, ApiError> {
    decode_all::<Counts>(out)?.into_iter().next().ok_or_else(|| ApiError::internal("outbox counts read nothing"))
}

/// `GET /api/admin/outbox` (admins).
pub async fn status<P: Ports>(ports: &P, config: &Config, bearer: &Bearer, now: DateTime<Utc>) -> Result<OutboxStatus, ApiError> {
    let mut reads = vec![Stmt::new(TELEGRAM), Stmt::new(EMAIL), Stmt::new(EMAIL_FAILURES)];
    reads.extend(crm_events::status_stmts());
    let (gov, out) = employee_reads(ports, bearer, now, reads).await?;
    gov.require_admin()?;
    let telegram = counts(rows(&out, 0))?;
    let mail = counts(rows(&out, 1))?;
    let failures: Vec<FailureRow> = decode_all(rows(&out, 2))?;
    let available = email::availability(ports, config);
    Ok(OutboxStatus {
        telegram: ChannelStatus {
            configured: config.telegram_bot_token.is_some(),
            reason: config.telegram_bot_token.is_none().then_some("TELEGRAM_BOT_TOKEN is not set"),
            pending: telegram.pending,
            failed: telegram.failed,
            last_error: telegram.last_error,
        },
        email: EmailStatus {
            channel: ChannelStatus { configured: available.is_ok(), reason: available.as_ref().err().copied(), pending: mail.pending, failed: mail.failed, last_error: mail.last_error },
            sender: available.ok(),
            sent: mail.sent,
            recent_failures: failures
                .into_iter()
                .map(|f| EmailFailure { id: f.id, kind: f.kind, to: f.to_address, error: f.last_error, attempts: f.attempts, created_at: rfc3339(f.created_at) })
                .collect(),
        },
        crm_webhook: crm_events::decode_status(config, rows(&out, 3), rows(&out, 4))?,
    })
}

/// `POST /api/admin/outbox/deliver` (admins): one pass of every configured channel now.
pub async fn deliver_now<P: Ports>(ports: &P, config: &Config, bearer: &Bearer, now: DateTime<Utc>) -> Result<OutboxReport, ApiError> {
    let (gov, _) = employee_reads(ports, bearer, now, Vec::new()).await?;
    gov.require_admin()?;
    Ok(deliver_outbox(ports, config, now, true).await)
}
