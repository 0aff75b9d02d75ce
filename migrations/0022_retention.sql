-- Retention and erasure (docs/retention.md): how long each account keeps raw sources and
-- messages, how long the audit log is kept, the raw sources a purge dropped, and the keys of the
-- messages removed, kept as hashes so that a copy delivered again is never answered again.

-- Days a message's raw source is kept after it arrived; NULL: for ever (as before).
ALTER TABLE accounts ADD COLUMN keep_raw_days integer
  CHECK (keep_raw_days IS NULL OR keep_raw_days BETWEEN 1 AND 36500);
-- Days a message (with its decision and replies) is kept after it arrived; NULL: for ever.
ALTER TABLE accounts ADD COLUMN keep_messages_days integer
  CHECK (keep_messages_days IS NULL OR keep_messages_days BETWEEN 1 AND 36500);

-- A purged raw source: the bytes are gone, the parsed message stays; when it went.
ALTER TABLE messages ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE messages ADD COLUMN raw_purged_at timestamptz;
CREATE INDEX messages_raw_kept ON messages (account_id, received_at) WHERE raw IS NOT NULL;

-- The installation's own retention settings: one row.
CREATE TABLE retention_settings (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  -- Days an audit row is kept; NULL: for ever (as before).
  keep_audit_days integer CHECK (keep_audit_days IS NULL OR keep_audit_days BETWEEN 1 AND 36500)
);
INSERT INTO retention_settings (id, keep_audit_days) VALUES (true, NULL);

-- What identified a message that was answered and then purged or erased, as SHA-256 hex only: its
-- replies' dedup keys ('dedup'), its content ('content': account and raw SHA-256) and its
-- Message-ID ('message_id': account and Message-ID). The reply step reads them, so a copy that
-- arrives again is not answered a second time (src/domain/retention.ts).
CREATE TABLE forgotten_keys (
  key_sha256 text PRIMARY KEY CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
  kind text NOT NULL CHECK (kind IN ('dedup', 'content', 'message_id')),
  forgotten_at timestamptz NOT NULL
);
