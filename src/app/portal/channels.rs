//! The client's channels: their own channel links (with the status the engine gives them right
//! now), a Telegram deep link with a single-use code (10 minutes), a widget connection whose
//! signing secret is shown once, rotating that secret (the previous one stays valid 24 h), and
//! revoking a channel link. Creating needs the telegram or widget permission at the company.

use crate::app::kit::error::Conflict;
use crate::app::kit::client_gate::client_of;
use crate::app::kit::page::encode_time_cursor;
use crate::app::kit::page::{ListOptions, Page, newest_first_bound};
use crate::app::kit::rows::{changes, first_row, rows};
use crate::app::kit::time::{rfc3339};
use crate::app::kit::sql::{client_alive};
use crate::app::kit::audit::{audit_guard, AuditGuard};
use crate::app::kit::audit::{ActorKind, Event};
use crate::app::kit::client_gate::{gate_stmts, Client, GATE_STMT_COUNT};
use crate::app::kit::credentials::new_invitation_token;
use crate::app::kit::ids::{new_id, secret_bytes};
use crate::app::kit::session::Bearer;
use crate::app::{ApiError, Ports};
use crate::access::decision::{decide, Action, Object};
use crate::channels::{telegram, widget};
use crate::config::Config;
use crate::app::kit::meta::ClientMeta;
use crate::store::{decode, decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// How long a Telegram code links a chat.
pub const CODE_TTL_SECONDS: i64 = 600;

/// `{company_id}` of both creations.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelInput {
    pub company_id: Uuid,
}

// ?1 user, ?2 link, ?3/?4 cursor bound, ?5 limit.
const LIST_OWN: &str = "SELECT cl.id, cl.kind, cl.company_id, co.name AS company_name, cl.status, cl.external_label, cl.created_at, \
     cl.updated_at, cl.revoked_at, cl.revoked_reason, cl.previous_secret_expires_at, cl.unreachable_at \
     FROM channel_links cl JOIN companies co ON co.id = cl.company_id \
     WHERE cl.user_id = ?1 AND cl.link_id = ?2 AND (cl.created_at, cl.id) < (?3, ?4) ORDER BY cl.created_at DESC, cl.id DESC LIMIT ?5";
const SELECT_OWN: &str = "SELECT cl.id, cl.kind, cl.company_id, co.name AS company_name, cl.status, cl.external_label, cl.created_at, \
     cl.updated_at, cl.revoked_at, cl.revoked_reason, cl.previous_secret_expires_at, cl.unreachable_at \
     FROM channel_links cl JOIN companies co ON co.id = cl.company_id WHERE cl.id = ?1 AND cl.user_id = ?2 AND cl.link_id = ?3";

#[derive(Debug, Clone, Deserialize)]
struct ChannelRow {
    id: String,
    kind: String,
    company_id: Uuid,
    company_name: String,
    status: String,
    external_label: Option<String>,
    created_at: i64,
    updated_at: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
    previous_secret_expires_at: Option<i64>,
    unreachable_at: Option<i64>,
}

/// A channel link as its owner sees it; secrets never appear here.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub id: String,
    pub kind: String,
    pub company_id: String,
    pub company_name: String,
    /// `active`, `suspended` (the policy does not allow the channel now; it may come back),
    /// `unreachable` (the chat blocked the bot: nothing reaches it until it is unblocked or
    /// started again) or `revoked` (final).
    pub status: String,
    /// Since when the chat has blocked the bot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<String>,
    /// The linked Telegram account (`@username` or name), so a wrong one stands out.
    pub external_label: Option<String>,
    /// Widget: where its server posts events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// Widget: until when the secret before the last rotation is still accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
}

fn channel_action(kind: &str) -> Action {
    if kind == "widget" {
        Action::Widget
    } else {
        Action::Telegram
    }
}

fn view(row: ChannelRow, client: &Client, now: i64) -> ChannelView {
    let status = if row.status == "revoked" {
        "revoked".to_owned()
    } else if row.unreachable_at.is_some() {
        "unreachable".to_owned()
    } else if decide(&client.facts, channel_action(&row.kind), &Object::Company(row.company_id)).is_allowed() {
        "active".to_owned()
    } else {
        "suspended".to_owned()
    };
    let widget = row.kind == "widget";
    ChannelView {
        webhook_path: widget.then(|| format!("/webhooks/widget/{}", row.id)),
        previous_secret_valid_until: row.previous_secret_expires_at.filter(|t| widget && *t > now && row.status != "revoked").map(rfc3339),
        unreachable_since: row.unreachable_at.filter(|_| row.status != "revoked").map(rfc3339),
        id: row.id,
        kind: row.kind,
        company_id: row.company_id.to_string(),
        company_name: row.company_name,
        status,
        external_label: row.external_label,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        revoked_at: row.revoked_at.map(rfc3339),
        revoked_reason: row.revoked_reason,
    }
}

