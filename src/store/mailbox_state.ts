import type { Queryable } from "./db.ts";

/** Where collection stands in one mailbox. */
export interface MailboxState {
  uidValidity: number;
  lastUid: number;
  rescanning: boolean;
}

/**
 * Reads the mailbox's state and reconciles it with the UIDVALIDITY the server just reported.
 * A new UIDVALIDITY (RFC 3501 §2.3.1.1: every UID may have changed) starts a rescan from UID 0 in
 * which messages are matched to stored ones by content; `changed` says that this call began one.
 */
export async function reconcileMailbox(
  q: Queryable,
  accountId: number,
  mailbox: string,
  serverUidValidity: number,
): Promise<MailboxState & { changed: boolean; previousUidValidity: number | null }> {
  const rows = await q.query<{ uidvalidity: number; last_uid: number; rescanning: boolean }>(
    `SELECT uidvalidity, last_uid, rescanning FROM mailbox_state
     WHERE account_id = $1 AND mailbox = $2 FOR UPDATE`,
    [accountId, mailbox],
  );
  const state = (lastUid: number, rescanning: boolean, previousUidValidity: number | null) => ({
    uidValidity: serverUidValidity,
    lastUid,
    rescanning,
    changed: previousUidValidity !== null,
    previousUidValidity,
  });
  if (rows.length === 0) {
    await q.query(
      `INSERT INTO mailbox_state (account_id, mailbox, uidvalidity, last_uid) VALUES ($1, $2, $3, 0)
       ON CONFLICT (account_id, mailbox) DO NOTHING`,
      [accountId, mailbox, serverUidValidity],
    );
    return state(0, false, null);
  }
  const row = rows[0];
  if (Number(row.uidvalidity) === serverUidValidity) {
    return state(Number(row.last_uid), row.rescanning, null);
  }
  await q.query(
    `UPDATE mailbox_state SET uidvalidity = $3, last_uid = 0, rescanning = true
     WHERE account_id = $1 AND mailbox = $2`,
    [accountId, mailbox, serverUidValidity],
  );
  return state(0, true, Number(row.uidvalidity));
}

/** Moves the mailbox's high-water mark; called in the transaction that stores those messages. */
export async function advanceMailbox(
  q: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  lastUid: number,
): Promise<void> {
  await q.query(
    `UPDATE mailbox_state SET last_uid = GREATEST(last_uid, $4)
     WHERE account_id = $1 AND mailbox = $2 AND uidvalidity = $3`,
    [accountId, mailbox, uidValidity, lastUid],
  );
}

/** Marks a pass over the whole mailbox done: a rescan, if one was running, is over. */
export async function finishMailbox(
  q: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  at: Date,
): Promise<void> {
  await q.query(
    `UPDATE mailbox_state SET rescanning = false, last_sync_at = $4::timestamptz
     WHERE account_id = $1 AND mailbox = $2 AND uidvalidity = $3`,
    [accountId, mailbox, uidValidity, at.toISOString()],
  );
}
