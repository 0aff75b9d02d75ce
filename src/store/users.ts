import type { Queryable } from "./db.ts";
import type { Role } from "../domain/roles.ts";

/** A person who can log in to the admin. The password hash never leaves the store layer. */
export interface UserRow {
  id: number;
  email: string;
  role: Role;
  createdAt: Date;
  /** Null: the user may log in. */
  disabledAt: Date | null;
  /** Whether a second factor (TOTP) is asked at their login. */
  totpEnabled: boolean;
}

const COLUMNS = "id, email, role, created_at, disabled_at, totp_enabled_at IS NOT NULL AS totp_on";

function toRow(r: Record<string, unknown>): UserRow {
  return {
    id: r.id as number,
    email: r.email as string,
    role: r.role as Role,
    createdAt: r.created_at as Date,
    disabledAt: (r.disabled_at as Date | null) ?? null,
    totpEnabled: r.totp_on === true,
  };
}

/**
 * Creates a user; the e-mail is stored lower-cased. Fails when the e-mail is taken. Without a
 * role the user is an admin (the first user, and users made before roles existed).
 */
export async function createUser(
  q: Queryable,
  email: string,
  passwordHash: string,
  at: Date,
  role: Role = "admin",
): Promise<UserRow> {
  const [r] = await q.query(
    `INSERT INTO users (email, password_hash, created_at, role)
     VALUES (lower($1), $2, $3::timestamptz, $4)
     RETURNING ${COLUMNS}`,
    [email.trim(), passwordHash, at.toISOString(), role],
  );
  return toRow(r);
}

/** A user who may log in, and their password hash, for checking a login; null when disabled. */
export async function findUserForLogin(
  q: Queryable,
  email: string,
): Promise<{ id: number; email: string; passwordHash: string } | null> {
  const [r] = await q.query<{ id: number; email: string; password_hash: string }>(
    "SELECT id, email, password_hash FROM users WHERE email = lower($1) AND disabled_at IS NULL",
    [email.trim()],
  );
  return r ? { id: r.id, email: r.email, passwordHash: r.password_hash } : null;
}

/** A user's password hash, to check the current password before a change. */
export async function passwordHashOf(q: Queryable, id: number): Promise<string | null> {
  const [r] = await q.query<{ password_hash: string }>(
    "SELECT password_hash FROM users WHERE id = $1",
    [id],
  );
  return r?.password_hash ?? null;
}

/** How many users exist (none: the first start prints how to create one). */
export async function countUsers(q: Queryable): Promise<number> {
  const [r] = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM users");
  return r.n;
}

/** Every user, by e-mail. */
export async function listUsers(q: Queryable): Promise<UserRow[]> {
  return (await q.query(`SELECT ${COLUMNS} FROM users ORDER BY email`)).map(toRow);
}

/** One user by id, or by e-mail (any case), locked for update inside a transaction. */
export async function lockUser(q: Queryable, key: number | string): Promise<UserRow | null> {
  const [r] = typeof key === "number"
    ? await q.query(`SELECT ${COLUMNS} FROM users WHERE id = $1 FOR UPDATE`, [key])
    : await q.query(`SELECT ${COLUMNS} FROM users WHERE email = lower($1) FOR UPDATE`, [
      key.trim(),
    ]);
  return r ? toRow(r) : null;
}

/**
 * Locks every active admin row and says how many there are: the check that the last one is
 * not removed, disabled or demoted holds against changes made at the same moment.
 */
export async function lockActiveAdmins(q: Queryable): Promise<number> {
  const rows = await q.query(
    "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL FOR UPDATE",
  );
  return rows.length;
}

/** Sets a user's role and whether they are disabled (`disabledAt` null: enabled). */
export async function updateUser(
  q: Queryable,
  id: number,
  change: { role: Role; disabledAt: Date | null },
): Promise<UserRow> {
  const [r] = await q.query(
    `UPDATE users SET role = $2, disabled_at = $3::timestamptz WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, change.role, change.disabledAt?.toISOString() ?? null],
  );
  return toRow(r);
}

/** Replaces a user's password hash. */
export async function setPasswordHash(q: Queryable, id: number, hash: string): Promise<void> {
  await q.query("UPDATE users SET password_hash = $2 WHERE id = $1", [id, hash]);
}

/** Removes a user (their sessions go with them). */
export async function deleteUser(q: Queryable, id: number): Promise<void> {
  await q.query("DELETE FROM users WHERE id = $1", [id]);
}
