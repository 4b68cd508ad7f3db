-- Who set a user's password, and how (the security review of 7199a2c, finding 1 and 2).
--
-- A user may hold more than one live link (the schema has always allowed it for different
-- contacts; the wizard keeps one per user today, a CRM merge or a later feature may not). Every
-- rule about a *user* therefore reads all of the user's live links: an invitation (which sets the
-- password of the whole user) needs an employee who governs every company of every live link,
-- audit events about a user carry all of those companies, and login picks one link
-- deterministically instead of whichever row came first.

-- When the link was last signed in to: login picks the last one used, else the oldest.
ALTER TABLE links ADD COLUMN last_used_at INTEGER;

-- How the password was last set: 'invitation' (a first activation), 'reset' (a reset invitation:
-- someone else started it), 'change' (the user, with the old password), 'bootstrap' or 'seed'.
-- password_set_by is the employee who issued the invitation that set it. Signing evidence copies
-- both, so a signature made right after a reset says so.
ALTER TABLE users ADD COLUMN password_set_via TEXT
  CHECK (password_set_via IS NULL OR password_set_via IN ('invitation', 'reset', 'change', 'bootstrap', 'seed'));
ALTER TABLE users ADD COLUMN password_set_by TEXT;

-- The signer's credentials at the time of the action: {"via", "at", "by"} from the user's row.
ALTER TABLE document_actions ADD COLUMN credentials TEXT
  CHECK (credentials IS NULL OR (json_valid(credentials) AND json_type(credentials) = 'object'));
