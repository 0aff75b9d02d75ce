/**
 * Copies of sent replies owed to the accounts' Sent mailboxes (migrations/0010_sent_copies.sql),
 * claimed and settled like the outbox: `FOR UPDATE SKIP LOCKED` with a lease, every update
 * guarded by the claim it holds.
 */
import { base64 } from "./bytes_param.ts";
import type { Queryable } from "./db.ts";
import { camelRow } from "./row.ts";

/** What a copy's state can be (see the migration). */
export type SentCopyStatus = "owed" | "copied" | "skipped" | "failed";

/** A copy claimed for appending. */
export interface ClaimedCopy {
  outboxId: number;
  accountId: number;
  messageId: number | null;
  raw: Uint8Array;
  messageIdHeader: string;
  attempts: number;
  deadlineAt: Date;
  claimToken: string;
}

/**
 * Owes a copy of each reply just settled `sent`, with the exact bytes SMTP took, where its account
 * keeps copies (`copy_to_sent`); one statement for the replies settled together. Written in the
 * transaction that settles the sends, so a copy is owed exactly when its send is recorded.
 * Returns how many copies are owed (a reply already owed one is not counted).
 */
export async function oweSentCopies(
  q: Queryable,
  copies: ReadonlyArray<{ outboxId: number; raw: Uint8Array }>,
  at: Date,
  deadlineAt: Date,
): Promise<number> {
  if (copies.length === 0) return 0;
  const rows = await q.query(
    oweSentCopiesSql(
      "SELECT * FROM unnest($1::bigint[], $4::text[]) AS u(id, raw)",
      "$2::timestamptz",
      "$3::timestamptz",
    ),
    [
      copies.map((c) => c.outboxId),
      at.toISOString(),
      deadlineAt.toISOString(),
      copies.map(({ raw }) => base64(raw)),
    ],
  );
  return rows.length;
}

/**
 * The statement that owes a copy of each reply `source` names (a query giving `id`, the outbox
 * row, and `raw`, the bytes SMTP took in base64) where its account keeps copies; `at` and
 * `deadline` are SQL expressions. `oweSentCopies` runs it alone, the outbox's settlement
 * (`settleSends`) inside its own statement.
 */
export function oweSentCopiesSql(source: string, at: string, deadline: string): string {
  return `INSERT INTO sent_copies (outbox_id, account_id, status, raw, message_id_header,
       next_attempt_at, deadline_at, created_at, updated_at)
     SELECT o.id, o.account_id, 'owed', decode(c.raw, 'base64'), o.message_id_header,
       ${at}, ${deadline}, ${at}, ${at}
     FROM (${source}) AS c
       JOIN outbox o ON o.id = c.id JOIN accounts a ON a.id = o.account_id
     WHERE a.copy_to_sent
     ON CONFLICT (outbox_id) DO NOTHING
     RETURNING 1 AS ok`;
}

/**
 * Claims due copies (`FOR UPDATE SKIP LOCKED`: two instances never take the same one), each with
 * a lease. A copy whose claimant died is due again once its lease runs out: appending is made
 * safe to repeat by the Message-ID search before it (`attempts` > 1).
 */
export async function claimCopies(
  q: Queryable,
  at: Date,
  leaseMs: number,
  token: string,
  limit: number,
): Promise<ClaimedCopy[]> {
  const rows = await q.query<Record<string, unknown>>(
    `UPDATE sent_copies c SET claim_token = $2, lease_until = $3::timestamptz,
       attempts = c.attempts + 1, updated_at = $1::timestamptz
     FROM outbox o
     WHERE o.id = c.outbox_id AND c.outbox_id IN (
       SELECT outbox_id FROM sent_copies
       WHERE status = 'owed' AND next_attempt_at <= $1::timestamptz
         AND (lease_until IS NULL OR lease_until < $1::timestamptz)
       ORDER BY next_attempt_at, outbox_id LIMIT $4 FOR UPDATE SKIP LOCKED)
     RETURNING c.outbox_id, c.account_id, o.message_id, c.raw, c.message_id_header, c.attempts,
       c.deadline_at, c.claim_token`,
    [at.toISOString(), token, new Date(at.getTime() + leaseMs).toISOString(), limit],
  );
  return rows.map((r) => {
    const c = camelRow<ClaimedCopy>(r);
    return { ...c, outboxId: Number(c.outboxId) };
  });
}

/** How a claimed copy ended. */
export type CopySettlement =
  | { status: "copied"; mailbox: string; uid: number | null }
  | { status: "skipped"; error: string }
  | { status: "retry"; error: string; nextAttemptAt: Date }
  | { status: "failed"; error: string };

/** Records a claimed copy's end, only while the claim holds. Returns whether it took. */
export async function settleCopy(
  q: Queryable,
  outboxId: number,
  token: string,
  outcome: CopySettlement,
  at: Date,
): Promise<boolean> {
  const rows = await q.query(
    `UPDATE sent_copies SET status = $3, updated_at = $4::timestamptz, claim_token = NULL,
       lease_until = NULL, last_error = $5, mailbox = COALESCE($6, mailbox),
       uid = COALESCE($7, uid), next_attempt_at = COALESCE($8::timestamptz, next_attempt_at)
     WHERE outbox_id = $1 AND claim_token = $2 AND status = 'owed'
     RETURNING 1 AS ok`,
    [
      outboxId,
      token,
      outcome.status === "retry" ? "owed" : outcome.status,
      at.toISOString(),
      "error" in outcome ? outcome.error : null,
      outcome.status === "copied" ? outcome.mailbox : null,
      outcome.status === "copied" ? outcome.uid : null,
      outcome.status === "retry" ? outcome.nextAttemptAt.toISOString() : null,
    ],
  );
  return rows.length > 0;
}

/** A copy's state as the outbox pages show it. */
export interface SentCopyState {
  status: SentCopyStatus;
  attempts: number;
  lastError: string | null;
  mailbox: string | null;
  nextAttemptAt: Date;
}

/**
 * A select-list expression: the copy of the outbox row `outbox` (the alias or table name in the
 * query), as JSON, or NULL when none is owed. Read it back with `sentCopyOf`.
 */
export function sentCopyColumn(outbox: string): string {
  return `(SELECT json_build_object('status', c.status, 'attempts', c.attempts,
    'last_error', c.last_error, 'mailbox', c.mailbox, 'next_attempt_at', c.next_attempt_at)
    FROM sent_copies c WHERE c.outbox_id = ${outbox}.id) AS sent_copy`;
}

/** The column `sentCopyColumn` selected, as read back by either driver. */
export function sentCopyOf(value: unknown): SentCopyState | null {
  if (value === null || value === undefined) return null;
  const v = (typeof value === "string" ? JSON.parse(value) : value) as Record<string, unknown>;
  return {
    status: v.status as SentCopyStatus,
    attempts: Number(v.attempts),
    lastError: (v.last_error as string | null) ?? null,
    mailbox: (v.mailbox as string | null) ?? null,
    nextAttemptAt: new Date(v.next_attempt_at as string),
  };
}
