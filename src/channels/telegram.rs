//! The Telegram Bot API as this product uses it: reading a webhook update into what it means
//! (a `/start <code>`, a text message, something else) and writing and reading a sendMessage call.
//! Parsing is lenient on purpose: whatever Telegram sends that we do not understand is ignored,
//! never an error (Telegram would retry it forever).

use serde::Deserialize;
use serde_json::{json, Value};

/// The header carrying the `secret_token` given to setWebhook.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Telegram refuses longer texts (4096); the rest is cut with an ellipsis.
pub const TEXT_MAX: usize = 4000;
/// Deep-link payloads are at most 64 characters of `A-Za-z0-9_-`.
const PAYLOAD_MAX: usize = 64;
/// The longest message passed on to the team: the portal's own cap (`kit::messages`).
pub const INCOMING_TEXT_MAX: usize = 5000;

/// An incoming update, as far as this product cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Not JSON, or no integer `update_id`: nothing to dedupe on; acknowledged and dropped.
    Malformed,
    Known { update_id: i64, event: Event },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `/start` (or `/start@bot`) with the deep-link payload: none, well formed, or not.
    Start { chat: Chat, code: StartCode },
    /// A text message, or the caption of a photo or file (`file_dropped`: the file itself is not
    /// passed on); `reply_to` is the id of the message it answers.
    Text { chat: Chat, message_id: i64, text: String, reply_to: Option<i64>, file_dropped: bool },
    /// A message without text or caption (photo, sticker, voice...).
    NotText { chat: Chat },
    /// The user blocked the bot (`my_chat_member`, status `kicked`) or let it back (`member`).
    BotBlocked { chat_id: i64 },
    BotUnblocked { chat_id: i64 },
    /// Anything else: edits, callbacks, other membership changes, channel posts.
    Ignored,
}

/// What followed `/start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartCode {
    None,
    Valid(String),
    /// Something that cannot be one of our codes (wrong characters or length).
    Malformed,
}

/// The chat a message came from and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: i64,
    /// Only private chats may be linked (a group would expose the client's updates to others).
    pub private: bool,
    /// What the portal shows for the linked account: `@username`, else the sender's name.
    pub label: String,
}

#[derive(Deserialize)]
struct RawMessage {
    message_id: i64,
    chat: RawChat,
    #[serde(default)]
    from: Option<RawUser>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    reply_to_message: Option<RawReply>,
}

/// A `my_chat_member` update: the bot's own membership in a chat changed.
#[derive(Deserialize)]
struct RawMembership {
    chat: RawChat,
    new_chat_member: RawMember,
}

#[derive(Deserialize)]
struct RawMember {
    status: String,
}

#[derive(Deserialize)]
struct RawChat {
    id: i64,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct RawUser {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct RawReply {
    message_id: i64,
}

/// Reads a webhook body.
pub fn parse_update(body: &[u8]) -> Update {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Update::Malformed;
    };
    let Some(update_id) = value.get("update_id").and_then(Value::as_i64) else {
        return Update::Malformed;
    };
    let membership = value.get("my_chat_member").and_then(|m| serde_json::from_value::<RawMembership>(m.clone()).ok());
    let event = match membership {
        // Only private chats are ever linked; in them `kicked` is the user blocking the bot.
        Some(m) if m.chat.kind == "private" => match m.new_chat_member.status.as_str() {
            "kicked" => Event::BotBlocked { chat_id: m.chat.id },
            "member" => Event::BotUnblocked { chat_id: m.chat.id },
            _ => Event::Ignored,
        },
        Some(_) => Event::Ignored,
        None => value
            .get("message")
            .and_then(|m| serde_json::from_value::<RawMessage>(m.clone()).ok())
            .map_or(Event::Ignored, message_event),
    };
    Update::Known { update_id, event }
}

fn message_event(m: RawMessage) -> Event {
    let chat = Chat { id: m.chat.id, private: m.chat.kind == "private", label: label(m.from.as_ref()) };
    let reply_to = m.reply_to_message.map(|r| r.message_id);
    let Some(text) = m.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return match m.caption.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
            Some(caption) => Event::Text { chat, message_id: m.message_id, text: caption, reply_to, file_dropped: true },
            None => Event::NotText { chat },
        };
    };
    let mut words = text.split_whitespace();
    let command = words.next().unwrap_or_default();
    if command == "/start" || command.starts_with("/start@") {
        let code = match words.next() {
            None => StartCode::None,
            Some(c) if is_payload(c) => StartCode::Valid(c.to_owned()),
            Some(_) => StartCode::Malformed,
        };
        return Event::Start { chat, code };
    }
    Event::Text { chat, message_id: m.message_id, text, reply_to, file_dropped: false }
}

