//! The D1 schema in `migrations/`: the files apply in order to an empty database, the tables and
//! constraints the use cases rely on exist and hold, the lists use their indexes, the cron's purges
//! pass the foreign keys, and the demo seed applies cleanly twice.

use extranet::auth::password_hash::verify_password;
use extranet::store::sqlite::SqliteDb;
use extranet::store::{Row, Sql, Stmt, StoreError};
use pollster::block_on;
use std::path::PathBuf;
use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn migrations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// Runs SQL whose text is only known at run time (test inspection: table names in pragmas).
fn query(db: &SqliteDb, sql: String) -> Result<Vec<Row>, StoreError> {
    block_on(db.all(Stmt::new(Box::leak(sql.into_boxed_str()))))
}

fn run(db: &SqliteDb, sql: &'static str) -> Result<u64, StoreError> {
    block_on(db.run(Stmt::new(sql)))
}

fn text(row: &Row, key: &str) -> String {
    row.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned()
}

fn int(row: &Row, key: &str) -> i64 {
    row.get(key).and_then(serde_json::Value::as_i64).unwrap_or(i64::MIN)
}

fn scalar(db: &SqliteDb, sql: &'static str) -> Result<i64, StoreError> {
    let row = block_on(db.first(Stmt::new(sql)))?.ok_or_else(|| StoreError::new("no row"))?;
    Ok(row.values().next().and_then(serde_json::Value::as_i64).unwrap_or(i64::MIN))
}

fn tables(db: &SqliteDb) -> Result<Vec<String>, StoreError> {
    let rows = query(
        db,
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name".into(),
    )?;
    Ok(rows.iter().map(|r| text(r, "name")).collect())
}

fn columns(db: &SqliteDb, table: &str) -> Result<Vec<Row>, StoreError> {
    query(db, format!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"))
}

/// `^\d{4}_[a-z]+(_[a-z]+)*\.sql$`, without a regex dependency.
fn well_named(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".sql") else { return false };
    let (digits, rest) = stem.split_at(stem.len().min(4));
    digits.len() == 4
        && digits.bytes().all(|b| b.is_ascii_digit())
        && rest.strip_prefix('_').is_some_and(|words| {
            words.split('_').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        })
}

fn migration_names() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(migrations_dir())? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// A small consistent world: two companies, Emily's contact, user, link, invitation, session,
/// request, message, document and Telegram link, and an admin employee.
const FIXTURE: &str = "
INSERT INTO companies (id, name, status, created_at, updated_at) VALUES
  ('co1', 'Northern Light', 'active', 1, 1), ('co2', 'Blue Harbor', 'active', 1, 1);
INSERT INTO contacts (id, first_name, last_name, email, created_at, updated_at) VALUES
  ('ct1', 'Emily', 'Carter', 'emily.carter@northernlight.example', 1, 1);
INSERT INTO contact_companies (contact_id, company_id, created_at) VALUES ('ct1', 'co1', 1);
INSERT INTO pipelines (id, name, created_at, updated_at) VALUES ('p1', 'Support', 1, 1), ('p2', 'Projects', 1, 1);
INSERT INTO pipeline_stages (pipeline_id, id, name, is_final, position) VALUES
  ('p1', 'new', 'New', 0, 0), ('p1', 'done', 'Done', 1, 1), ('p2', 'brief', 'Brief', 0, 0);
INSERT INTO users (id, kind, role, login, login_key, created_at, updated_at) VALUES
  ('u1', 'external', NULL, 'Emily.Carter', 'emily.carter', 1, 1),
  ('e1', 'employee', 'admin', 'admin', 'admin', 1, 1);
INSERT INTO links (id, user_id, contact_id, default_company_id, review_at, created_at, updated_at) VALUES
  ('l1', 'u1', 'ct1', 'co1', 100, 1, 1);
INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('l1', 'co1', 1);
INSERT INTO invitations (id, user_id, link_id, token_hash, expires_at, created_at) VALUES
  ('i1', 'u1', 'l1', 'token-hash-1', 1000, 1);
INSERT INTO sessions (id, user_id, link_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at) VALUES
  ('s1', 'u1', 'l1', 1, 1, 1000, 2000);
INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ('refresh-hash-1', 's1', 1);
INSERT INTO company_policies (company_id, updated_at) VALUES ('co1', 1);
INSERT INTO contact_policies (contact_id, updated_at) VALUES ('ct1', 1);
INSERT INTO requests (id, company_id, pipeline_id, stage_id, title, created_by, created_at, updated_at) VALUES
  ('r1', 'co1', 'p1', 'new', 'The contact form is broken', 'u1', 1, 1);
INSERT INTO messages (id, company_id, request_id, author_kind, author_user_id, body, created_at) VALUES
  ('m1', 'co1', 'r1', 'client', 'u1', 'Hello', 1);
INSERT INTO calls (id, company_id, room, join_url, created_at) VALUES ('ca1', 'co1', 'room-1', 'https://meet.example/room-1', 1);
INSERT INTO documents (id, company_id, title, content_type, size, sha256, kv_key, created_at, updated_at) VALUES
  ('d1', 'co1', 'Contract', 'application/pdf', 10, 'ab12', 'documents/d1', 1, 1);
INSERT INTO channel_links (id, kind, user_id, link_id, company_id, external_id, created_at, updated_at) VALUES
  ('ch1', 'telegram', 'u1', 'l1', 'co1', '424242', 1, 1);
