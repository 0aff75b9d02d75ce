/**
 * The loop breakers as people see them (the banner, `/metrics`, `stats`, the breakers page, the
 * API and the CLI) and their reset. The reply step trips them (src/store/outbox.ts).
 */
import type { Queryable } from "./db.ts";
import { camelRow } from "./row.ts";

/** A breaker that tripped: for its account (`recipient` null) or for one recipient. */
export interface BreakerRow {
  id: number;
  accountId: number;
  accountName: string;
  scope: "account" | "recipient";
  recipient: string | null;
  trippedAt: Date;
  /** When it closes by itself; null: when a person resets it. */
  openUntil: Date | null;
  detail: string;
  /** Still suppressing replies at the time asked. */
  open: boolean;
}

const COLUMNS = `b.id::int AS id, b.account_id, a.name AS account_name,
  CASE WHEN b.recipient = '' THEN 'account' ELSE 'recipient' END AS scope,
  NULLIF(b.recipient, '') AS recipient, b.tripped_at, b.open_until, b.detail,
  (b.open_until IS NULL OR b.open_until > $1::timestamptz) AS open`;

/**
 * The breakers on record at `at`, open first, newest first; `openOnly` leaves out the ones that
 * have cooled down (they stay on record until reset, or until the breaker trips again).
 */
export async function listBreakers(
  q: Queryable,
  at: Date,
  options: { openOnly?: boolean } = {},
): Promise<BreakerRow[]> {
  const rows = await q.query(
    `SELECT ${COLUMNS} FROM reply_breakers b JOIN accounts a ON a.id = b.account_id
     ${options.openOnly ? "WHERE b.open_until IS NULL OR b.open_until > $1::timestamptz" : ""}
     ORDER BY open DESC, b.tripped_at DESC, b.id DESC`,
    [at.toISOString()],
  );
  return rows.map(camelRow<BreakerRow>);
}

/** How many breakers are open at `at`, by scope: one cheap count for every admin page. */
export async function countOpenBreakers(
  q: Queryable,
  at: Date,
): Promise<{ account: number; recipient: number }> {
  const [r] = await q.query<{ account: number; recipient: number }>(
    `SELECT count(*) FILTER (WHERE recipient = '')::int AS account,
       count(*) FILTER (WHERE recipient <> '')::int AS recipient
     FROM reply_breakers WHERE open_until IS NULL OR open_until > $1::timestamptz`,
    [at.toISOString()],
  );
  return { account: r?.account ?? 0, recipient: r?.recipient ?? 0 };
}

/** Deletes breaker `id` (a reset: replies may go again) and returns it as it was; null if gone. */
export async function deleteBreaker(
  q: Queryable,
  id: number,
  at: Date,
): Promise<BreakerRow | null> {
  const rows = await q.query(
    `WITH gone AS (DELETE FROM reply_breakers WHERE id = $2 RETURNING *)
     SELECT ${COLUMNS} FROM gone b JOIN accounts a ON a.id = b.account_id`,
    [at.toISOString(), id],
  );
  return rows[0] ? camelRow<BreakerRow>(rows[0]) : null;
}

/** A breaker as the API and the CLI print it. */
export function breakerJson(r: BreakerRow) {
  return {
    id: r.id,
    account_id: r.accountId,
    account: r.accountName,
    scope: r.scope,
    recipient: r.recipient,
    tripped_at: r.trippedAt.toISOString(),
    open_until: r.openUntil?.toISOString() ?? null,
    open: r.open,
    detail: r.detail,
  };
}
