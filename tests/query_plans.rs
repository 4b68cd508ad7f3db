//! Query plans of the hot paths: drives the real HTTP app over SQLite with the real migrations,
//! records every statement each hot request sends (with its real parameters), and runs EXPLAIN
//! QUERY PLAN on each. A full scan of a table that grows with use fails the test, naming the
//! request, the statement and its plan. Recording the statements (rather than copying their text)
//! keeps the test on the SQL the code actually sends, private constants included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use extranet::app::kit::native::NativePorts;
use extranet::app::kit::ports::{BlocklistUnavailable, OutboundError, Ports, QueryStats, RandomUnavailable};
use extranet::domain::password::Blocklist;
use extranet::config::Config;
use extranet::http::{handle, Req, Resp};
use extranet::store::sqlite::SqliteDb;
use extranet::store::{MemoryKv, Outcome, Sql, Stmt, StoreError};
use serde_json::{json, Value as Json};
use std::cell::RefCell;

/// Tables that grow with customers, users and time: a full scan of one of them is a bug on a hot
/// path. (Small, bounded tables such as pipelines, stages, settings and branding may be scanned.)
const BIG_TABLES: &[&str] = &[
    "users", "companies", "contacts", "contact_companies", "employee_companies", "links", "link_companies", "invitations",
    "company_policies", "contact_policies", "sessions", "refresh_tokens", "channel_links", "channel_link_codes",
    "webhook_events", "requests", "attachments", "messages", "calls", "documents", "document_actions", "notifications",
    "audit_events",
];

/// The SQLite adapter, recording every statement it runs.
struct RecordingDb {
    inner: SqliteDb,
    stats: QueryStats,
    seen: RefCell<Vec<Stmt>>,
}

impl Sql for RecordingDb {
    async fn execute(&self, stmt: Stmt) -> Result<Outcome, StoreError> {
        self.seen.borrow_mut().push(stmt.clone());
        self.stats.record(0.0);
        self.inner.execute(stmt).await
    }

    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<Outcome>, StoreError> {
        self.seen.borrow_mut().extend(stmts.iter().cloned());
        self.stats.record(0.0);
        self.inner.batch(stmts).await
    }
}

/// The native ports (KV, randomness, throttle, log) with the recording database.
struct RecordingPorts {
    db: RecordingDb,
    native: NativePorts,
}

impl Ports for RecordingPorts {
    type Db = RecordingDb;
    type Kv = MemoryKv;

    fn db(&self) -> &RecordingDb {
        &self.db
    }

    fn kv(&self) -> &MemoryKv {
        &self.native.kv
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), RandomUnavailable> {
        self.native.fill_random(buf)
    }

    async fn throttle_allows(&self, key: &str) -> bool {
        self.native.throttle_allows(key).await
    }

    fn log(&self, line: &str) {
        self.native.log(line);
    }

    fn elapsed_ms(&self) -> f64 {
        self.native.elapsed_ms()
    }

    fn db_stats(&self) -> &QueryStats {
        &self.db.stats
    }

