//! Login: one answer for every failure, one password verify whatever the branch, a lockout counter
//! claimed atomically before the verify, and at most two database round trips.

use crate::app::kit::audit::write_events;
use crate::app::kit::lockout::claim_attempt;
use crate::app::kit::audit::{self, ActorKind, Event};
use crate::app::kit::credentials;
use crate::app::kit::ids::{new_id, nonce};
use crate::app::kit::link_facts::{facts_stmts_for, token_scope};
use crate::app::kit::session::{Issued, Opening, Scope, SessionGuard, SessionUser, Transport};
use crate::app::kit::settings::{select_settings, settings_from};
use crate::app::{ApiError, Ports};
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::app::kit::session::OtherLink;
use crate::store::{decode, decode_all, Sql, Stmt};
use uuid::Uuid;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
pub struct LoginInput {
    pub login: String,
    pub password: String,
    #[serde(default)]
    pub totp: Option<String>,
    #[serde(default)]
    pub refresh_transport: Option<Transport>,
    /// Which of the user's active links to sign in to, when they hold several (the answer's
    /// `other_links` names them); without it, the one used last, else the oldest.
    #[serde(default)]
    pub link_id: Option<Uuid>,
}

/// Counts this attempt before the verify (see `kit::lockout`), keyed by the login.
const CLAIM_ATTEMPT: &str = claim_attempt!("login_key = ?1", "RETURNING id, failed_logins, locked_until");

const SELECT_ACCOUNT: &str = "SELECT u.id, u.kind, u.role, u.status, u.login, u.email, u.first_name, u.last_name, u.password_hash, \
     u.totp_secret, u.totp_last_step, l.id AS link_id, l.policy_version, \
     (SELECT count(*) FROM sessions ps WHERE ps.user_id = u.id AND ps.country IS NOT NULL) AS countries_seen, \
     (SELECT count(*) FROM sessions ps WHERE ps.user_id = u.id AND ps.country = ?2) AS this_country_seen \
     FROM users u LEFT JOIN links l ON l.id = (SELECT cl.id FROM links cl WHERE cl.user_id = u.id AND cl.status = 'active' \
       AND (?3 IS NULL OR cl.id = ?3) ORDER BY cl.last_used_at IS NULL, cl.last_used_at DESC, cl.created_at, cl.id LIMIT 1) \
     WHERE u.login_key = ?1";

/// A user may hold several active links: login never guesses between them. It takes the one asked
/// for (`?3`), else the one signed in to last, else the oldest (`SELECT_ACCOUNT`), remembers it
/// here, and names the others in the answer so the portal can offer a switch.
const REMEMBER_LINK: &str = "UPDATE links SET last_used_at = ?2 WHERE id = ?3 AND user_id = ?1 \
     AND EXISTS (SELECT 1 FROM users WHERE id = ?1 AND login_nonce = ?4)";

/// The guard of a complete login: resets the counter and takes the TOTP step only if no other
/// login took it first; the session rows depend on the nonce it writes.
const COMPLETE_LOGIN: &str = "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?2, login_nonce = ?3, \
     totp_last_step = COALESCE(?4, totp_last_step), password_hash = COALESCE(?5, password_hash), updated_at = ?2 \
     WHERE id = ?1 AND status = 'active' AND (?4 IS NULL OR totp_last_step IS NULL OR totp_last_step < ?4)";

#[derive(Deserialize)]
struct Claimed {
    failed_logins: i64,
    locked_until: Option<i64>,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    kind: String,
    role: Option<String>,
    status: String,
    login: String,
    first_name: String,
    last_name: String,
    password_hash: Option<String>,
    totp_secret: Option<String>,
    totp_last_step: Option<i64>,
    link_id: Option<String>,
    policy_version: Option<i64>,
    countries_seen: i64,
    this_country_seen: i64,
}

