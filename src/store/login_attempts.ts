/**
 * Attempts at the login form and the setup link. Logins are counted in place
 * (`login_counters`: one row per e-mail and one per client address, checked and counted by one
 * statement); the setup link keeps one row per attempt in `login_attempts`, pruned to its window.
 */
import type { Queryable } from "./db.ts";
import { loginDelayMs, type LoginLimit, MAX_DOUBLINGS } from "../domain/login_delay.ts";

/**
 * The e-mail under which attempts at the setup link are kept (routes/setup.tsx). It is no
 * address, so no login matches it; its count is every setup attempt, and the per-address count
 * of `recentFailures` takes them in with the failed logins.
 */
export const SETUP_ATTEMPTS = "(setup)";

/** Records one setup attempt. */
export async function recordLoginAttempt(
  q: Queryable,
  a: { email: string; ip: string; success: boolean; at: Date },
): Promise<void> {
  await q.query(
    `INSERT INTO login_attempts (at, email, ip, success) VALUES ($1::timestamptz, lower($2), $3, $4)`,
    [a.at.toISOString(), a.email.trim().slice(0, 320), a.ip.slice(0, 100), a.success],
  );
}

/** Failed attempts since `since` under this e-mail and from this address. */
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

/** The counter key of an e-mail (as typed, lower-cased) or of a client address. */
export function loginKey(kind: "email" | "ip", value: string): string {
  return kind === "email"
    ? `email:${value.trim().toLowerCase().slice(0, 320)}`
    : `ip:${value.slice(0, 100)}`;
}

/** What `takeLoginCheck` decided: check this attempt, or wait `retryAfterMs` first. */
export type LoginCheck = { taken: true; failures: number } | { taken: false; retryAfterMs: number };

/**
 * Takes the right to check one attempt under `key`, counting it as a failure until
 * `loginSucceeded` says otherwise. One statement decides and counts, so parallel attempts
 * cannot pass the limit: the counter's row lock orders them. Refused (too soon after the last
 * checked failure, past the limit: `loginDelayMs`), it writes nothing. A counter quiet for a
 * whole window starts again from zero.
 */
export async function takeLoginCheck(
  q: Queryable,
  key: string,
  o: { at: Date; windowMs: number; limit: LoginLimit },
): Promise<LoginCheck> {
  const rows = await q.query<{ failures: number }>(
    `INSERT INTO login_counters AS c (key, failures, last_at) VALUES ($1, 1, $2::timestamptz)
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN c.last_at <= $2::timestamptz - $3::int * interval '1 millisecond'
                  THEN 1 ELSE c.failures + 1 END,
       last_at = $2::timestamptz
     WHERE c.last_at <= $2::timestamptz - $3::int * interval '1 millisecond'
        OR c.failures < $4::int
        OR c.last_at <= $2::timestamptz - least(
             power(2::float8, least(c.failures - $4::int, $6::int)) * 1000, $5::float8
           ) * interval '1 millisecond'
     RETURNING failures`,
    [key, o.at.toISOString(), o.windowMs, o.limit.free, o.limit.maxDelayMs, MAX_DOUBLINGS],
  );
  if (rows.length === 1) return { taken: true, failures: Number(rows[0].failures) };
  const [row] = await q.query<{ failures: number; last_at: Date | string }>(
    "SELECT failures, last_at FROM login_counters WHERE key = $1",
    [key],
  );
  const last = row ? new Date(row.last_at).getTime() : o.at.getTime();
  const wait = last + loginDelayMs(row ? Number(row.failures) : 0, o.limit) - o.at.getTime();
  return { taken: false, retryAfterMs: Math.max(wait, 1000) };
}

/** Forgets a counter: the e-mail's, once its password was right. */
export async function forgetLoginCounter(q: Queryable, key: string): Promise<void> {
  await q.query("DELETE FROM login_counters WHERE key = $1", [key]);
}

/** Gives back the failure `takeLoginCheck` counted in advance for an attempt that succeeded. */
export async function giveBackLoginFailure(q: Queryable, key: string): Promise<void> {
  await q.query(
    "UPDATE login_counters SET failures = greatest(failures - 1, 0) WHERE key = $1",
    [key],
  );
}

/** Forgets the counters whose last checked attempt is older than `before` (they count from 0). */
export async function pruneLoginCounters(q: Queryable, before: Date): Promise<void> {
  await q.query("DELETE FROM login_counters WHERE last_at < $1::timestamptz", [
    before.toISOString(),
  ]);
}