    async fn post_json_with(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<(u16, String), OutboundError> {
        self.native.post_json_with(url, headers, body).await
    }

    async fn password_blocklist(&self) -> Result<&Blocklist, BlocklistUnavailable> {
        self.native.password_blocklist().await
    }
}

struct App {
    ports: RecordingPorts,
    config: Config,
    now: DateTime<Utc>,
}

const CRM: &str = "crm-sync-secret-for-plans";
const ADMIN: (&str, &str) = ("plans-admin", "ledger winter copper 42");
const CLIENT: (&str, &str) = ("emily.carter@northernlight.example", "aurora over the fjord 2026");
const COMPANY: &str = "0190a000-0000-7000-8000-000000000001";
const CONTACT: &str = "0190a000-0000-7000-8000-000000000011";
const PIPELINE: &str = "0190a000-0000-7000-8000-000000000021";

impl App {
    fn new() -> App {
        let config = Config::from_lookup(|name| match name {
            "JWT_SIGNING_KEYS" => Some("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into()),
            "BOOTSTRAP_TOKEN" => Some("bootstrap-secret-for-plans-0123456789abcdef".into()),
            "CRM_SYNC_TOKEN" => Some(CRM.into()),
            "PORTAL_URL" => Some("https://portal.test".into()),
            _ => None,
        })
        .expect("config");
        let native = NativePorts::new_seeded(7).expect("native ports");
        let db = RecordingDb { inner: SqliteDb::open_project().expect("migrated database"), stats: QueryStats::default(), seen: RefCell::new(Vec::new()) };
        App { ports: RecordingPorts { db, native }, config, now: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().expect("time") }
    }

    fn send(&self, method: &str, path: &str, body: Option<Json>, token: Option<&str>) -> Resp {
        let mut b = http::Request::builder().method(method).uri(format!("https://portal.test{path}"));
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req: Req = b.body(body.map(|v| v.to_string().into_bytes()).unwrap_or_default()).expect("request");
        pollster::block_on(handle(&self.ports, &self.config, self.now, req))
    }

    /// A setup call that must succeed; returns its JSON.
    fn ok(&self, method: &str, path: &str, body: Option<Json>, token: Option<&str>) -> Json {
        let resp = self.send(method, path, body, token);
        assert!(resp.status().is_success(), "{method} {path}: {} {}", resp.status(), String::from_utf8_lossy(resp.body()));
        if resp.body().is_empty() {
            Json::Null
        } else {
            serde_json::from_slice(resp.body()).expect("JSON body")
        }
    }

    /// Runs one hot request and returns the statements it sent.
    fn record(&self, method: &str, path: &str, body: Option<Json>, token: Option<&str>) -> Vec<Stmt> {
        self.ports.db.seen.borrow_mut().clear();
        let resp = self.send(method, path, body, token);
        assert!(resp.status().is_success(), "{method} {path}: {} {}", resp.status(), String::from_utf8_lossy(resp.body()));
        std::mem::take(&mut *self.ports.db.seen.borrow_mut())
    }

    /// Like [`App::record`], whatever the status (a refused login still runs its statements).
    fn record_any(&self, method: &str, path: &str, body: Option<Json>, token: Option<&str>) -> Vec<Stmt> {
        self.ports.db.seen.borrow_mut().clear();
        let resp = self.send(method, path, body, token);
        assert!(resp.status().as_u16() < 500, "{method} {path}: {}", resp.status());
        std::mem::take(&mut *self.ports.db.seen.borrow_mut())
    }

    fn plan(&self, stmt: &Stmt) -> Vec<String> {
        let mut explain = Stmt::new(Box::leak(format!("EXPLAIN QUERY PLAN {}", stmt.sql).into_boxed_str()));
        for p in &stmt.params {
            explain = explain.bind(p.clone());
        }
        let rows = pollster::block_on(self.ports.db.inner.all(explain)).unwrap_or_else(|e| panic!("EXPLAIN failed: {e}\n{}", stmt.sql));
        rows.iter().map(|r| r.get("detail").and_then(Json::as_str).unwrap_or_default().to_owned()).collect()
    }
}

/// How a request may read a big table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// Only index searches (`SEARCH`): lookups, and lists whose filters match an index.
    Search,
    /// A newest-first page over everything the caller may see: walking an index in order
    /// (`SCAN t USING INDEX i`) is fine there, as the LIMIT ends the walk. A bare `SCAN t` (every
    /// row, then a sort) is not.
    OrderedWalk,
}

/// The big table a plan line reads in full, if any. `SCAN t` reads every row; `SCAN t USING
/// [COVERING] INDEX i` reads every index entry unless a LIMIT ends the walk; a `SEARCH` reads a
/// range. Plans name aliases, so `sql` resolves them back to tables.
fn full_scan(detail: &str, sql: &str, reads: Reads) -> Option<String> {
    let rest = detail.strip_prefix("SCAN ")?;
    let mut words = rest.split_whitespace();
    let name = words.next()?;
    let table = table_of(name, sql);
    let ordered_walk = words.next() == Some("USING");
    (BIG_TABLES.contains(&table.as_str()) && !(ordered_walk && reads == Reads::OrderedWalk)).then_some(table)
}

/// Resolves an alias of `sql` (`FROM requests r`, `JOIN users AS u`) to its table name.
fn table_of(name: &str, sql: &str) -> String {
    if BIG_TABLES.contains(&name) {
        return name.to_owned();
    }
    let words: Vec<&str> = sql.split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')').filter(|w| !w.is_empty()).collect();
    for (i, w) in words.iter().enumerate() {
        let alias = match (words.get(i + 1), words.get(i + 2)) {
            (Some(a), Some(b)) if a.eq_ignore_ascii_case("AS") => *b,
            (Some(a), _) => *a,
            _ => continue,
        };
        if alias == name && BIG_TABLES.contains(w) {
            return (*w).to_owned();
        }
    }
    name.to_owned()
}

