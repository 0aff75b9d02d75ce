-- Failed logins counted in place: one row per e-mail and one per client address, updated by one
-- statement that checks the limit and counts the attempt (src/store/login_attempts.ts), so that
-- parallel guesses cannot pass the limit and refused attempts write nothing. A row whose last
-- checked attempt is older than the login window counts from zero again, and is pruned.
CREATE TABLE login_counters (
  -- 'email:' || lower(e-mail), or 'ip:' || the client address.
  key text PRIMARY KEY,
  -- Attempts checked and not (yet) succeeded since the counter last started from zero.
  failures integer NOT NULL,
  -- When the last attempt was checked; the next one past the limit waits from here.
  last_at timestamptz NOT NULL
);

CREATE INDEX login_counters_last_at ON login_counters (last_at);
