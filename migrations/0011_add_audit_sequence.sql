-- The audit log in commit order, for what reads it as a stream: the CRM event feed and webhooks,
-- and the email projection. Every audit INSERT sets seq = max + 1 in its own statement; D1 runs
-- one write batch at a time, so seq follows commit order, and the unique index turns any
-- collision into a failed batch rather than a misordered stream. A trigger would have done the
-- same with less SQL, but D1 counts a trigger's rows in the statement's `changes`, which the
-- guards read (an audit row is often the guard of its batch).
ALTER TABLE audit_events ADD COLUMN seq INTEGER;
UPDATE audit_events SET seq = numbered.n
FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM audit_events) AS numbered
WHERE numbered.id = audit_events.id;
CREATE UNIQUE INDEX audit_by_seq ON audit_events (seq);

-- Where each reader of the stream stands. `crm_webhook`: the last event the CRM acknowledged, the
-- tries at the next one and when to try again, and a lease so pushes go one at a time (in order).
-- `email`: the last event turned into messages. Both start at the present: history is not
-- replayed onto a newly configured channel (the feed still serves it).
CREATE TABLE outbox_cursors (
  name TEXT PRIMARY KEY CHECK (name IN ('crm_webhook', 'email')),
  seq INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO outbox_cursors (name, seq) SELECT 'crm_webhook', coalesce(max(seq), 0) FROM audit_events;
INSERT INTO outbox_cursors (name, seq) SELECT 'email', coalesce(max(seq), 0) FROM audit_events;

-- Events the CRM never acknowledged after every retry: the push moved on, the console lists them,
-- and a replay (or the pull feed) makes up for them.
CREATE TABLE crm_push_failures (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  failed_at INTEGER NOT NULL
) STRICT;
