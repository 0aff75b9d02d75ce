-- Raw sources are mostly base64 and quoted-printable text, and bodies and headers are long text:
-- pglz spends a lot of CPU on them for little gain, lz4 compresses them several times faster. A
-- server built without lz4 (the embedded PGlite among them) keeps the default.
DO $$
BEGIN
  ALTER TABLE messages
    ALTER COLUMN raw SET COMPRESSION lz4,
    ALTER COLUMN text_body SET COMPRESSION lz4,
    ALTER COLUMN html_body SET COMPRESSION lz4,
    ALTER COLUMN headers SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;
