//! `POST /api/admin/bootstrap`: the first admin, created with the one-time BOOTSTRAP_TOKEN while no
//! admin exists. The "no admin yet" condition lives inside the INSERT, so two racing calls create
//! one admin.
//!
//! The order of the checks matters: once an admin exists the route answers `already_bootstrapped`
//! without looking at the token (a deployment that kept its BOOTSTRAP_TOKEN is not a guessing
//! target), and before that every attempt passes the per-IP login throttle first, so the token
//! cannot be guessed at request speed either.

use crate::app::kit::error::Conflict;
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::credentials;
use crate::app::kit::ids::new_id;
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::app::kit::text::required_text;
use crate::domain::login::{Email, Login};
use crate::app::kit::meta::ClientMeta;
use crate::store::{Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

const INSERT_FIRST_ADMIN: &str = "INSERT INTO users (id, kind, status, role, login, login_key, email, first_name, last_name, \
     password_hash, password_changed_at, created_at, updated_at) \
     SELECT ?1, 'employee', 'active', 'admin', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8 \
     WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')";
const SELECT_ANY_ADMIN: &str = "SELECT 1 AS found FROM users WHERE role = 'admin' LIMIT 1";
const AUDIT_IF_CREATED: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM users WHERE id = ?14 AND role = 'admin')");

#[derive(Debug, Deserialize)]
pub struct BootstrapInput {
    pub token: String,
    pub login: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BootstrapResult {
    pub id: String,
    pub login: String,
    pub role: &'static str,
}

pub async fn bootstrap<P: Ports>(ports: &P, config: &Config, client: &ClientMeta, now: DateTime<Utc>, input: BootstrapInput) -> Result<BootstrapResult, ApiError> {
    // Without the secret configured the route does not exist for anyone.
    let expected = config.bootstrap_token.as_ref().ok_or(ApiError::NotFound)?;
    // Already done: the same answer whatever the token, so it is never compared again.
    let out = ports.db().batch(vec![select_settings(), Stmt::new(SELECT_ANY_ADMIN)]).await?;
    if out.get(1).is_some_and(|o| !o.rows.is_empty()) {
        return Err(ApiError::conflict(Conflict::AlreadyBootstrapped));
    }
    // The login's throttle, under its own key, so bootstrap guesses and logins do not share a budget.
    let ip_key = format!("bootstrap:{}", client.ip.as_deref().unwrap_or("unknown"));
    if !ports.throttle_allows(&ip_key).await {
        return Err(ApiError::RateLimited { retry_after_seconds: 60 });
    }
    if !credentials::constant_time_eq(input.token.as_bytes(), expected.expose().as_bytes()) {
        return Err(ApiError::Forbidden);
    }
    // The same rules as an employee's upsert: this is the first employee.
    let login = Login::parse(&input.login).map_err(|e| ApiError::invalid("login", e.to_string()))?;
    let email = input.email.as_deref().map(str::trim).filter(|e| !e.is_empty()).map(Email::parse).transpose().map_err(|e| ApiError::invalid("email", e.to_string()))?;
    let first_name = required_text("first_name", &input.first_name, 200)?;
    let last_name = required_text("last_name", &input.last_name, 200)?;
    let (settings, _) = settings_from(out.first().and_then(|o| o.rows.first().cloned()))?;
    let email = email.as_ref().map(Email::as_str);
    credentials::check_new_password(ports, "password", &input.password, &settings.password, login.as_str(), email, &[first_name.as_str(), last_name.as_str()]).await?;
    let hash = credentials::hash_password(ports, &input.password)?;
    let id = new_id(ports, now)?;
    let t = now.timestamp();
    let event = Event::new("admin.bootstrapped", ActorKind::System, None).target("employee", &id).details(json!({"login": login.as_str()}));
    let audit = event.insert_if(&new_id(ports, now)?, client, t, AUDIT_IF_CREATED).bind(id.as_str());
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(INSERT_FIRST_ADMIN)
                .bind(id.as_str())
                .bind(login.as_str())
                .bind(login.key())
                .bind(email)
                .bind(first_name.as_str())
                .bind(last_name.as_str())
                .bind(hash)
                .bind(t),
            audit,
        ])
        .await
        .map_err(|e| if e.is_unique_violation() { ApiError::conflict(Conflict::LoginTaken) } else { e.into() })?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        return Err(ApiError::conflict(Conflict::AlreadyBootstrapped));
    }
    Ok(BootstrapResult { id, login: login.as_str().to_owned(), role: "admin" })
}
