-- Sending within provider limits: each account's send budget, and the state of an account whose
-- SMTP server refused its login (src/jobs/send_outbox.ts, src/domain/send_budget.ts).

-- The budget a person set, as {"per_minute": n | null, "per_day": n | null} (null inside: no
-- limit in that window). NULL: the provider's default, read from the SMTP host and the address.
ALTER TABLE accounts ADD COLUMN send_budget jsonb;

-- The SMTP server refused the account's login (535, Exchange's 550 5.7.30, …): what it said and
-- when. While set, the account's replies wait; a successful send or an edit of the account clears
-- it, and one reply is tried again after a while (SMTP_AUTH_RECHECK_MINUTES).
ALTER TABLE accounts ADD COLUMN smtp_auth_failure text;
ALTER TABLE accounts ADD COLUMN smtp_auth_failure_at timestamptz;

-- The replies that count against a budget: sent (at sent_at), and in flight or maybe sent
-- (since their claim, updated_at).
CREATE INDEX outbox_budget ON outbox (account_id, (COALESCE(sent_at, updated_at)))
  WHERE status IN ('sent', 'sending', 'unknown', 'bounced');
