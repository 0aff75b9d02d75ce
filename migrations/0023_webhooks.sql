-- Signed webhooks: endpoints (every account's events, or one account's) and their deliveries, a
-- table drained like the outbox. A delivery row is written in the transaction of the change it
-- tells of (a transactional outbox), one per matching endpoint; `body` is the exact JSON sent, so
-- every attempt (and a resend) carries the same event id and bytes.
CREATE TABLE webhook_endpoints (
  id serial PRIMARY KEY,
  account_id integer REFERENCES accounts(id) ON DELETE CASCADE,
  url text NOT NULL,
  secret text NOT NULL,
  events jsonb NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
  id bigserial PRIMARY KEY,
  endpoint_id integer NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  -- No foreign key: a deleted account's events already told stay in the list.
  account_id integer,
  body text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  deadline_at timestamptz NOT NULL,
  claim_token text,
  lease_until timestamptz,
  last_status integer,
  last_error text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  delivered_at timestamptz,
  UNIQUE (endpoint_id, event_id)
);

-- The drain's claim: due rows, and the earlier rows of the same endpoint and account still open.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
  WHERE status IN ('pending', 'retry');
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (endpoint_id, account_id, id)
  WHERE status IN ('pending', 'retry', 'sending');
-- Deliveries delivered or given up are forgotten after a while.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (updated_at)
  WHERE status IN ('delivered', 'failed');
