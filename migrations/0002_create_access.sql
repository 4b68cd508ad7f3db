-- Access: links and their companies, invitations, company and contact policies, security
-- settings, branding, sessions and refresh tokens. Conventions: see 0001_create_directory.sql.

-- A link connects a user to a CRM contact and some of that contact's companies. policy_version is
-- bumped in the same batch as any change that can alter the link's effective policy; access tokens
-- carry it, and a gated statement compares it inside its own WHERE. revoked is final, and only a
-- revoked link has revoked_at. review_due is set by the cron once review_at has passed.
CREATE TABLE links (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  contact_id TEXT NOT NULL REFERENCES contacts (id),
  -- Must also be one of link_companies (checked by the use case: a foreign key cannot say it).
  default_company_id TEXT NOT NULL REFERENCES companies (id),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'revoked')),
  policy_version INTEGER NOT NULL DEFAULT 1 CHECK (policy_version >= 1),
  review_at INTEGER NOT NULL,
  review_due INTEGER NOT NULL DEFAULT 0 CHECK (review_due IN (0, 1)),
  reviewed_at INTEGER,
  created_by TEXT REFERENCES users (id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  revoked_at INTEGER,
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
) STRICT;
-- Login and /api/me find the user's live link; offboarding and user blocks bump by user.
CREATE INDEX links_by_user ON links (user_id, status);
-- A contact policy change or a contact state change bumps every link of the contact.
CREATE INDEX links_by_contact ON links (contact_id);
-- GET /api/admin/links?status= (with review_at shown and review_due= filtering).
CREATE INDEX links_by_status_review ON links (status, review_at);
-- The cron's review marking: status <> 'revoked' AND review_due = 0 AND review_at <= now.
CREATE INDEX links_review_pending ON links (review_at) WHERE review_due = 0 AND status <> 'revoked';
-- One live (active or disabled) link per user and contact; a returning client gets a new link
-- after the old one was revoked. Two concurrent wizard confirmations: the second fails UNIQUE.
CREATE UNIQUE INDEX links_live_user_contact ON links (user_id, contact_id) WHERE status <> 'revoked';

CREATE TABLE link_companies (
  link_id TEXT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
  company_id TEXT NOT NULL REFERENCES companies (id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (link_id, company_id)
) STRICT;
-- A company's policy or status change bumps the policy_version of every link holding it; link
-- lists filtered by company (and a manager's scope).
CREATE INDEX link_companies_by_company ON link_companies (company_id, link_id);

-- Invitations for clients (link_id set) and new employees (link_id NULL). Only the token's SHA-256
-- is kept. Activation guards with SET status = 'used', used_nonce = ?n WHERE status = 'pending' AND
-- expires_at > now, and each later statement of its batch requires used_nonce = ?n.
CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  link_id TEXT REFERENCES links (id),
  token_hash TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'used', 'revoked', 'expired')),
  expires_at INTEGER NOT NULL,
  created_by TEXT REFERENCES users (id),
  created_at INTEGER NOT NULL,
  used_at INTEGER,
  used_nonce TEXT,
  revoked_at INTEGER,
  CHECK (status <> 'used' OR (used_at IS NOT NULL AND used_nonce IS NOT NULL))
) STRICT;
-- A new invitation revokes the link's pending ones; GET /api/admin/invitations?link=&status=.
CREATE INDEX invitations_by_link ON invitations (link_id, status);
-- An employee's invitations (no link).
CREATE INDEX invitations_by_user ON invitations (user_id, status);
-- The cron expires pending invitations past expires_at.
CREATE INDEX invitations_pending_expiry ON invitations (expires_at) WHERE status = 'pending';

-- The perimeter per company. No row means everything denied: a new company gets nothing until an
-- employee applies a policy (the recommended minimum is a preset in the API, never a default).
-- allowed_pipelines is a JSON array of pipeline ids.
CREATE TABLE company_policies (
  company_id TEXT PRIMARY KEY REFERENCES companies (id),
  create_requests INTEGER NOT NULL DEFAULT 0 CHECK (create_requests IN (0, 1)),
  read_request_chat INTEGER NOT NULL DEFAULT 0 CHECK (read_request_chat IN (0, 1)),
  send_request_chat INTEGER NOT NULL DEFAULT 0 CHECK (send_request_chat IN (0, 1)),
  general_chat INTEGER NOT NULL DEFAULT 0 CHECK (general_chat IN (0, 1)),
  calls INTEGER NOT NULL DEFAULT 0 CHECK (calls IN (0, 1)),
  telegram INTEGER NOT NULL DEFAULT 0 CHECK (telegram IN (0, 1)),
  widget INTEGER NOT NULL DEFAULT 0 CHECK (widget IN (0, 1)),
  allowed_pipelines TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(allowed_pipelines) AND json_type(allowed_pipelines) = 'array'),
  updated_by TEXT REFERENCES users (id),
  updated_at INTEGER NOT NULL
) STRICT;