fn is_payload(text: &str) -> bool {
    (1..=PAYLOAD_MAX).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn label(from: Option<&RawUser>) -> String {
    let clean = |s: &str| s.chars().filter(|c| !c.is_control()).take(64).collect::<String>().trim().to_owned();
    if let Some(username) = from.and_then(|f| f.username.as_deref()).map(clean).filter(|u| !u.is_empty()) {
        return format!("@{username}");
    }
    let name = from
        .map(|f| format!("{} {}", f.first_name.as_deref().unwrap_or(""), f.last_name.as_deref().unwrap_or("")))
        .map(|n| clean(&n))
        .unwrap_or_default();
    if name.is_empty() {
        "Telegram user".to_owned()
    } else {
        name
    }
}

/// The deep link that opens the bot with a `/start <code>`.
pub fn deep_link(bot_username: &str, code: &str) -> String {
    format!("https://t.me/{}?start={code}", bot_username.trim_start_matches('@'))
}

/// The Bot API URL of a method.
pub fn method_url(api_base: &str, token: &str, method: &str) -> String {
    format!("{}/bot{token}/{method}", api_base.trim_end_matches('/'))
}

/// The JSON of a sendMessage call (plain text: nothing in it is parsed as markup).
pub fn send_message_body(chat_id: &str, text: &str) -> String {
    let chat: Value = chat_id.parse::<i64>().map_or_else(|_| json!(chat_id), |id| json!(id));
    json!({"chat_id": chat, "text": clip(text, TEXT_MAX), "disable_web_page_preview": true}).to_string()
}

/// Cuts a text to `max` characters, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Why a sendMessage did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The user blocked the bot (or deleted the account): nothing reaches this chat any more.
    Unreachable(String),
    /// Retrying cannot help: the chat is gone, the request is refused.
    Permanent(String),
    /// Worth another try later: rate limits, Telegram's own errors, a network failure.
    Temporary(String),
}

impl SendFailure {
    pub fn reason(&self) -> &str {
        match self {
            SendFailure::Unreachable(r) | SendFailure::Permanent(r) | SendFailure::Temporary(r) => r,
        }
    }
}