INSERT INTO notifications (id, channel_link_id, company_id, body, next_attempt_at, created_at) VALUES
  ('n1', 'ch1', 'co1', 'New reply', 1, 1);
INSERT INTO audit_events (id, created_at, actor_kind, action) VALUES ('a1', 1, 'system', 'fixture.created');
";

fn fixture() -> Result<SqliteDb, StoreError> {
    let db = SqliteDb::open_project()?.without_interleaving();
    db.exec_script(FIXTURE)?;
    Ok(db)
}

#[test]
fn migration_files_are_well_named_numbered_and_d1_safe() -> TestResult {
    let names = migration_names()?;
    assert!(!names.is_empty(), "no migrations");
    for (i, name) in names.iter().enumerate() {
        assert!(well_named(name), "{name} does not match NNNN_verb_noun.sql");
        assert_eq!(name[..4], format!("{:04}", i + 1), "{name}: numbers must run 0001, 0002, ... without gaps");
        let text = std::fs::read_to_string(migrations_dir().join(name))?;
        let sql: String = text.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n").to_uppercase();
        for banned in ["BEGIN TRANSACTION", "BEGIN;", "COMMIT", "PRAGMA FOREIGN_KEYS"] {
            assert!(!sql.contains(banned), "{name} contains {banned}: D1 migrations must not");
        }
    }
    assert!(!well_named("1_create.sql") && !well_named("0001_Create.sql") && !well_named("0001_create_.sql"));
    Ok(())
}

#[test]
fn every_migration_applies_in_order_to_an_empty_database() -> TestResult {
    let empty = std::env::temp_dir().join(format!("extranet-empty-migrations-{}", std::process::id()));
    std::fs::create_dir_all(&empty)?;
    let db = SqliteDb::open_migrated(&empty)?;
    assert!(tables(&db)?.is_empty());
    let applied = db.apply_migrations(&migrations_dir())?;
    assert_eq!(applied, migration_names()?);
    std::fs::remove_dir(&empty)?;
    Ok(())
}

/// 0011 numbers the audit rows already there in time order, and starts the outbox readers at the
/// present (a channel configured later is not sent history); a duplicate seq is refused.
#[test]
fn the_audit_sequence_numbers_history_in_time_order() -> TestResult {
    let stage = |name: &str| std::env::temp_dir().join(format!("extranet-seq-{name}-{}", std::process::id()));
    let (before, after) = (stage("before"), stage("after"));
    for (dir, keep) in [(&before, true), (&after, false)] {
        std::fs::create_dir_all(dir)?;
        for name in migration_names()? {
            if (name.as_str() < "0011") == keep {
                std::fs::copy(migrations_dir().join(&name), dir.join(&name))?;
            }
        }
    }
    let db = SqliteDb::open_migrated(&before)?;
    db.exec_script(
        "INSERT INTO audit_events (id, created_at, actor_kind, action) VALUES ('c', 300, 'system', 'x'), ('a', 100, 'system', 'x'), ('b', 100, 'system', 'y');",
    )?;
    db.apply_migrations(&after)?;
    let order: Vec<String> = query(&db, "SELECT id FROM audit_events ORDER BY seq".into())?.iter().map(|r| text(r, "id")).collect();
    assert_eq!(order, ["a", "b", "c"]);
    assert_eq!(scalar(&db, "SELECT count(*) FROM outbox_cursors WHERE seq = 3")?, 2);
    assert!(db.exec_script("INSERT INTO audit_events (id, created_at, actor_kind, action, seq) VALUES ('d', 400, 'system', 'x', 3);").is_err());
    std::fs::remove_dir_all(&before)?;
    std::fs::remove_dir_all(&after)?;
    Ok(())
}

