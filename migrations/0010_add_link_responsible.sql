-- The employee who answers for a link (its reviews, the client's questions): whoever created it,
-- until someone else is named on the link page. The review-due list filters by it.
ALTER TABLE links ADD COLUMN responsible_id TEXT REFERENCES users (id);
UPDATE links SET responsible_id = created_by;
CREATE INDEX links_by_responsible ON links (responsible_id, review_at);