/// The sent message's id from the Bot API's answer, or why it failed.
pub fn sent_message_id(status: u16, body: &str) -> Result<i64, SendFailure> {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let description = value.get("description").and_then(Value::as_str).unwrap_or("no description");
    let what = format!("Bot API {status}: {}", clip(description, 200));
    match status {
        200..=299 => value
            .pointer("/result/message_id")
            .and_then(Value::as_i64)
            .filter(|_| value.get("ok") == Some(&Value::Bool(true)))
            .ok_or_else(|| SendFailure::Temporary(format!("Bot API {status}: unexpected answer"))),
        // "Forbidden: bot was blocked by the user", "Forbidden: user is deactivated".
        403 if description.contains("blocked") || description.contains("deactivated") => Err(SendFailure::Unreachable(what)),
        400 | 403 | 404 => Err(SendFailure::Permanent(what)),
        _ => Err(SendFailure::Temporary(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(message: Value) -> Vec<u8> {
        json!({"update_id": 900, "message": message}).to_string().into_bytes()
    }

    fn private(text: &str) -> Value {
        json!({"message_id": 5, "chat": {"id": 4242, "type": "private"}, "from": {"id": 4242, "username": "emily_c", "first_name": "Emily"}, "text": text})
    }

    #[test]
    fn start_with_a_code_from_a_private_chat() {
        let code = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
        match parse_update(&update(private(&format!("/start {code}")))) {
            Update::Known { update_id: 900, event: Event::Start { chat, code: StartCode::Valid(c) } } => {
                assert_eq!(c, code);
                assert!(chat.private);
                assert_eq!(chat.label, "@emily_c");
                assert_eq!(chat.id, 4242);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_update(&update(private("/start@ExtranetBot xyz"))), Update::Known { event: Event::Start { code: StartCode::Valid(_), .. }, .. }));
        assert!(matches!(parse_update(&update(private("/start"))), Update::Known { event: Event::Start { code: StartCode::None, .. }, .. }));
        assert!(matches!(parse_update(&update(private("/start <script>"))), Update::Known { event: Event::Start { code: StartCode::Malformed, .. }, .. }));
    }

    #[test]
    fn group_chats_are_not_private() {
        let msg = json!({"message_id": 5, "chat": {"id": -100, "type": "group"}, "from": {"first_name": "Emily", "last_name": "Carter"}, "text": "/start abc"});
        match parse_update(&update(msg)) {
            Update::Known { event: Event::Start { chat, .. }, .. } => {
                assert!(!chat.private);
                assert_eq!(chat.label, "Emily Carter");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_messages_and_replies() {
        let mut msg = private("  Hello team  ");
        msg["reply_to_message"] = json!({"message_id": 77, "chat": {"id": 4242, "type": "private"}});
        assert_eq!(
            parse_update(&update(msg)),
            Update::Known {
                update_id: 900,
                event: Event::Text { chat: Chat { id: 4242, private: true, label: "@emily_c".into() }, message_id: 5, text: "Hello team".into(), reply_to: Some(77), file_dropped: false }
            }
        );
    }

    #[test]
    fn malformed_and_unsupported_updates() {
        assert_eq!(parse_update(b"{not json"), Update::Malformed);
        assert_eq!(parse_update(br#"{"message": {}}"#), Update::Malformed);
        assert_eq!(parse_update(br#"{"update_id": "12"}"#), Update::Malformed);
        assert_eq!(parse_update(br#"{"update_id": 12, "edited_message": {}}"#), Update::Known { update_id: 12, event: Event::Ignored });
        assert_eq!(parse_update(br#"{"update_id": 12, "message": {"chat": "x"}}"#), Update::Known { update_id: 12, event: Event::Ignored });
        let photo = json!({"message_id": 5, "chat": {"id": 1, "type": "private"}, "photo": []});
        assert!(matches!(parse_update(&update(photo)), Update::Known { event: Event::NotText { .. }, .. }));
        let captioned = json!({"message_id": 6, "chat": {"id": 1, "type": "private"}, "document": {}, "caption": " the signed scan "});
        assert!(matches!(parse_update(&update(captioned)), Update::Known { event: Event::Text { ref text, file_dropped: true, .. }, .. } if text == "the signed scan"));
    }

    #[test]
    fn the_bot_being_blocked_and_let_back_in_a_private_chat() {
        let member = |chat_type: &str, status: &str| {
            json!({"update_id": 7, "my_chat_member": {"chat": {"id": 4242, "type": chat_type}, "from": {"id": 4242},
                "date": 1, "old_chat_member": {"status": "member"}, "new_chat_member": {"status": status, "user": {"id": 1}}}})
            .to_string()
            .into_bytes()
        };
        assert_eq!(parse_update(&member("private", "kicked")), Update::Known { update_id: 7, event: Event::BotBlocked { chat_id: 4242 } });
        assert_eq!(parse_update(&member("private", "member")), Update::Known { update_id: 7, event: Event::BotUnblocked { chat_id: 4242 } });
        assert_eq!(parse_update(&member("group", "kicked")), Update::Known { update_id: 7, event: Event::Ignored });
    }

    #[test]
    fn send_message_calls_and_answers() {
        let body: Value = serde_json::from_str(&send_message_body("4242", "hi")).unwrap();
        assert_eq!(body["chat_id"], json!(4242));
        assert_eq!(body["text"], "hi");
        assert_eq!(method_url("http://127.0.0.1:9/", "123:abc", "sendMessage"), "http://127.0.0.1:9/bot123:abc/sendMessage");
        assert_eq!(sent_message_id(200, r#"{"ok":true,"result":{"message_id":31}}"#), Ok(31));
        assert!(matches!(sent_message_id(403, r#"{"ok":false,"description":"Forbidden: bot was blocked by the user"}"#), Err(SendFailure::Unreachable(_))));
        assert!(matches!(sent_message_id(403, r#"{"ok":false,"description":"Forbidden: bot can't initiate conversation with a user"}"#), Err(SendFailure::Permanent(_))));
        assert!(matches!(sent_message_id(429, "{}"), Err(SendFailure::Temporary(_))));
        assert!(matches!(sent_message_id(200, "garbage"), Err(SendFailure::Temporary(_))));
        assert_eq!(clip(&"x".repeat(10), 5).chars().count(), 5);
        assert_eq!(deep_link("@ExtranetBot", "abc"), "https://t.me/ExtranetBot?start=abc");
    }
}
