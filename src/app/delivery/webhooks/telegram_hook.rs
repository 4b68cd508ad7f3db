//! The Telegram webhook: `/start <code>` links a private chat, later messages land in the general
//! chat or in the request whose notification they reply to, and a blocked bot marks the chat
//! unreachable. The dedupe, the message insert and the routing are the parent module's.

use super::*;

const SOURCE_TELEGRAM: &str = "telegram";

const SELECT_CODE: &str = "SELECT k.user_id, k.link_id, k.company_id, co.name AS company_name, k.expires_at, k.used_at \
     FROM channel_link_codes k JOIN companies co ON co.id = k.company_id WHERE k.code_hash = ?1";
const SELECT_CHAT_LINK: &str = "SELECT c.id, c.user_id, c.link_id, c.company_id, co.name AS company_name, c.status \
     FROM channel_links c JOIN companies co ON co.id = c.company_id WHERE c.kind = 'telegram' AND c.external_id = ?1 AND c.status <> 'revoked'";
/// The notification a reply answers (?1 chat, ?2 the replied-to message id), and its request:
/// sent to this chat for the user whose link the chat has now, through that link or an earlier
/// one (a relinked chat keeps its replies; whether the request is still visible is decided for the
/// link that exists now).
macro_rules! replied_notification {
    () => {
        "SELECT n.request_id FROM notifications n JOIN channel_links c ON c.id = n.channel_link_id \
         WHERE c.kind = 'telegram' AND c.external_id = ?1 AND n.external_message_id = ?2 \
         AND c.user_id = (SELECT cur.user_id FROM channel_links cur WHERE cur.kind = 'telegram' AND cur.external_id = ?1 \
           AND cur.status <> 'revoked') LIMIT 1"
    };
}
const SELECT_REPLIED: &str = replied_notification!();
const SELECT_REPLIED_REQUEST: &str = request_select!(concat!("WHERE r.id = (", replied_notification!(), ")"));

// Linking. ?1 code hash, ?2 now, ?3 nonce, ?4 the link's policy version as decided.
const CONSUME_CODE: &str = "UPDATE channel_link_codes SET used_at = ?2, used_nonce = ?3 \
     WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2 AND EXISTS (SELECT 1 FROM links l JOIN users u ON u.id = l.user_id \
       WHERE l.id = channel_link_codes.link_id AND l.status = 'active' AND u.status = 'active' AND l.policy_version = ?4)";
/// A chat has one live link at a time: relinking it (to anyone) ends the previous one. ?1 chat,
/// ?2 now, ?3 code hash, ?4 nonce.
const REVOKE_CHAT: &str = "UPDATE channel_links SET status = 'revoked', revoked_at = ?2, revoked_reason = 'relinked', updated_at = ?2 \
     WHERE kind = 'telegram' AND external_id = ?1 AND status <> 'revoked' \
     AND EXISTS (SELECT 1 FROM channel_link_codes WHERE code_hash = ?3 AND used_nonce = ?4)";
/// ?1 id, ?2 user, ?3 link, ?4 company, ?5 chat, ?6 label, ?7 now, ?8 code hash, ?9 nonce.
const INSERT_TELEGRAM_LINK: &str = "INSERT INTO channel_links (id, kind, user_id, link_id, company_id, status, external_id, external_label, created_at, updated_at) \
     SELECT ?1, 'telegram', ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?7 \
     WHERE EXISTS (SELECT 1 FROM channel_link_codes WHERE code_hash = ?8 AND used_nonce = ?9)";
/// ?1 source, ?2 event, ?3 new channel link, ?4 now, ?5 code hash, ?6 nonce.
const INSERT_EVENT_FOR_LINKING: &str = "INSERT INTO webhook_events (source, event_id, channel_link_id, outcome, reason, received_at) \
     SELECT ?1, ?2, (SELECT id FROM channel_links WHERE id = ?3), \
       CASE WHEN EXISTS (SELECT 1 FROM channel_links WHERE id = ?3) THEN 'accepted' ELSE 'refused' END, \
       CASE WHEN EXISTS (SELECT 1 FROM channel_links WHERE id = ?3) THEN NULL ELSE 'code_used_or_expired' END, ?4";
/// The audit of a linking, written only when the channel link was (?14 its id).
const AUDIT_LINKED: AuditGuard = audit_guard!("EXISTS (SELECT 1 FROM channel_links WHERE id = ?14)");

#[derive(Debug, Deserialize)]
struct CodeRow {
    user_id: String,
    link_id: String,
    company_id: Uuid,
    company_name: String,
    expires_at: i64,
    used_at: Option<i64>,
}

