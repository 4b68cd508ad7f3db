-- The audit trail: every governance change and security event. Conventions: see
-- 0001_create_directory.sql. No foreign keys here on purpose: an event outlives what it names
-- (purged sessions, unknown logins), and writing it must never fail because of its subject.

-- action is a dotted name ('login.succeeded', 'login.failed', 'account.locked', 'refresh.reused',
-- 'invitation.activated', 'link.revoked', 'policy.company.updated', ...). company_ids is the JSON
-- array of companies the event concerns, so a manager's audit view keeps to their scope.
CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  actor_kind TEXT NOT NULL CHECK (actor_kind IN ('external', 'employee', 'crm', 'system', 'anonymous')),
  actor_id TEXT,
  action TEXT NOT NULL CHECK (length(action) > 0),
  target_kind TEXT CHECK (target_kind IN (
    'user', 'employee', 'link', 'invitation', 'company', 'contact', 'pipeline', 'company_policy',
    'contact_policy', 'security_settings', 'branding', 'session', 'request', 'message', 'call',
    'document', 'attachment', 'channel_link')),
  target_id TEXT,
  company_ids TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(company_ids) AND json_type(company_ids) = 'array'),
  outcome TEXT NOT NULL DEFAULT 'success' CHECK (outcome IN ('success', 'failure')),
  ip TEXT,
  country TEXT,
  user_agent TEXT,
  -- Event details (never secrets or tokens).
  details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details) AND json_type(details) = 'object')
) STRICT;
-- GET /api/admin/audit (newest first, since=), keyset on (created_at, id).
CREATE INDEX audit_by_time ON audit_events (created_at, id);
-- GET /api/admin/audit?actor=.
CREATE INDEX audit_by_actor ON audit_events (actor_id, created_at);
-- GET /api/admin/audit?target= (a link's or user's history).
CREATE INDEX audit_by_target ON audit_events (target_id, created_at);
-- GET /api/admin/audit?action=.
CREATE INDEX audit_by_action ON audit_events (action, created_at);
