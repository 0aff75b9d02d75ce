-- Richer replies: copies (Cc, Bcc), a Reply-To and attachments on the outbox row, and the files
-- stored with a rule.

-- Copies are plain addresses; Bcc is written to the envelope only, never to a header.
ALTER TABLE outbox ADD COLUMN cc jsonb NOT NULL DEFAULT '[]';
ALTER TABLE outbox ADD COLUMN bcc jsonb NOT NULL DEFAULT '[]';
ALTER TABLE outbox ADD COLUMN reply_to text;
-- The rule_attachments rows attached to this reply, chosen when it was enqueued.
ALTER TABLE outbox ADD COLUMN attachment_ids jsonb NOT NULL DEFAULT '[]';

-- Files uploaded to a rule and attached to each of its replies (at most 10 MB per rule, checked
-- by the action). A removed file keeps its row (removed_at set) until no reply names it, so a
-- reply enqueued before the removal still goes out as it was decided. A deleted rule leaves its
-- files without a rule (rule_id NULL) for the same reason.
CREATE TABLE rule_attachments (
  id bigserial PRIMARY KEY,
  rule_id integer REFERENCES rules (id) ON DELETE SET NULL,
  filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  content_type text NOT NULL,
  size integer NOT NULL CHECK (size >= 0),
  sha256 text NOT NULL,
  content bytea NOT NULL,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  removed_at timestamptz
);

CREATE INDEX rule_attachments_rule ON rule_attachments (rule_id, id) WHERE removed_at IS NULL;
