//! The native SQLite adapter behaves like D1 where use cases depend on it: a batch runs every
//! statement even after a guard changed nothing, a failing statement rolls the whole batch back,
//! more than 100 parameters are refused, changed-row counts are exact, and rows decode into types.

use extranet::store::sql::flag;
use extranet::store::sqlite::SqliteDb;
use extranet::store::{decode, decode_all, Sql, Stmt, StoreError, MAX_PARAMS};
use pollster::block_on;
use serde::Deserialize;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Emily's user, an invitation to activate her account, and an admin.
fn world() -> Result<SqliteDb, StoreError> {
    let db = SqliteDb::open_project()?.without_interleaving();
    db.exec_script(
        "INSERT INTO users (id, kind, login, login_key, created_at, updated_at) VALUES
           ('u1', 'external', 'Emily.Carter', 'emily.carter', 1, 1);
         INSERT INTO users (id, kind, role, login, login_key, created_at, updated_at) VALUES
           ('e1', 'employee', 'admin', 'admin', 'admin', 1, 1);
         INSERT INTO invitations (id, user_id, token_hash, expires_at, created_at) VALUES
           ('i1', 'u1', 'token-hash-1', 1000, 1);",
    )?;
    Ok(db)
}

// The activation batch's shape (DESIGN.md): a guard that consumes the invitation with a fresh
// nonce, then statements that only act where that nonce was written.
const CONSUME: &str = "UPDATE invitations SET status = 'used', used_at = ?1, used_nonce = ?2 \
     WHERE token_hash = ?3 AND status = 'pending' AND expires_at > ?1";
const SET_PASSWORD: &str = "UPDATE users SET password_hash = ?1, password_changed_at = ?2, updated_at = ?2 \
     WHERE id = ?3 AND EXISTS (SELECT 1 FROM invitations WHERE token_hash = ?4 AND used_nonce = ?5)";
const AUDIT: &str = "INSERT INTO audit_events (id, created_at, actor_kind, action) VALUES (?1, ?2, 'system', ?3)";

fn activation(nonce: &str, hash: &str, audit_id: &str) -> Vec<Stmt> {
    vec![
        Stmt::new(CONSUME).bind(10_i64).bind(nonce).bind("token-hash-1"),
        // Unguarded on purpose: it shows the batch went on after a guard that changed nothing.
        Stmt::new(AUDIT).bind(audit_id).bind(10_i64).bind("activation.attempted"),
        Stmt::new(SET_PASSWORD).bind(hash).bind(10_i64).bind("u1").bind("token-hash-1").bind(nonce),
    ]
}

fn password_hash(db: &SqliteDb) -> Result<Option<String>, StoreError> {
    let row = block_on(db.first(Stmt::new("SELECT password_hash FROM users WHERE id = ?1").bind("u1")))?;
    Ok(row.and_then(|r| r.get("password_hash").and_then(|v| v.as_str()).map(str::to_owned)))
}

fn count(db: &SqliteDb, sql: &'static str) -> Result<i64, StoreError> {
    let row = block_on(db.first(Stmt::new(sql)))?.ok_or_else(|| StoreError::new("no row"))?;
    Ok(row.get("n").and_then(serde_json::Value::as_i64).unwrap_or(-1))
}

#[test]
fn a_batch_runs_on_after_a_guard_that_changed_nothing_and_the_nonce_guard_holds() -> TestResult {
    let db = world()?;
    let first = block_on(db.batch(activation("nonce-a", "hash-a", "a1")))?;
    assert_eq!(first.iter().map(|o| o.changes).collect::<Vec<_>>(), [1, 1, 1]);
    assert_eq!(password_hash(&db)?.as_deref(), Some("hash-a"));

    // The same token again: the guard changes nothing, yet the batch does not stop (the audit row
    // is written), and the nonce-guarded write changes nothing, so the password stays.
    let replay = block_on(db.batch(activation("nonce-b", "hash-b", "a2")))?;
    assert_eq!(replay.iter().map(|o| o.changes).collect::<Vec<_>>(), [0, 1, 0]);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM audit_events")?, 2);
    assert_eq!(password_hash(&db)?.as_deref(), Some("hash-a"));
    Ok(())
}

#[test]
fn without_the_nonce_guard_a_replayed_batch_would_overwrite() -> TestResult {
    // The reason every later statement carries the guard: an unguarded write commits anyway.
    let db = world()?;
    block_on(db.batch(activation("nonce-a", "hash-a", "a1")))?;
    let unguarded = "UPDATE users SET password_hash = ?1 WHERE id = ?2";
    let out = block_on(db.batch(vec![
        Stmt::new(CONSUME).bind(11_i64).bind("nonce-b").bind("token-hash-1"),
        Stmt::new(unguarded).bind("hash-b").bind("u1"),
    ]))?;
    assert_eq!(out[0].changes, 0);
    assert_eq!(out[1].changes, 1);
    assert_eq!(password_hash(&db)?.as_deref(), Some("hash-b"));
    Ok(())
}

