//! Audit events: who did what to whom, from where and when. Written as a statement inside the
//! use case's own batch, so an event exists exactly when its change committed.

use crate::app::kit::ids::new_id;
use crate::app::kit::meta::ClientMeta;
use crate::app::{ApiError, Ports};
use chrono::{DateTime, Utc};
use crate::store::{Sql, Stmt};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    External,
    Employee,
    Crm,
    System,
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::External => "external",
            ActorKind::Employee => "employee",
            ActorKind::Crm => "crm",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }

    pub fn of_user_kind(kind: &str) -> ActorKind {
        if kind == "employee" {
            ActorKind::Employee
        } else {
            ActorKind::External
        }
    }
}

/// One audit event being built.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub target_kind: Option<&'static str>,
    pub target_id: Option<String>,
    pub company_ids: Vec<String>,
    pub success: bool,
    pub details: Value,
}

impl Event {
    pub fn new(action: &'static str, actor_kind: ActorKind, actor_id: Option<&str>) -> Event {
        Event {
            action,
            actor_kind,
            actor_id: actor_id.map(str::to_owned),
            target_kind: None,
            target_id: None,
            company_ids: Vec::new(),
            success: true,
            details: Value::Object(Default::default()),
        }
    }

    pub fn target(mut self, kind: &'static str, id: &str) -> Self {
        self.target_kind = Some(kind);
        self.target_id = Some(id.to_owned());
        self
    }

    pub fn companies(mut self, ids: Vec<String>) -> Self {
        self.company_ids = ids;
        self
    }