#[test]
fn expected_tables_and_key_columns_exist() -> TestResult {
    let db = SqliteDb::open_project()?;
    let expected: &[(&str, &[&str])] = &[
        ("meta", &["key", "value"]),
        ("companies", &["id", "name", "crm_ref", "status", "created_at", "updated_at"]),
        ("contacts", &["id", "first_name", "last_name", "email", "phone", "state", "duplicate_of"]),
        ("contact_companies", &["contact_id", "company_id"]),
        ("pipelines", &["id", "name", "fields", "archived", "position"]),
        ("pipeline_stages", &["pipeline_id", "id", "name", "is_final", "position"]),
        (
            "users",
            &[
                "id", "kind", "status", "role", "login", "login_key", "email", "first_name", "last_name",
                "password_hash", "password_changed_at", "failed_logins", "locked_until", "tokens_valid_after",
                "totp_secret", "totp_pending_secret", "totp_last_step", "created_at",
            ],
        ),
        ("employee_companies", &["user_id", "company_id"]),
        (
            "links",
            &[
                "id", "user_id", "contact_id", "default_company_id", "status", "policy_version", "review_at",
                "review_due", "created_at", "updated_at", "revoked_at",
            ],
        ),
        ("link_companies", &["link_id", "company_id"]),
        ("invitations", &["id", "user_id", "link_id", "token_hash", "status", "expires_at", "used_at", "used_nonce"]),
        (
            "company_policies",
            &[
                "company_id", "create_requests", "read_request_chat", "send_request_chat", "general_chat", "calls",
                "telegram", "widget", "allowed_pipelines",
            ],
        ),
        (
            "contact_policies",
            &[
                "contact_id", "create_requests", "read_request_chat", "send_request_chat", "general_chat", "calls",
                "telegram", "widget", "allowed_pipelines",
            ],
        ),
        (
            "security_settings",
            &[
                "id", "version", "min_length", "require_lower", "require_upper", "require_digit", "require_special",
                "max_failed_attempts", "lockout_minutes", "access_ttl_seconds", "refresh_ttl_seconds",
                "session_max_age_seconds", "invitation_ttl_hours", "mfa_required_for_clients",
                "mfa_required_for_employees",
            ],
        ),
        ("branding", &["id", "version", "portal_name", "logo_url", "primary_color"]),
        (
            "sessions",
            &[
                "id", "user_id", "link_id", "scope", "created_at", "last_seen_at", "idle_expires_at",
                "absolute_expires_at", "ip", "country", "user_agent", "revoked_at", "revoked_reason",
            ],
        ),
        ("refresh_tokens", &["token_hash", "session_id", "issued_at", "used_at", "replaced_by"]),
        ("requests", &["id", "company_id", "pipeline_id", "stage_id", "title", "description", "fields", "created_at"]),
        ("attachments", &["id", "request_id", "company_id", "content_type", "size", "sha256", "kv_key"]),
        ("messages", &["id", "company_id", "request_id", "author_kind", "author_user_id", "body", "created_at"]),
        ("calls", &["id", "company_id", "request_id", "join_url", "status"]),
        (
            "documents",
            &[
                "id", "company_id", "contact_id", "title", "content_type", "size", "sha256", "kv_key", "status",
                "required_action", "published_at", "completed_action", "completed_by", "completed_at",
            ],
        ),
        ("document_actions", &["id", "document_id", "user_id", "action", "signature_name", "document_sha256"]),
        (
            "channel_links",
            &["id", "kind", "user_id", "link_id", "company_id", "status", "external_id", "secret", "previous_secret"],
        ),
        ("channel_link_codes", &["code_hash", "user_id", "link_id", "company_id", "expires_at", "used_at", "used_nonce"]),
        ("webhook_events", &["source", "event_id", "received_at"]),
        ("notifications", &["id", "channel_link_id", "status", "attempts", "next_attempt_at", "external_message_id"]),
        ("audit_events", &["id", "created_at", "actor_kind", "actor_id", "action", "target_id", "ip", "country", "seq"]),
        ("outbox_cursors", &["name", "seq", "attempts", "next_attempt_at", "last_error", "lease_until"]),
        ("crm_push_failures", &["seq", "event_id", "type", "attempts", "last_error", "failed_at"]),
        ("emails", &["id", "kind", "user_id", "to_address", "data", "status", "attempts", "next_attempt_at", "sent_at"]),
    ];
    let mut want: Vec<&str> = expected.iter().map(|(t, _)| *t).collect();
    want.sort_unstable();
    assert_eq!(tables(&db)?, want, "the set of tables changed: update this test and the report");
    for (table, cols) in expected {
        let have: Vec<String> = columns(&db, table)?.iter().map(|r| text(r, "name")).collect();
        for col in *cols {
            assert!(have.iter().any(|h| h == col), "{table}.{col} is missing (have {have:?})");
        }
    }
    Ok(())
}

#[test]
fn one_time_convention_and_strict_tables_everywhere() -> TestResult {
    let db = SqliteDb::open_project()?;
    let strict = query(&db, "SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'".into())?;
    for row in &strict {
        assert_eq!(int(row, "strict"), 1, "{} is not STRICT", text(row, "name"));
    }
    for table in tables(&db)? {
        for col in columns(&db, &table)? {
            let name = text(&col, "name");
            if name.ends_with("_at") || name.ends_with("_until") || name.ends_with("_after") {
                assert_eq!(text(&col, "type"), "INTEGER", "{table}.{name} must be unix seconds (INTEGER)");
            }
            let singleton = table == "security_settings" || table == "branding";
            if (name == "id" && !singleton) || name.ends_with("_id") {
                assert_eq!(text(&col, "type"), "TEXT", "{table}.{name}: ids are UUID text");
            }
        }
    }
    // STRICT makes a text time fail loudly instead of being stored.
    let db = fixture()?;
    let err = run(&db, "UPDATE sessions SET last_seen_at = '2026-01-01T00:00:00Z' WHERE id = 's1'");
    assert!(err.is_err(), "a text time was stored");
    Ok(())
}

#[test]
fn foreign_keys_are_on_resolve_and_are_enforced() -> TestResult {
    let db = fixture()?;
    assert_eq!(scalar(&db, "PRAGMA foreign_keys")?, 1);
    let all = tables(&db)?;
    for table in &all {
        // Raises "foreign key mismatch" when a parent key is not a primary key or unique.
        let violations = query(&db, format!("PRAGMA foreign_key_check('{table}')"))?;
        assert!(violations.is_empty(), "{table}: {violations:?}");
        for fk in query(&db, format!("SELECT \"table\" AS parent FROM pragma_foreign_key_list('{table}')"))? {
            let parent = text(&fk, "parent");
            assert!(all.contains(&parent), "{table} references missing table {parent}");
        }
    }
    let refused = [
        "INSERT INTO links (id, user_id, contact_id, default_company_id, review_at, created_at, updated_at) \
         VALUES ('l9', 'nobody', 'ct1', 'co1', 1, 1, 1)",
        "INSERT INTO link_companies (link_id, company_id, created_at) VALUES ('l1', 'no-company', 1)",
        "INSERT INTO sessions (id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at) \
         VALUES ('s9', 'nobody', 1, 1, 1, 1)",
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ('h9', 'no-session', 1)",
        "INSERT INTO messages (id, company_id, author_kind, body, created_at) VALUES ('m9', 'no-company', 'client', 'x', 1)",
        "INSERT INTO company_policies (company_id, updated_at) VALUES ('no-company', 1)",
    ];
    for sql in refused {
        let err = run(&db, sql).err().ok_or(format!("accepted: {sql}"))?;
        assert!(err.context.contains("FOREIGN KEY constraint failed"), "{sql}: {err}");
    }
    Ok(())
}

