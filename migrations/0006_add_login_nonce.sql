-- A complete login writes a fresh nonce here in its guard statement (the TOTP step not yet used,
-- the lock not set); the session and refresh token of that login are inserted only WHERE EXISTS
-- this nonce, so two logins racing with one TOTP code open at most one session.
ALTER TABLE users ADD COLUMN login_nonce TEXT;
