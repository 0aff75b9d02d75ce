-- The full-text vectors move out of `messages` into a table of their own. A search for a
-- word with many matches far from the newest mail reads every match from the heap before it knows
-- the newest ones: in `messages` (about 1.8 KB a row: raw source, bodies, headers) that was one
-- page per match (~100 ms for 30,000 matches at 1,000,000 messages). Here a row is the few columns
-- a search filters and orders on, and the vector stored out of line, which the GIN index answers
-- @@ without reading: ~70 rows a page, and 24 ms for that search.
CREATE TABLE message_search (
  -- messages.id; the row goes with its message (a trigger below, not a foreign key: the key's
  -- check would lock the message's row again as each row is written, a heap write a message).
  message_id bigint PRIMARY KEY,
  -- Copies of the message's columns of the same names, kept by the triggers below.
  received_at timestamptz NOT NULL,
  account_id integer,
  kind text,
  parse_status text NOT NULL,
  search tsvector NOT NULL,
  -- 2 KB of spaces, compressed to a few bytes in the row. PostgreSQL hands a row to its toaster
  -- only once it passes ~2 KB, whatever toast_tuple_target says, so a short message's vector
  -- (1.2 KB on average at 1,000,000 generated messages) stayed in its row: ~6 rows a page and
  -- 28–46 ms for the search above. With this, every row passes, the toaster compresses this and
  -- moves the vector (EXTERNAL: never compressed) out of line to reach the 128-byte target.
  pad text NOT NULL DEFAULT repeat(' ', 2048)
) WITH (toast_tuple_target = 128);
ALTER TABLE message_search ALTER COLUMN search SET STORAGE EXTERNAL;
-- No statistics on the vectors: the planner then estimates every word as rare and reads its
-- matches by the GIN index, which suits the words a search reads this way (few matches in recent
-- mail; src/store/message_list.ts), whatever the planner would guess of them.
ALTER TABLE message_search ALTER COLUMN search SET STATISTICS 0;
ALTER TABLE message_search ALTER COLUMN pad SET STATISTICS 0;

-- What migrations/0003_admin.sql computed as the generated column `messages.search`: subject,
-- addresses and text, in Portuguese and in English; bodies cut at 100,000 characters.
CREATE FUNCTION message_search_vector(m messages) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT
    setweight(to_tsvector('portuguese'::regconfig, COALESCE(m.subject, '') || ' ' || COALESCE(m.original_subject, '')), 'A') ||
    setweight(to_tsvector('english'::regconfig, COALESCE(m.subject, '') || ' ' || COALESCE(m.original_subject, '')), 'A') ||
    setweight(to_tsvector('portuguese'::regconfig,
      COALESCE(m.from_address, '') || ' ' || COALESCE(m.from_name, '') || ' ' ||
      COALESCE(m.original_from_address, '') || ' ' || COALESCE(m.original_from_name, '') || ' ' ||
      COALESCE(jsonb_path_query_array(m.to_addresses, '$[*].*')::text, '') || ' ' ||
      COALESCE(jsonb_path_query_array(m.cc_addresses, '$[*].*')::text, '')), 'B') ||
    setweight(to_tsvector('english'::regconfig,
      COALESCE(m.from_address, '') || ' ' || COALESCE(m.from_name, '') || ' ' ||
      COALESCE(m.original_from_address, '') || ' ' || COALESCE(m.original_from_name, '') || ' ' ||
      COALESCE(jsonb_path_query_array(m.to_addresses, '$[*].*')::text, '') || ' ' ||
      COALESCE(jsonb_path_query_array(m.cc_addresses, '$[*].*')::text, '')), 'B') ||
    setweight(to_tsvector('portuguese'::regconfig, left(COALESCE(m.text_body, ''), 100000)), 'C') ||
    setweight(to_tsvector('english'::regconfig, left(COALESCE(m.text_body, ''), 100000)), 'C')
$$;

INSERT INTO message_search (message_id, received_at, account_id, kind, parse_status, search)
SELECT m.id, m.received_at, m.account_id, m.kind, m.parse_status, m.search
FROM messages m WHERE length(m.search) > 0;

ALTER TABLE messages DROP COLUMN search;
CREATE INDEX message_search_search ON message_search USING gin (search);

-- A message has a row once it has words to find: none while it waits to be parsed, none if it
-- failed to parse, so a search finds only messages whose text was read (the list's "unparsed"
-- filter shows the others). A change to what the vector reads computes it again; a change to the
-- copied columns alone (a kind corrected by hand, an account deleted) copies them without it.
CREATE FUNCTION message_search_kept() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v tsvector;
BEGIN
  IF TG_OP = 'UPDATE' AND (OLD.subject, OLD.original_subject, OLD.from_address, OLD.from_name,
      OLD.original_from_address, OLD.original_from_name, OLD.to_addresses, OLD.cc_addresses,
      OLD.text_body) IS NOT DISTINCT FROM (NEW.subject, NEW.original_subject, NEW.from_address,
      NEW.from_name, NEW.original_from_address, NEW.original_from_name, NEW.to_addresses,
      NEW.cc_addresses, NEW.text_body) THEN
    UPDATE message_search SET received_at = NEW.received_at, account_id = NEW.account_id,
      kind = NEW.kind, parse_status = NEW.parse_status
    WHERE message_id = NEW.id;
    IF FOUND THEN
      RETURN NULL;
    END IF;
  END IF;
  v := message_search_vector(NEW);
  IF length(v) = 0 THEN
    DELETE FROM message_search WHERE message_id = NEW.id;
    RETURN NULL;
  END IF;
  INSERT INTO message_search (message_id, received_at, account_id, kind, parse_status, search)
  VALUES (NEW.id, NEW.received_at, NEW.account_id, NEW.kind, NEW.parse_status, v)
  ON CONFLICT (message_id) DO UPDATE SET received_at = excluded.received_at,
    account_id = excluded.account_id, kind = excluded.kind, parse_status = excluded.parse_status,
    search = excluded.search;
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_search_stored AFTER INSERT ON messages
  FOR EACH ROW WHEN (NEW.parse_status <> 'pending') EXECUTE FUNCTION message_search_kept();
CREATE TRIGGER messages_search_changed AFTER UPDATE OF parse_status, account_id, kind,
  internal_date, collected_at, subject, original_subject, from_address, from_name,
  original_from_address, original_from_name, to_addresses, cc_addresses, text_body ON messages
  FOR EACH ROW EXECUTE FUNCTION message_search_kept();

CREATE FUNCTION message_search_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM message_search WHERE message_id = ANY (ARRAY(SELECT g.id FROM gone g));
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_search_gone AFTER DELETE ON messages
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION message_search_gone();
