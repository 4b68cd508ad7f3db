//! Email out through Cloudflare Email Service: the texts (plain and simple HTML, with the portal's
//! name from branding), the leased delivery of the `emails` outbox with retries (1, 2, 4, 8 minutes,
//! then failed), and the daily review digest the cron writes. Rows come from the events themselves
//! (migration 0012's trigger on the audit row) and from the invitation use cases (their URL, with
//! `kit::outbox::invitation_email_stmt`).
//! Email is on when EMAIL_FROM is set and the `EMAIL` binding exists; otherwise rows wait, and the
//! console says email is off.

use crate::app::delivery::email_recipients;
use crate::app::delivery::notify::{backoff_seconds, MAX_ATTEMPTS};
use crate::app::kit::rows::{changes, rows};
use crate::app::{ApiError, OutgoingEmail, Ports};
use crate::config::Config;
use crate::store::{decode_all, Sql, Stmt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many messages one delivery run claims.
pub const EMAIL_BATCH: u32 = 20;
const LEASE_SECONDS: i64 = 300;

// ?1 now, ?2 lease end, ?3 limit: one statement, so two runs never claim the same row.
const CLAIM: &str = "UPDATE emails SET attempts = attempts + 1, next_attempt_at = ?2 \
     WHERE status = 'pending' AND id IN (SELECT id FROM emails WHERE status = 'pending' AND next_attempt_at <= ?1 \
       ORDER BY next_attempt_at LIMIT ?3) \
     RETURNING id, kind, user_id, to_address, data, attempts";
const BRAND: &str = "SELECT portal_name FROM branding WHERE id = 1";
// ?1 now. An invitation message whose invitation is no longer pending (revoked by a newer one,
// used, expired) is dropped before the claim, and its URL, the token, goes with it: the outbox
// keeps a working token only as long as it can still be sent.
const DROP_STALE_INVITATIONS: &str = "UPDATE emails SET status = 'failed', last_error = 'the invitation is no longer pending', \
     data = json_remove(data, '$.url') WHERE status = 'pending' AND kind = 'invitation' AND NOT EXISTS (SELECT 1 FROM invitations i \
       WHERE i.id = json_extract(emails.data, '$.invitation_id') AND i.status = 'pending' AND i.expires_at > ?1)";
// The activation URL goes once the message has left (or never will).
const MARK_SENT: &str = "UPDATE emails SET status = 'sent', sent_at = ?2, last_error = NULL, data = json_remove(data, '$.url') WHERE id = ?1";
const MARK_RETRY: &str = "UPDATE emails SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1 AND status = 'pending'";
// The access engine said no at send time: never sent, with the reason (no retry).
const MARK_DROPPED: &str = "UPDATE emails SET status = 'failed', last_error = 'dropped: ' || ?2 WHERE id = ?1 AND status = 'pending'";
const MARK_FAILED: &str = "UPDATE emails SET status = 'failed', last_error = ?2, data = json_remove(data, '$.url') WHERE id = ?1 AND status = 'pending'";

// The daily digest: ?1 day (YYYY-MM-DD), ?2 now. One per employee who answers for a link due for
// review (links nobody answers for go to every admin); the day is in the row's id, so every cron
// run of the day after the first writes nothing.
const WRITE_DIGESTS: &str = "INSERT INTO emails (id, kind, user_id, to_address, data, next_attempt_at, created_at) \
     SELECT 'digest-' || ?1 || '-' || e.id, 'review_digest', e.id, e.email, \
       json_object('count', count(*), 'day', ?1), ?2, ?2 \
     FROM links l JOIN users e ON e.kind = 'employee' AND e.status = 'active' AND e.email IS NOT NULL AND ( \
       (e.id = l.responsible_id AND (e.role = 'admin' OR NOT EXISTS (SELECT 1 FROM link_companies rlc WHERE rlc.link_id = l.id \
         AND rlc.company_id NOT IN (SELECT rec.company_id FROM employee_companies rec WHERE rec.user_id = e.id)))) \
       OR (e.role = 'admin' AND NOT EXISTS (SELECT 1 FROM users r WHERE r.id = l.responsible_id \
         AND r.status = 'active' AND r.email IS NOT NULL AND (r.role = 'admin' OR NOT EXISTS (SELECT 1 FROM link_companies rlc \
           WHERE rlc.link_id = l.id AND rlc.company_id NOT IN (SELECT rec.company_id FROM employee_companies rec WHERE rec.user_id = r.id)))))) \
     WHERE l.status <> 'revoked' AND l.review_due = 1 \
     GROUP BY e.id ON CONFLICT DO NOTHING";

// ---------------------------------------------------------------------------------------------
// The projection: audit events (?1 < seq <= ?2) into messages. Each row's id is the event's id and
// the recipient's, so running twice over the same events writes nothing new. The texts carry no
// titles or names of things the recipient may not see.
// ---------------------------------------------------------------------------------------------

/// `INSERT INTO emails` from a SELECT of the row's values; a row already there is left alone.
macro_rules! projection {
    ($select:literal) => {
        concat!("INSERT INTO emails (id, kind, user_id, to_address, data, next_attempt_at, created_at) ", $select, " ON CONFLICT DO NOTHING")
    };
}

/// To the client: their access was switched off, back on, or ended.
const LINK_STATUS: &str = projection!("SELECT a.id || '-' || u.id, 'link_status', u.id, u.email, json_object('action', a.action), a.created_at, a.created_at \
     FROM audit_events a JOIN links l ON l.id = a.target_id JOIN users u ON u.id = l.user_id \
     WHERE a.seq > ?1 AND a.seq <= ?2 AND a.outcome = 'success' \
       AND a.action IN ('link.disabled', 'link.enabled', 'link.revoked', 'link.offboarded') AND u.email IS NOT NULL");
/// To the user: their password was changed, their second factor reset.
const ACCOUNT: &str = projection!("SELECT a.id || '-' || u.id, CASE a.action WHEN 'password.changed' THEN 'password_changed' ELSE 'mfa_reset' END, \
       u.id, u.email, json_object('ip', a.ip, 'country', a.country), a.created_at, a.created_at \
     FROM audit_events a JOIN users u ON u.id = a.target_id \
     WHERE a.seq > ?1 AND a.seq <= ?2 AND a.outcome = 'success' AND a.action IN ('password.changed', 'mfa.reset') AND u.email IS NOT NULL");
/// To the user: a sign-in from a country none of their earlier sign-ins came from (the very first
/// sign-in tells nothing).
const NEW_COUNTRY: &str = projection!("SELECT a.id || '-' || u.id, 'new_country', u.id, u.email, json_object('ip', a.ip, 'country', a.country), a.created_at, a.created_at \
     FROM audit_events a JOIN users u ON u.id = a.actor_id \
     WHERE a.seq > ?1 AND a.seq <= ?2 AND a.outcome = 'success' AND a.action = 'login.succeeded' AND a.country IS NOT NULL AND u.email IS NOT NULL \
       AND EXISTS (SELECT 1 FROM audit_events b WHERE b.actor_id = a.actor_id AND b.action = 'login.succeeded' AND b.seq < a.seq AND b.country IS NOT NULL) \
       AND NOT EXISTS (SELECT 1 FROM audit_events b WHERE b.actor_id = a.actor_id AND b.action = 'login.succeeded' AND b.seq < a.seq AND b.country = a.country)");
/// To each client the document is addressed to, while it still awaits their action.
const DOCUMENT_AWAITING: &str = projection!("SELECT a.id || '-' || u.id, 'document_awaiting', u.id, u.email, json_object('required_action', d.required_action, 'document_id', d.id), a.created_at, a.created_at \
     FROM audit_events a JOIN documents d ON d.id = a.target_id \
       JOIN links l ON l.status = 'active' AND (d.contact_id IS NULL OR l.contact_id = d.contact_id) \
       JOIN link_companies lc ON lc.link_id = l.id AND lc.company_id = d.company_id \
       JOIN users u ON u.id = l.user_id AND u.status = 'active' \
     WHERE a.seq > ?1 AND a.seq <= ?2 AND a.outcome = 'success' AND a.action IN ('document.published', 'document.signature_requested') \
       AND d.status = 'published' AND d.required_action <> 'none' AND d.completed_at IS NULL AND u.email IS NOT NULL \
     GROUP BY a.id, u.id");
/// To the employees who answer for the user's links (the admins when no one does): a client was
/// locked out, or a refresh token was used twice (possible theft). Whether a responsible employee
/// still answers is decided here, when the message is written, not when they were named: one
/// whose companies no longer cover every company of the link (their scope shrank, or the link
/// gained a company) gets nothing about it, and the admins are told instead.
const TO_RESPONSIBLE: &str = projection!("SELECT a.id || '-' || e.id, CASE a.action WHEN 'account.locked' THEN 'locked_out' ELSE 'token_reuse' END, \
       e.id, e.email, json_object('user_id', subject.id, 'login', subject.login, 'ip', a.ip, 'country', a.country), a.created_at, a.created_at \
     FROM audit_events a \
       JOIN users subject ON subject.id = CASE a.action WHEN 'account.locked' THEN a.target_id \
         ELSE (SELECT s.user_id FROM sessions s WHERE s.id = a.target_id) END \
       JOIN users e ON e.kind = 'employee' AND e.status = 'active' AND e.email IS NOT NULL AND ( \
         e.id IN (SELECT l.responsible_id FROM links l WHERE l.user_id = subject.id AND l.status <> 'revoked' \
           AND (e.role = 'admin' OR NOT EXISTS (SELECT 1 FROM link_companies rlc WHERE rlc.link_id = l.id \
             AND rlc.company_id NOT IN (SELECT rec.company_id FROM employee_companies rec WHERE rec.user_id = e.id)))) \
         OR (e.role = 'admin' AND NOT EXISTS (SELECT 1 FROM links l JOIN users r ON r.id = l.responsible_id \
           AND r.status = 'active' AND r.email IS NOT NULL WHERE l.user_id = subject.id AND l.status <> 'revoked' \
           AND (r.role = 'admin' OR NOT EXISTS (SELECT 1 FROM link_companies rlc WHERE rlc.link_id = l.id \
             AND rlc.company_id NOT IN (SELECT rec.company_id FROM employee_companies rec WHERE rec.user_id = r.id)))))) \
     WHERE a.seq > ?1 AND a.seq <= ?2 AND a.action IN ('account.locked', 'refresh.reused')");

/// To the user: a reset invitation set their password (someone else started it, so they must hear
/// of it at once, ASVS 6.3.7), with where the activation came from.
const RESET_ACTIVATED: &str = projection!("SELECT a.id || '-' || u.id, 'password_changed', u.id, u.email, \
       json_object('ip', a.ip, 'country', a.country, 'via', 'reset'), a.created_at, a.created_at \
     FROM audit_events a JOIN users u ON u.id = a.actor_id \
     WHERE a.seq > ?1 AND a.seq <= ?2 AND a.outcome = 'success' AND a.action = 'invitation.activated' \
       AND json_extract(a.details, '$.password_reset') = 1 AND u.email IS NOT NULL");

const PROJECTIONS: [&str; 6] = [LINK_STATUS, ACCOUNT, NEW_COUNTRY, DOCUMENT_AWAITING, TO_RESPONSIBLE, RESET_ACTIVATED];
const CURSOR: &str = "SELECT c.seq, (SELECT coalesce(max(seq), 0) FROM audit_events) AS newest FROM outbox_cursors c WHERE c.name = 'email'";
// ?1 from, ?2 to, ?3 now: only the run that read ?1 moves the cursor.
const ADVANCE: &str = "UPDATE outbox_cursors SET seq = ?2, updated_at = ?3 WHERE name = 'email' AND seq = ?1";
/// Events one projection run reads at most (the next run goes on from there).
const PROJECTION_SPAN: i64 = 500;

#[derive(Debug, Deserialize)]
struct CursorRow {
    seq: i64,
    newest: i64,
}

/// Turns the audit events since the last run into messages; when email is off it only moves past
/// them (a channel switched on later does not mail old news).
pub async fn project<P: Ports>(ports: &P, enabled: bool, now: DateTime<Utc>) -> Result<u64, ApiError> {
    let cursor = decode_all::<CursorRow>(ports.db().all(Stmt::new(CURSOR)).await?)?.into_iter().next().ok_or_else(|| ApiError::internal("the email cursor is missing"))?;
    if cursor.newest <= cursor.seq {
        return Ok(0);
    }
    let to = cursor.newest.min(cursor.seq + PROJECTION_SPAN);
    let mut stmts: Vec<Stmt> = if enabled {
        PROJECTIONS.iter().map(|sql| Stmt::new(sql).bind(cursor.seq).bind(to)).collect()
    } else {
        Vec::new()
    };
    let written = stmts.len();
    stmts.push(Stmt::new(ADVANCE).bind(cursor.seq).bind(to).bind(now.timestamp()));
    let out = ports.db().batch(stmts).await?;
    Ok((0..written).map(|i| changes(&out, i)).sum())
}

/// Whether email can go out now, and if not, why (the console shows the reason).
pub fn availability<P: Ports>(ports: &P, config: &Config) -> Result<String, &'static str> {
    match (&config.email_from, ports.email_available()) {
        (Some(from), true) => Ok(from.clone()),
        (None, _) => Err("EMAIL_FROM is not set"),
        (Some(_), false) => Err("the EMAIL send_email binding is missing"),
    }
}

