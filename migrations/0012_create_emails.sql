-- Email out (Cloudflare Email Service): one row per message, sent after the response by the same
-- kind of leased, retried delivery as the Telegram notifications (`app::delivery::email`). Rows
-- come from the audit stream (the `email` cursor of 0011: an event's id and the recipient make the
-- row's id, so projecting twice writes nothing new) and from the invitation use cases.
-- `data` holds only what the text needs; an invitation's activation URL (its token is in the
-- fragment) is removed from the row once the message has gone or failed for good.
CREATE TABLE emails (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('invitation', 'link_status', 'password_changed', 'mfa_reset', 'new_country',
    'document_awaiting', 'review_digest', 'locked_out', 'token_reuse')),
  user_id TEXT REFERENCES users (id),
  to_address TEXT NOT NULL CHECK (length(to_address) > 0),
  data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data) AND json_type(data) = 'object'),
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
) STRICT;
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'pending';
-- A user's messages, newest first (the users page).
CREATE INDEX emails_by_user ON emails (user_id, created_at);