#[test]
fn a_failing_statement_commits_nothing_of_its_batch() -> TestResult {
    let db = world()?;
    let err = block_on(db.batch(vec![
        Stmt::new(CONSUME).bind(10_i64).bind("nonce-a").bind("token-hash-1"),
        Stmt::new("INSERT INTO users (id, kind, login, login_key, created_at, updated_at) VALUES (?1, 'external', ?2, ?3, 2, 2)")
            .bind("u2")
            .bind("Olivia")
            .bind("olivia"),
        // A second user whose login differs only in case: UNIQUE on login_key.
        Stmt::new("INSERT INTO users (id, kind, login, login_key, created_at, updated_at) VALUES (?1, 'external', ?2, ?3, 2, 2)")
            .bind("u3")
            .bind("OLIVIA")
            .bind("olivia"),
    ]))
    .err()
    .ok_or("the batch succeeded")?;
    assert!(err.is_unique_violation(), "{err}");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM users WHERE id IN ('u2', 'u3')")?, 0);
    assert_eq!(count(&db, "SELECT count(*) AS n FROM invitations WHERE status = 'pending'")?, 1, "the guard's update survived");

    // The database is still usable, and the same batch without the culprit commits.
    let out = block_on(db.batch(activation("nonce-a", "hash-a", "a1")))?;
    assert_eq!(out[0].changes, 1);
    Ok(())
}

#[test]
fn a_foreign_key_failure_rolls_back_too() -> TestResult {
    let db = world()?;
    let err = block_on(db.batch(vec![
        Stmt::new(AUDIT).bind("a1").bind(1_i64).bind("x"),
        Stmt::new("INSERT INTO sessions (id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at) VALUES ('s1', 'nobody', 1, 1, 2, 3)"),
    ]))
    .err()
    .ok_or("the batch succeeded")?;
    assert!(err.context.contains("FOREIGN KEY"), "{err}");
    assert!(!err.is_unique_violation());
    assert_eq!(count(&db, "SELECT count(*) AS n FROM audit_events")?, 0);
    Ok(())
}

fn select_params(n: usize) -> Stmt {
    let list: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
    let sql: &'static str = Box::leak(format!("SELECT json_array({}) AS items", list.join(", ")).into_boxed_str());
    (1..=n).fold(Stmt::new(sql), |s, i| s.bind(i64::try_from(i).unwrap_or(0)))
}

#[test]
fn more_than_100_parameters_is_an_error_and_a_json_list_is_the_way() -> TestResult {
    let db = world()?;
    assert_eq!(MAX_PARAMS, 100);
    assert_eq!(block_on(db.all(select_params(100)))?.len(), 1);
    let err = block_on(db.all(select_params(101))).err().ok_or("101 parameters accepted")?;
    assert!(err.context.contains("too many SQL variables"), "{err}");

    // In a batch too, and nothing before it commits.
    let err = block_on(db.batch(vec![Stmt::new(AUDIT).bind("a1").bind(1_i64).bind("x"), select_params(101)]));
    assert!(err.is_err());
    assert_eq!(count(&db, "SELECT count(*) AS n FROM audit_events")?, 0);

    // A list of any length travels as one JSON parameter.
    let ids: Vec<String> = (0..500).map(|i| format!("id-{i}")).chain(["u1".to_owned(), "e1".to_owned()]).collect();
    let row = block_on(db.first(
        Stmt::new("SELECT count(*) AS n FROM users WHERE id IN (SELECT value FROM json_each(?1))").bind(serde_json::to_string(&ids)?),
    ))?
    .ok_or("no row")?;
    assert_eq!(row.get("n").and_then(serde_json::Value::as_i64), Some(2));
    Ok(())
}

#[test]
fn changes_count_rows_written_and_nothing_for_reads() -> TestResult {
    let db = world()?;
    let insert = "INSERT INTO companies (id, name, created_at, updated_at) VALUES (?1, ?2, 1, 1), (?3, ?4, 1, 1), (?5, ?6, 1, 1)";
    let out = block_on(db.batch(vec![
        Stmt::new(insert).bind("c1").bind("Northern Light").bind("c2").bind("Blue Harbor").bind("c3").bind("Old Mill"),
        Stmt::new("SELECT id FROM companies ORDER BY id"),
        Stmt::new("UPDATE companies SET status = 'archived', updated_at = 2 WHERE id IN ('c1', 'c2')"),
        Stmt::new("UPDATE companies SET status = 'archived' WHERE id = 'nope'"),
        Stmt::new("DELETE FROM companies WHERE id = 'c3'"),
        Stmt::new("INSERT INTO companies (id, name, created_at, updated_at) VALUES ('c1', 'again', 3, 3) ON CONFLICT DO NOTHING"),
        Stmt::new("SELECT count(*) AS n FROM companies"),
    ]))?;
    assert_eq!(out.iter().map(|o| o.changes).collect::<Vec<_>>(), [3, 0, 2, 0, 1, 0, 0]);
    assert_eq!(out[1].rows.len(), 3, "a read in a batch sees the earlier writes");
    assert_eq!(out[6].rows[0].get("n").and_then(serde_json::Value::as_i64), Some(2));

    // Single statements count the same way, including a plain read after writes.
    assert_eq!(block_on(db.run(Stmt::new("UPDATE companies SET name = 'NL' WHERE id = ?1").bind("c1")))?, 1);
    assert_eq!(block_on(db.execute(Stmt::new("SELECT * FROM companies")))?.changes, 0);
    Ok(())
}