#[test]
fn a_request_stage_must_belong_to_its_pipeline_and_a_used_stage_cannot_be_dropped() -> TestResult {
    let db = fixture()?;
    assert_eq!(run(&db, "UPDATE requests SET stage_id = 'done' WHERE id = 'r1'")?, 1);
    let other_pipeline = run(&db, "UPDATE requests SET stage_id = 'brief' WHERE id = 'r1'");
    assert!(other_pipeline.is_err_and(|e| e.context.contains("FOREIGN KEY")), "a stage of another pipeline was accepted");
    let in_use = run(&db, "DELETE FROM pipeline_stages WHERE pipeline_id = 'p1' AND id = 'done'");
    assert!(in_use.is_err_and(|e| e.context.contains("FOREIGN KEY")), "a stage in use was dropped");
    assert_eq!(run(&db, "DELETE FROM pipeline_stages WHERE pipeline_id = 'p1' AND id = 'new'")?, 1);
    Ok(())
}

/// One bad write and a good write of the same column; the good one proves the bad one failed for
/// its value, not for a typo in the statement.
struct Case {
    bad: &'static str,
    good: &'static str,
}

const CHECK_CASES: &[Case] = &[
    Case { bad: "UPDATE companies SET status = 'deleted' WHERE id = 'co1'", good: "UPDATE companies SET status = 'archived' WHERE id = 'co1'" },
    Case { bad: "UPDATE contacts SET state = 'merged' WHERE id = 'ct1'", good: "UPDATE contacts SET state = 'draft' WHERE id = 'ct1'" },
    Case { bad: "UPDATE users SET kind = 'guest' WHERE id = 'u1'", good: "UPDATE users SET kind = 'employee' WHERE id = 'u1'" },
    Case { bad: "UPDATE users SET status = 'suspended' WHERE id = 'u1'", good: "UPDATE users SET status = 'blocked' WHERE id = 'u1'" },
    Case { bad: "UPDATE users SET role = 'owner' WHERE id = 'e1'", good: "UPDATE users SET role = 'manager' WHERE id = 'e1'" },
    Case { bad: "UPDATE users SET role = 'admin' WHERE id = 'u1'", good: "UPDATE users SET role = NULL WHERE id = 'u1'" },
    Case { bad: "UPDATE users SET login_key = 'Emily.Carter' WHERE id = 'u1'", good: "UPDATE users SET login_key = 'emily.c' WHERE id = 'u1'" },
    Case { bad: "UPDATE users SET failed_logins = -1 WHERE id = 'u1'", good: "UPDATE users SET failed_logins = 5 WHERE id = 'u1'" },
    Case { bad: "UPDATE links SET status = 'paused' WHERE id = 'l1'", good: "UPDATE links SET status = 'disabled' WHERE id = 'l1'" },
    Case { bad: "UPDATE links SET status = 'revoked' WHERE id = 'l1'", good: "UPDATE links SET status = 'revoked', revoked_at = 5 WHERE id = 'l1'" },
    Case { bad: "UPDATE links SET review_due = 2 WHERE id = 'l1'", good: "UPDATE links SET review_due = 1 WHERE id = 'l1'" },
    Case { bad: "UPDATE invitations SET status = 'consumed' WHERE id = 'i1'", good: "UPDATE invitations SET status = 'expired' WHERE id = 'i1'" },
    Case { bad: "UPDATE invitations SET status = 'used' WHERE id = 'i1'", good: "UPDATE invitations SET status = 'used', used_at = 5, used_nonce = 'n' WHERE id = 'i1'" },
    Case { bad: "UPDATE sessions SET scope = 'admin' WHERE id = 's1'", good: "UPDATE sessions SET scope = 'mfa_enroll' WHERE id = 's1'" },
    Case { bad: "UPDATE sessions SET revoked_at = 5 WHERE id = 's1'", good: "UPDATE sessions SET revoked_at = 5, revoked_reason = 'logout' WHERE id = 's1'" },
    Case { bad: "UPDATE pipelines SET archived = 2 WHERE id = 'p1'", good: "UPDATE pipelines SET archived = 1 WHERE id = 'p1'" },
    Case { bad: "UPDATE pipelines SET fields = '{\"key\":\"x\"}' WHERE id = 'p1'", good: "UPDATE pipelines SET fields = '[{\"key\":\"x\"}]' WHERE id = 'p1'" },
    Case { bad: "UPDATE company_policies SET calls = 2 WHERE company_id = 'co1'", good: "UPDATE company_policies SET calls = 1 WHERE company_id = 'co1'" },
    Case { bad: "UPDATE company_policies SET allowed_pipelines = 'p1' WHERE company_id = 'co1'", good: "UPDATE company_policies SET allowed_pipelines = '[\"p1\"]' WHERE company_id = 'co1'" },
    Case { bad: "UPDATE contact_policies SET calls = 'maybe' WHERE contact_id = 'ct1'", good: "UPDATE contact_policies SET calls = 'deny' WHERE contact_id = 'ct1'" },
    Case { bad: "UPDATE contact_policies SET allowed_pipelines = '\"p1\"' WHERE contact_id = 'ct1'", good: "UPDATE contact_policies SET allowed_pipelines = NULL WHERE contact_id = 'ct1'" },
    Case { bad: "UPDATE security_settings SET mfa_required_for_clients = 2", good: "UPDATE security_settings SET mfa_required_for_clients = 1" },
    Case { bad: "UPDATE security_settings SET min_length = 0", good: "UPDATE security_settings SET min_length = 8" },
    Case { bad: "INSERT INTO security_settings (id) VALUES (2)", good: "UPDATE security_settings SET version = 2 WHERE id = 1" },
    Case { bad: "INSERT INTO branding (id) VALUES (2)", good: "UPDATE branding SET portal_name = 'Vector' WHERE id = 1" },
    Case { bad: "UPDATE requests SET fields = '[]' WHERE id = 'r1'", good: "UPDATE requests SET fields = '{\"priority\":\"high\"}' WHERE id = 'r1'" },
    Case { bad: "UPDATE messages SET author_kind = 'bot' WHERE id = 'm1'", good: "UPDATE messages SET author_kind = 'employee' WHERE id = 'm1'" },
    Case { bad: "UPDATE messages SET author_kind = 'telegram' WHERE id = 'm1'", good: "UPDATE messages SET author_kind = 'telegram', channel_link_id = 'ch1' WHERE id = 'm1'" },
    Case { bad: "UPDATE calls SET status = 'ringing' WHERE id = 'ca1'", good: "UPDATE calls SET status = 'ended' WHERE id = 'ca1'" },
    Case { bad: "UPDATE documents SET status = 'deleted' WHERE id = 'd1'", good: "UPDATE documents SET status = 'published', published_at = 5 WHERE id = 'd1'" },
    Case { bad: "UPDATE documents SET required_action = 'pay' WHERE id = 'd1'", good: "UPDATE documents SET required_action = 'sign' WHERE id = 'd1'" },
    Case { bad: "UPDATE documents SET completed_action = 'liked', completed_at = 5 WHERE id = 'd1'", good: "UPDATE documents SET completed_action = 'signed', completed_at = 5 WHERE id = 'd1'" },
    Case {
        bad: "INSERT INTO document_actions (id, document_id, user_id, action, document_sha256, created_at) VALUES ('da1', 'd1', 'u1', 'signed', 'ab12', 5)",
        good: "INSERT INTO document_actions (id, document_id, user_id, action, signature_name, document_sha256, created_at) VALUES ('da1', 'd1', 'u1', 'signed', 'Emily Carter', 'ab12', 5)",
    },
    Case { bad: "UPDATE channel_links SET kind = 'email' WHERE id = 'ch1'", good: "UPDATE channel_links SET status = 'suspended' WHERE id = 'ch1'" },
    Case { bad: "UPDATE channel_links SET status = 'paused' WHERE id = 'ch1'", good: "UPDATE channel_links SET status = 'revoked', revoked_at = 5 WHERE id = 'ch1'" },
    Case { bad: "UPDATE channel_links SET secret = 's' WHERE id = 'ch1'", good: "UPDATE channel_links SET external_label = '@emily' WHERE id = 'ch1'" },
    Case {
        bad: "INSERT INTO channel_link_codes (code_hash, kind, user_id, link_id, company_id, created_at, expires_at) VALUES ('c1', 'widget', 'u1', 'l1', 'co1', 1, 600)",
        good: "INSERT INTO channel_link_codes (code_hash, kind, user_id, link_id, company_id, created_at, expires_at) VALUES ('c1', 'telegram', 'u1', 'l1', 'co1', 1, 600)",
    },
    Case {
        bad: "INSERT INTO webhook_events (source, event_id, received_at) VALUES ('slack', '1', 1)",
        good: "INSERT INTO webhook_events (source, event_id, received_at) VALUES ('widget', 'ch1:1', 1)",
    },
    Case { bad: "UPDATE notifications SET status = 'queued' WHERE id = 'n1'", good: "UPDATE notifications SET status = 'failed' WHERE id = 'n1'" },
    Case { bad: "UPDATE notifications SET status = 'sent' WHERE id = 'n1'", good: "UPDATE notifications SET status = 'sent', sent_at = 5 WHERE id = 'n1'" },
    Case { bad: "UPDATE audit_events SET actor_kind = 'robot' WHERE id = 'a1'", good: "UPDATE audit_events SET actor_kind = 'crm' WHERE id = 'a1'" },
    Case { bad: "UPDATE audit_events SET target_kind = 'planet' WHERE id = 'a1'", good: "UPDATE audit_events SET target_kind = 'link' WHERE id = 'a1'" },
    Case { bad: "UPDATE audit_events SET details = '[1]' WHERE id = 'a1'", good: "UPDATE audit_events SET details = '{\"ip_changed\":true}' WHERE id = 'a1'" },
];

