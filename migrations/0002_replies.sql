-- Rules, reply decisions, the outbox (exactly-once sending) and the per-sender reply limit.

CREATE TABLE rules (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  enabled boolean NOT NULL DEFAULT true,
  priority integer NOT NULL DEFAULT 0,
  position integer NOT NULL DEFAULT 0,
  -- The rule as the JSON import/export format writes it.
  definition jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- What the rules decided for a message, with the trail of every rule that hit or missed.
CREATE TABLE decisions (
  message_id bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  decided_at timestamptz NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('reply', 'suppressed', 'no_rule', 'ignored')),
  rule_name text,
  reason text,
  detail text,
  trail jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  -- Inbound message identity + rule: a second enqueue of the same reply is a no-op.
  dedup_key text NOT NULL UNIQUE,
  message_id bigint REFERENCES messages (id) ON DELETE SET NULL,
  account_id integer NOT NULL REFERENCES accounts (id),
  rule_name text,
  status text NOT NULL CHECK (status IN
    ('pending', 'sending', 'sent', 'retry', 'failed', 'unknown', 'suppressed', 'cancelled')),
  recipient text NOT NULL,
  recipient_name text NOT NULL DEFAULT '',
  from_address text NOT NULL,
  from_name text NOT NULL DEFAULT '',
  subject text NOT NULL,
  text_body text NOT NULL,
  html_body text,
  message_id_header text NOT NULL,
  in_reply_to text,
  "references" jsonb NOT NULL DEFAULT '[]',
  headers jsonb NOT NULL DEFAULT '{}',
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  -- Temporary failures retry until this moment, then the row fails.
  deadline_at timestamptz NOT NULL,
  claim_token text,
  lease_until timestamptz,
  last_error text,
  smtp_response text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  sent_at timestamptz
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'retry');
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE status = 'sending';
CREATE INDEX outbox_status ON outbox (status);
-- A message's replies: the message page, the listing's reply status, and the one-reply check.
CREATE INDEX outbox_message ON outbox (message_id);

-- At most one reply per (account, rule, recipient) per window: the row is reserved in the
-- transaction that enqueues, and taken again only once the window has passed.
CREATE TABLE reply_limits (
  account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  rule_name text NOT NULL,
  recipient text NOT NULL,
  reserved_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, rule_name, recipient)
);

-- Loop breakers that tripped: recipient '' is the whole account. A tripped breaker suppresses
-- the account's (or that recipient's) replies until a person resets it (deletes the row).
CREATE TABLE reply_breakers (
  account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  recipient text NOT NULL DEFAULT '',
  tripped_at timestamptz NOT NULL,
  detail text NOT NULL,
  PRIMARY KEY (account_id, recipient)
);
