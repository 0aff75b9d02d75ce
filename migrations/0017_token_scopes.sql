-- What an API token may do (src/domain/token_access.ts) and until when. Tokens made before
-- scopes keep everything they could do; NULL expiry: the token lasts until it is revoked.
ALTER TABLE api_tokens
  ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['read', 'write', 'metrics']
    CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'metrics']),
  ADD COLUMN expires_at timestamptz;
