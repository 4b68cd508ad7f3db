//! The ports a use case may call besides the database and KV: randomness, the login throttle,
//! the log, a clock for measuring and outbound HTTP. Each adapter set (wasm, native, tests) implements them.

use crate::domain::password::Blocklist;
use crate::store::{Kv, Sql};
use std::cell::Cell;

/// Counts database round trips and their time for `Server-Timing`; adapters embed one.
#[derive(Debug, Default)]
pub struct QueryStats {
    queries: Cell<u32>,
    millis: Cell<f64>,
}

impl QueryStats {
    pub fn record(&self, millis: f64) {
        self.queries.set(self.queries.get() + 1);
        self.millis.set(self.millis.get() + millis);
    }

    pub fn queries(&self) -> u32 {
        self.queries.get()
    }

    pub fn millis(&self) -> f64 {
        self.millis.get()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomUnavailable;

/// An outbound HTTP call that got no answer (network failure, timeout). The text never holds the
/// URL, which may carry a credential (the Bot API puts the bot token in the path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundError(pub String);

/// The common-password blocklist could not be read (the asset is missing or not a list): new
/// passwords are refused with 503 rather than accepted unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistUnavailable;

/// One email as the Email Service binding takes it: a plain-text body and a simple HTML one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub trait Ports {
    type Db: Sql;
    type Kv: Kv;

    fn db(&self) -> &Self::Db;
    fn kv(&self) -> &Self::Kv;

    /// Cryptographically secure random bytes (tests substitute a seeded generator).
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), RandomUnavailable>;

    /// The coarse per-IP throttle in front of login and activation; true when the attempt may go on.
    async fn throttle_allows(&self, key: &str) -> bool;

    /// Writes one structured log line (JSON). Never pass secrets or tokens.
    fn log(&self, line: &str);

    /// A millisecond clock for measuring durations (not wall time: that comes in as `now`).
    fn elapsed_ms(&self) -> f64;

    /// Round trips made so far through `db()`, for `Server-Timing`.
    fn db_stats(&self) -> &QueryStats;

    /// POSTs a JSON body to `url` (the Telegram Bot API) and returns the answer's status and body.
    /// Never log `url`: it carries the bot token.
    async fn post_json(&self, url: &str, body: &str) -> Result<(u16, String), OutboundError> {
        self.post_json_with(url, &[], body).await
    }

    /// `post_json` with extra request headers (the CRM webhook's `webhook-*` signature headers).
    async fn post_json_with(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<(u16, String), OutboundError>;

    /// Whether an email binding is there to send through (the edge: the `EMAIL` send_email binding).
    fn email_available(&self) -> bool {
        false
    }

    /// Sends one email through the Email Service binding.
    async fn send_email(&self, _email: &OutgoingEmail) -> Result<(), OutboundError> {
        Err(OutboundError("no email binding".into()))
    }

    /// The common-password blocklist every new password is checked against. The edge reads it once
    /// per isolate from the static assets; native adapters use the copy built into the binary.
    async fn password_blocklist(&self) -> Result<&Blocklist, BlocklistUnavailable>;

    /// Told when a use case puts notifications in the outbox, so the edge can deliver them right
    /// after answering instead of at the next cron run. Where nothing delivers early, the cron does.
    fn outbox_queued(&self) {}
}

/// Draws `N` random bytes from the port.
pub fn random_array<P: Ports, const N: usize>(ports: &P) -> Result<[u8; N], RandomUnavailable> {
    let mut buf = [0u8; N];
    ports.fill_random(&mut buf)?;
    Ok(buf)
}
