-- Per-account health beyond the last sync: collections failed in a row, the IMAP IDLE state each
-- running instance reports, and the progress of a collection under way.

-- Collections that failed in a row; back to 0 on the next success (src/store/accounts.ts).
ALTER TABLE accounts ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0;

-- The IDLE watcher of each account as each running instance last reported it ("hostname:pid"),
-- every few seconds. An instance that stops deletes its rows; one that dies leaves them, and the
-- readers treat a row not refreshed for two minutes as gone (src/store/account_health.ts).
CREATE TABLE idle_health (
  account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  instance text NOT NULL,
  -- 'idle' | 'connecting' | 'backoff' | 'unsupported' | 'stopped' (src/mail/imap_idle.ts).
  state text NOT NULL,
  mailbox text NOT NULL,
  -- When the current state was entered.
  since timestamptz NOT NULL,
  -- The last sign of life from the server.
  last_event_at timestamptz,
  -- IDLE sessions that failed in a row.
  consecutive_failures integer NOT NULL DEFAULT 0,
  last_error text,
  last_error_at timestamptz,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, instance)
);

CREATE INDEX idle_health_instance ON idle_health (instance);

-- The collection of an account under way: which mailbox, and how many of the messages this run
-- found to fetch are stored. One run per account at a time (the advisory lock), so one row; the
-- run's end deletes it, and a run killed midway leaves it until the next run starts.
CREATE TABLE collect_progress (
  account_id integer PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  mailbox text NOT NULL,
  done integer NOT NULL,
  total integer NOT NULL,
  started_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
