-- The messages without a decision (reply status "undecided" in the message list), in the list's
-- order. They are few (those not parsed yet or that failed to parse, and the rare parsed one left
-- without a decision), but no index on `messages` can find them: the absence of a `decisions` row
-- is not a column. The list walked the date index and probed `decisions` for every row instead,
-- which read every message older than the newest undecided one (10.6 s for "pedido" + undecided
-- at 1,000,000 messages). Triggers keep this table: a message enters it when stored and leaves it
-- when its decision is written; a decision removed without its message puts it back. Statement
-- triggers, so that a batch of messages or decisions costs one statement more, not one a row.
CREATE TABLE undecided_messages (
  message_id bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  -- messages.received_at, which does not change once stored.
  received_at timestamptz NOT NULL
);
CREATE INDEX undecided_messages_received ON undecided_messages (received_at DESC, message_id DESC);

INSERT INTO undecided_messages (message_id, received_at)
SELECT m.id, m.received_at FROM messages m
WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.message_id = m.id);

CREATE FUNCTION undecided_messages_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A message just stored has no decision yet: its decision's key refers to it.
  INSERT INTO undecided_messages (message_id, received_at) SELECT n.id, n.received_at FROM stored n;
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_undecided AFTER INSERT ON messages
  REFERENCING NEW TABLE AS stored FOR EACH STATEMENT EXECUTE FUNCTION undecided_messages_stored();

CREATE FUNCTION undecided_messages_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- By the keys (= ANY of an array): the planner knows nothing of a transition table's size and
  -- could otherwise read the whole table for a few rows.
  DELETE FROM undecided_messages
  WHERE message_id = ANY (ARRAY(SELECT n.message_id FROM decided n));
  RETURN NULL;
END
$$;
CREATE TRIGGER decisions_undecided AFTER INSERT ON decisions
  REFERENCING NEW TABLE AS decided FOR EACH STATEMENT EXECUTE FUNCTION undecided_messages_decided();

-- A decision deleted with its message (ON DELETE CASCADE) finds no message here: nothing returns.
CREATE FUNCTION undecided_messages_undone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO undecided_messages (message_id, received_at)
  SELECT m.id, m.received_at FROM messages m
  WHERE m.id = ANY (ARRAY(SELECT o.message_id FROM undone o))
  ON CONFLICT (message_id) DO NOTHING;
  RETURN NULL;
END
$$;
CREATE TRIGGER decisions_undone AFTER DELETE ON decisions
  REFERENCING OLD TABLE AS undone FOR EACH STATEMENT EXECUTE FUNCTION undecided_messages_undone();