-- Narrows the company policy for one contact, on each of the link's companies. No row means
-- inherit everything. allowed_pipelines NULL inherits; a JSON array intersects the company's list.
CREATE TABLE contact_policies (
  contact_id TEXT PRIMARY KEY REFERENCES contacts (id),
  create_requests TEXT NOT NULL DEFAULT 'inherit' CHECK (create_requests IN ('inherit', 'allow', 'deny')),
  read_request_chat TEXT NOT NULL DEFAULT 'inherit' CHECK (read_request_chat IN ('inherit', 'allow', 'deny')),
  send_request_chat TEXT NOT NULL DEFAULT 'inherit' CHECK (send_request_chat IN ('inherit', 'allow', 'deny')),
  general_chat TEXT NOT NULL DEFAULT 'inherit' CHECK (general_chat IN ('inherit', 'allow', 'deny')),
  calls TEXT NOT NULL DEFAULT 'inherit' CHECK (calls IN ('inherit', 'allow', 'deny')),
  telegram TEXT NOT NULL DEFAULT 'inherit' CHECK (telegram IN ('inherit', 'allow', 'deny')),
  widget TEXT NOT NULL DEFAULT 'inherit' CHECK (widget IN ('inherit', 'allow', 'deny')),
  allowed_pipelines TEXT
    CHECK (allowed_pipelines IS NULL OR (json_valid(allowed_pipelines) AND json_type(allowed_pipelines) = 'array')),
  updated_by TEXT REFERENCES users (id),
  updated_at INTEGER NOT NULL
) STRICT;

-- Exactly one row (id = 1). version is bumped on every change (links' policy versions too, as
-- the settings feed every session). Column names follow the API's leaf names. The CHECKs are only
-- a floor against nonsense; the domain validates the real ranges.
CREATE TABLE security_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
  min_length INTEGER NOT NULL DEFAULT 12 CHECK (min_length BETWEEN 1 AND 256),
  require_lower INTEGER NOT NULL DEFAULT 0 CHECK (require_lower IN (0, 1)),
  require_upper INTEGER NOT NULL DEFAULT 0 CHECK (require_upper IN (0, 1)),
  require_digit INTEGER NOT NULL DEFAULT 0 CHECK (require_digit IN (0, 1)),
  require_special INTEGER NOT NULL DEFAULT 0 CHECK (require_special IN (0, 1)),
  max_failed_attempts INTEGER NOT NULL DEFAULT 5 CHECK (max_failed_attempts >= 1),
  lockout_minutes INTEGER NOT NULL DEFAULT 15 CHECK (lockout_minutes >= 1),
  access_ttl_seconds INTEGER NOT NULL DEFAULT 600 CHECK (access_ttl_seconds >= 1),
  refresh_ttl_seconds INTEGER NOT NULL DEFAULT 86400 CHECK (refresh_ttl_seconds >= 1),
  session_max_age_seconds INTEGER NOT NULL DEFAULT 2592000 CHECK (session_max_age_seconds >= 1),
  invitation_ttl_hours INTEGER NOT NULL DEFAULT 72 CHECK (invitation_ttl_hours >= 1),
  mfa_required_for_clients INTEGER NOT NULL DEFAULT 0 CHECK (mfa_required_for_clients IN (0, 1)),
  mfa_required_for_employees INTEGER NOT NULL DEFAULT 0 CHECK (mfa_required_for_employees IN (0, 1)),
  updated_by TEXT REFERENCES users (id),
  updated_at INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO security_settings (id) VALUES (1);

-- Exactly one row (id = 1); version keys the KV cache of GET /api/branding.
CREATE TABLE branding (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
  portal_name TEXT NOT NULL DEFAULT 'Client portal' CHECK (length(portal_name) > 0),
  logo_url TEXT,
  primary_color TEXT NOT NULL DEFAULT '#1f6feb',
  updated_by TEXT REFERENCES users (id),
  updated_at INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO branding (id) VALUES (1);

-- One row per sign-in. link_id is NULL for employees. A session may be refreshed while
-- now < idle_expires_at AND now < absolute_expires_at AND revoked_at IS NULL; each refresh moves
-- idle_expires_at and last_seen_at. revoked_reason is free text (logout, reuse, password_change,
-- admin, offboard, ...), set together with revoked_at. Nothing long-lived references a session
-- (the cron deletes them a while after they end).
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id),
  link_id TEXT REFERENCES links (id),
  scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'mfa_enroll')),
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL,
  absolute_expires_at INTEGER NOT NULL,
  ip TEXT,
  country TEXT,
  user_agent TEXT,
  revoked_at INTEGER,
  revoked_reason TEXT,
  CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
) STRICT;
-- GET /api/me/sessions and the admin's user sessions (newest first); revoke-all by user.
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
-- Offboarding and disabling a link revoke its sessions.
CREATE INDEX sessions_by_link ON sessions (link_id);

-- Every refresh secret issued for a session, by SHA-256 (hex). Rotation guards with
-- SET used_at = now, replaced_by = ?new WHERE token_hash = ?old AND used_at IS NULL, and inserts the
-- successor only WHERE EXISTS (... token_hash = ?old AND replaced_by = ?new). replaced_by has no
-- foreign key because the successor row is inserted after that guard.
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  issued_at INTEGER NOT NULL,
  used_at INTEGER,
  replaced_by TEXT
) STRICT;
-- A session's tokens (the purge before deleting sessions; the grace check looks at the newest).
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id, issued_at);