#[test]
fn checks_refuse_values_outside_their_lists() -> TestResult {
    for case in CHECK_CASES {
        let db = fixture()?;
        let err = run(&db, case.bad).err().ok_or(format!("accepted: {}", case.bad))?;
        assert!(
            err.context.contains("CHECK constraint failed") || err.context.contains("malformed JSON"),
            "{}: unexpected error {err}",
            case.bad
        );
        assert_eq!(run(&db, case.good).map_err(|e| format!("{}: {e}", case.good))?, 1, "{}", case.good);
    }
    Ok(())
}

#[test]
fn logins_are_unique_case_insensitively() -> TestResult {
    let db = fixture()?;
    let err = run(
        &db,
        "INSERT INTO users (id, kind, login, login_key, created_at, updated_at) VALUES ('u2', 'external', 'EMILY.CARTER', 'emily.carter', 2, 2)",
    )
    .err()
    .ok_or("a second Emily.Carter in other case was accepted")?;
    assert!(err.is_unique_violation(), "{err}");
    assert_eq!(
        run(&db, "INSERT INTO users (id, kind, login, login_key, created_at, updated_at) VALUES ('u2', 'external', 'Emily.Carter2', 'emily.carter2', 2, 2)")?,
        1
    );
    Ok(())
}

#[test]
fn secret_hashes_and_webhook_events_are_unique() -> TestResult {
    let db = fixture()?;
    let duplicates = [
        "INSERT INTO invitations (id, user_id, link_id, token_hash, expires_at, created_at) VALUES ('i2', 'u1', 'l1', 'token-hash-1', 1000, 2)",
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ('refresh-hash-1', 's1', 2)",
        "INSERT INTO webhook_events (source, event_id, received_at) VALUES ('telegram', '77', 1), ('telegram', '77', 2)",
        // A Telegram chat is linked to one live channel link at a time.
        "INSERT INTO channel_links (id, kind, user_id, link_id, company_id, external_id, created_at, updated_at) VALUES ('ch2', 'telegram', 'u1', 'l1', 'co1', '424242', 2, 2)",
        // One live link per user and contact.
        "INSERT INTO links (id, user_id, contact_id, default_company_id, review_at, created_at, updated_at) VALUES ('l2', 'u1', 'ct1', 'co1', 100, 2, 2)",
    ];
    for sql in duplicates {
        let err = run(&db, sql).err().ok_or(format!("accepted: {sql}"))?;
        assert!(err.is_unique_violation(), "{sql}: {err}");
    }
    let code = "INSERT INTO channel_link_codes (code_hash, user_id, link_id, company_id, created_at, expires_at) VALUES ('code-hash-1', 'u1', 'l1', 'co1', 1, 600)";
    assert_eq!(run(&db, code)?, 1);
    assert!(run(&db, code).is_err_and(|e| e.is_unique_violation()));

    // The same event id from another source is another event; a duplicate through ON CONFLICT
    // changes nothing, which is how the webhook recognises it.
    assert_eq!(run(&db, "INSERT INTO webhook_events (source, event_id, received_at) VALUES ('telegram', '78', 1)")?, 1);
    assert_eq!(run(&db, "INSERT INTO webhook_events (source, event_id, received_at) VALUES ('widget', '78', 1)")?, 1);
    assert_eq!(
        run(&db, "INSERT INTO webhook_events (source, event_id, received_at) VALUES ('telegram', '78', 2) ON CONFLICT DO NOTHING")?,
        0
    );

    // After revocation the same user and contact may be linked again, and the chat relinked.
    assert_eq!(run(&db, "UPDATE links SET status = 'revoked', revoked_at = 5 WHERE id = 'l1'")?, 1);
    assert_eq!(
        run(&db, "INSERT INTO links (id, user_id, contact_id, default_company_id, review_at, created_at, updated_at) VALUES ('l2', 'u1', 'ct1', 'co1', 100, 6, 6)")?,
        1
    );
    assert_eq!(run(&db, "UPDATE channel_links SET status = 'revoked', revoked_at = 5 WHERE id = 'ch1'")?, 1);
    assert_eq!(
        run(&db, "INSERT INTO channel_links (id, kind, user_id, link_id, company_id, external_id, created_at, updated_at) VALUES ('ch2', 'telegram', 'u1', 'l2', 'co1', '424242', 6, 6)")?,
        1
    );
    Ok(())
}

