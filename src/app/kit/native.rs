//! Native adapters for the ports (tests, benchmarks, tools): SQLite with the real migrations, an
//! in-memory KV, a seeded or OS random source, a countable throttle, a captured log and a
//! recording fake of outbound HTTP (answering like the Telegram Bot API).

use crate::app::kit::ports::{BlocklistUnavailable, OutboundError, OutgoingEmail, Ports, QueryStats, RandomUnavailable};
use crate::domain::password::Blocklist;
use crate::store::sqlite::SqliteDb;
use crate::store::{MemoryKv, Outcome, Sql, Stmt, StoreError};
use std::cell::{Cell, RefCell};
use std::time::Instant;

/// Where random bytes come from: a seeded generator makes a test repeatable.
pub enum RandomSource {
    Os,
    Seeded(Cell<u64>),
}

pub struct NativePorts {
    pub db: MeteredDb,
    pub kv: MemoryKv,
    pub random: RandomSource,
    /// How many more attempts the throttle lets through (None: unlimited).
    pub throttle_budget: Cell<Option<u32>>,
    pub logs: RefCell<Vec<String>>,
    /// Every outbound call made, as (url, body), in order.
    pub outbound: RefCell<Vec<(String, String)>>,
    /// A query run as each outbound call is made (an integer), and its answers in call order: what
    /// the database held at the moment of each send (tests of ordering between sends and writes).
    pub outbound_probe: RefCell<Option<String>>,
    pub outbound_probes: RefCell<Vec<i64>>,
    /// The extra headers of each outbound call, in the same order.
    pub outbound_headers: RefCell<Vec<Vec<(String, String)>>>,
    /// Whether the fake email binding is there, and every email it was given.
    pub email_binding: Cell<bool>,
    pub emails: RefCell<Vec<OutgoingEmail>>,
    /// Whether the fake email binding refuses (as the real one does for an unverified recipient).
    pub email_refuses: Cell<bool>,
    /// The status outbound calls answer with (0: no answer at all, a network failure). A 2xx
    /// answers like sendMessage, `{"ok": true, "result": {"message_id": <100 + call number>}}`.
    pub outbound_status: Cell<u16>,
    /// The Bot API `description` of a failed answer ("fake failure" unless a test sets another,
    /// e.g. "Forbidden: bot was blocked by the user").
    pub outbound_description: RefCell<String>,
    /// Whether the common-password blocklist can be read (false: as if the asset were missing).
    pub blocklist_available: Cell<bool>,
    /// The bookmark `db_bookmark` reports (as D1 would after a query), None by default.
    pub bookmark: RefCell<Option<String>>,
    /// SQL run as each outbound call is made, before it answers: a test's stand-in for something
    /// happening meanwhile (another run taking the CRM push's lease).
    pub outbound_script: RefCell<Option<String>>,
    /// How far the ports' clock (`elapsed_ms`) jumps at each outbound call: a slow receiver.
    pub outbound_delay_ms: Cell<f64>,
    clock_offset_ms: Cell<f64>,
    started: Instant,
}

impl NativePorts {
    /// Fresh in-memory database with every migration applied, and a seeded random source.
    pub fn new_seeded(seed: u64) -> Result<Self, StoreError> {
        Ok(Self::with_db(SqliteDb::open_project()?, RandomSource::Seeded(Cell::new(seed))))
    }

    pub fn with_db(db: SqliteDb, random: RandomSource) -> Self {
        NativePorts {
            db: MeteredDb { inner: db, stats: QueryStats::default(), started: Instant::now() },
            kv: MemoryKv::new(),
            random,
            throttle_budget: Cell::new(None),
            logs: RefCell::new(Vec::new()),
            outbound: RefCell::new(Vec::new()),
            outbound_headers: RefCell::new(Vec::new()),
            outbound_probe: RefCell::new(None),
            outbound_probes: RefCell::new(Vec::new()),
            email_binding: Cell::new(false),
            emails: RefCell::new(Vec::new()),
            email_refuses: Cell::new(false),
            outbound_status: Cell::new(200),
            outbound_description: RefCell::new("fake failure".into()),
            blocklist_available: Cell::new(true),
            bookmark: RefCell::new(None),
            outbound_script: RefCell::new(None),
            outbound_delay_ms: Cell::new(0.0),
            clock_offset_ms: Cell::new(0.0),
            started: Instant::now(),
        }
    }

