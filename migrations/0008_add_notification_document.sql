-- A document notice names its document, so delivery can ask the access engine again at send time
-- (a document withdrawn, completed or readdressed before a retry is not announced).
ALTER TABLE notifications ADD COLUMN document_id TEXT REFERENCES documents (id);
