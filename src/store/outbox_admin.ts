import type { Queryable } from "./db.ts";
import type { OutboxStatus, OutboxTransition } from "./outbox_status.ts";
import { sentCopyColumn, sentCopyOf, type SentCopyState } from "./sent_copies.ts";

/** An outbox row as the admin lists it (without the reply's bodies). */
export interface OutboxListRow {
  id: number;
  status: OutboxStatus;
  messageId: number | null;
  /** Null when its account was deleted and its mail kept. */
  accountId: number | null;
  ruleName: string | null;
  recipient: string;
  /** The reply's copies (Bcc: envelope only) and Reply-To. */
  cc: string[];
  bcc: string[];
  replyTo: string | null;
  /** How many files the reply carries. */
  attachments: number;
  subject: string;
  attempts: number;
  lastError: string | null;
  smtpResponse: string | null;
  nextAttemptAt: Date;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
  /** What a delivery status notification said of this reply, if one came back. */
  report: DeliveryReportFields | null;
  /** The copy in the account's Sent mailbox; null when none is owed. */
  sentCopy: SentCopyState | null;
}

/**
 * What a delivery status notification (RFC 3464) said of a reply: its Action, Status and
 * Diagnostic-Code, the stored notification and when it was read.
 */
export interface DeliveryReportFields {
  action: string;
  status: string | null;
  diagnostic: string | null;
  /** The notification as a stored message (null once that message is deleted). */
  messageId: number | null;
  at: Date;
}

/** The columns `reportOf` reads. */
export const REPORT_COLUMNS = "dsn_action, dsn_status, dsn_diagnostic, dsn_message_id, dsn_at";

/** The delivery report fields of an outbox row read with `REPORT_COLUMNS`, or null. */
export function reportOf(r: Record<string, unknown>): DeliveryReportFields | null {
  if (r.dsn_action === null || r.dsn_action === undefined) return null;
  return {
    action: r.dsn_action as string,
    status: (r.dsn_status as string | null) ?? null,
    diagnostic: (r.dsn_diagnostic as string | null) ?? null,
    messageId: r.dsn_message_id === null ? null : Number(r.dsn_message_id),
    at: r.dsn_at as Date,
  };
}

export interface OutboxCursor {
  id: number;
}

const COLUMNS = `id, status, message_id, account_id, rule_name, recipient, subject, attempts,
  last_error, smtp_response, next_attempt_at, created_at, updated_at, sent_at, cc, bcc, reply_to,
  attachment_ids, ${REPORT_COLUMNS}`;

function toRow(r: Record<string, unknown>): OutboxListRow {
  return {
    id: Number(r.id),
    status: r.status as OutboxStatus,
    messageId: r.message_id === null ? null : Number(r.message_id),
    accountId: r.account_id as number,
    ruleName: (r.rule_name as string | null) ?? null,
    recipient: r.recipient as string,
    cc: (r.cc as string[] | null) ?? [],
    bcc: (r.bcc as string[] | null) ?? [],
    replyTo: (r.reply_to as string | null) ?? null,
    attachments: ((r.attachment_ids as unknown[] | null) ?? []).length,
    subject: r.subject as string,
    attempts: r.attempts as number,
    lastError: (r.last_error as string | null) ?? null,
    smtpResponse: (r.smtp_response as string | null) ?? null,
    nextAttemptAt: r.next_attempt_at as Date,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    sentAt: (r.sent_at as Date | null) ?? null,
    report: reportOf(r),
    sentCopy: sentCopyOf(r.sent_copy),
  };
}

/** Outbox rows, newest first (keyset on id), optionally of one status and/or account. */
export async function listOutbox(
  q: Queryable,
  filters: { status?: OutboxStatus; accountId?: number },
  beforeId: number | null,
  limit: number,
): Promise<{ rows: OutboxListRow[]; next: number | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filters.status) where.push(`status = ${p(filters.status)}`);
  if (filters.accountId !== undefined) where.push(`account_id = ${p(filters.accountId)}`);
  if (beforeId !== null) where.push(`id < ${p(beforeId)}`);
  const rows = await q.query<Record<string, unknown>>(
    `SELECT ${COLUMNS}, ${sentCopyColumn("outbox")} FROM outbox ${
      where.length ? `WHERE ${where.join(" AND ")}` : ""
    }
     ORDER BY id DESC LIMIT ${p(limit + 1)}`,
    params,
  );
  const page = rows.slice(0, limit).map(toRow);
  return { rows: page, next: rows.length > limit ? page[page.length - 1].id : null };
}

/** One outbox row, or null. */
export async function getOutboxRow(q: Queryable, id: number): Promise<OutboxListRow | null> {
  const [r] = await q.query<Record<string, unknown>>(
    `SELECT ${COLUMNS}, ${sentCopyColumn("outbox")} FROM outbox WHERE id = $1`,
    [id],
  );
  return r ? toRow(r) : null;
}

/** A guarded move: the row as it is now and the status it left, or why it did not move. */
export type OutboxMoveResult =
  | { ok: true; row: OutboxListRow; fromStatus: OutboxStatus }
  | { ok: false; reason: "not_found" | "wrong_status"; status?: OutboxStatus };

/**
 * Moves an outbox row to `t.to` if its status is one of `t.from` (src/store/outbox_status.ts),
 * locking it first, so that two people (or two clicks) acting on the same row change it once.
 * A row made `pending` is due now, with a day's more time when its deadline has passed.
 */
export async function moveOutboxRow(
  tx: Queryable,
  id: number,
  t: OutboxTransition,
  at: Date,
): Promise<OutboxMoveResult> {
  const rows = await tx.query<Record<string, unknown>>(
    `WITH before AS (SELECT id, status FROM outbox WHERE id = $1 FOR UPDATE)
     UPDATE outbox o SET status = $3, updated_at = $4::timestamptz,
       next_attempt_at = CASE WHEN $3 = 'pending' THEN $4::timestamptz ELSE o.next_attempt_at END,
       deadline_at = CASE WHEN $3 = 'pending' AND o.deadline_at < $4::timestamptz
                          THEN $4::timestamptz + interval '1 day' ELSE o.deadline_at END,
       sent_at = CASE WHEN $3 = 'sent' THEN COALESCE(o.sent_at, $4::timestamptz) ELSE o.sent_at END
     FROM before
     WHERE o.id = before.id AND before.status = ANY($2::text[])
     RETURNING ${COLUMNS.replace(/(\w+)/g, "o.$1")}, ${sentCopyColumn("o")},
       before.status AS from_status`,
    [id, t.from, t.to, at.toISOString()],
  );
  if (rows.length === 0) {
    const current = await getOutboxRow(tx, id);
    return current
      ? { ok: false, reason: "wrong_status", status: current.status }
      : { ok: false, reason: "not_found" };
  }
  return { ok: true, row: toRow(rows[0]), fromStatus: rows[0].from_status as OutboxStatus };
}
