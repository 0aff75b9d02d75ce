import type { Queryable } from "./db.ts";

/** An API token as listed: never its value, which is shown once at creation. */
export interface ApiTokenRow {
  id: number;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

function toRow(r: Record<string, unknown>): ApiTokenRow {
  return {
    id: r.id as number,
    name: r.name as string,
    createdAt: r.created_at as Date,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
    revokedAt: (r.revoked_at as Date | null) ?? null,
  };
}

/** Stores a token under its hash; fails when the name is taken. */
export async function createApiToken(
  q: Queryable,
  name: string,
  tokenHash: string,
  at: Date,
): Promise<ApiTokenRow> {
  const [r] = await q.query(
    `INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3::timestamptz)
     RETURNING id, name, created_at, last_used_at, revoked_at`,
    [name, tokenHash, at.toISOString()],
  );
  return toRow(r);
}

/** The live (not revoked) token with this hash, marking it used. */
export async function useApiToken(
  q: Queryable,
  tokenHash: string,
  at: Date,
): Promise<ApiTokenRow | null> {
  const [r] = await q.query(
    `UPDATE api_tokens SET last_used_at = $2::timestamptz
     WHERE token_hash = $1 AND revoked_at IS NULL
     RETURNING id, name, created_at, last_used_at, revoked_at`,
    [tokenHash, at.toISOString()],
  );
  return r ? toRow(r) : null;
}

/** Every token, newest first. */
export async function listApiTokens(q: Queryable): Promise<ApiTokenRow[]> {
  return (await q.query(
    "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id DESC",
  )).map(toRow);
}

/** Revokes a token; returns whether a live token was revoked. */
export async function revokeApiToken(q: Queryable, id: number, at: Date): Promise<boolean> {
  const rows = await q.query(
    `UPDATE api_tokens SET revoked_at = $2::timestamptz WHERE id = $1 AND revoked_at IS NULL
     RETURNING 1 AS ok`,
    [id, at.toISOString()],
  );
  return rows.length > 0;
}
