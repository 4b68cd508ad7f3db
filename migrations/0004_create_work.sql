-- The joint work: requests, attachments, messages (request threads and each company's general
-- chat), calls, documents with the client's actions, and the outbound notification outbox.
-- Conventions: see 0001_create_directory.sql. Files live in KV under kv_key; rows keep the metadata.

-- A request's stage is one of its pipeline's stages (composite foreign key), so a status change to
-- another pipeline's stage fails. fields holds the values of the pipeline's request fields (JSON
-- object keyed by field key), validated on create.
CREATE TABLE requests (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL REFERENCES companies (id),
  pipeline_id TEXT NOT NULL REFERENCES pipelines (id),
  stage_id TEXT NOT NULL,
  title TEXT NOT NULL CHECK (length(title) > 0),
  description TEXT NOT NULL DEFAULT '',
  fields TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fields) AND json_type(fields) = 'object'),
  created_by TEXT REFERENCES users (id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  FOREIGN KEY (pipeline_id, stage_id) REFERENCES pipeline_stages (pipeline_id, id)
) STRICT;
-- GET /api/requests?company=&pipeline= : keyset pagination on (created_at, id) within a company and
-- pipeline (a client's list without pipeline= runs one range per allowed pipeline).
CREATE INDEX requests_by_company_pipeline ON requests (company_id, pipeline_id, created_at, id);
-- GET /api/admin/requests?company= (the team sees every pipeline): keyset on (created_at, id).
CREATE INDEX requests_by_company ON requests (company_id, created_at, id);
-- Writing the pipeline_stages foreign key's check when a stage is dropped, and ?status= filters.
CREATE INDEX requests_by_stage ON requests (pipeline_id, stage_id);

-- Files attached to a request; company_id is copied from the request so a gate checks one row.
CREATE TABLE attachments (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL REFERENCES requests (id),
  company_id TEXT NOT NULL REFERENCES companies (id),
  file_name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  sha256 TEXT NOT NULL,
  kv_key TEXT NOT NULL UNIQUE,
  uploaded_by TEXT REFERENCES users (id),
  created_at INTEGER NOT NULL
) STRICT;
-- GET /api/requests/{id}/attachments.
CREATE INDEX attachments_by_request ON attachments (request_id, created_at);

-- Channel links are referenced by messages (which Telegram chat or widget a message came through).
-- A message with request_id NULL belongs to the company's general chat. author_user_id is NULL only
-- for a widget message from an anonymous visitor of the client's site. external_id is the
-- Telegram message id or the widget event id of an inbound message.
CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL REFERENCES companies (id),
  request_id TEXT REFERENCES requests (id),
  author_kind TEXT NOT NULL CHECK (author_kind IN ('client', 'employee', 'telegram', 'widget')),
  author_user_id TEXT REFERENCES users (id),
  channel_link_id TEXT REFERENCES channel_links (id),
  external_id TEXT,
  body TEXT NOT NULL CHECK (length(body) > 0),
  created_at INTEGER NOT NULL,
  CHECK ((author_kind IN ('telegram', 'widget')) = (channel_link_id IS NOT NULL))
) STRICT;
-- GET /api/requests/{id}/messages: a thread in order, keyset on (created_at, id).
CREATE INDEX messages_by_request ON messages (request_id, created_at, id);
-- GET /api/chat/messages?company=: the general chat. Partial: the query must say
-- `request_id IS NULL` for SQLite to use it (it must anyway, to mean the general chat).
CREATE INDEX messages_general_chat ON messages (company_id, created_at, id) WHERE request_id IS NULL;

CREATE TABLE calls (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL REFERENCES companies (id),
  request_id TEXT REFERENCES requests (id),
  room TEXT NOT NULL UNIQUE,
  join_url TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ended', 'cancelled')),
  created_by TEXT REFERENCES users (id),
  created_at INTEGER NOT NULL,
  ended_at INTEGER
) STRICT;
-- GET /api/calls?company= and /api/admin/calls?company=, newest first.
CREATE INDEX calls_by_company ON calls (company_id, created_at, id);

-- A document is visible to a client when published, for a company on the link, and for no contact
-- (contact_id NULL) or theirs. required_action is what the team asked for; the first matching
-- client action completes it: guard with UPDATE ... SET completed_action_id = ?n WHERE status =
-- 'published' AND required_action = ? AND completed_at IS NULL, then insert the document_actions row
-- with that id only WHERE EXISTS (... completed_action_id = ?n) (no foreign key: the evidence row
-- is written after the guard).
CREATE TABLE documents (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL REFERENCES companies (id),
  contact_id TEXT REFERENCES contacts (id),
  title TEXT NOT NULL CHECK (length(title) > 0),
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  sha256 TEXT NOT NULL,
  kv_key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'withdrawn')),
  required_action TEXT NOT NULL DEFAULT 'none' CHECK (required_action IN ('none', 'review', 'approve', 'sign')),
  -- The action that completed required_action (approve is completed by approved or rejected).
  completed_action TEXT CHECK (completed_action IN ('reviewed', 'approved', 'rejected', 'signed')),
  completed_action_id TEXT,
  completed_by TEXT REFERENCES users (id),
  completed_at INTEGER,
  uploaded_by TEXT REFERENCES users (id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  published_at INTEGER,
  withdrawn_at INTEGER,
  CHECK ((completed_at IS NULL) = (completed_action IS NULL))
) STRICT;
-- GET /api/documents?company= (status = 'published') and the team's list, newest first.
CREATE INDEX documents_by_company_status ON documents (company_id, status, created_at);

-- Evidence of each client action on a document: who, through which link and session, on which
-- exact file (sha256 at the time), from where. session_id has no foreign key: sessions are purged.
CREATE TABLE document_actions (
  id TEXT PRIMARY KEY,
  document_id TEXT NOT NULL REFERENCES documents (id),
  user_id TEXT NOT NULL REFERENCES users (id),
  link_id TEXT REFERENCES links (id),
  session_id TEXT,
  action TEXT NOT NULL CHECK (action IN ('reviewed', 'approved', 'rejected', 'signed')),
  comment TEXT,
  signature_name TEXT,
  document_sha256 TEXT NOT NULL,
  ip TEXT,
  country TEXT,
  user_agent TEXT,
  created_at INTEGER NOT NULL,
  CHECK (action <> 'signed' OR (signature_name IS NOT NULL AND length(signature_name) > 0))
) STRICT;
-- GET /api/documents/{id}: the document's actions in order.
CREATE INDEX document_actions_by_document ON document_actions (document_id, created_at);

-- Outbound notifications (Telegram) written in the same batch as the event, sent and retried by the
-- worker and the cron. external_message_id is the Telegram message id of the sent notification, so
-- a client's reply to it routes back to request_id (or the general chat when NULL).
CREATE TABLE notifications (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL DEFAULT 'telegram' CHECK (channel IN ('telegram')),
  channel_link_id TEXT NOT NULL REFERENCES channel_links (id),
  company_id TEXT NOT NULL REFERENCES companies (id),
  request_id TEXT REFERENCES requests (id),
  message_id TEXT REFERENCES messages (id),
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  external_message_id TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER,
  CHECK (status <> 'sent' OR sent_at IS NOT NULL)
) STRICT;
-- The sender's queue: pending notifications whose next attempt is due.
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
-- Reply routing: the notification a Telegram reply answers.
CREATE INDEX notifications_by_external ON notifications (channel_link_id, external_message_id);