/// The big tables the statements' plans read in full, each with a readable explanation.
fn scans(app: &App, label: &str, stmts: &[Stmt], reads: Reads) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for stmt in stmts {
        let plan = app.plan(stmt);
        for line in &plan {
            if let Some(table) = full_scan(line, stmt.sql, reads) {
                let text = format!("{label}: full scan of {table}\n  sql: {}\n  params: {:?}\n  plan: {}", stmt.sql, stmt.params, plan.join(" | "));
                found.push((table, text));
            }
        }
    }
    found
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The seed's example: a company with a policy, a pipeline, Emily linked and activated, a request
/// with a message, a published document, and audit events; returns (admin token, client tokens).
fn populated() -> (App, String, Json, String) {
    let app = App::new();
    app.ok("POST", "/api/admin/bootstrap", Some(json!({"token": "bootstrap-secret-for-plans-0123456789abcdef", "login": ADMIN.0, "password": ADMIN.1, "first_name": "Ada", "last_name": "Admin"})), None);
    let admin = app.ok("POST", "/api/auth/login", Some(json!({"login": ADMIN.0, "password": ADMIN.1, "refresh_transport": "body"})), None)["access_token"]
        .as_str()
        .expect("admin token")
        .to_owned();
    app.ok("PUT", &format!("/api/admin/companies/{COMPANY}"), Some(json!({"name": "Northern Light"})), Some(CRM));
    app.ok("PUT", &format!("/api/admin/contacts/{CONTACT}"), Some(json!({"first_name": "Emily", "last_name": "Carter", "email": CLIENT.0, "company_ids": [COMPANY]})), Some(CRM));
    app.ok(
        "PUT",
        &format!("/api/admin/pipelines/{PIPELINE}"),
        Some(json!({"name": "Support", "stages": [{"id": "new", "name": "New", "is_final": false}, {"id": "done", "name": "Done", "is_final": true}]})),
        Some(CRM),
    );
    app.ok(
        "PUT",
        &format!("/api/admin/companies/{COMPANY}/policy"),
        Some(json!({"create_requests": true, "read_request_chat": true, "send_request_chat": true, "general_chat": true, "calls": true,
            "telegram": false, "widget": false, "allowed_pipelines": [PIPELINE]})),
        Some(&admin),
    );
    let link = app.ok(
        "POST",
        "/api/admin/links",
        Some(json!({"user": {"login": CLIENT.0, "email": CLIENT.0, "first_name": "Emily", "last_name": "Carter"},
            "contact_id": CONTACT, "company_ids": [COMPANY], "default_company_id": COMPANY})),
        Some(&admin),
    );
    let link_id = link["id"].as_str().expect("link id").to_owned();
    let invitation = app.ok("POST", &format!("/api/admin/links/{link_id}/invitations"), Some(json!({})), Some(&admin));
    let token = invitation["activation_url"].as_str().expect("activation url").rsplit('#').next().expect("token").to_owned();
    let session = app.ok("POST", "/api/invitations/activate", Some(json!({"token": token, "password": CLIENT.1, "refresh_transport": "body"})), None);
    let client = session["access_token"].as_str().expect("client token").to_owned();
    let request = app.ok("POST", "/api/requests", Some(json!({"company_id": COMPANY, "pipeline_id": PIPELINE, "title": "Broken invoice", "description": "It is wrong."})), Some(&client));
    let request_id = request["id"].as_str().expect("request id").to_owned();
    app.ok("POST", &format!("/api/requests/{request_id}/messages"), Some(json!({"body": "Any news?"})), Some(&client));
    app.ok("POST", &format!("/api/chat/messages?company={COMPANY}"), Some(json!({"body": "Hello team"})), Some(&client));
    let doc = app.ok(
        "POST",
        "/api/admin/documents",
        Some(json!({"company_id": COMPANY, "title": "Contract", "content_type": "application/pdf", "content_base64": b64(b"%PDF-1.4 plans")})),
        Some(&admin),
    );
    let doc_id = doc["id"].as_str().expect("document id").to_owned();
    app.ok("POST", &format!("/api/admin/documents/{doc_id}/publish"), Some(json!({"required_action": "review"})), Some(&admin));
    let ids = json!({"link": link_id, "request": request_id, "document": doc_id, "invitation_token": token, "user": session["user"]["id"]});
    (app, admin, ids, client)
}

