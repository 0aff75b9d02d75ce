/**
 * The second factor's rows: a user's encrypted TOTP secret and last accepted time-step, their
 * recovery codes (SHA-256 only, each used once), and pending logins (a password checked, the
 * code not yet).
 */
import type { Queryable } from "./db.ts";

/** A user's second factor: the encrypted secret (null: none), and whether it is asked at login. */
export interface TotpState {
  userId: number;
  email: string;
  secret: string | null;
  enabledAt: Date | null;
  lastStep: number;
}

/** The TOTP state of a user, locked for update inside a transaction. */
export async function lockTotp(q: Queryable, userId: number): Promise<TotpState | null> {
  const [r] = await q.query<
    {
      id: number;
      email: string;
      totp_secret: string | null;
      totp_enabled_at: Date | null;
      totp_last_step: number | string;
    }
  >(
    `SELECT id, email, totp_secret, totp_enabled_at, totp_last_step FROM users
     WHERE id = $1 FOR UPDATE`,
    [userId],
  );
  return r
    ? {
      userId: r.id,
      email: r.email,
      secret: r.totp_secret,
      enabledAt: r.totp_enabled_at ?? null,
      lastStep: Number(r.totp_last_step),
    }
    : null;
}

/** Whether a user must give a second factor at login. */
export async function totpEnabled(q: Queryable, userId: number): Promise<boolean> {
  const [r] = await q.query<{ on: boolean }>(
    "SELECT totp_enabled_at IS NOT NULL AS on FROM users WHERE id = $1",
    [userId],
  );
  return r?.on === true;
}

/** Stores a secret being set up (not asked at login until `enableTotp`). */
export async function setPendingTotp(q: Queryable, userId: number, secret: string): Promise<void> {
  await q.query(
    "UPDATE users SET totp_secret = $2, totp_enabled_at = NULL, totp_last_step = 0 WHERE id = $1",
    [userId, secret],
  );
}

/** Turns the stored secret on, with the step of the code that confirmed it as used. */
export async function enableTotp(
  q: Queryable,
  userId: number,
  at: Date,
  step: number,
): Promise<void> {
  await q.query(
    "UPDATE users SET totp_enabled_at = $2::timestamptz, totp_last_step = $3 WHERE id = $1",
    [userId, at.toISOString(), step],
  );
}

/** Records the time-step of a code just accepted. */
export async function useTotpStep(q: Queryable, userId: number, step: number): Promise<void> {
  await q.query("UPDATE users SET totp_last_step = $2 WHERE id = $1", [userId, step]);
}

/** Forgets a user's secret and recovery codes; true when a second factor was on. */
export async function clearTotp(q: Queryable, userId: number): Promise<boolean> {
  const [r] = await q.query<{ was_on: boolean }>(
    `UPDATE users u SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0
     FROM (SELECT id, totp_enabled_at IS NOT NULL AS was_on FROM users WHERE id = $1) old
     WHERE u.id = old.id RETURNING old.was_on`,
    [userId],
  );
  await q.query("DELETE FROM recovery_codes WHERE user_id = $1", [userId]);
  return r?.was_on === true;
}

/** Replaces a user's recovery codes by these hashes. */
export async function replaceRecoveryCodes(
  q: Queryable,
  userId: number,
  hashes: string[],
): Promise<void> {
  await q.query("DELETE FROM recovery_codes WHERE user_id = $1", [userId]);
  for (const h of hashes) {
    await q.query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)", [userId, h]);
  }
}

/** Marks an unused recovery code used; true when it was one (a code works once). */
export async function useRecoveryCode(
  q: Queryable,
  userId: number,
  hash: string,
  at: Date,
): Promise<boolean> {
  const rows = await q.query(
    `UPDATE recovery_codes SET used_at = $3::timestamptz
     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING 1`,
    [userId, hash, at.toISOString()],
  );
  return rows.length === 1;
}

/** How many of a user's recovery codes are still unused. */
export async function unusedRecoveryCodes(q: Queryable, userId: number): Promise<number> {
  const [r] = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    [userId],
  );
  return r.n;
}

/** A pending login: whose password was right, and where to go after the code. */
export interface PendingLogin {
  userId: number;
  email: string;
  next: string;
}

/** Stores a pending login under the hash of its cookie value; expired ones go. */
export async function createPendingLogin(
  q: Queryable,
  p: { tokenHash: string; userId: number; next: string; at: Date; expiresAt: Date },
): Promise<void> {
  await q.query("DELETE FROM pending_logins WHERE expires_at <= $1::timestamptz", [
    p.at.toISOString(),
  ]);
  await q.query(
    `INSERT INTO pending_logins (token_hash, user_id, next_path, expires_at)
     VALUES ($1, $2, $3, $4::timestamptz)`,
    [p.tokenHash, p.userId, p.next, p.expiresAt.toISOString()],
  );
}

/** The live pending login of a cookie hash (its user still enabled), or null. */
export async function findPendingLogin(
  q: Queryable,
  tokenHash: string,
  at: Date,
): Promise<PendingLogin | null> {
  const [r] = await q.query<{ user_id: number; email: string; next_path: string }>(
    `SELECT p.user_id, u.email, p.next_path FROM pending_logins p JOIN users u ON u.id = p.user_id
     WHERE p.token_hash = $1 AND p.expires_at > $2::timestamptz AND u.disabled_at IS NULL`,
    [tokenHash, at.toISOString()],
  );
  return r ? { userId: r.user_id, email: r.email, next: r.next_path } : null;
}

/** Ends a pending login (the code was right, or another login replaced it). */
export async function deletePendingLogin(q: Queryable, tokenHash: string): Promise<void> {
  await q.query("DELETE FROM pending_logins WHERE token_hash = $1", [tokenHash]);
}
