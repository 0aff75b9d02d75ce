/**
 * The configured mailboxes the server refused to open (missing, renamed, not selectable), one
 * row per account and mailbox from the run that first found it so until the run that opens it
 * again. Shown on the account's health (src/store/account_health.ts).
 */
import type { Queryable } from "./db.ts";

/** A configured mailbox that could not be opened. */
export interface MailboxProblem {
  mailbox: string;
  /** The server's answer. */
  error: string;
  /** The first run that found it. */
  since: Date;
  /** The last run that tried it. */
  checkedAt: Date;
}

/**
 * Records that `mailbox` could not be opened; true when this is new (the report began now), false
 * when it was already reported (only its last check and answer move).
 */
export async function reportMailboxProblem(
  q: Queryable,
  accountId: number,
  mailbox: string,
  error: string,
  at: Date,
): Promise<boolean> {
  const inserted = await q.query(
    `INSERT INTO mailbox_problems (account_id, mailbox, error, since, checked_at)
     VALUES ($1, $2, $3, $4::timestamptz, $4::timestamptz)
     ON CONFLICT (account_id, mailbox) DO NOTHING
     RETURNING 1 AS ok`,
    [accountId, mailbox, error, at.toISOString()],
  );
  if (inserted.length > 0) return true;
  await q.query(
    `UPDATE mailbox_problems SET error = $3, checked_at = $4::timestamptz
     WHERE account_id = $1 AND mailbox = $2`,
    [accountId, mailbox, error, at.toISOString()],
  );
  return false;
}

/** Clears the report of `mailbox` (it opened again); true when there was one. */
export async function clearMailboxProblem(
  q: Queryable,
  accountId: number,
  mailbox: string,
): Promise<boolean> {
  const rows = await q.query(
    "DELETE FROM mailbox_problems WHERE account_id = $1 AND mailbox = $2 RETURNING 1 AS ok",
    [accountId, mailbox],
  );
  return rows.length > 0;
}

/** Forgets the reports of mailboxes the account no longer collects. */
export async function forgetUnlistedMailboxes(
  q: Queryable,
  accountId: number,
  mailboxes: string[],
): Promise<void> {
  await q.query(
    `DELETE FROM mailbox_problems
     WHERE account_id = $1 AND NOT (mailbox = ANY($2::text[]))`,
    [accountId, mailboxes],
  );
}

/** Every account's problems, by account id, mailboxes in name order. */
export async function readMailboxProblems(q: Queryable): Promise<Map<number, MailboxProblem[]>> {
  const rows = await q.query<
    { account_id: number; mailbox: string; error: string; since: Date; checked_at: Date }
  >(
    `SELECT account_id, mailbox, error, since, checked_at FROM mailbox_problems
     ORDER BY account_id, mailbox`,
  );
  const out = new Map<number, MailboxProblem[]>();
  for (const r of rows) {
    const list = out.get(r.account_id) ?? [];
    list.push({
      mailbox: r.mailbox,
      error: r.error,
      since: new Date(r.since),
      checkedAt: new Date(r.checked_at),
    });
    out.set(r.account_id, list);
  }
  return out;
}
