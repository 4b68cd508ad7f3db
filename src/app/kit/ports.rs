//! The ports a use case may call besides the database and KV: randomness, the login throttle,
//! the log, a clock for measuring and outbound HTTP. Each adapter set (wasm, native, tests) implements them.

use crate::domain::password::Blocklist;
use crate::store::{Kv, Sql};
use std::cell::Cell;

/// Counts database round trips and their time for `Server-Timing`, and notes which outbound rows
/// the statements actually wrote; adapters embed one.
#[derive(Debug, Default)]
pub struct QueryStats {
    queries: Cell<u32>,
    millis: Cell<f64>,
    queued: Cell<Queued>,
}

/// The rows a request's statements wrote that something delivers later: audit rows (the CRM
/// push and the email projection read them as a stream), Telegram notifications, emails. The edge
/// runs its after-response outbox pass only when one of these was written, so a write that queued
/// nothing (a refused or no-op call) costs no extra round trips on the primary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub audit: bool,
    pub notifications: bool,
    pub emails: bool,
}

impl Queued {
    /// Adds what one statement wrote: `changes` rows by `sql`. Known by the table the INSERT names
    /// (every writer of these tables starts its SQL that way), not by who built the statement, so a
    /// guarded INSERT whose guard failed (0 rows) queues nothing.
    pub fn with(self, sql: &str, changes: u64) -> Queued {
        if changes == 0 {
            return self;
        }
        let inserts_into = |table: &str| inserted_table(sql).is_some_and(|t| t.eq_ignore_ascii_case(table));
        Queued {
            audit: self.audit || inserts_into("audit_events"),
            notifications: self.notifications || inserts_into("notifications"),
            emails: self.emails || inserts_into("emails"),
        }
    }

    pub fn any(self) -> bool {
        self.audit || self.notifications || self.emails
    }
}

/// The table an `INSERT INTO <table> ...` statement names (None for any other statement).
fn inserted_table(sql: &str) -> Option<&str> {
    let mut words = sql.split_whitespace();
    let (insert, into) = (words.next()?, words.next()?);
    if !insert.eq_ignore_ascii_case("INSERT") || !into.eq_ignore_ascii_case("INTO") {
        return None;
    }
    words.next()?.split('(').next()
}

impl QueryStats {
    pub fn record(&self, millis: f64) {
        self.queries.set(self.queries.get() + 1);
        self.millis.set(self.millis.get() + millis);
    }

    /// Notes a statement's effect (see [`Queued`]).
    pub fn note_write(&self, sql: &str, changes: u64) {
        self.queued.set(self.queued.get().with(sql, changes));
    }

    /// What the statements so far queued for delivery.
    pub fn queued(&self) -> Queued {
        self.queued.get()
    }

    /// The same, starting afresh (ports that outlive one request: tests, tools).
    pub fn take_queued(&self) -> Queued {
        self.queued.take()
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

    /// The latest D1 session bookmark of this request's queries (None outside a session: native
    /// adapters, the cron). The HTTP layer decides which answers carry it.
    fn db_bookmark(&self) -> Option<String> {
        None
    }

    /// Told when a use case adds a notification statement to its batch. The edge no longer acts on
    /// it (the statement may insert nothing: it decides from [`QueryStats::queued`], what the
    /// statements really wrote); kept as the producers' hook.
    fn outbox_queued(&self) {}
}

/// Draws `N` random bytes from the port.
pub fn random_array<P: Ports, const N: usize>(ports: &P) -> Result<[u8; N], RandomUnavailable> {
    let mut buf = [0u8; N];
    ports.fill_random(&mut buf)?;
    Ok(buf)
}