/// The cron's digest statement (in its maintenance batch, after links are marked review-due).
pub fn digest_stmt(now: DateTime<Utc>) -> Stmt {
    Stmt::new(WRITE_DIGESTS).bind(now.format("%Y-%m-%d").to_string()).bind(now.timestamp())
}

#[derive(Debug, Deserialize)]
struct Claimed {
    id: String,
    kind: String,
    user_id: Option<String>,
    to_address: String,
    data: String,
    attempts: i64,
}

#[derive(Debug, Deserialize)]
struct Brand {
    portal_name: String,
}

/// What one email run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct EmailReport {
    pub claimed: u64,
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    /// Not sent because the recipient may no longer see what it is about.
    pub dropped: u64,
}

/// Sends up to `limit` due messages through the binding.
pub async fn deliver_due<P: Ports>(ports: &P, from: &str, portal_url: Option<&str>, now: DateTime<Utc>, limit: u32) -> Result<EmailReport, ApiError> {
    let t = now.timestamp();
    let out = ports
        .db()
        .batch(vec![Stmt::new(DROP_STALE_INVITATIONS).bind(t), Stmt::new(CLAIM).bind(t).bind(t + LEASE_SECONDS).bind(limit), Stmt::new(BRAND)])
        .await?;
    let claimed: Vec<Claimed> = decode_all(rows(&out, 1))?;
    let brand = decode_all::<Brand>(rows(&out, 2))?.into_iter().next().map_or_else(|| "Client portal".to_owned(), |b| b.portal_name);
    let mut report = EmailReport { claimed: claimed.len() as u64, ..EmailReport::default() };
    if claimed.is_empty() {
        return Ok(report);
    }
    let mut writes = Vec::new();
    for row in claimed {
        let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
        if row.kind == "document_awaiting" {
            let refusal = match row.user_id.as_deref() {
                Some(user) => email_recipients::document_refusal(ports, user, str_of(&data, "document_id")).await?,
                None => Some("the message names no user"),
            };
            if let Some(reason) = refusal {
                report.dropped += 1;
                writes.push(Stmt::new(MARK_DROPPED).bind(row.id).bind(reason));
                continue;
            }
        }
        let text = render(&row.kind, &data, &brand, portal_url);
        let email = OutgoingEmail { from: from.to_owned(), to: row.to_address, subject: text.subject, html: html_of(&text.body, &brand), text: text.body };
        match ports.send_email(&email).await {
            Ok(()) => {
                report.sent += 1;
                writes.push(Stmt::new(MARK_SENT).bind(row.id).bind(t));
            }
            Err(e) if row.attempts < MAX_ATTEMPTS => {
                report.retried += 1;
                writes.push(Stmt::new(MARK_RETRY).bind(row.id).bind(t + backoff_seconds(row.attempts)).bind(e.0));
            }
            Err(e) => {
                report.failed += 1;
                writes.push(Stmt::new(MARK_FAILED).bind(row.id).bind(e.0));
            }
        }
    }
    ports.db().batch(writes).await?;
    Ok(report)
}

