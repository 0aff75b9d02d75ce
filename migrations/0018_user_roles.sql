-- What each person may do in the admin (src/domain/roles.ts): `admin` everything, `operator`
-- the daily work (outbox, rules, exceptions, breakers, corrections), `viewer` read only. Users
-- made before roles existed were all full admins and stay so. A disabled user cannot log in and
-- their sessions end.
ALTER TABLE users
  ADD COLUMN role text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'operator', 'viewer')),
  ADD COLUMN disabled_at timestamptz;
