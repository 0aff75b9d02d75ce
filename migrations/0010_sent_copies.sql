-- A copy of each sent reply in the account's Sent mailbox (RFC 6154 \Sent, else a usual name), so
-- the people who read the mailbox see what went out. The copy is owed in the transaction that
-- settles the send as `sent`, with the exact bytes handed to SMTP; a separate step appends it
-- (src/jobs/copy_sent.ts), exactly once: it is claimed like the outbox (FOR UPDATE SKIP LOCKED,
-- with a lease), and a retry first searches the mailbox for the reply's Message-ID.

-- On by default; off, a send owes no copy. Servers that file submitted mail themselves (Gmail)
-- are detected at copy time and skipped whatever this says.
ALTER TABLE accounts ADD COLUMN copy_to_sent boolean NOT NULL DEFAULT true;

CREATE TABLE sent_copies (
  outbox_id bigint PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
  account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  -- 'owed': to append; 'copied': in the Sent mailbox; 'skipped': the server files sent mail
  -- itself (Gmail); 'failed': gave up at the deadline, shown on the outbox row.
  status text NOT NULL CHECK (status IN ('owed', 'copied', 'skipped', 'failed')),
  -- The message exactly as SMTP took it (the Message-ID is in it).
  raw bytea NOT NULL,
  message_id_header text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  -- Failed appends retry with backoff until this moment.
  deadline_at timestamptz NOT NULL,
  claim_token text,
  lease_until timestamptz,
  last_error text,
  -- Where the copy went (or was found), and its UID there when the server said.
  mailbox text,
  uid bigint,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE INDEX sent_copies_due ON sent_copies (next_attempt_at) WHERE status = 'owed';
