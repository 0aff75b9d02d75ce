/**
 * Where each message stands with the account's after-processing setting (mark `\Seen`, move to
 * a folder): to do, done, or failed and to try again (src/jobs/after_processing.ts).
 */
import type { Queryable } from "./db.ts";
import type { AfterAction } from "../domain/after_processing.ts";

/** A message whose after-processing is still to do (pending, or failed and to try again). */
export interface DueMessage {
  id: number;
  uid: number;
  /** Earlier attempts that failed (0 the first time). */
  attempts: number;
}

/**
 * Marks messages just stored as to be after-processed, in the transaction that stores them; the
 * action itself waits until they are committed and processed.
 */
export async function markAfterPending(q: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `UPDATE messages SET after_state = 'pending'
     WHERE id = ANY($1::bigint[]) AND after_state IS NULL`,
    [ids],
  );
}

/**
 * Messages of the mailbox, with this UIDVALIDITY, processed (parsed or failed to parse) and still
 * to after-process, by UID above `afterUid`, at most `limit`.
 */
export async function dueAfterProcessing(
  q: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  afterUid: number,
  limit: number,
): Promise<DueMessage[]> {
  const rows = await q.query<{ id: number; uid: number; after_attempts: number }>(
    `SELECT id, uid, after_attempts FROM messages
     WHERE account_id = $1 AND mailbox = $2 AND uidvalidity = $3 AND uid > $4
       AND after_state IN ('pending', 'failed') AND parse_status <> 'pending'
     ORDER BY uid LIMIT $5`,
    [accountId, mailbox, uidValidity, afterUid, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), uid: Number(r.uid), attempts: r.after_attempts }));
}

/**
 * Records what became of `ids`: done (with `error` null), or failed with the server's answer
 * (left where it was, tried again by a later run).
 */
export async function recordAfterOutcome(
  q: Queryable,
  ids: number[],
  action: AfterAction,
  error: string | null,
  at: Date,
): Promise<void> {
  if (ids.length === 0) return;
  await q.query(
    `UPDATE messages SET after_state = $2, after_action = $3, after_folder = $4, after_error = $5,
       after_attempts = after_attempts + CASE WHEN $5::text IS NULL THEN 0 ELSE 1 END,
       after_at = $6::timestamptz
     WHERE id = ANY($1::bigint[])`,
    [
      ids,
      error === null ? "done" : "failed",
      action.kind,
      action.kind === "move" ? action.folder : null,
      error,
      at.toISOString(),
    ],
  );
}

/** Counts of messages by after-processing state, for `stats` and the API. */
export async function afterProcessingCounts(
  q: Queryable,
): Promise<{ pending: number; done: number; failed: number }> {
  const rows = await q.query<{ after_state: string; n: number }>(
    `SELECT after_state, count(*)::int AS n FROM messages WHERE after_state IS NOT NULL
     GROUP BY after_state`,
  );
  const out = { pending: 0, done: 0, failed: 0 };
  for (const r of rows) out[r.after_state as keyof typeof out] = r.n;
  return out;
}
