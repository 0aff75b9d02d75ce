-- What is done to a message on the server once it is processed, per account, and where each
-- message stands; and the configured mailboxes the server does not have.

-- 'keep': leave it as it is (as before); 'seen': set \Seen; 'move': move it to after_folder.
ALTER TABLE accounts ADD COLUMN after_processing text NOT NULL DEFAULT 'keep'
  CHECK (after_processing IN ('keep', 'seen', 'move'));
ALTER TABLE accounts ADD COLUMN after_folder text;

-- NULL: nothing to do (collected while the account kept its mail as it is). 'pending': to do
-- once the message is committed and processed; 'failed': tried, to try again on the next run;
-- 'done': done, or nothing left to do (the message was already in the target folder).
ALTER TABLE messages ADD COLUMN after_state text
  CHECK (after_state IN ('pending', 'done', 'failed'));
-- What was (or is to be) done: 'seen' or 'move'; and the folder of a move.
ALTER TABLE messages ADD COLUMN after_action text;
ALTER TABLE messages ADD COLUMN after_folder text;
ALTER TABLE messages ADD COLUMN after_error text;
ALTER TABLE messages ADD COLUMN after_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN after_at timestamptz;

CREATE INDEX messages_after_due ON messages (account_id, mailbox, uid)
  WHERE after_state IN ('pending', 'failed');

-- A configured mailbox the server refused to open (missing, renamed, not selectable), from the
-- first run that found it so until the run that opens it again (src/store/mailbox_problems.ts).
CREATE TABLE mailbox_problems (
  account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  mailbox text NOT NULL,
  error text NOT NULL,
  since timestamptz NOT NULL,
  checked_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, mailbox)
);
