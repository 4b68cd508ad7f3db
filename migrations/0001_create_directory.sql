-- The directory: what the CRM pushes (companies, contacts, pipelines) and who signs in (users,
-- employees' company scope).
--
-- Conventions for every migration of this project:
--   * ids are TEXT holding UUID strings (v7 preferred: time-ordered keys insert well); a few tables
--     keyed by a secret's hash use that hash (hex SHA-256) as their key instead.
--   * every time is an INTEGER of unix seconds (UTC); no RFC 3339 text in the database. The API's
--     RFC 3339 strings are made at the HTTP boundary. No time column has a DEFAULT: `now` is always
--     bound by the use case, so tests control the clock.
--   * booleans are INTEGER 0/1 with CHECK (x IN (0, 1)); decode them with `store::sql::flag`.
--   * every status/kind/state column lists its values in a CHECK; lists and objects the SQL never
--     joins on are JSON TEXT with a json_valid CHECK.
--   * tables are STRICT, so a text bound into an INTEGER column fails instead of being stored.
--   * foreign keys are enforced (D1 always does; the native adapter turns them on). Nothing that
--     the cron purges (sessions, refresh tokens, channel link codes) is referenced by a long-lived
--     row, so purges never trip a foreign key.
--   * files are forward-only: a change is a new NNNN_verb_noun.sql file. No BEGIN/COMMIT (D1
--     refuses them; each file is applied atomically by wrangler).

CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES
  ('time_convention', 'unix_seconds'),
  ('id_convention', 'uuid_text');

CREATE TABLE companies (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL CHECK (length(name) > 0),
  crm_ref TEXT,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
-- GET /api/admin/companies lists by name.
CREATE INDEX companies_by_name ON companies (name, id);

CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT,
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'draft', 'duplicate')),
  -- Only a duplicate points at the contact it duplicates.
  duplicate_of TEXT REFERENCES contacts (id),
  crm_ref TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK (duplicate_of IS NULL OR (state = 'duplicate' AND duplicate_of <> id))
) STRICT;
-- GET /api/admin/contacts lists by name (the q= search filters these rows).
CREATE INDEX contacts_by_name ON contacts (last_name, first_name, id);

-- The CRM's contact <-> company relation; the link wizard only offers a contact's own companies.
CREATE TABLE contact_companies (
  contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  company_id TEXT NOT NULL REFERENCES companies (id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (contact_id, company_id)
) STRICT;
-- The contacts of one company (governance lists filtered by company).
CREATE INDEX contact_companies_by_company ON contact_companies (company_id, contact_id);

-- Request fields (key, label, type, required, choices) are only read whole and validated in Rust,
-- so they are one JSON array. Stages are a child table because requests point at them.
CREATE TABLE pipelines (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL CHECK (length(name) > 0),
  fields TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(fields) AND json_type(fields) = 'array'),
  archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
  position INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

-- A stage id is unique within its pipeline. The lowest position is where new requests start; a
-- request is open while its stage is not final. requests (pipeline_id, stage_id) references this
-- key, so a pipeline upsert that drops a stage still in use fails (answer 409) instead of
-- orphaning requests.
CREATE TABLE pipeline_stages (
  pipeline_id TEXT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
  id TEXT NOT NULL CHECK (length(id) > 0),
  name TEXT NOT NULL,
  is_final INTEGER NOT NULL DEFAULT 0 CHECK (is_final IN (0, 1)),
  position INTEGER NOT NULL,
  PRIMARY KEY (pipeline_id, id)
) STRICT;
-- A pipeline's stages in order, and its first stage for a new request.
CREATE INDEX pipeline_stages_in_order ON pipeline_stages (pipeline_id, position);

-- Clients (kind external) and employees. login_key is the login lowercased by the code, so logins
-- are unique case-insensitively (SQLite's lower() only folds ASCII; the CHECK refuses a key that
-- still holds an ASCII capital). password_hash is NULL until activation: no usable password.
-- role is set only for employees; an employee without a role has no governance access.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('external', 'employee')),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
  role TEXT CHECK (role IN ('admin', 'manager')),
  login TEXT NOT NULL CHECK (length(login) > 0),
  login_key TEXT NOT NULL UNIQUE CHECK (length(login_key) > 0 AND login_key = lower(login_key)),
  email TEXT,
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  password_hash TEXT,
  password_changed_at INTEGER,
  -- Lockout: incremented with UPDATE ... RETURNING, reset only on a complete success.
  failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  locked_until INTEGER,
  -- Access tokens issued before this instant are refused (password change, block, MFA reset).
  tokens_valid_after INTEGER NOT NULL DEFAULT 0,
  totp_secret TEXT,
  -- A secret being enrolled; it replaces totp_secret once a code from it is confirmed.
  totp_pending_secret TEXT,
  -- The last TOTP step accepted: a code is usable once.
  totp_last_step INTEGER,
  last_login_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK (role IS NULL OR kind = 'employee')
) STRICT;
-- GET /api/admin/users?q= and employee lists by kind.
CREATE INDEX users_by_kind ON users (kind, login_key);

-- A manager's company scope (admins need no rows: they see everything).
CREATE TABLE employee_companies (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  company_id TEXT NOT NULL REFERENCES companies (id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, company_id)
) STRICT;