/// A message's subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub subject: String,
    pub body: String,
}

/// A whole number from the row's JSON: D1 hands integers bound from wasm back as reals (`1.0`).
fn int_of(data: &Value, key: &str) -> Option<i64> {
    data.get(key).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

fn str_of<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Where a sign-in or change came from, as the text says it.
fn origin(data: &Value) -> String {
    match (str_of(data, "ip"), str_of(data, "country")) {
        (Some(ip), Some(country)) => format!(" from {ip} ({country})"),
        (Some(ip), None) => format!(" from {ip}"),
        (None, Some(country)) => format!(" from {country}"),
        (None, None) => String::new(),
    }
}

/// The texts, one per kind. They name no request, document or company: the recipient may have
/// lost sight of it by the time the message is read, and email is not the portal's access check.
pub fn render(kind: &str, data: &Value, brand: &str, portal_url: Option<&str>) -> Text {
    let portal = portal_url.map(|u| format!("\n\nOpen the portal: {u}/")).unwrap_or_default();
    let console = portal_url.map(|u| format!("\n\nOpen the console: {u}/extranet-governance")).unwrap_or_default();
    let not_you = "If this was not you, contact your manager at once.";
    let (subject, body) = match kind {
        "invitation" => {
            let reset = int_of(data, "password_reset") == Some(1);
            let url = str_of(data, "url").unwrap_or("(the link was removed after sending)");
            let what = if reset { "set a new password" } else { "activate your access and choose a password" };
            let expires = int_of(data, "expires_at").map(crate::app::kit::time::rfc3339).unwrap_or_else(|| "its expiry".into());
            (
                if reset { format!("{brand}: set a new password") } else { format!("{brand}: your access is ready") },
                format!("Hello,\n\nUse this link to {what}:\n\n{url}\n\nThe link works once and expires at {expires}. If you did not expect it, ignore this message."),
            )
        }
        "link_status" => {
            let (subject, line) = match str_of(data, "action") {
                Some("link.enabled") => ("your access is back on", "Your access to the portal was switched back on. You can sign in again."),
                Some("link.disabled") => ("your access is paused", "Your access to the portal was paused by the team. Ask your manager if you need it back."),
                _ => ("your access has ended", "Your access to the portal has ended. Ask your manager if you still need it."),
            };
            (format!("{brand}: {subject}"), format!("Hello,\n\n{line}{portal}"))
        }
        "password_changed" if str_of(data, "via") == Some("reset") => (
            format!("{brand}: your password was set through a reset link"),
            format!(
                "Hello,\n\nThe password of your account was just set through a password-reset link{}. Your other sessions were signed out.\n\nIf this was not you, someone else holds your account: contact your manager at once and ask for your sessions to be ended and a new reset.{portal}",
                origin(data)
            ),
        ),
        "password_changed" => (
            format!("{brand}: your password was changed"),
            format!("Hello,\n\nThe password of your account was changed{}. Your other sessions were signed out.\n\n{not_you}", origin(data)),
        ),
        "mfa_reset" => (
            format!("{brand}: your second factor was reset"),
            format!("Hello,\n\nThe team reset the two-factor authentication of your account. You will set it up again at your next sign-in.\n\n{not_you}{portal}"),
        ),
        "new_country" => (
            format!("{brand}: a sign-in from a new country"),
            format!("Hello,\n\nYour account was just signed in to{}, a country your earlier sign-ins did not come from.\n\n{not_you} You can end your sessions from the portal's Security page.{portal}", origin(data)),
        ),
        "document_awaiting" => {
            let action = match str_of(data, "required_action") {
                Some("review") => "your review",
                Some("approve") => "your approval",
                _ => "your signature",
            };
            (format!("{brand}: a document awaits {action}"), format!("Hello,\n\nA document in the portal awaits {action}.{portal}"))
        }
        "review_digest" => {
            let count = int_of(data, "count").unwrap_or(0);
            (
                format!("{brand}: {count} client access link(s) due for review"),
                format!("Hello,\n\n{count} client access link(s) you answer for are past their review date. Review them: keep, change or end each one.{console}"),
            )
        }
        "locked_out" => (
            format!("{brand}: a client was locked out"),
            format!("Hello,\n\nThe account {} was locked after repeated failed sign-ins{}. It unlocks by itself; you can unlock it sooner from the users page.{console}", str_of(data, "login").unwrap_or("(unknown)"), origin(data)),
        ),
        "token_reuse" => (
            format!("{brand}: possible stolen session"),
            format!("Hello,\n\nA sign-in token of {} was used twice{}, a sign it may have been copied. The sessions involved were ended; check the user's activity.{console}", str_of(data, "login").unwrap_or("(unknown)"), origin(data)),
        ),
        other => (format!("{brand}: notice"), format!("Hello,\n\nThere is news in the portal ({other}).{portal}")),
    };
    Text { subject, body }
}

/// The HTML body: the plain text, escaped, with links made clickable, under the portal's name.
pub fn html_of(text: &str, brand: &str) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| {
            let words: Vec<String> = p
                .split(' ')
                .map(|w| if w.starts_with("https://") || w.starts_with("http://") { format!("<a href=\"{0}\">{0}</a>", escape(w)) } else { escape(w) })
                .collect();
            format!("<p>{}</p>", words.join(" ").replace('\n', "<br>"))
        })
        .collect();
    format!("<!doctype html><html><body style=\"font-family:sans-serif\"><h1 style=\"font-size:18px\">{}</h1>{}</body></html>", escape(brand), paragraphs.join(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_invitation_carries_its_link_and_the_portal_name() {
        let text = render("invitation", &json!({"url": "https://portal.test/activate#tok", "expires_at": 1_800_000_000, "password_reset": 0}), "Northern Light", None);
        assert_eq!(text.subject, "Northern Light: your access is ready");
        assert!(text.body.contains("https://portal.test/activate#tok"), "{}", text.body);
        let html = html_of(&text.body, "Northern <Light>");
        assert!(html.contains("<a href=\"https://portal.test/activate#tok\">"), "{html}");
        assert!(html.contains("Northern &lt;Light&gt;"), "{html}");
        assert!(render("invitation", &json!({"url": "u", "password_reset": 1}), "P", None).subject.contains("new password"));
        // D1 gives integers bound from wasm back as reals.
        let from_d1 = render("invitation", &json!({"url": "u", "password_reset": 1.0, "expires_at": 1_800_000_000.0}), "P", None);
        assert!(from_d1.subject.contains("new password") && from_d1.body.contains("2027-01-15T08:00:00Z"), "{}", from_d1.body);
    }

    #[test]
    fn client_notices_name_nothing_the_client_may_no_longer_see() {
        let doc = render("document_awaiting", &json!({"required_action": "sign"}), "P", Some("https://portal.test"));
        assert_eq!(doc.subject, "P: a document awaits your signature");
        assert!(doc.body.contains("https://portal.test/"));
        let country = render("new_country", &json!({"ip": "203.0.113.9", "country": "BR"}), "P", None);
        assert!(country.body.contains("203.0.113.9 (BR)"), "{}", country.body);
        assert!(render("link_status", &json!({"action": "link.disabled"}), "P", None).subject.contains("paused"));
        assert!(render("link_status", &json!({"action": "link.revoked"}), "P", None).subject.contains("ended"));
    }
}