/// `GET /api/channels`: the caller's channel links on their current link, newest first.
pub async fn list<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, list: &ListOptions) -> Result<Page<ChannelView>, ApiError> {
    let (at, id) = newest_first_bound(list.cursor.clone());
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(
        Stmt::new(LIST_OWN)
            .bind(bearer.claims.sub.as_str())
            .bind(bearer.claims.lid.clone())
            .bind(at)
            .bind(id)
            .bind(list.limit + 1),
    );
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    let found: Vec<ChannelRow> = decode_all(rows(&out, GATE_STMT_COUNT))?;
    let page = Page::of(found, list.limit, |c: &ChannelRow| encode_time_cursor(c.created_at, &c.id.to_string()));
    let t = now.timestamp();
    page.try_map(|row| Ok(view(row, &client, t)))
}

// ---------------------------------------------------------------------------------------------
// Telegram
// ---------------------------------------------------------------------------------------------

// ?1 code hash, ?2 user, ?3 link, ?4 company, ?5 now, ?6 expiry, ?7 session, ?8 policy version.
const INSERT_CODE: &str = concat!(
    "INSERT INTO channel_link_codes (code_hash, kind, user_id, link_id, company_id, created_at, expires_at) \
     SELECT ?1, 'telegram', ?2, ?3, ?4, ?5, ?6 WHERE ",
    client_alive!(7, 8, 5)
);

/// `{deep_link, expires_at}`.
#[derive(Debug, Clone, Serialize)]
pub struct TelegramLink {
    pub deep_link: String,
    pub expires_at: String,
    pub company_id: String,
    pub bot_username: String,
}

/// `POST /api/channels/telegram`: a deep link whose single-use code links the chat that opens it
/// (within 10 minutes) to the caller at that company. Needs telegram there.
pub async fn telegram_link<P: Ports>(ports: &P, config: &Config, bearer: &Bearer, now: DateTime<Utc>, input: ChannelInput) -> Result<TelegramLink, ApiError> {
    let out = ports.db().batch(gate_stmts(bearer, now)).await?;
    let client = client_of(bearer, &out)?;
    client.check(Action::Telegram, &Object::Company(input.company_id))?;
    let bot = config.telegram_bot_username.clone().ok_or_else(|| ApiError::Unavailable { what: "Telegram linking".into() })?;
    let (code, hash) = new_invitation_token(secret_bytes(ports)?);
    let t = now.timestamp();
    let expires = t + CODE_TTL_SECONDS;
    let written = ports
        .db()
        .run(
            Stmt::new(INSERT_CODE)
                .bind(hash)
                .bind(client.user_id())
                .bind(client.link_id())
                .bind(input.company_id.to_string())
                .bind(t)
                .bind(expires)
                .bind(client.principal.session_id.as_str())
                .bind(client.principal.policy_version),
        )
        .await?;
    if written != 1 {
        return Err(ApiError::TokenStale);
    }
    Ok(TelegramLink { deep_link: telegram::deep_link(&bot, &code), expires_at: rfc3339(expires), company_id: input.company_id.to_string(), bot_username: bot })
}

// ---------------------------------------------------------------------------------------------
// Widget
// ---------------------------------------------------------------------------------------------

// ?1 id, ?2 user, ?3 link, ?4 company, ?5 secret, ?6 now, ?7 session, ?8 policy version.
const INSERT_WIDGET: &str = concat!(
    "INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, secret, created_at, updated_at) \
     SELECT ?1, 'widget', ?2, ?3, ?4, 'active', ?5, ?6, ?6 WHERE ",
    client_alive!(7, 8, 6)
);
// ?1 id, ?2 new secret, ?3 now, ?4 previous secret's end, ?5 session, ?6 policy version.
const ROTATE: &str = concat!(
    "UPDATE channel_links SET previous_secret = secret, previous_secret_expires_at = ?4, secret = ?2, updated_at = ?3 \
     WHERE id = ?1 AND kind = 'widget' AND status <> 'revoked' AND ",
    client_alive!(5, 6, 3)
);
// ?1 id, ?2 now, ?3 user, ?4 session, ?5 policy version.
const REVOKE: &str = concat!(
    "UPDATE channel_links SET status = 'revoked', revoked_at = ?2, revoked_reason = 'client', updated_at = ?2 \
     WHERE id = ?1 AND user_id = ?3 AND status <> 'revoked' AND ",
    client_alive!(4, 5, 2)
);
/// An audit event written only when the channel link (?14) is in the state the change left it in
/// (?15: its updated_at and, for a revocation, ?16 = 'revoked').
const AUDIT_IF_CHANGED: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM channel_links WHERE id = ?14 AND updated_at = ?2 AND (?15 IS NULL OR status = ?15))");

/// A widget connection's secret, shown only in the answer that made it.
#[derive(Debug, Clone, Serialize)]
pub struct WidgetSecret {
    pub id: String,
    pub company_id: String,
    pub signing_secret: String,
    pub webhook_path: String,
    /// After a rotation: until when the previous secret is still accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<String>,
}

fn new_secret<P: Ports>(ports: &P) -> Result<String, ApiError> {
    Ok(new_invitation_token(secret_bytes(ports)?).0)
}

fn audit(action: &'static str, client: &Client, channel: &str, company: &str, details: serde_json::Value) -> Event {
    Event::new(action, ActorKind::External, Some(client.user_id()))
        .target("channel_link", channel)
        .companies(vec![company.to_owned()])
        .details(details)
}

