-- Exceptions: addresses, address globs and domains Carteiro never answers, whatever the rules
-- say (src/domain/auto_reply_guard.ts, reason `never_answer`). An entry with no account applies
-- to every account. Patterns are stored lower-cased (src/domain/never_answer.ts).
CREATE TABLE never_answer (
  id serial PRIMARY KEY,
  account_id integer REFERENCES accounts (id) ON DELETE CASCADE,
  pattern text NOT NULL CHECK (pattern = lower(pattern) AND length(pattern) BETWEEN 1 AND 320),
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);

-- One entry per pattern and account; 0 stands for "every account", which NULL cannot be in a
-- unique index.
CREATE UNIQUE INDEX never_answer_pattern ON never_answer (COALESCE(account_id, 0), lower(pattern));