/// `POST /webhooks/telegram`: 401 unless the secret header matches; otherwise every update is
/// acknowledged (Ok), whatever it holds. Only a database failure is an error (Telegram retries it,
/// and the rolled-back batch left no dedupe row behind).
pub async fn telegram<P: Ports>(ports: &P, config: &Config, meta: &ClientMeta, now: DateTime<Utc>, secret: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    if !secret_matches(config.telegram_webhook_secret.as_ref().map(|s| s.expose()), secret) {
        return Err(ApiError::Unauthenticated);
    }
    let Update::Known { update_id, event } = telegram::parse_update(body) else {
        return Ok(());
    };
    let bot = Bot::from_config(config);
    let cx = Tg { ports, bot: bot.as_ref(), meta, now, update: update_id.to_string() };
    match event {
        Event::Ignored => Ok(()),
        Event::Start { chat, code } => cx.start(&chat, code).await,
        Event::Text { chat, message_id, text, reply_to, file_dropped } => cx.message(&chat, Some((message_id, text)), reply_to, file_dropped).await,
        Event::NotText { chat } => cx.message(&chat, None, None, false).await,
        Event::BotBlocked { chat_id } => cx.reachability(chat_id, false).await,
        Event::BotUnblocked { chat_id } => cx.reachability(chat_id, true).await,
    }
}

/// One update being handled.
struct Tg<'a, P: Ports> {
    ports: &'a P,
    bot: Option<&'a Bot>,
    meta: &'a ClientMeta,
    now: DateTime<Utc>,
    update: String,
}