#[test]
fn the_checker_flags_a_full_scan_and_passes_an_index_search() {
    let app = App::new();
    let unindexed = Stmt::new("SELECT id FROM requests r WHERE r.title = ?1").bind("x");
    assert_eq!(scans(&app, "probe", std::slice::from_ref(&unindexed), Reads::Search).len(), 1, "a filter on an unindexed column scans requests");
    assert_eq!(scans(&app, "probe", &[unindexed], Reads::OrderedWalk).len(), 1, "a bare scan is never an ordered walk");
    let walk = Stmt::new("SELECT id FROM audit_events ORDER BY created_at DESC LIMIT 50");
    assert_eq!(scans(&app, "probe", std::slice::from_ref(&walk), Reads::Search).len(), 1, "walking a whole index is a full scan where a search is due");
    assert!(scans(&app, "probe", &[walk], Reads::OrderedWalk).is_empty(), "a newest-first page may walk its index");
    let search = Stmt::new("SELECT id FROM requests r WHERE r.company_id = ?1 AND r.pipeline_id = ?2").bind("c").bind("p");
    assert!(scans(&app, "probe", &[search], Reads::Search).is_empty());
    let small = Stmt::new("SELECT id FROM pipelines");
    assert!(scans(&app, "probe", &[small], Reads::Search).is_empty(), "pipelines are few: scanning them is fine");
}

/// The client's side and authentication: the session check, login by login_key, refresh by token
/// hash, invitation by token hash, and every client list. None may scan a big table.
#[test]
fn client_and_auth_paths_never_scan_a_big_table() {
    let (app, _admin, ids, client) = populated();
    let request = ids["request"].as_str().unwrap();
    let document = ids["document"].as_str().unwrap();

    let login = |who: (&str, &str)| Some(json!({"login": who.0, "password": who.1, "refresh_transport": "body"}));
    let mut cases: Vec<(String, Vec<Stmt>)> = vec![
        ("POST /api/auth/login (client)".into(), app.record("POST", "/api/auth/login", login(CLIENT), None)),
        ("POST /api/auth/login (employee)".into(), app.record("POST", "/api/auth/login", login(ADMIN), None)),
        ("POST /api/auth/login (unknown login)".into(), app.record_any("POST", "/api/auth/login", login(("nobody@example.test", "not the password at all")), None)),
    ];
    let fresh = app.ok("POST", "/api/auth/login", login(CLIENT), None);
    let refresh_token = fresh["refresh_token"].as_str().unwrap().to_owned();
    cases.push((
        "POST /api/auth/refresh".into(),
        app.record("POST", "/api/auth/refresh", Some(json!({"refresh_token": refresh_token, "refresh_transport": "body"})), None),
    ));
    // The invitation was used (410), but its lookup by token hash is the same statement.
    cases.push(("POST /api/invitations/preview".into(), app.record_any("POST", "/api/invitations/preview", Some(json!({"token": ids["invitation_token"]})), None)));

    for path in [
        "/api/me".to_owned(),
        "/api/pipelines".to_owned(),
        "/api/requests".to_owned(),
        format!("/api/requests?company={COMPANY}&pipeline={PIPELINE}&status=new"),
        "/api/requests?open=true".to_owned(),
        format!("/api/requests/{request}"),
        format!("/api/requests/{request}/messages"),
        format!("/api/chat/messages?company={COMPANY}"),
        "/api/documents".to_owned(),
        format!("/api/documents/{document}"),
        "/api/calls".to_owned(),
    ] {
        cases.push((format!("GET {path}"), app.record("GET", &path, None, Some(&client))));
    }

    let me = &cases.iter().find(|(label, _)| label == "GET /api/me").expect("the /api/me case").1;
    assert!(me.iter().any(|s| s.sql == extranet::app::kit::session::CHECK_SESSION), "the session check is among the statements checked");

    let mut problems = Vec::new();
    let mut checked = 0;
    for (label, stmts) in &cases {
        assert!(!stmts.is_empty(), "{label} sent no statement: is the recorder wired?");
        checked += stmts.len();
        problems.extend(scans(&app, label, stmts, Reads::Search).into_iter().map(|(_, text)| text));
    }
    assert!(problems.is_empty(), "{} full scan(s) of big tables ({checked} statements checked):\n\n{}", problems.len(), problems.join("\n\n"));
}

