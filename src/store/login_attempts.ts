import type { Queryable } from "./db.ts";

/**
 * The e-mail under which attempts at the setup link are kept (routes/setup.tsx). It is no
 * address, so no login matches it; its count is every setup attempt, and the per-address count
 * of `recentFailures` takes them in with the failed logins.
 */
export const SETUP_ATTEMPTS = "(setup)";

/** Records one login attempt (the e-mail as typed, lower-cased). */
export async function recordLoginAttempt(
  q: Queryable,
  a: { email: string; ip: string; success: boolean; at: Date },
): Promise<void> {
  await q.query(
    `INSERT INTO login_attempts (at, email, ip, success) VALUES ($1::timestamptz, lower($2), $3, $4)`,
    [a.at.toISOString(), a.email.trim().slice(0, 320), a.ip.slice(0, 100), a.success],
  );
}

/** Failed attempts since `since` for this e-mail and from this address. */
export async function recentFailures(
  q: Queryable,
  email: string,
  ip: string,
  since: Date,
): Promise<{ byEmail: number; byIp: number }> {
  const [r] = await q.query<{ by_email: number; by_ip: number }>(
    `SELECT
       (SELECT count(*)::int FROM login_attempts
        WHERE email = lower($1) AND at > $3::timestamptz AND NOT success) AS by_email,
       (SELECT count(*)::int FROM login_attempts
        WHERE ip = $2 AND at > $3::timestamptz AND NOT success) AS by_ip`,
    [email.trim().slice(0, 320), ip.slice(0, 100), since.toISOString()],
  );
  return { byEmail: r.by_email, byIp: r.by_ip };
}

/** Forgets attempts older than `before`. */
export async function pruneLoginAttempts(q: Queryable, before: Date): Promise<void> {
  await q.query("DELETE FROM login_attempts WHERE at < $1::timestamptz", [before.toISOString()]);
}

/** Forgets the attempts under one e-mail older than `before` (the `(email, at)` index). */
export async function pruneAttemptsOf(q: Queryable, email: string, before: Date): Promise<void> {
  await q.query("DELETE FROM login_attempts WHERE email = lower($1) AND at < $2::timestamptz", [
    email.trim().slice(0, 320),
    before.toISOString(),
  ]);
}
