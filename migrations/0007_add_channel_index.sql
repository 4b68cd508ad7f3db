-- The notification outbox finds the live Telegram links of a company on every team message, status
-- change and document publish: keep that lookup an index range as linked chats grow.
CREATE INDEX channel_links_live_by_company ON channel_links (company_id, kind) WHERE status <> 'revoked';
