-- The largest message an account collects whole (src/domain/message_size.ts: 50 MB by default,
-- 1 MB to 1 GB). A message over it is stored with its header block only, marked too_large and
-- failed with the reason, so the collection goes on to the messages after it.
ALTER TABLE accounts ADD COLUMN max_message_bytes integer NOT NULL DEFAULT 52428800
  CHECK (max_message_bytes BETWEEN 1048576 AND 1073741824);

ALTER TABLE messages ADD COLUMN too_large boolean NOT NULL DEFAULT false;
