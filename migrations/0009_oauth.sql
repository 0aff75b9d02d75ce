-- OAuth2 sign-in for IMAP and SMTP (XOAUTH2, OAUTHBEARER): an account logs in with a password
-- (as before) or with an access token from its provider, kept fresh with a refresh token. Tokens
-- are AES-256-GCM encrypted with a key derived from SECRET_KEY, like the passwords
-- (src/auth/secret_box.ts). A refresh the provider refuses (revoked, expired, consent withdrawn)
-- sets reauthorization_needed: collection, IDLE and sending skip the account until a person
-- connects it again, so a refused grant is never retried in a loop.
ALTER TABLE accounts
  ADD COLUMN auth_kind text NOT NULL DEFAULT 'password' CHECK (auth_kind IN ('password', 'oauth')),
  -- 'google' | 'microsoft' | 'oidc' (src/config.ts); NULL for password accounts.
  ADD COLUMN oauth_provider text,
  -- Who signed in (the token's e-mail): the delegated user, which may differ from imap_user for a
  -- Microsoft shared mailbox.
  ADD COLUMN oauth_identity text,
  ADD COLUMN oauth_refresh_enc text,
  ADD COLUMN oauth_access_enc text,
  ADD COLUMN oauth_access_expires_at timestamptz,
  ADD COLUMN reauthorization_needed boolean NOT NULL DEFAULT false,
  -- What the provider said when it refused, and when.
  ADD COLUMN reauthorization_reason text,
  ADD COLUMN reauthorization_at timestamptz;

-- An authorization under way: from the redirect to the provider until its callback. Known by the
-- SHA-256 of its `state`; the PKCE verifier is encrypted. Used once, and only within 15 minutes.
CREATE TABLE oauth_pending (
  state_hash text PRIMARY KEY,
  provider text NOT NULL,
  -- The account being reconnected; NULL: a new account.
  account_id integer REFERENCES accounts (id) ON DELETE CASCADE,
  -- Who started it: only they may finish it.
  user_id integer REFERENCES users (id) ON DELETE CASCADE,
  code_verifier_enc text NOT NULL,
  created_at timestamptz NOT NULL
);