pub async fn login<P: Ports>(ports: &P, config: &Config, client: &ClientMeta, now: DateTime<Utc>, input: LoginInput) -> Result<Issued, ApiError> {
    let login_key = input.login.trim().to_lowercase();
    if login_key.is_empty() || login_key.chars().count() > 254 {
        return Err(ApiError::invalid("login", "Enter your login."));
    }
    if input.password.is_empty() || input.password.chars().count() > 256 {
        return Err(ApiError::invalid("password", "Enter your password."));
    }
    let ip_key = format!("login:{}", client.ip.as_deref().unwrap_or("unknown"));
    if !ports.throttle_allows(&ip_key).await {
        return Err(ApiError::RateLimited { retry_after_seconds: 60 });
    }
    let t = now.timestamp();
    let out = ports
        .db()
        .batch(vec![
            select_settings(),
            Stmt::new(CLAIM_ATTEMPT).bind(login_key.as_str()).bind(t),
            Stmt::new(SELECT_ACCOUNT).bind(login_key.as_str()).bind(client.country.clone()).bind(input.link_id.map(|l| l.to_string())),
        ])
        .await?;
    let (settings, _) = settings_from(out.first().and_then(|o| o.rows.first().cloned()))?;
    let claimed: Option<Claimed> = out.get(1).and_then(|o| o.rows.first().cloned()).map(decode).transpose()?;
    let account: Option<Account> = out.get(2).and_then(|o| o.rows.first().cloned()).map(decode).transpose()?;

    // Exactly one verify on every path: the real hash only when this attempt was counted.
    let hash = if claimed.is_some() { account.as_ref().and_then(|a| a.password_hash.as_deref()) } else { None };
    let verified = credentials::verify_password(&input.password, hash);

    let fail = |reason: &'static str| -> Event {
        Event::new("login.failed", ActorKind::Anonymous, None)
            .failed()
            .details(json!({"login": login_key, "reason": reason}))
    };
    let (Some(account), Some(claimed)) = (account, claimed) else {
        let reason = if hash_exists_but_locked(&out) { "locked" } else { "unknown_login" };
        let mut event = fail(reason);
        if reason == "locked" {
            if let Some(row) = out.get(2).and_then(|o| o.rows.first()) {
                if let Some(id) = row.get("id").and_then(|v| v.as_str()) {
                    event = event.target("user", id);
                }
            }
        }
        write_events(ports, client, now, vec![event]).await?;
        return Err(ApiError::InvalidCredentials);
    };
    let user_event = |e: Event| e.target("user", &account.id);
    let locked_now = claimed.locked_until.is_some_and(|until| until > t);
    let lock_event = || {
        user_event(Event::new("account.locked", ActorKind::System, None))
            .details(json!({"failed_logins": claimed.failed_logins, "locked_until": claimed.locked_until}))
    };
    if !verified.ok {
        let reason = if account.password_hash.is_none() { "no_password" } else { "wrong_password" };
        let mut events = vec![user_event(fail(reason))];
        if locked_now {
            events.push(lock_event());
        }
        write_events(ports, client, now, events).await?;
        return Err(ApiError::InvalidCredentials);
    }
    let employee = account.kind == "employee";
    let refusal = if account.status != "active" {
        Some("blocked")
    } else if !employee && account.link_id.is_none() {
        Some("no_active_link")
    } else {
        None
    };
    if let Some(reason) = refusal {
        write_events(ports, client, now, vec![user_event(fail(reason))]).await?;
        return Err(ApiError::InvalidCredentials);
    }
    let mut step = None;
    if let Some(secret) = account.totp_secret.as_deref() {
        let Some(code) = input.totp.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
            // The password was right: say a code is needed. The attempt stays counted until a
            // complete success, so a stolen password alone cannot probe without limit.
            return Err(ApiError::MfaRequired);
        };
        match credentials::totp_verify(secret, code, t, account.totp_last_step) {
            Some(s) => step = Some(s),
            None => {
                let mut events = vec![user_event(fail("wrong_totp"))];
                if locked_now {
                    events.push(lock_event());
                }
                write_events(ports, client, now, events).await?;
                return Err(ApiError::InvalidCredentials);
            }
        }
    }
    let rehash = if verified.needs_rehash { Some(credentials::hash_password(ports, &input.password)?) } else { None };
    let scope = if account.totp_secret.is_none() && settings.mfa_required_for(employee) { Scope::MfaEnroll } else { Scope::Full };
    let opening = Opening::new(ports, now, scope, account.link_id.clone(), account.policy_version.unwrap_or(0))?;
    let login_nonce = nonce(ports)?;
    let guard = SessionGuard::LoginNonce { user_id: account.id.clone(), nonce: login_nonce.clone() };
    let mut stmts = vec![Stmt::new(COMPLETE_LOGIN).bind(account.id.as_str()).bind(t).bind(login_nonce.as_str()).bind(step).bind(rehash)];
    stmts.extend(opening.insert_stmts(&account.id, &settings, client, t, &guard));
    if let Some(link_id) = account.link_id.as_deref() {
        stmts.push(Stmt::new(REMEMBER_LINK).bind(account.id.as_str()).bind(t).bind(link_id).bind(login_nonce.as_str()));
    }
    let event = Event::new("login.succeeded", ActorKind::of_user_kind(&account.kind), Some(&account.id))
        .target("session", &opening.session_id)
        // A sign-in from a country this user has never signed in from is flagged (the seed's "who
        // logged in, when"): employees filter the audit on it.
        .details(json!({"mfa": step.is_some(), "scope": scope.as_str(), "link_id": account.link_id, "country": client.country,
            "new_country": client.country.is_some() && account.countries_seen > 0 && account.this_country_seen == 0}));
    stmts.push(event.insert_if(&new_id(ports, now)?, client, t, audit::USER_LOGIN_NONCE).bind(account.id.as_str()).bind(login_nonce.as_str()));
    let others_at = stmts.len();
    stmts.push(other_links_stmt(&account.id, account.link_id.as_deref()));
    let facts_at = stmts.len();
    stmts.extend(facts_stmts_for(account.link_id.as_deref()));
    let out = ports.db().batch(stmts).await?;
    if out.first().map_or(0, |o| o.changes) != 1 {
        // Another login took this TOTP step first (or the user was blocked meanwhile).
        write_events(ports, client, now, vec![user_event(fail("totp_reused"))]).await?;
        return Err(ApiError::InvalidCredentials);
    }
    let mut opening = opening;
    if let Some((pv, vis)) = token_scope(out.get(facts_at..).unwrap_or_default())? {
        opening.policy_version = pv;
        opening.vis = Some(vis);
    }
    let other_links = decode_all::<OtherLink>(out.get(others_at).map(|o| o.rows.clone()).unwrap_or_default())?;
    let user = SessionUser { id: account.id, kind: account.kind, role: account.role, login: account.login, first_name: account.first_name, last_name: account.last_name };
    let mut issued = opening.issue(config, &settings, user, now, input.refresh_transport.unwrap_or_default())?;
    issued.body.other_links = other_links;
    Ok(issued)
}

// ?1 the user, ?2 the link signed in to: the user's other active links, oldest first.
const OTHER_LINKS: &str = "SELECT l.id AS link_id, c.id AS company_id, c.name AS company_name FROM links l \
     JOIN companies c ON c.id = l.default_company_id WHERE l.user_id = ?1 AND l.status = 'active' AND (?2 IS NULL OR l.id <> ?2) \
     ORDER BY l.created_at, l.id";

fn other_links_stmt(user_id: &str, link_id: Option<&str>) -> Stmt {
    Stmt::new(OTHER_LINKS).bind(user_id).bind(link_id)
}

/// Whether the account exists (row 2) although the claim found it locked (row 1 empty).
fn hash_exists_but_locked(out: &[crate::store::Outcome]) -> bool {
    out.get(1).is_some_and(|o| o.rows.is_empty()) && out.get(2).is_some_and(|o| !o.rows.is_empty())
}