#[test]
fn update_returning_gives_the_new_value_and_counts_the_change() -> TestResult {
    // The lockout counter: incremented atomically and read back in the same statement.
    let db = world()?;
    let bump = "UPDATE users SET failed_logins = failed_logins + 1 WHERE login_key = ?1 RETURNING failed_logins";
    for expected in 1..=3 {
        let out = block_on(db.execute(Stmt::new(bump).bind("emily.carter")))?;
        assert_eq!(out.changes, 1);
        assert_eq!(out.rows.len(), 1);
        assert_eq!(out.rows[0].get("failed_logins").and_then(serde_json::Value::as_i64), Some(expected));
    }
    let none = block_on(db.execute(Stmt::new(bump).bind("nobody")))?;
    assert_eq!((none.changes, none.rows.len()), (0, 0));
    Ok(())
}

#[derive(Debug, Deserialize, PartialEq)]
struct Settings {
    min_length: u32,
    #[serde(deserialize_with = "flag::deserialize")]
    require_digit: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    mfa_required_for_clients: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    mfa_required_for_employees: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
struct UserRow {
    id: String,
    login: String,
    role: Option<String>,
    password_hash: Option<String>,
    failed_logins: i64,
}

#[test]
fn rows_decode_into_structs_with_flags_as_booleans() -> TestResult {
    let db = world()?;
    block_on(db.run(Stmt::new("UPDATE security_settings SET mfa_required_for_clients = ?1 WHERE id = 1").bind(true)))?;
    let row = block_on(db.first(Stmt::new(
        "SELECT min_length, require_digit, mfa_required_for_clients, mfa_required_for_employees FROM security_settings",
    )))?
    .ok_or("no settings row")?;
    let settings: Settings = decode(row)?;
    assert_eq!(
        settings,
        Settings { min_length: 12, require_digit: false, mfa_required_for_clients: true, mfa_required_for_employees: false }
    );

    let rows = block_on(db.all(Stmt::new("SELECT id, login, role, password_hash, failed_logins FROM users ORDER BY id")))?;
    let users: Vec<UserRow> = decode_all(rows)?;
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].role.as_deref(), Some("admin"));
    assert_eq!(users[1], UserRow { id: "u1".into(), login: "Emily.Carter".into(), role: None, password_hash: None, failed_logins: 0 });

    // A shape mismatch is a store error naming the type, not a panic.
    let row = block_on(db.first(Stmt::new("SELECT 'many' AS min_length, 0 AS require_digit, 0 AS mfa_required_for_clients, 0 AS mfa_required_for_employees")))?
        .ok_or("no row")?;
    let err = decode::<Settings>(row).err().ok_or("decoded a text as a number")?;
    assert!(err.context.contains("Settings"), "{err}");
    Ok(())
}

#[test]
fn parameters_bind_by_position_and_null_travels_as_null() -> TestResult {
    let db = world()?;
    let row = block_on(db.first(
        Stmt::new("SELECT ?2 AS second, ?1 AS first, ?3 IS NULL AS third_is_null, typeof(?4) AS real_type")
            .bind("a")
            .bind(7_i64)
            .bind(None::<String>)
            .bind(1.5_f64),
    ))?
    .ok_or("no row")?;
    assert_eq!(row.get("first").and_then(|v| v.as_str()), Some("a"));
    assert_eq!(row.get("second").and_then(serde_json::Value::as_i64), Some(7));
    assert_eq!(row.get("third_is_null").and_then(serde_json::Value::as_i64), Some(1));
    assert_eq!(row.get("real_type").and_then(|v| v.as_str()), Some("real"));
    Ok(())
}

/// The wasm benchmark's D1 page (`tests/fixtures/d1_request_page.json`, read by
/// `tests/wasm_argon2_bench.rs` under `make bench`) still decodes into the row the request list
/// reads, so the benchmark measures today's shape (it broke silently when migration 0009 added
/// `activity_at`).
#[test]
fn the_benchmarks_request_page_fixture_decodes_into_todays_row() {
    let rows: Vec<extranet::store::Row> = serde_json::from_str(include_str!("fixtures/d1_request_page.json")).unwrap();
    let decoded: Vec<extranet::app::kit::requests::RequestRow> = decode_all(rows).unwrap();
    assert_eq!(decoded.len(), 51);
    assert!(decoded.iter().all(|r| r.activity_at >= r.created_at));
}
