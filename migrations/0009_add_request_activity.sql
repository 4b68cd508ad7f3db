-- The team's inbox: requests by their latest activity, and which ones wait for the team (the client
-- side wrote last, or a client created the request and nobody has answered yet). Every message insert
-- is followed in its batch by `kit::requests::TOUCH_REQUEST` (no triggers: their rows would count in
-- the change counts the guard-nonce pattern reads).
ALTER TABLE requests ADD COLUMN activity_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN waiting_since INTEGER;

UPDATE requests SET activity_at = max(created_at, coalesce((SELECT max(m.created_at) FROM messages m WHERE m.request_id = requests.id), 0));
UPDATE requests SET waiting_since = CASE
  WHEN (SELECT m.author_kind FROM messages m WHERE m.request_id = requests.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1) IN ('client', 'telegram', 'widget')
    THEN (SELECT max(m.created_at) FROM messages m WHERE m.request_id = requests.id)
  WHEN NOT EXISTS (SELECT 1 FROM messages m WHERE m.request_id = requests.id)
    AND (SELECT u.kind FROM users u WHERE u.id = requests.created_by) = 'external'
    THEN created_at
END;

-- GET /api/admin/requests?company= : keyset on (activity_at, id), newest activity first.
CREATE INDEX requests_by_company_activity ON requests (company_id, activity_at, id);