fn audit_stmt<P: Ports>(ports: &P, event: &Event, meta: &ClientMeta, now: DateTime<Utc>, channel: &str, status: Option<&str>) -> Result<Stmt, ApiError> {
    let stmt = event.insert_if(&new_id(ports, now)?, meta, now.timestamp(), AUDIT_IF_CHANGED);
    Ok(stmt.bind(channel).bind(status))
}

/// `POST /api/channels/widget`: a connection for the company (needs widget there) and its signing
/// secret, which this answer alone shows.
pub async fn create_widget<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, input: ChannelInput) -> Result<WidgetSecret, ApiError> {
    let out = ports.db().batch(gate_stmts(bearer, now)).await?;
    let client = client_of(bearer, &out)?;
    let company = input.company_id.to_string();
    client.check(Action::Widget, &Object::Company(input.company_id))?;
    let id = new_id(ports, now)?;
    let secret = new_secret(ports)?;
    let event = audit("channel_link.widget_created", &client, &id, &company, json!({"link_id": client.link_id()}));
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(INSERT_WIDGET)
                .bind(id.as_str())
                .bind(client.user_id())
                .bind(client.link_id())
                .bind(company.as_str())
                .bind(secret.as_str())
                .bind(now.timestamp())
                .bind(client.principal.session_id.as_str())
                .bind(client.principal.policy_version),
            audit_stmt(ports, &event, meta, now, &id, None)?,
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::TokenStale);
    }
    Ok(WidgetSecret { webhook_path: format!("/webhooks/widget/{id}"), id, company_id: company, signing_secret: secret, previous_secret_valid_until: None })
}

/// The caller's own channel link (404 for anyone else's or an unknown id).
async fn own<P: Ports>(ports: &P, bearer: &Bearer, now: DateTime<Utc>, id: Uuid) -> Result<(Client, ChannelRow), ApiError> {
    let mut stmts = gate_stmts(bearer, now);
    stmts.push(Stmt::new(SELECT_OWN).bind(id.to_string()).bind(bearer.claims.sub.as_str()).bind(bearer.claims.lid.clone()));
    let out = ports.db().batch(stmts).await?;
    let client = client_of(bearer, &out)?;
    let row: ChannelRow = decode(first_row(&out, GATE_STMT_COUNT).ok_or(ApiError::NotFound)?)?;
    Ok((client, row))
}

/// `POST /api/channels/{id}/rotate`: a new signing secret, shown once; the one it replaces stays
/// valid for 24 h (a second rotation within them ends the oldest at once). Needs widget.
pub async fn rotate<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, id: Uuid) -> Result<WidgetSecret, ApiError> {
    let (client, row) = own(ports, bearer, now, id).await?;
    if row.kind != "widget" {
        return Err(ApiError::conflict(Conflict::NotAWidget));
    }
    if row.status == "revoked" {
        return Err(ApiError::conflict(Conflict::ChannelLinkRevoked));
    }
    client.check(Action::Widget, &Object::Company(row.company_id))?;
    let secret = new_secret(ports)?;
    let t = now.timestamp();
    let until = t + widget::ROTATION_GRACE_SECONDS;
    let company = row.company_id.to_string();
    let event = audit("channel_link.widget_rotated", &client, &row.id, &company, json!({"previous_secret_valid_until": rfc3339(until)}));
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(ROTATE)
                .bind(row.id.as_str())
                .bind(secret.as_str())
                .bind(t)
                .bind(until)
                .bind(client.principal.session_id.as_str())
                .bind(client.principal.policy_version),
            audit_stmt(ports, &event, meta, now, &row.id, None)?,
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::TokenStale);
    }
    Ok(WidgetSecret {
        webhook_path: format!("/webhooks/widget/{}", row.id),
        id: row.id,
        company_id: company,
        signing_secret: secret,
        previous_secret_valid_until: Some(rfc3339(until)),
    })
}

/// `DELETE /api/channels/{id}`: revokes one of the caller's channel links, whatever the policy
/// says (leaving is always allowed). Revoking a revoked link changes nothing.
pub async fn revoke<P: Ports>(ports: &P, bearer: &Bearer, meta: &ClientMeta, now: DateTime<Utc>, id: Uuid) -> Result<(), ApiError> {
    let (client, row) = own(ports, bearer, now, id).await?;
    if row.status == "revoked" {
        return Ok(());
    }
    let company = row.company_id.to_string();
    let event = audit("channel_link.revoked", &client, &row.id, &company, json!({"kind": row.kind, "by": "client", "external_label": row.external_label}));
    let out = ports
        .db()
        .batch(vec![
            Stmt::new(REVOKE)
                .bind(row.id.as_str())
                .bind(now.timestamp())
                .bind(client.user_id())
                .bind(client.principal.session_id.as_str())
                .bind(client.principal.policy_version),
            audit_stmt(ports, &event, meta, now, &row.id, Some("revoked"))?,
        ])
        .await?;
    if changes(&out, 0) != 1 {
        return Err(ApiError::TokenStale);
    }
    Ok(())
}