    pub fn failed(mut self) -> Self {
        self.success = false;
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// The INSERT, given the event's id (from the caller's randomness) and time.
    pub fn insert(&self, id: &str, client: &ClientMeta, now: i64) -> Stmt {
        self.bind_values(Stmt::new(INSERT_EVENT), id, client, now)
    }

    /// The same row, written only when `guard`'s condition holds (a batch's statement after its
    /// guard): bind the condition's own parameters (`?14` on) on the returned statement.
    pub fn insert_if(&self, id: &str, client: &ClientMeta, now: i64, guard: AuditGuard) -> Stmt {
        self.bind_values(Stmt::new(guard.sql), id, client, now)
    }

    fn bind_values(&self, stmt: Stmt, id: &str, client: &ClientMeta, now: i64) -> Stmt {
        stmt.bind(id)
            .bind(now)
            .bind(self.actor_kind.as_str())
            .bind(self.actor_id.clone())
            .bind(self.action)
            .bind(self.target_kind)
            .bind(self.target_id.clone())
            .bind(serde_json::to_string(&self.company_ids).unwrap_or_else(|_| "[]".into()))
            .bind(if self.success { "success" } else { "failure" })
            .bind(client.ip.clone())
            .bind(client.country.clone())
            .bind(client.user_agent.clone())
            .bind(self.details.to_string())
    }
}

/// The audit row's columns and its thirteen values `?1`..`?13`, in the order `Event` binds them,
/// then `seq`, its place in commit order (migration 0011): always `audit_next_seq!()`.
macro_rules! audit_columns {
    () => {
        "INSERT INTO audit_events (id, created_at, actor_kind, actor_id, action, target_kind, target_id, company_ids, \
         outcome, ip, country, user_agent, details, seq) "
    };
}

/// The next `seq`: D1 runs one write batch at a time, so max + 1 inside the INSERT is exact, and
/// the unique index refuses a duplicate rather than misordering the stream.
macro_rules! audit_next_seq {
    () => {
        "(SELECT coalesce(max(seq), 0) + 1 FROM audit_events)"
    };
}

/// The stored `company_ids`: the event's own (`?8`) and, for an event about a user's account (its
/// target is the user, one of their sessions or one of their invitations), every company of every
/// live link of that user. A user may hold several links; what happens to the account happens in
/// all of them, so each of their managers sees it (the security review's finding 1).
macro_rules! audit_companies {
    () => {
        $crate::app::kit::audit::audit_companies!("?8")
    };
    ($base:expr) => {
        concat!("(SELECT json_group_array(c) FROM (SELECT value AS c FROM json_each(", $base, ") UNION \
         SELECT alc.company_id FROM links al JOIN link_companies alc ON alc.link_id = al.id WHERE al.status <> 'revoked' \
         AND al.user_id = (CASE ?6 WHEN 'user' THEN ?7 WHEN 'session' THEN (SELECT asn.user_id FROM sessions asn WHERE asn.id = ?7) \
         WHEN 'invitation' THEN (SELECT ai.user_id FROM invitations ai WHERE ai.id = ?7) END)))")
    };
}

/// A condition an audit row is written under, as a value: build it with `audit_guard!`, whose
/// condition numbers its own parameters from `?14` (the event's values take `?1`..`?13`, `?2` is now).
#[derive(Debug, Clone, Copy)]
pub struct AuditGuard {
    sql: &'static str,
}

impl AuditGuard {
    #[doc(hidden)]
    pub const fn from_insert(sql: &'static str) -> AuditGuard {
        AuditGuard { sql }
    }
}

/// `audit_guard!("EXISTS (... ?14 ...)")`: the guarded INSERT of an audit row. With
/// `details = "json_set(?13, ...)";` first, the stored details are computed in SQL from `?13`; with
/// `companies = "(SELECT json_array(...))";` before that, the event's companies are (a read made
/// inside the statement, for an event whose company is known only to the database).
macro_rules! audit_guard {
    (companies = $companies:expr; details = $details:expr; $($cond:tt)*) => {
        $crate::app::kit::audit::AuditGuard::from_insert(concat!(
            $crate::app::kit::audit::audit_columns!(),
            "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ", $crate::app::kit::audit::audit_companies!($companies), ", ?9, ?10, ?11, ?12, ", $details, ", ",
            $crate::app::kit::audit::audit_next_seq!(), " WHERE ",
            $($cond)*
        ))
    };
    (companies = $companies:expr; $($cond:tt)*) => {
        $crate::app::kit::audit::audit_guard!(companies = $companies; details = "?13"; $($cond)*)
    };
    (details = $details:expr; $($cond:tt)*) => {
        $crate::app::kit::audit::audit_guard!(companies = "?8"; details = $details; $($cond)*)
    };
    ($($cond:tt)*) => {
        $crate::app::kit::audit::audit_guard!(companies = "?8"; details = "?13"; $($cond)*)
    };
}
pub(crate) use {audit_columns, audit_companies, audit_guard, audit_next_seq};

/// ?14 invitation id, ?15 its used_nonce.
pub const INVITATION_NONCE: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM invitations WHERE id = ?14 AND used_nonce = ?15)");
/// ?14 user id, ?15 its login_nonce.
pub const USER_LOGIN_NONCE: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM users WHERE id = ?14 AND login_nonce = ?15)");
/// ?14 the settings version before the change, ?15 the admin who made it.
pub const SETTINGS_VERSION: AuditGuard =
    audit_guard!("EXISTS (SELECT 1 FROM security_settings WHERE id = 1 AND version = ?14 + 1 AND updated_by = ?15 AND updated_at = ?2)");

const INSERT_EVENT: &str =
    concat!(audit_columns!(), "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ", audit_companies!(), ", ?9, ?10, ?11, ?12, ?13, ", audit_next_seq!(), ")");

/// Writes events on their own (a refused attempt: nothing else commits with it).
pub async fn write_events<P: Ports>(ports: &P, client: &ClientMeta, now: DateTime<Utc>, events: Vec<Event>) -> Result<(), ApiError> {
    let t = now.timestamp();
    let mut stmts = Vec::with_capacity(events.len());
    for e in &events {
        stmts.push(e.insert(&new_id(ports, now)?, client, t));
    }
    ports.db().batch(stmts).await?;
    Ok(())
}