/// Governance lists that scan today, named by case and table: a ratchet. A new scan fails the
/// test, and so does a fix (remove the entry then). Owners: links.rs SELECT_LIST, invitations.rs
/// SELECT_LIST, audit_query.rs SELECT_EVENTS, team_requests.rs LIST_TEAM_REQUESTS,
/// team_documents.rs LIST_TEAM_SCOPED. The `(?N IS NULL OR col = ?N)` filters keep SQLite from
/// using the matching index, so each filter walks the whole table or index.
const KNOWN_SCANS: &[(&str, &str)] = &[
    ("links ?status", "links"),
    ("links ?company", "links"),
    ("invitations ?link", "invitations"),
    ("audit ?actor", "audit_events"),
    ("audit ?target", "audit_events"),
    ("audit ?action", "audit_events"),
    ("team requests ?company", "companies"),
    ("team documents", "documents"),
    ("team documents ?company", "documents"),
];

/// The employee's side: the governance check and the lists of the console. Unfiltered lists may
/// walk their index newest first; a filter must search its index.
#[test]
fn governance_lists_scan_no_more_than_known() {
    let (app, admin, ids, _client) = populated();
    let link = ids["link"].as_str().unwrap();
    let request = ids["request"].as_str().unwrap();
    let user = ids["user"].as_str().unwrap();

    let cases: Vec<(&str, String, Reads)> = vec![
        ("me", "/api/me".into(), Reads::Search),
        ("links", "/api/admin/links".into(), Reads::OrderedWalk),
        ("links ?status", "/api/admin/links?status=active".into(), Reads::Search),
        ("links ?company", format!("/api/admin/links?company={COMPANY}"), Reads::Search),
        ("link", format!("/api/admin/links/{link}"), Reads::Search),
        ("invitations ?link", format!("/api/admin/invitations?link={link}"), Reads::Search),
        ("audit", "/api/admin/audit".into(), Reads::OrderedWalk),
        ("audit ?actor", format!("/api/admin/audit?actor={user}"), Reads::Search),
        ("audit ?target", format!("/api/admin/audit?target={link}"), Reads::Search),
        ("audit ?action", "/api/admin/audit?action=login.succeeded".into(), Reads::Search),
        ("team requests", "/api/admin/requests".into(), Reads::OrderedWalk),
        ("team requests ?company", format!("/api/admin/requests?company={COMPANY}"), Reads::Search),
        ("team request messages", format!("/api/admin/requests/{request}/messages"), Reads::Search),
        ("team chat", format!("/api/admin/chat/messages?company={COMPANY}"), Reads::Search),
        ("team documents", "/api/admin/documents".into(), Reads::OrderedWalk),
        ("team documents ?company", format!("/api/admin/documents?company={COMPANY}"), Reads::Search),
        ("user sessions", format!("/api/admin/users/{user}/sessions"), Reads::Search),
    ];
    let mut new_scans = Vec::new();
    let mut seen_known = Vec::new();
    for (name, path, reads) in &cases {
        let stmts = app.record("GET", path, None, Some(&admin));
        assert!(!stmts.is_empty(), "{name} sent no statement: is the recorder wired?");
        for (table, text) in scans(&app, &format!("{name} (GET {path})"), &stmts, *reads) {
            if KNOWN_SCANS.contains(&(*name, table.as_str())) {
                seen_known.push((*name, table));
            } else {
                new_scans.push(text);
            }
        }
    }
    assert!(new_scans.is_empty(), "{} new full scan(s) of big tables:\n\n{}", new_scans.len(), new_scans.join("\n\n"));
    let fixed: Vec<_> = KNOWN_SCANS.iter().filter(|(n, t)| !seen_known.iter().any(|(sn, st)| sn == n && st == t)).collect();
    assert!(fixed.is_empty(), "these no longer scan: remove them from KNOWN_SCANS: {fixed:?}");
}

