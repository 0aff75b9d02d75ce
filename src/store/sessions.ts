import type { Queryable } from "./db.ts";
import type { Role } from "../domain/roles.ts";

/** A live session, found by the hash of its cookie value. */
export interface SessionRow {
  userId: number;
  email: string;
  role: Role;
  csrfToken: string;
  expiresAt: Date;
}

/** Stores a new session under the SHA-256 of its cookie value. */
export async function createSession(
  q: Queryable,
  s: { tokenHash: string; userId: number; csrfToken: string; at: Date; expiresAt: Date },
): Promise<void> {
  await q.query(
    `INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
     VALUES ($1, $2, $3, $4::timestamptz, $4::timestamptz, $5::timestamptz)`,
    [s.tokenHash, s.userId, s.csrfToken, s.at.toISOString(), s.expiresAt.toISOString()],
  );
}

/**
 * The session for a cookie hash, if it has not expired and was used within `idleMs`. Using it
 * moves its idle clock; the absolute expiry never moves.
 */
export async function findSession(
  q: Queryable,
  tokenHash: string,
  at: Date,
  idleMs: number,
): Promise<SessionRow | null> {
  const [r] = await q.query<
    { user_id: number; email: string; role: Role; csrf_token: string; expires_at: Date }
  >(
    `UPDATE sessions s SET last_seen_at = $2::timestamptz
     FROM users u
     WHERE s.token_hash = $1 AND u.id = s.user_id AND s.expires_at > $2::timestamptz
       AND s.last_seen_at > $3::timestamptz AND u.disabled_at IS NULL
     RETURNING s.user_id, u.email, u.role, s.csrf_token, s.expires_at`,
    [tokenHash, at.toISOString(), new Date(at.getTime() - idleMs).toISOString()],
  );
  return r
    ? {
      userId: r.user_id,
      email: r.email,
      role: r.role,
      csrfToken: r.csrf_token,
      expiresAt: r.expires_at,
    }
    : null;
}

/** Ends a session (logout): the cookie stops working at once. */
export async function deleteSession(q: Queryable, tokenHash: string): Promise<void> {
  await q.query("DELETE FROM sessions WHERE token_hash = $1", [tokenHash]);
}

/** Ends every session of a user but the one named (null: all of them); returns how many. */
export async function deleteSessionsOf(
  q: Queryable,
  userId: number,
  keepTokenHash: string | null,
): Promise<number> {
  const rows = await q.query(
    "DELETE FROM sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2 RETURNING 1",
    [userId, keepTokenHash],
  );
  return rows.length;
}

/** Removes expired sessions; returns how many. */
export async function deleteExpiredSessions(q: Queryable, at: Date): Promise<number> {
  const rows = await q.query(
    "DELETE FROM sessions WHERE expires_at <= $1::timestamptz RETURNING 1",
    [
      at.toISOString(),
    ],
  );
  return rows.length;
}
