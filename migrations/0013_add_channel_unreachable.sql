-- A Telegram chat whose user blocked the bot: the link stays (it is the client's choice to undo),
-- notifications to it stop, and the portal and console show it `unreachable` since this time.
-- A `member` update (unblocked), a new /start or a message from the chat clears it.
ALTER TABLE channel_links ADD COLUMN unreachable_at INTEGER;
