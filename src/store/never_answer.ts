/**
 * The never-answer list: patterns Carteiro never answers, for every account (`account_id` NULL)
 * or for one. Validation is src/domain/never_answer.ts; the actions are src/actions/never_answer.ts.
 */
import type { Queryable } from "./db.ts";

/** One entry as listed, with its account's name (null: every account). */
export interface NeverAnswerRow {
  id: number;
  accountId: number | null;
  accountName: string | null;
  pattern: string;
  createdAt: Date;
  createdBy: string;
}

const COLUMNS = `n.id, n.account_id, a.name AS account_name, n.pattern, n.created_at, n.created_by`;

function toRow(r: Record<string, unknown>): NeverAnswerRow {
  return {
    id: Number(r.id),
    accountId: r.account_id === null || r.account_id === undefined ? null : Number(r.account_id),
    accountName: (r.account_name as string | null) ?? null,
    pattern: r.pattern as string,
    createdAt: r.created_at as Date,
    createdBy: r.created_by as string,
  };
}

/** An entry as the API and the CLI print it. */
export function neverAnswerJson(r: NeverAnswerRow) {
  return {
    id: r.id,
    pattern: r.pattern,
    account_id: r.accountId,
    account: r.accountName,
    created_at: r.createdAt.toISOString(),
    created_by: r.createdBy,
  };
}

/** Entry `id`, or null. */
export async function getNeverAnswer(q: Queryable, id: number): Promise<NeverAnswerRow | null> {
  const [r] = await q.query(
    `SELECT ${COLUMNS} FROM never_answer n LEFT JOIN accounts a ON a.id = n.account_id
     WHERE n.id = $1`,
    [id],
  );
  return r ? toRow(r) : null;
}

/**
 * The entries, global ones first then by account name and pattern. `accountId`: only that
 * account's own entries; `null`: only the global ones; omitted: all.
 */
export async function listNeverAnswer(
  q: Queryable,
  accountId?: number | null,
): Promise<NeverAnswerRow[]> {
  const filter = accountId === undefined
    ? ""
    : accountId === null
    ? "WHERE n.account_id IS NULL"
    : "WHERE n.account_id = $1";
  return (await q.query(
    `SELECT ${COLUMNS} FROM never_answer n LEFT JOIN accounts a ON a.id = n.account_id
     ${filter} ORDER BY n.account_id IS NOT NULL, a.name, n.pattern, n.id`,
    typeof accountId === "number" ? [accountId] : [],
  )).map(toRow);
}

/** Adds an entry; fails with a unique violation when the pattern is listed there already. */
export async function insertNeverAnswer(
  q: Queryable,
  entry: { accountId: number | null; pattern: string; by: string },
  at: Date,
): Promise<number> {
  const [r] = await q.query<{ id: number }>(
    `INSERT INTO never_answer (account_id, pattern, created_at, created_by)
     VALUES ($1, $2, $3::timestamptz, $4) RETURNING id`,
    [entry.accountId, entry.pattern, at.toISOString(), entry.by],
  );
  return Number(r.id);
}

/** Removes entry `id`; returns what it was, or null when there was none. */
export async function deleteNeverAnswer(
  q: Queryable,
  id: number,
): Promise<{ accountId: number | null; pattern: string } | null> {
  const [r] = await q.query<{ account_id: number | null; pattern: string }>(
    "DELETE FROM never_answer WHERE id = $1 RETURNING account_id, pattern",
    [id],
  );
  return r
    ? { accountId: r.account_id === null ? null : Number(r.account_id), pattern: r.pattern }
    : null;
}

/** The patterns that apply to account `accountId`: the global ones and its own, in one query. */
export async function neverAnswerFor(q: Queryable, accountId: number): Promise<string[]> {
  return (await q.query<{ pattern: string }>(
    `SELECT DISTINCT pattern FROM never_answer
     WHERE account_id IS NULL OR account_id = $1 ORDER BY pattern`,
    [accountId],
  )).map((r) => r.pattern);
}