#[test]
fn default_settings_and_branding_rows_exist() -> TestResult {
    let db = SqliteDb::open_project()?;
    let rows = query(&db, "SELECT * FROM security_settings".into())?;
    assert_eq!(rows.len(), 1);
    let s = &rows[0];
    let expect = [
        ("id", 1),
        ("version", 1),
        ("min_length", 12),
        ("require_lower", 0),
        ("require_upper", 0),
        ("require_digit", 0),
        ("require_special", 0),
        ("max_failed_attempts", 5),
        ("lockout_minutes", 15),
        ("access_ttl_seconds", 600),
        ("refresh_ttl_seconds", 86_400),
        ("session_max_age_seconds", 30 * 86_400),
        ("invitation_ttl_hours", 72),
        ("mfa_required_for_clients", 0),
        ("mfa_required_for_employees", 0),
    ];
    for (col, value) in expect {
        assert_eq!(int(s, col), value, "security_settings.{col}");
    }
    let rows = query(&db, "SELECT * FROM branding".into())?;
    assert_eq!(rows.len(), 1);
    assert_eq!(int(&rows[0], "id"), 1);
    assert!(!text(&rows[0], "portal_name").is_empty());
    assert!(text(&rows[0], "primary_color").starts_with('#'));
    Ok(())
}

