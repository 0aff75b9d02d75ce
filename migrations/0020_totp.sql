-- An optional second factor at login: a TOTP secret (RFC 6238; SHA-1, 6 digits, 30 s),
-- encrypted with SECRET_KEY (src/auth/secret_box.ts). Stored while being set up
-- (`totp_enabled_at` null: not yet asked at login) and enabled once a code confirmed it.
-- `totp_last_step` is the time-step of the last code accepted: the same code is never taken twice.
ALTER TABLE users
  ADD COLUMN totp_secret text,
  ADD COLUMN totp_enabled_at timestamptz,
  ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;

-- Ten one-time codes for a lost phone, shown once; only their SHA-256 is kept.
CREATE TABLE recovery_codes (
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

-- A password checked for a user with a second factor: the code step's cookie (its SHA-256
-- here), valid for 5 minutes. It is no session: the session gate never reads this table.
CREATE TABLE pending_logins (
  token_hash text PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  next_path text NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);