impl<P: Ports> Tg<'_, P> {
    fn t(&self) -> i64 {
        self.now.timestamp()
    }

    /// Records the update as handled without an effect, then answers the chat (only the first
    /// time: a retried update is a duplicate and stays silent).
    async fn refuse(&self, chat: &Chat, channel_link: Option<&str>, outcome: &str, reason: &str, extra: Vec<Stmt>, answer: &str) -> Result<(), ApiError> {
        let mut stmts = vec![event_stmt(SOURCE_TELEGRAM, &self.update, channel_link, outcome, Some(reason), self.t())];
        stmts.extend(extra);
        if record(self.ports, stmts).await?.is_some() {
            notify::reply(self.ports, self.bot, chat.id, answer).await;
        }
        Ok(())
    }

    /// The user blocked the bot, or let it back: the chat's live link is marked (no answer: a
    /// blocked bot cannot write, and an unblock is not a conversation).
    async fn reachability(&self, chat_id: i64, reachable: bool) -> Result<(), ApiError> {
        let (mark, reason) = if reachable { (MARK_CHAT_REACHABLE, "bot_unblocked") } else { (MARK_CHAT_UNREACHABLE, "bot_blocked") };
        let stmts = vec![
            event_stmt(SOURCE_TELEGRAM, &self.update, None, "accepted", Some(reason), self.t()),
            Stmt::new(mark).bind(chat_id.to_string()).bind(self.t()),
        ];
        record(self.ports, stmts).await?;
        Ok(())
    }

    async fn start(&self, chat: &Chat, code: StartCode) -> Result<(), ApiError> {
        if !chat.private {
            // The code is not consumed: whoever shared it in a group can still use it privately.
            let answer = "For your security, I can only be connected in a private chat. Open the link from the portal again and start me there.";
            return self.refuse(chat, None, "ignored", "not_private", Vec::new(), answer).await;
        }
        let code = match code {
            StartCode::Valid(code) => code,
            StartCode::Malformed => {
                let answer = format!("This link is not valid. Please create a new Telegram link on {PORTAL_HINT}.");
                return self.refuse(chat, None, "refused", "malformed_code", Vec::new(), &answer).await;
            }
            StartCode::None => {
                // A chat that blocked the bot and starts it again is reachable again.
                let stmts = vec![
                    event_stmt(SOURCE_TELEGRAM, &self.update, None, "ignored", Some("no_code"), self.t()),
                    Stmt::new(MARK_CHAT_REACHABLE).bind(chat.id.to_string()).bind(self.t()),
                ];
                let Some(out) = record(self.ports, stmts).await? else { return Ok(()) };
                let answer = if out.get(1).is_some_and(|o| o.changes > 0) {
                    "Welcome back: this chat receives updates from the portal again.".to_owned()
                } else {
                    format!("Hello! To receive updates from the portal here, open the Telegram link from {PORTAL_HINT}.")
                };
                notify::reply(self.ports, self.bot, chat.id, &answer).await;
                return Ok(());
            }
        };
        let code = code.as_str();
        let hash = sha256_hex(code.as_bytes());
        let out = self
            .ports
            .db()
            .batch(vec![Stmt::new(SELECT_SEEN).bind(SOURCE_TELEGRAM).bind(self.update.as_str()), Stmt::new(SELECT_CODE).bind(hash.as_str())])
            .await?;
        if first_row(&out, 0).is_some() {
            return Ok(());
        }
        let Some(row) = first_row(&out, 1) else {
            let answer = format!("This link is not valid. Please create a new Telegram link on {PORTAL_HINT}.");
            return self.refuse(chat, None, "refused", "unknown_code", Vec::new(), &answer).await;
        };
        let code_row: CodeRow = decode(row)?;
        if code_row.used_at.is_some() {
            let answer = format!("This link was already used. To connect another chat, create a new Telegram link on {PORTAL_HINT}.");
            return self.refuse(chat, None, "refused", "used_code", Vec::new(), &answer).await;
        }
        if code_row.expires_at <= self.t() {
            let answer = format!("This link has expired (links work for 10 minutes). Please create a new one on {PORTAL_HINT}.");
            return self.refuse(chat, None, "refused", "expired_code", Vec::new(), &answer).await;
        }
        let facts = decode_facts(&self.ports.db().batch(facts_stmts(&code_row.link_id)).await?)?;
        let allowed = facts.as_ref().filter(|(link, f)| {
            link.user_id.to_string() == code_row.user_id && decide(f, Action::Telegram, &Object::Company(code_row.company_id)).is_allowed()
        });
        let Some((link, _)) = allowed else {
            let answer = format!("Telegram is not enabled for your access to {}. Please contact your team.", code_row.company_name);
            return self.refuse(chat, None, "refused", "policy_denied", Vec::new(), &answer).await;
        };

        let t = self.t();
        let nonce = nonce(self.ports)?;
        let id = new_id(self.ports, self.now)?;
        let chat_id = chat.id.to_string();
        let audit_id = new_id(self.ports, self.now)?;
        let audit = AuditEvent::new("channel_link.telegram_linked", ActorKind::External, Some(&code_row.user_id))
            .target("channel_link", &id)
            .companies(vec![code_row.company_id.to_string()])
            .details(json!({"link_id": code_row.link_id, "external_label": chat.label}));
        let audit = audit.insert_if(&audit_id, self.meta, t, AUDIT_LINKED);
        let stmts = vec![
            Stmt::new(CONSUME_CODE).bind(hash.as_str()).bind(t).bind(nonce.as_str()).bind(link.policy_version),
            Stmt::new(REVOKE_CHAT).bind(chat_id.as_str()).bind(t).bind(hash.as_str()).bind(nonce.as_str()),
            Stmt::new(INSERT_TELEGRAM_LINK)
                .bind(id.as_str())
                .bind(code_row.user_id.as_str())
                .bind(code_row.link_id.as_str())
                .bind(code_row.company_id.to_string())
                .bind(chat_id.as_str())
                .bind(chat.label.as_str())
                .bind(t)
                .bind(hash.as_str())
                .bind(nonce.as_str()),
            audit.bind(id.as_str()),
            Stmt::new(INSERT_EVENT_FOR_LINKING).bind(SOURCE_TELEGRAM).bind(self.update.as_str()).bind(id.as_str()).bind(t),
        ];
        let Some(out) = record(self.ports, stmts).await? else {
            return Ok(());
        };
        let answer = if out.first().is_some_and(|o| o.changes == 1) {
            format!(
                "Connected: this chat now receives updates about {} from the portal. Reply to a notification to answer in its request. \
                 You can disconnect this chat on {PORTAL_HINT}.",
                code_row.company_name
            )
        } else {
            format!("This link was already used or has expired. Please create a new one on {PORTAL_HINT}.")
        };
        notify::reply(self.ports, self.bot, chat.id, &answer).await;
        Ok(())
    }

    /// A message from a chat: text (`Some`) to route, or something else to answer with a hint.
    async fn message(&self, chat: &Chat, text: Option<(i64, String)>, reply_to: Option<i64>, file_dropped: bool) -> Result<(), ApiError> {
        let chat_id = chat.id.to_string();
        let replied = reply_to.map(|r| r.to_string());
        let mut stmts = vec![Stmt::new(SELECT_SEEN).bind(SOURCE_TELEGRAM).bind(self.update.as_str()), Stmt::new(SELECT_CHAT_LINK).bind(chat_id.as_str())];
        if let Some(replied) = &replied {
            stmts.push(Stmt::new(SELECT_REPLIED).bind(chat_id.as_str()).bind(replied.as_str()));
            stmts.push(Stmt::new(SELECT_REPLIED_REQUEST).bind(chat_id.as_str()).bind(replied.as_str()));
        }
        let out = self.ports.db().batch(stmts).await?;
        if first_row(&out, 0).is_some() {
            return Ok(());
        }
        let Some(row) = first_row(&out, 1) else {
            if !chat.private {
                // A group the bot was added to: it stays silent there (only private chats link).
                record(self.ports, vec![event_stmt(SOURCE_TELEGRAM, &self.update, None, "ignored", Some("not_linked_group"), self.t())]).await?;
                return Ok(());
            }
            let answer = format!("This chat is not connected to the portal. To connect it, open the Telegram link from {PORTAL_HINT}.");
            return self.refuse(chat, None, "ignored", "not_linked", Vec::new(), &answer).await;
        };
        let channel: ChannelRow = decode(row)?;
        let Some((number, text)) = text else {
            let answer = "Only text can be passed on to the team: send the file through the portal, or add a caption to say what it is.";
            return self.refuse(chat, Some(&channel.id), "ignored", "not_text", Vec::new(), answer).await;
        };
        let length = text.chars().count();
        if length > INCOMING_TEXT_MAX {
            let answer = format!(
                "This message is too long to pass on ({length} characters; at most {INCOMING_TEXT_MAX}, as in the portal). Please split it or use the portal."
            );
            return self.refuse(chat, Some(&channel.id), "refused", "too_long", Vec::new(), &answer).await;
        }
        // A reply to one of our notifications about a request goes to that request; anything else
        // (a plain message, a reply to a general notification) to the general chat.
        let request_id = first_row(&out, 2).and_then(|r| r.get("request_id").and_then(|v| v.as_str()).map(str::to_owned));
        let target = request_id.map(|_| request_row(first_row(&out, 3))).transpose()?;
        let facts = decode_facts(&self.ports.db().batch(facts_stmts(&channel.link_id)).await?)?;
        let t = self.t();
        match route(facts.as_ref().map(|(_, f)| f), Action::Telegram, channel.company_id, target) {
            Route::Refuse { reason } => {
                let (extra, answer) = match reason {
                    "channel_suspended" => (
                        vec![Stmt::new(SUSPEND_LINK).bind(channel.id.as_str()).bind(t)],
                        format!(
                            "Telegram is no longer enabled for your access to {}, so this message was not passed on. \
                             Please reach the team through the portal.",
                            channel.company_name
                        ),
                    ),
                    "general_chat_denied" => (
                        Vec::new(),
                        "This message was not passed on: to write to the team here, reply to a notification about one of your \
                         requests. You can also reach the team through the portal."
                            .to_owned(),
                    ),
                    "send_request_chat_denied" => (
                        Vec::new(),
                        "This message was not passed on: your access does not allow writing in this request's chat. \
                         Please reach the team through the portal."
                            .to_owned(),
                    ),
                    _ => (Vec::new(), "This message was not passed on: that request is not available to you. Please use the portal.".to_owned()),
                };
                self.refuse(chat, Some(&channel.id), "refused", reason, extra, &answer).await
            }
            Route::Deliver { request } => {
                let Some((link, _)) = facts else {
                    return Ok(());
                };
                let id = new_id(self.ports, self.now)?;
                let mut stmts = message_stmts(&id, &channel, "telegram", request, &number.to_string(), &text, t, link.policy_version);
                // A chat that writes can be written to.
                stmts.push(Stmt::new(MARK_CHAT_REACHABLE).bind(chat_id.as_str()).bind(t));
                stmts.push(
                    Stmt::new(INSERT_EVENT_FOR_MESSAGE).bind(SOURCE_TELEGRAM).bind(self.update.as_str()).bind(id.as_str()).bind(channel.id.as_str()).bind(t),
                );
                stmts.push(touch_request_stmt(&id, t));
                if let Some(out) = record(self.ports, stmts).await? {
                    if out.first().is_none_or(|o| o.changes != 1) {
                        let answer = "Your access changed just now, so this message was not passed on. Please send it again.";
                        notify::reply(self.ports, self.bot, chat.id, answer).await;
                    } else if file_dropped {
                        let answer = "Your caption was passed on to the team; the file itself was not. To share the file, attach it in the portal.";
                        notify::reply(self.ports, self.bot, chat.id, answer).await;
                    }
                }
                Ok(())
            }
        }
    }
}