fn plan(db: &SqliteDb, sql: &str, params: usize) -> Result<String, StoreError> {
    let mut stmt = Stmt::new(Box::leak(format!("EXPLAIN QUERY PLAN {sql}").into_boxed_str()));
    for i in 0..params {
        stmt = stmt.bind(i64::try_from(i).unwrap_or(0));
    }
    let rows = block_on(db.all(stmt))?;
    Ok(rows.iter().map(|r| text(r, "detail")).collect::<Vec<_>>().join(" | "))
}

#[test]
fn hot_lists_and_lookups_use_their_indexes() -> TestResult {
    let db = SqliteDb::open_project()?;
    let cases: &[(&str, usize, &str)] = &[
        (
            "SELECT id FROM requests WHERE company_id = ?1 AND pipeline_id = ?2 AND (created_at, id) < (?3, ?4) \
             ORDER BY created_at DESC, id DESC LIMIT 50",
            4,
            "requests_by_company_pipeline",
        ),
        (
            "SELECT id FROM requests WHERE company_id = ?1 AND (created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC LIMIT 50",
            3,
            "requests_by_company",
        ),
        (
            "SELECT id FROM messages WHERE request_id = ?1 AND (created_at, id) > (?2, ?3) ORDER BY created_at, id LIMIT 50",
            3,
            "messages_by_request",
        ),
        (
            "SELECT id FROM messages WHERE company_id = ?1 AND request_id IS NULL ORDER BY created_at DESC, id DESC LIMIT 50",
            1,
            "messages_general_chat",
        ),
        ("SELECT id FROM documents WHERE company_id = ?1 AND status = 'published' ORDER BY created_at DESC", 1, "documents_by_company_status"),
        ("SELECT id FROM invitations WHERE link_id = ?1 AND status = 'pending'", 1, "invitations_by_link"),
        ("SELECT id FROM links WHERE user_id = ?1 AND status = 'active'", 1, "links_by_user"),
        ("SELECT id FROM links WHERE contact_id = ?1", 1, "links_by_contact"),
        ("SELECT id FROM links WHERE status = ?1 ORDER BY review_at", 1, "links_by_status_review"),
        ("UPDATE links SET review_due = 1 WHERE status != 'revoked' AND review_at <= ?1 AND review_due = 0", 1, "links_review_pending"),
        ("UPDATE invitations SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?1", 1, "invitations_pending_expiry"),
        ("SELECT link_id FROM link_companies WHERE company_id = ?1", 1, "link_companies_by_company"),
        ("SELECT id FROM audit_events WHERE created_at >= ?1 ORDER BY created_at DESC, id DESC LIMIT 50", 1, "audit_by_time"),
        ("SELECT id FROM audit_events WHERE actor_id = ?1 ORDER BY created_at DESC LIMIT 50", 1, "audit_by_actor"),
        ("SELECT id FROM audit_events WHERE target_id = ?1 ORDER BY created_at DESC LIMIT 50", 1, "audit_by_target"),
        ("SELECT id FROM audit_events WHERE action = ?1 ORDER BY created_at DESC LIMIT 50", 1, "audit_by_action"),
        ("SELECT id FROM channel_links WHERE user_id = ?1", 1, "channel_links_by_user"),
        ("SELECT id FROM channel_links WHERE kind = ?1 AND status = ?2", 2, "channel_links_by_kind_status"),
        ("SELECT id FROM channel_links WHERE kind = 'telegram' AND external_id = ?1 AND status <> 'revoked'", 1, "channel_links_live_external"),
        ("SELECT id FROM sessions WHERE user_id = ?1 ORDER BY created_at DESC", 1, "sessions_by_user"),
        ("SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?1", 1, "notifications_due"),
        // Every audit insert takes the next seq: one index probe, not a scan.
        ("SELECT coalesce(max(seq), 0) + 1 FROM audit_events", 0, "audit_by_seq"),
        ("SELECT id FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT 50", 1, "audit_by_seq"),
        ("SELECT id FROM emails WHERE status = 'pending' AND next_attempt_at <= ?1", 1, "emails_due"),
    ];
    for (sql, params, index) in cases {
        let detail = plan(&db, sql, *params)?;
        assert!(detail.contains(index), "{sql}\n  expected {index}, plan: {detail}");
        assert!(!detail.contains("TEMP B-TREE"), "{sql}\n  sorts in a temp b-tree: {detail}");
    }
    Ok(())
}

#[test]
fn the_cron_purges_pass_the_foreign_keys() -> TestResult {
    let ports = extranet::app::kit::native::NativePorts::new_seeded(1)?;
    let db = ports.sqlite();
    db.exec_script(FIXTURE)?;
    // An ended session whose id is kept as evidence on a document action, with a spent code.
    db.exec_script(
        "UPDATE sessions SET revoked_at = 10, revoked_reason = 'logout' WHERE id = 's1';
         INSERT INTO document_actions (id, document_id, user_id, link_id, session_id, action, document_sha256, created_at)
           VALUES ('da1', 'd1', 'u1', 'l1', 's1', 'reviewed', 'ab12', 5);
         INSERT INTO channel_link_codes (code_hash, user_id, link_id, company_id, created_at, expires_at)
           VALUES ('code-1', 'u1', 'l1', 'co1', 1, 600);",
    )?;
    let now = chrono::DateTime::from_timestamp(30 * 86_400, 0).ok_or("time")?;
    let report = block_on(extranet::app::delivery::maintenance::run_maintenance(&ports, now))?;
    assert_eq!(report.invitations_expired, 1);
    assert_eq!(report.sessions_purged, 1);
    assert_eq!(report.refresh_tokens_purged, 1);
    assert_eq!(report.channel_codes_purged, 1);
    assert_eq!(report.links_marked_review_due, 1);
    assert_eq!(scalar(db, "SELECT count(*) FROM document_actions WHERE session_id = 's1'")?, 1);
    Ok(())
}

