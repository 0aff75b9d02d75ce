-- One IMAP IDLE connection per mailbox across every running instance, under a cap on the IMAP
-- connections Carteiro opens to each account (src/domain/idle_leases.ts).

-- The most IMAP connections Carteiro may hold to this account at once, across instances; NULL:
-- the provider's default, from the IMAP host (Gmail 10, Exchange Online 15, else 10).
ALTER TABLE accounts ADD COLUMN imap_connection_cap integer
  CHECK (imap_connection_cap IS NULL OR imap_connection_cap BETWEEN 1 AND 100);

-- Who watches a mailbox with IDLE: one row per mailbox, held by one instance ("hostname:pid")
-- that renews heartbeat_at every few seconds. Another instance takes a row whose heartbeat is
-- older than the expiry (20 s), in one statement (src/store/idle_leases.ts); an instance that
-- stops deletes its rows. Times are the database's clock, the one clock all instances share.
CREATE TABLE idle_leases (
  account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  mailbox text NOT NULL,
  holder text NOT NULL,
  taken_at timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, mailbox)
);

CREATE INDEX idle_leases_holder ON idle_leases (holder);

-- An instance now reports one IDLE watcher per mailbox, not one per account.
ALTER TABLE idle_health DROP CONSTRAINT idle_health_pkey;
ALTER TABLE idle_health ADD PRIMARY KEY (account_id, instance, mailbox);