    pub fn sqlite(&self) -> &SqliteDb {
        &self.db.inner
    }
}

/// The SQLite adapter with round-trip counting, as the D1 adapter counts for `Server-Timing`.
pub struct MeteredDb {
    pub inner: SqliteDb,
    stats: QueryStats,
    started: Instant,
}

impl MeteredDb {
    fn ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }
}

impl Sql for MeteredDb {
    async fn execute(&self, stmt: Stmt) -> Result<Outcome, StoreError> {
        let t = self.ms();
        let sql = stmt.sql;
        let out = self.inner.execute(stmt).await;
        self.stats.record(self.ms() - t);
        if let Ok(o) = &out {
            self.stats.note_write(sql, o.changes);
        }
        out
    }

    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<Outcome>, StoreError> {
        let t = self.ms();
        let sqls: Vec<&'static str> = stmts.iter().map(|s| s.sql).collect();
        let out = self.inner.batch(stmts).await;
        self.stats.record(self.ms() - t);
        if let Ok(outcomes) = &out {
            for (sql, o) in sqls.iter().zip(outcomes) {
                self.stats.note_write(sql, o.changes);
            }
        }
        out
    }
}

impl Ports for NativePorts {
    type Db = MeteredDb;
    type Kv = MemoryKv;

    fn db(&self) -> &MeteredDb {
        &self.db
    }

    fn kv(&self) -> &MemoryKv {
        &self.kv
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), RandomUnavailable> {
        match &self.random {
            RandomSource::Os => getrandom::fill(buf).map_err(|_| RandomUnavailable),
            RandomSource::Seeded(state) => {
                // splitmix64: deterministic, well distributed, good enough for repeatable tests.
                for chunk in buf.chunks_mut(8) {
                    let mut z = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
                    state.set(z);
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^= z >> 31;
                    let bytes = z.to_le_bytes();
                    chunk.copy_from_slice(&bytes[..chunk.len()]);
                }
                Ok(())
            }
        }
    }

    async fn throttle_allows(&self, _key: &str) -> bool {
        match self.throttle_budget.get() {
            None => true,
            Some(0) => false,
            Some(n) => {
                self.throttle_budget.set(Some(n - 1));
                true
            }
        }
    }

    fn log(&self, line: &str) {
        self.logs.borrow_mut().push(line.to_owned());
    }

    fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0 + self.clock_offset_ms.get()
    }

    fn db_bookmark(&self) -> Option<String> {
        self.bookmark.borrow().clone()
    }

    fn db_stats(&self) -> &QueryStats {
        &self.db.stats
    }

    async fn password_blocklist(&self) -> Result<&Blocklist, BlocklistUnavailable> {
        if self.blocklist_available.get() {
            Ok(Blocklist::shipped())
        } else {
            Err(BlocklistUnavailable)
        }
    }

    async fn post_json_with(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<(u16, String), OutboundError> {
        let n = {
            let mut calls = self.outbound.borrow_mut();
            calls.push((url.to_owned(), body.to_owned()));
            calls.len()
        };
        self.outbound_headers.borrow_mut().push(headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect());
        self.clock_offset_ms.set(self.clock_offset_ms.get() + self.outbound_delay_ms.get());
        if let Some(script) = self.outbound_script.borrow().as_deref() {
            if let Err(e) = self.db.inner.exec_script(script) {
                return Err(OutboundError(format!("outbound script: {e}")));
            }
        }
        if let Some(probe) = self.outbound_probe.borrow().as_deref() {
            self.outbound_probes.borrow_mut().push(self.db.inner.count(probe).unwrap_or(-1));
        }
        match self.outbound_status.get() {
            0 => Err(OutboundError("connection refused (fake)".into())),
            status @ 200..=299 => Ok((status, format!(r#"{{"ok":true,"result":{{"message_id":{}}}}}"#, 100 + n))),
            status => Ok((status, serde_json::json!({"ok": false, "error_code": status, "description": *self.outbound_description.borrow()}).to_string())),
        }
    }

    fn email_available(&self) -> bool {
        self.email_binding.get()
    }

    async fn send_email(&self, email: &OutgoingEmail) -> Result<(), OutboundError> {
        if !self.email_binding.get() {
            return Err(OutboundError("no email binding".into()));
        }
        if self.email_refuses.get() {
            return Err(OutboundError("destination address is not verified (fake)".into()));
        }
        self.emails.borrow_mut().push(email.clone());
        Ok(())
    }
}
