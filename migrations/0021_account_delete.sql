-- Deleting an account may keep its mail: the messages and the replies sent for them stay, detached
-- from any account (account_id NULL); the pages name their account "(deleted account)".
ALTER TABLE messages ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE outbox ALTER COLUMN account_id DROP NOT NULL;