/// Under D1 read replication a route whose `read_from()` is `Replica` may run on a replica, where
/// a write would be sent on to the primary behind the caller's back: so every GET route is run
/// here and a replica-tolerant one must send no INSERT, UPDATE or DELETE. A new GET route must be
/// added to this walk (the test fails until it is).
#[test]
fn reads_sent_to_a_replica_write_nothing_and_every_get_route_is_walked() {
    use extranet::http::routes::{find, Matched, ReadFrom, ROUTES};
    let (app, admin, ids, client) = populated();
    let (link, request, document, user) =
        (ids["link"].as_str().unwrap(), ids["request"].as_str().unwrap(), ids["document"].as_str().unwrap(), ids["user"].as_str().unwrap());
    let file = json!({"file_name": "a.txt", "content_type": "text/plain", "content_base64": "aGk="});
    let attachment = app.ok("POST", &format!("/api/requests/{request}/attachments"), Some(file), Some(&client))["id"].as_str().unwrap().to_owned();
    let as_client = [
        "/api/me".to_owned(),
        "/api/me/sessions".to_owned(),
        "/api/branding".to_owned(),
        "/api/pipelines".to_owned(),
        "/api/requests".to_owned(),
        format!("/api/requests/{request}"),
        format!("/api/requests/{request}/attachments"),
        format!("/api/requests/{request}/attachments/{attachment}"),
        format!("/api/requests/{request}/messages"),
        format!("/api/chat/messages?company={COMPANY}"),
        "/api/calls".to_owned(),
        "/api/documents".to_owned(),
        format!("/api/documents/{document}"),
        format!("/api/documents/{document}/file"),
        "/api/channels".to_owned(),
    ];
    let as_admin = [
        "/health?deep=1".to_owned(),
        "/openapi.json".to_owned(),
        "/api/admin/security".to_owned(),
        "/api/admin/companies".to_owned(),
        "/api/admin/contacts".to_owned(),
        "/api/admin/pipelines".to_owned(),
        "/api/admin/users".to_owned(),
        "/api/admin/branding".to_owned(),
        "/api/admin/links".to_owned(),
        format!("/api/admin/links/{link}"),
        format!("/api/admin/invitations?link={link}"),
        format!("/api/admin/companies/{COMPANY}/policy"),
        format!("/api/admin/contacts/{CONTACT}/policy"),
        format!("/api/admin/links/{link}/policy"),
        format!("/api/admin/links/{link}/diagnostics?object=request:{request}&action=send_request_chat"),
        format!("/api/admin/links/{link}/visible"),
        format!("/api/admin/users/{user}"),
        format!("/api/admin/users/{user}/sessions"),
        "/api/admin/audit".to_owned(),
        "/api/admin/channel-links".to_owned(),
        "/api/admin/requests".to_owned(),
        format!("/api/admin/requests/{request}"),
        format!("/api/admin/requests/{request}/messages"),
        format!("/api/admin/requests/{request}/attachments"),
        format!("/api/admin/requests/{request}/attachments/{attachment}"),
        format!("/api/admin/chat/messages?company={COMPANY}"),
        "/api/admin/calls".to_owned(),
        "/api/admin/documents".to_owned(),
        format!("/api/admin/documents/{document}"),
        format!("/api/admin/documents/{document}/file"),
        "/api/crm/events?after=0".to_owned(),
        "/api/crm/events?after=1".to_owned(),
        "/api/admin/outbox".to_owned(),
    ];
    let mut walked = std::collections::HashSet::new();
    let mut writers = Vec::new();
    for (path, token) in as_client.iter().map(|p| (p, &client)).chain(as_admin.iter().map(|p| (p, &admin))) {
        let route = match find(&http::Method::GET, path.split('?').next().unwrap()) {
            Matched::Route(route, _) => route,
            other => panic!("GET {path} is not a route: {other:?}"),
        };
        walked.insert(route.path);
        let stmts = app.record("GET", path, None, Some(token));
        let writes = stmts.iter().any(|s| {
            let head = s.sql.trim_start().to_ascii_uppercase();
            ["INSERT", "UPDATE", "DELETE", "REPLACE"].iter().any(|w| head.starts_with(w))
        });
        if writes {
            writers.push(route.path);
            assert_eq!(route.read_from(), ReadFrom::Primary, "GET {path} writes, so it must run on the primary");
        }
    }
    let missing: Vec<_> = ROUTES.iter().filter(|r| r.method == http::Method::GET && !walked.contains(r.path)).map(|r| r.path).collect();
    assert!(missing.is_empty(), "GET routes not walked: {missing:?}");
    // The walk does see writes: the client downloads write their audit row.
    assert!(writers.contains(&"/api/documents/{id}/file") && writers.contains(&"/api/requests/{id}/attachments/{aid}"), "{writers:?}");
    // Exact reads stay on the primary even though they write nothing.
    for exact in ["/api/me/sessions", "/api/admin/users/{id}/sessions"] {
        assert!(ROUTES.iter().any(|r| r.path == exact && r.read_from() == ReadFrom::Primary), "{exact}");
    }
    assert!(ROUTES.iter().filter(|r| r.method != http::Method::GET).all(|r| r.read_from() == ReadFrom::Primary), "every write runs on the primary");
    assert!(ROUTES.iter().any(|r| r.path == "/api/requests" && r.method == http::Method::GET && r.read_from() == ReadFrom::Replica));
}
