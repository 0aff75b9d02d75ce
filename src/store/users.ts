import type { Queryable } from "./db.ts";

/** A person who can log in to the admin. The password hash never leaves the store layer. */
export interface UserRow {
  id: number;
  email: string;
  createdAt: Date;
}

/** Creates a user; the e-mail is stored lower-cased. Fails when the e-mail is taken. */
export async function createUser(
  q: Queryable,
  email: string,
  passwordHash: string,
  at: Date,
): Promise<UserRow> {
  const [r] = await q.query<{ id: number; email: string; created_at: Date }>(
    `INSERT INTO users (email, password_hash, created_at) VALUES (lower($1), $2, $3::timestamptz)
     RETURNING id, email, created_at`,
    [email.trim(), passwordHash, at.toISOString()],
  );
  return { id: r.id, email: r.email, createdAt: r.created_at };
}

/** A user and their password hash, for checking a login. */
export async function findUserForLogin(
  q: Queryable,
  email: string,
): Promise<{ id: number; email: string; passwordHash: string } | null> {
  const [r] = await q.query<{ id: number; email: string; password_hash: string }>(
    "SELECT id, email, password_hash FROM users WHERE email = lower($1)",
    [email.trim()],
  );
  return r ? { id: r.id, email: r.email, passwordHash: r.password_hash } : null;
}

/** How many users exist (none: the first start prints how to create one). */
export async function countUsers(q: Queryable): Promise<number> {
  const [r] = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM users");
  return r.n;
}
