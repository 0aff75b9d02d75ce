-- The web admin: people who log in, their sessions, API tokens, login throttling, stored
-- account secrets (encrypted) and full-text search over messages.

CREATE TABLE users (
  id serial PRIMARY KEY,
  -- Stored lower-cased: one person, one row, whatever the case they type.
  email text NOT NULL UNIQUE CHECK (email = lower(email)),
  -- "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>" (src/auth/password_hash.ts).
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A session is known by the SHA-256 of its cookie value: a dump of this table cannot log in.
CREATE TABLE sessions (
  token_hash text PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The per-session CSRF token every state-changing request must carry.
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_expiry ON sessions (expires_at);

-- API tokens (Authorization: Bearer), also known only by their SHA-256.
CREATE TABLE api_tokens (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- Every login attempt, to throttle by e-mail and by client address.
CREATE TABLE login_attempts (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  email text NOT NULL,
  ip text NOT NULL,
  success boolean NOT NULL
);

CREATE INDEX login_attempts_email ON login_attempts (email, at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at);

-- Account secrets, AES-256-GCM encrypted with a key derived from SECRET_KEY
-- (src/auth/secret_box.ts). NULL: not set (or, for 'env' accounts, read from the environment).
ALTER TABLE accounts
  ADD COLUMN imap_pass_enc text,
  ADD COLUMN smtp_host text,
  ADD COLUMN smtp_port integer,
  -- true: TLS from the first byte (465); false: STARTTLS required (587).
  ADD COLUMN smtp_tls boolean,
  ADD COLUMN smtp_user text,
  ADD COLUMN smtp_pass_enc text,
  ADD COLUMN display_name text NOT NULL DEFAULT '';

-- When a message reached the mailbox (IMAP INTERNALDATE, else when it was collected): the order
-- of the message list, paged by keyset (received_at, id), never by OFFSET.
ALTER TABLE messages
  ADD COLUMN received_at timestamptz GENERATED ALWAYS AS (COALESCE(internal_date, collected_at)) STORED;

CREATE INDEX messages_received ON messages (received_at DESC, id DESC);
CREATE INDEX messages_account_received ON messages (account_id, received_at DESC, id DESC);

-- Full-text search over subject, addresses and text, in Portuguese and in English: both stemmings
-- are kept, and a query matches when either language's reading of it does (see
-- src/store/message_list.ts). Bodies are cut at 100,000 characters (a tsvector holds 1 MB).
ALTER TABLE messages
  ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('portuguese'::regconfig, COALESCE(subject, '') || ' ' || COALESCE(original_subject, '')), 'A') ||
    setweight(to_tsvector('english'::regconfig, COALESCE(subject, '') || ' ' || COALESCE(original_subject, '')), 'A') ||
    setweight(to_tsvector('portuguese'::regconfig,
      COALESCE(from_address, '') || ' ' || COALESCE(from_name, '') || ' ' ||
      COALESCE(original_from_address, '') || ' ' || COALESCE(original_from_name, '') || ' ' ||
      COALESCE(jsonb_path_query_array(to_addresses, '$[*].*')::text, '') || ' ' ||
      COALESCE(jsonb_path_query_array(cc_addresses, '$[*].*')::text, '')), 'B') ||
    setweight(to_tsvector('english'::regconfig,
      COALESCE(from_address, '') || ' ' || COALESCE(from_name, '') || ' ' ||
      COALESCE(original_from_address, '') || ' ' || COALESCE(original_from_name, '') || ' ' ||
      COALESCE(jsonb_path_query_array(to_addresses, '$[*].*')::text, '') || ' ' ||
      COALESCE(jsonb_path_query_array(cc_addresses, '$[*].*')::text, '')), 'B') ||
    setweight(to_tsvector('portuguese'::regconfig, left(COALESCE(text_body, ''), 100000)), 'C') ||
    setweight(to_tsvector('english'::regconfig, left(COALESCE(text_body, ''), 100000)), 'C')
  ) STORED;

CREATE INDEX messages_search ON messages USING gin (search);

CREATE INDEX audit_events_event ON audit_events (event, at DESC, id DESC);
CREATE INDEX outbox_listing ON outbox (created_at DESC, id DESC);
