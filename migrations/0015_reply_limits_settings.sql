-- Loop breakers a person can see and reset. Each gets an id (the admin, the API and the CLI name
-- it) and the time it closes by itself, fixed when it tripped by the cool-down then in force;
-- NULL: only a person resets it (deletes the row). Breakers that tripped before this had the
-- default cool-down, one hour.
ALTER TABLE reply_breakers ADD COLUMN id bigserial;
ALTER TABLE reply_breakers ADD COLUMN open_until timestamptz;
UPDATE reply_breakers SET open_until = tripped_at + interval '1 hour';
CREATE UNIQUE INDEX reply_breakers_id ON reply_breakers (id);

-- An account's reply settings (src/domain/account_settings.ts), apart from how it is reached:
-- the zone of its schedules and dates (NULL: the server's), its receiving servers'
-- authserv-ids (RFC 8601), the SPF/DMARC and spam checks, who may forward mail to be answered
-- to its author (NULL: its own domain) and its rate limits over the defaults (NULL: the defaults).
ALTER TABLE accounts ADD COLUMN reply_time_zone text;
ALTER TABLE accounts ADD COLUMN reply_authserv_ids jsonb NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN reply_check_auth boolean NOT NULL DEFAULT true;
ALTER TABLE accounts ADD COLUMN reply_check_spam boolean NOT NULL DEFAULT true;
ALTER TABLE accounts ADD COLUMN reply_trusted_forwarders jsonb;
ALTER TABLE accounts ADD COLUMN reply_limits jsonb;
