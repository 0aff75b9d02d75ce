import type { Queryable } from "./db.ts";
import type { TokenScope } from "../domain/token_access.ts";

/** An API token as listed: never its value, which is shown once at creation. */
export interface ApiTokenRow {
  id: number;
  name: string;
  scopes: TokenScope[];
  createdAt: Date;
  /** Null: the token lasts until it is revoked. */
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const COLUMNS = "id, name, scopes, created_at, expires_at, last_used_at, revoked_at";

function toRow(r: Record<string, unknown>): ApiTokenRow {
  return {
    id: r.id as number,
    name: r.name as string,
    scopes: r.scopes as TokenScope[],
    createdAt: r.created_at as Date,
    expiresAt: (r.expires_at as Date | null) ?? null,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
    revokedAt: (r.revoked_at as Date | null) ?? null,
  };
}

/** What a new token is stored with. */
export interface NewApiToken {
  name: string;
  tokenHash: string;
  scopes: readonly TokenScope[];
  expiresAt: Date | null;
}

/** Stores a token under its hash; fails when the name is taken. */
export async function createApiToken(
  q: Queryable,
  token: NewApiToken,
  at: Date,
): Promise<ApiTokenRow> {
  const [r] = await q.query(
    `INSERT INTO api_tokens (name, token_hash, scopes, expires_at, created_at)
     VALUES ($1, $2, string_to_array($3, ','), $4::timestamptz, $5::timestamptz)
     RETURNING ${COLUMNS}`,
    [
      token.name,
      token.tokenHash,
      token.scopes.join(","),
      token.expiresAt?.toISOString() ?? null,
      at.toISOString(),
    ],
  );
  return toRow(r);
}

/** The token with this hash, live or not; null when there is none. */
export async function findApiToken(q: Queryable, tokenHash: string): Promise<ApiTokenRow | null> {
  const [r] = await q.query(`SELECT ${COLUMNS} FROM api_tokens WHERE token_hash = $1`, [
    tokenHash,
  ]);
  return r ? toRow(r) : null;
}

/** Records that token `id` was just accepted. */
export async function markApiTokenUsed(q: Queryable, id: number, at: Date): Promise<void> {
  await q.query("UPDATE api_tokens SET last_used_at = $2::timestamptz WHERE id = $1", [
    id,
    at.toISOString(),
  ]);
}

/** Every token, newest first. */
export async function listApiTokens(q: Queryable): Promise<ApiTokenRow[]> {
  return (await q.query(`SELECT ${COLUMNS} FROM api_tokens ORDER BY id DESC`)).map(toRow);
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