// ---- the demo seed ----

struct SeedRun {
    sql: String,
    stderr: String,
}

fn run_seed(password: Option<&str>) -> Result<SeedRun, Box<dyn std::error::Error>> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seed_sql"));
    match password {
        Some(p) => cmd.env("SEED_ADMIN_PASSWORD", p),
        None => cmd.env_remove("SEED_ADMIN_PASSWORD"),
    };
    let out = cmd.output()?;
    assert!(out.status.success(), "seed_sql failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(SeedRun { sql: String::from_utf8(out.stdout)?, stderr: String::from_utf8(out.stderr)? })
}

/// Whether the stored hash is argon2id at OWASP's parameters and `password` logs in with it,
/// checked by the login path's own verify.
fn phc_matches(phc: &str, password: &str) -> bool {
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "not argon2id at OWASP parameters: {phc}");
    let verify = verify_password(password, phc);
    assert!(!verify.needs_rehash, "the seed's hash would be rehashed on first login");
    verify.ok
}

fn admin_hash(db: &SqliteDb) -> Result<String, Box<dyn std::error::Error>> {
    let rows = query(db, "SELECT password_hash FROM users WHERE login_key = 'admin'".into())?;
    Ok(rows.first().map(|r| text(r, "password_hash")).ok_or("no admin")?)
}

#[test]
fn the_demo_seed_applies_twice_and_keeps_the_first_admin_password() -> TestResult {
    let first = run_seed(None)?;
    let password = first
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("admin password: "))
        .ok_or(format!("no password line in {:?}", first.stderr))?
        .to_owned();
    assert!(password.len() >= 16, "password too short: {}", password.len());
    assert!(password.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "not base64url");
    assert!(!first.sql.contains(&password), "the plaintext password leaked into the SQL");
    let upper = first.sql.to_uppercase();
    assert!(!upper.contains("BEGIN") && !upper.contains("COMMIT"), "D1 refuses transactions in a file");

    let db = SqliteDb::open_project()?;
    db.exec_script(&first.sql)?;
    let second = run_seed(None)?;
    db.exec_script(&second.sql)?;
    assert!(phc_matches(&admin_hash(&db)?, &password), "the first run's password no longer works");

    assert_eq!(
        scalar(&db, "SELECT count(*) FROM users WHERE kind = 'employee' AND role = 'admin' AND status = 'active' AND login = 'admin'")?,
        1
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM branding WHERE portal_name = 'Vector agency portal'")?, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM companies WHERE name IN ('Northern Light', 'Blue Harbor')")?, 2);
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM contacts c JOIN contact_companies cc ON cc.contact_id = c.id JOIN companies co ON co.id = cc.company_id \
             WHERE c.first_name = 'Emily' AND c.last_name = 'Carter' AND c.email = 'emily.carter@northernlight.example' \
             AND co.name = 'Northern Light'"
        )?,
        1
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM pipelines")?, 2);
    assert_eq!(
        scalar(&db, "SELECT group_concat(name, '/') = 'New/In progress/Waiting for client/Done' FROM (SELECT s.name FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id WHERE p.name = 'Support' ORDER BY s.position)")?,
        1
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id WHERE p.name = 'Support' AND s.is_final = 1 AND s.id = 'done'")?, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM pipelines WHERE json_array_length(fields) > 0")?, 2);
    // Northern Light: the recommended minimum with the Support pipeline; Blue Harbor: nothing.
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM company_policies cp JOIN companies c ON c.id = cp.company_id JOIN pipelines p ON p.name = 'Support' \
             WHERE c.name = 'Northern Light' AND cp.create_requests = 1 AND cp.read_request_chat = 1 AND cp.send_request_chat = 1 \
             AND cp.general_chat = 0 AND cp.calls = 0 AND cp.telegram = 0 AND cp.widget = 0 \
             AND cp.allowed_pipelines = json_array(p.id)"
        )?,
        1
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM company_policies")?, 1);
    // The wizard makes Emily's link, not the seed.
    assert_eq!(scalar(&db, "SELECT count(*) FROM links")?, 0);
    assert_eq!(scalar(&db, "SELECT count(*) FROM users")?, 1);
    Ok(())
}

#[test]
fn the_demo_seed_takes_a_chosen_admin_password_without_printing_it() -> TestResult {
    let chosen = "correct horse battery staple";
    let seed = run_seed(Some(chosen))?;
    assert!(!seed.stderr.contains(chosen), "the chosen password was printed");
    let db = SqliteDb::open_project()?;
    db.exec_script(&seed.sql)?;
    assert!(phc_matches(&admin_hash(&db)?, chosen));
    assert!(!phc_matches(&admin_hash(&db)?, "another password"));
    Ok(())
}
