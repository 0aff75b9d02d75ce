-- Bounces of our replies: a delivery status notification (RFC 3464) that comes back for a reply
-- is matched to its outbox row. A failure makes the row `bounced`; a delay is only noted. The
-- report's Action, Status and Diagnostic-Code are kept, with the stored notification itself.

ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN
  ('pending', 'sending', 'sent', 'retry', 'failed', 'unknown', 'suppressed', 'cancelled',
   'bounced'));

ALTER TABLE outbox ADD COLUMN dsn_action text;
ALTER TABLE outbox ADD COLUMN dsn_status text;
ALTER TABLE outbox ADD COLUMN dsn_diagnostic text;
ALTER TABLE outbox ADD COLUMN dsn_message_id bigint REFERENCES messages (id) ON DELETE SET NULL;
ALTER TABLE outbox ADD COLUMN dsn_at timestamptz;

-- A notification names our reply by its Message-ID.
CREATE INDEX outbox_message_id_header ON outbox (account_id, message_id_header);
-- The reply step asks whether a recipient hard-bounced lately.
CREATE INDEX outbox_bounced ON outbox (account_id, lower(recipient), dsn_at)
  WHERE status = 'bounced';
-- A notification's page links to the reply it is about.
CREATE INDEX outbox_dsn_message ON outbox (dsn_message_id) WHERE dsn_message_id IS NOT NULL;
