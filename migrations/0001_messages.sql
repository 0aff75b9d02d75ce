-- Accounts, per-mailbox sync state, stored messages and the audit log.

CREATE TABLE accounts (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  -- The address mail to this account is sent to; replies go out From it.
  address text NOT NULL,
  imap_host text NOT NULL,
  imap_port integer NOT NULL,
  imap_tls boolean NOT NULL,
  imap_user text NOT NULL,
  mailboxes jsonb NOT NULL DEFAULT '["INBOX"]',
  -- 'env': credentials come from the environment at run time and are never stored.
  source text NOT NULL DEFAULT 'db' CHECK (source IN ('env', 'db')),
  enabled boolean NOT NULL DEFAULT true,
  -- Mail older than this is history: archived, never answered.
  connected_at timestamptz NOT NULL DEFAULT now(),
  last_sync_at timestamptz,
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mailbox_state (
  account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  mailbox text NOT NULL,
  uidvalidity bigint NOT NULL,
  -- Every UID up to this one is stored (raw) for this UIDVALIDITY.
  last_uid bigint NOT NULL DEFAULT 0,
  -- Set when UIDVALIDITY changed: the next runs match the server's messages to stored ones by
  -- content instead of importing them again, until the whole mailbox has been seen.
  rescanning boolean NOT NULL DEFAULT false,
  last_sync_at timestamptz,
  PRIMARY KEY (account_id, mailbox)
);

CREATE TABLE messages (
  id bigserial PRIMARY KEY,
  account_id integer NOT NULL REFERENCES accounts (id),
  mailbox text NOT NULL,
  uidvalidity bigint NOT NULL,
  uid bigint NOT NULL,
  content_sha256 text NOT NULL,
  raw bytea NOT NULL,
  size integer NOT NULL,
  internal_date timestamptz,
  collected_at timestamptz NOT NULL DEFAULT now(),
  parse_status text NOT NULL DEFAULT 'pending' CHECK (parse_status IN ('pending', 'parsed', 'failed')),
  parse_error text,
  parsed_at timestamptz,
  message_id text,
  from_address text,
  from_name text,
  sender jsonb,
  reply_to jsonb,
  to_addresses jsonb,
  cc_addresses jsonb,
  subject text,
  sent_date timestamptz,
  in_reply_to text,
  "references" jsonb,
  headers jsonb,
  text_body text,
  html_body text,
  attachments jsonb,
  kind text CHECK (kind IN ('forwarded', 'direct')),
  confidence real,
  evidence jsonb,
  original_from_address text,
  original_from_name text,
  original_subject text,
  original_date text,
  original_date_iso timestamptz,
  classified_at timestamptz,
  UNIQUE (account_id, mailbox, uidvalidity, uid)
);

CREATE INDEX messages_content ON messages (account_id, mailbox, content_sha256);
CREATE INDEX messages_pending ON messages (account_id, id) WHERE parse_status = 'pending';
CREATE INDEX messages_kind ON messages (kind);

CREATE TABLE audit_events (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  event text NOT NULL,
  account_id integer REFERENCES accounts (id) ON DELETE SET NULL,
  message_id bigint REFERENCES messages (id) ON DELETE SET NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_message ON audit_events (message_id);

-- Raw sources compress much cheaper with lz4 than with the default pglz; builds without lz4
-- (some embedded ones) keep the default.
DO $$
BEGIN
  ALTER TABLE messages ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN others THEN
  NULL;
END
$$;
