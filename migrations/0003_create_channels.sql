-- Channels: Telegram and widget links, one-time Telegram link codes, and webhook dedupe.
-- Conventions: see 0001_create_directory.sql.

-- One channel link belongs to one user and one company of that user's link. Telegram: external_id
-- is the private chat id, external_label what the portal shows (the @username) so the client can
-- spot a wrong account. Widget: secret is the HMAC signing secret (kept readable: verifying needs
-- it); on rotation the old one moves to previous_secret, valid until previous_secret_expires_at.
-- suspended: the effective policy no longer allows the channel (it may come back); revoked is final.
CREATE TABLE channel_links (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('telegram', 'widget')),
  user_id TEXT NOT NULL REFERENCES users (id),
  link_id TEXT NOT NULL REFERENCES links (id),
  company_id TEXT NOT NULL REFERENCES companies (id),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
  external_id TEXT,
  external_label TEXT,
  secret TEXT,
  previous_secret TEXT,
  previous_secret_expires_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoked_reason TEXT,
  CHECK (kind = 'widget' OR (secret IS NULL AND previous_secret IS NULL)),
  CHECK (kind = 'telegram' OR external_id IS NULL),
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
) STRICT;
-- GET /api/channels (own links).
CREATE INDEX channel_links_by_user ON channel_links (user_id);
-- GET /api/admin/channel-links?kind=&status=.
CREATE INDEX channel_links_by_kind_status ON channel_links (kind, status);
-- Offboarding revokes a link's channel links.
CREATE INDEX channel_links_by_link ON channel_links (link_id);
-- An incoming Telegram update finds its chat's live link; a chat is linked to one live channel
-- link at a time (so routing is never ambiguous): relinking revokes the old one in the same batch.
CREATE UNIQUE INDEX channel_links_live_external ON channel_links (kind, external_id)
  WHERE status <> 'revoked' AND external_id IS NOT NULL;

-- Telegram deep-link codes: only the SHA-256 (hex) of the 43-char code is kept; single use, 10 min.
-- Consuming guards with SET used_at = now, used_nonce = ?n WHERE code_hash = ? AND used_at IS NULL
-- AND expires_at > now; the channel link insert then requires used_nonce = ?n.
CREATE TABLE channel_link_codes (
  code_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL DEFAULT 'telegram' CHECK (kind IN ('telegram')),
  user_id TEXT NOT NULL REFERENCES users (id),
  link_id TEXT NOT NULL REFERENCES links (id),
  company_id TEXT NOT NULL REFERENCES companies (id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_nonce TEXT
) STRICT;
-- The cron purges expired codes.
CREATE INDEX channel_link_codes_by_expiry ON channel_link_codes (expires_at);

-- Webhook dedupe, the source of truth behind any KV hint: INSERT ... ON CONFLICT DO NOTHING and a
-- changes count of 0 means a duplicate. Telegram's event_id is the update_id. Widget event ids are
-- chosen by each client's server, so store them as '<channel link id>:<event id>'.
CREATE TABLE webhook_events (
  source TEXT NOT NULL CHECK (source IN ('telegram', 'widget')),
  event_id TEXT NOT NULL,
  channel_link_id TEXT REFERENCES channel_links (id),
  outcome TEXT NOT NULL DEFAULT 'accepted' CHECK (outcome IN ('accepted', 'refused', 'ignored')),
  reason TEXT,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (source, event_id)
) STRICT;
-- Purging old dedupe rows.
CREATE INDEX webhook_events_by_time ON webhook_events (received_at);
