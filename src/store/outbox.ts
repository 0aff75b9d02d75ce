import { base64 } from "./bytes_param.ts";
import type { Queryable } from "./db.ts";
import { pgSafe } from "./pg_safe.ts";
import { camelRow } from "./row.ts";
import { oweSentCopiesSql } from "./sent_copies.ts";
import { recordEventsSql } from "./audit.ts";
import { enqueueWebhooksSql } from "./webhooks.ts";
import type { AuditEvent } from "../domain/audit_events.ts";
import { WEBHOOK_DEADLINE_MS, webhookBody, webhookEventOf } from "../domain/webhooks.ts";

import type { OutboxStatus } from "./outbox_status.ts";

export type { OutboxStatus } from "./outbox_status.ts";

/** How long a copy for the Sent mailbox is retried before it is given up. */
const SENT_COPY_DAYS = 7;
const DAY = 86_400_000;

/** A reply ready to go, as enqueued. */
export interface NewOutboxRow {
  dedupKey: string;
  messageId: number;
  accountId: number;
  ruleName: string;
  recipient: string;
  recipientName: string;
  fromAddress: string;
  fromName: string;
  subject: string;
  text: string;
  html: string | null;
  messageIdHeader: string;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
  deadlineAt: Date;
  /** Copies (Cc visible, Bcc envelope only), Reply-To and attached files (rule_attachments ids). */
  cc?: string[];
  bcc?: string[];
  replyTo?: string | null;
  attachmentIds?: number[];
}

/** A row claimed for sending: every later update must name its claim token. */
export interface ClaimedReply extends Omit<NewOutboxRow, "deadlineAt" | "messageId"> {
  id: number;
  messageId: number | null;
  claimToken: string;
  attempts: number;
  deadlineAt: Date;
}

/** The columns of `ClaimedReply` (read back with `camelRow`). */
export const CLAIMED_COLUMNS =
  `id, dedup_key, message_id, account_id, rule_name, recipient, recipient_name,
  from_address, from_name, subject, text_body AS text, html_body AS html, message_id_header,
  in_reply_to, "references", headers, claim_token, attempts, deadline_at, cc, bcc, reply_to,
  attachment_ids`;

/**
 * Enqueues a reply unless one with the same dedup key exists (`INSERT … ON CONFLICT DO NOTHING`):
 * re-running collection or re-processing a message can never queue a second copy.
 */
export async function enqueueReply(
  q: Queryable,
  r: NewOutboxRow,
  at: Date,
): Promise<{ enqueued: boolean; id: number }> {
  const s = pgSafe(r);
  const rows = await q.query<{ id: number }>(
    `INSERT INTO outbox (dedup_key, message_id, account_id, rule_name, status, recipient,
       from_address, subject, text_body, html_body, message_id_header, in_reply_to, "references",
       headers, next_attempt_at, deadline_at, created_at, updated_at, recipient_name, from_name,
       cc, bcc, reply_to, attachment_ids)
     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb,
       $14::timestamptz, $15::timestamptz, $14::timestamptz, $14::timestamptz, $16, $17,
       $18::jsonb, $19::jsonb, $20, $21::jsonb)
     ON CONFLICT (dedup_key) DO NOTHING
     RETURNING id`,
    [
      s.dedupKey,
      s.messageId,
      s.accountId,
      s.ruleName,
      s.recipient,
      s.fromAddress,
      s.subject,
      s.text,
      s.html,
      s.messageIdHeader,
      s.inReplyTo,
      JSON.stringify(s.references),
      JSON.stringify(s.headers),
      at.toISOString(),
      r.deadlineAt.toISOString(),
      s.recipientName,
      s.fromName,
      JSON.stringify(s.cc ?? []),
      JSON.stringify(s.bcc ?? []),
      s.replyTo ?? null,
      JSON.stringify(s.attachmentIds ?? []),
    ],
  );
  if (rows.length > 0) return { enqueued: true, id: rows[0].id };
  const [existing] = await q.query<{ id: number }>("SELECT id FROM outbox WHERE dedup_key = $1", [
    r.dedupKey,
  ]);
  return { enqueued: false, id: existing.id };
}

/** Whether a reply to this message exists in the outbox, in any state but cancelled. */
export async function hasReply(q: Queryable, messageId: number): Promise<boolean> {
  const rows = await q.query(
    "SELECT 1 AS ok FROM outbox WHERE message_id = $1 AND status <> 'cancelled' LIMIT 1",
    [messageId],
  );
  return rows.length > 0;
}

/**
 * Reserves the right to reply to `recipient` under `rule` (one reply per window, like Sieve
 * vacation's `:days`, RFC 5230 §4.1). Atomic: of two concurrent reservations one wins.
 */
export async function reserveReplyLimit(
  q: Queryable,
  accountId: number,
  ruleName: string,
  recipient: string,
  at: Date,
  windowMs: number,
): Promise<boolean> {
  const rows = await q.query(
    `INSERT INTO reply_limits (account_id, rule_name, recipient, reserved_at)
     VALUES ($1, $2, $3, $4::timestamptz)
     ON CONFLICT (account_id, rule_name, recipient) DO UPDATE SET reserved_at = EXCLUDED.reserved_at
       WHERE reply_limits.reserved_at <= $5::timestamptz
     RETURNING 1 AS ok`,
    [
      accountId,
      ruleName,
      recipient.toLowerCase(),
      at.toISOString(),
      new Date(at.getTime() - windowMs).toISOString(),
    ],
  );
  return rows.length > 0;
}

/**
 * Replies reserved (enqueued, whatever became of them but cancellation) by the account since
 * `since`: by one rule to one recipient, to one recipient by any rule, or all of the account.
 */
export async function countReplies(
  q: Queryable,
  accountId: number,
  scope: "rule_recipient" | "recipient" | "account",
  ruleName: string,
  recipient: string,
  since: Date,
): Promise<number> {
  const params: unknown[] = [accountId, since.toISOString()];
  let filter = "";
  if (scope !== "account") {
    params.push(recipient);
    filter = `AND lower(recipient) = lower($${params.length})`;
  }
  if (scope === "rule_recipient") {
    params.push(ruleName);
    filter += ` AND rule_name = $${params.length}`;
  }
  const [row] = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM outbox
     WHERE account_id = $1 AND created_at >= $2::timestamptz AND status <> 'cancelled' ${filter}`,
    params,
  );
  return row.n;
}

/**
 * When the account's breaker and the recipient's breaker tripped (null where there is none), and
 * when each closes by itself (null: when a person resets it).
 */
export async function breakerState(
  q: Queryable,
  accountId: number,
  recipient: string,
): Promise<{
  accountTrippedAt: Date | null;
  recipientTrippedAt: Date | null;
  accountOpenUntil: Date | null;
  recipientOpenUntil: Date | null;
}> {
  const rows = await q.query<{ recipient: string; tripped_at: Date; open_until: Date | null }>(
    `SELECT recipient, tripped_at, open_until FROM reply_breakers
     WHERE account_id = $1 AND recipient IN ('', lower($2))`,
    [accountId, recipient],
  );
  const account = rows.find((r) => r.recipient === "");
  const one = rows.find((r) => r.recipient !== "");
  return {
    accountTrippedAt: account?.tripped_at ?? null,
    recipientTrippedAt: one?.tripped_at ?? null,
    accountOpenUntil: account?.open_until ?? null,
    recipientOpenUntil: one?.open_until ?? null,
  };
}

/**
 * Trips a loop breaker for the account (`recipient` null) or for one recipient, open until
 * `openUntil` (null: until a person resets it). A breaker that tripped before and has cooled down
 * trips again from `at`: its row keeps the latest trip, never an earlier one (two instances may
 * trip it at once).
 */
export async function tripBreaker(
  q: Queryable,
  accountId: number,
  recipient: string | null,
  at: Date,
  detail: string,
  openUntil: Date | null,
): Promise<void> {
  await q.query(
    `INSERT INTO reply_breakers (account_id, recipient, tripped_at, detail, open_until)
     VALUES ($1, lower($2), $3::timestamptz, $4, $5::timestamptz)
     ON CONFLICT (account_id, recipient) DO UPDATE
       SET tripped_at = EXCLUDED.tripped_at, detail = EXCLUDED.detail,
         open_until = EXCLUDED.open_until
       WHERE reply_breakers.tripped_at < EXCLUDED.tripped_at`,
    [accountId, recipient ?? "", at.toISOString(), detail, openUntil?.toISOString() ?? null],
  );
}

/**
 * Claims due rows for sending (`FOR UPDATE SKIP LOCKED`: two senders never take the same row),
 * each with a fresh claim token and a lease. The attempt is counted at claim time.
 */
export async function claimDue(
  q: Queryable,
  at: Date,
  leaseMs: number,
  token: string,
  limit: number,
): Promise<ClaimedReply[]> {
  const rows = await q.query<Record<string, unknown>>(
    `UPDATE outbox SET status = 'sending', claim_token = $2, lease_until = $3::timestamptz,
       attempts = attempts + 1, updated_at = $1::timestamptz
     WHERE id IN (SELECT id FROM outbox
                  WHERE status IN ('pending', 'retry') AND next_attempt_at <= $1::timestamptz
                    -- An account whose OAuth grant was refused can't log in: its replies wait.
                    AND account_id NOT IN (SELECT id FROM accounts WHERE reauthorization_needed)
                  ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
     RETURNING ${CLAIMED_COLUMNS}`,
    [at.toISOString(), token, new Date(at.getTime() + leaseMs).toISOString(), limit],
  );
  return rows.map(camelRow<ClaimedReply>);
}

/** What became of a claimed row's send, as `settleSends` records it. */
export type SendOutcome =
  | { status: "sent"; response: string }
  | { status: "retry"; error: string; nextAttemptAt: Date }
  | { status: "failed"; error: string }
  | { status: "unknown"; error: string };

/** A claimed row's send that ended, as `settleSends` records it. */
export interface EndedSend {
  id: number;
  token: string;
  outcome: SendOutcome;
  at: Date;
  /** The bytes the server took: a copy is owed to the Sent mailbox if the account keeps them. */
  raw?: Uint8Array | null;
  /** Recorded as given while the claim holds; as `claim_lost`, same detail, when it does not. */
  audit?: AuditEvent;
}

/**
 * Settles ended sends in one statement (no transaction to open and commit): each row moves to
 * its outcome only while its own claim still holds — a sender whose lease ran out (the row is
 * `unknown` now) changes nothing — and with the rows that took, the copies owed to the Sent
 * mailbox, the audit events and their webhook deliveries; all of it or none. `at` is when the
 * copies and deliveries are owed from. Returns, in the order given, whether each row took, and
 * the accounts of accepted sends whose SMTP login failure is still recorded (to be cleared).
 */
export async function settleSends(
  q: Queryable,
  sends: readonly EndedSend[],
  at: Date,
): Promise<{ settled: boolean[]; authFailing: number[] }> {
  if (sends.length === 0) return { settled: [], authFailing: [] };
  const rows = sends.map(({ id, token, outcome, at, raw, audit }, n) => {
    const hook = audit ? webhookEventOf(audit, () => crypto.randomUUID()) : null;
    return {
      n,
      id,
      token: pgSafe(token),
      status: outcome.status,
      at: at.toISOString(),
      response: outcome.status === "sent" ? pgSafe(outcome.response) : null,
      error: "error" in outcome ? pgSafe(outcome.error) : null,
      next_at: outcome.status === "retry" ? outcome.nextAttemptAt.toISOString() : null,
      raw: outcome.status === "sent" && raw ? base64(raw) : null,
      event: audit?.event ?? null,
      account_id: audit?.accountId ?? null,
      message_id: audit?.messageId ?? null,
      detail: audit ? pgSafe(audit.detail) : null,
      hook_id: hook?.id ?? null,
      hook_type: hook?.type ?? null,
      hook_body: hook ? webhookBody(pgSafe(hook)) : null,
    };
  });
  // Data-modifying CTEs run once each, all or nothing with the statement (PostgreSQL §7.8.4).
  const [r] = await q.query<{ settled: unknown; auth_failing: unknown }>(
    `WITH v AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(n integer, id bigint, token text,
         status text, at timestamptz, response text, error text, next_at timestamptz, raw text,
         event text, account_id integer, message_id bigint, detail jsonb, hook_id text,
         hook_type text, hook_body text)
     ), settled AS (
       UPDATE outbox o SET status = v.status, updated_at = v.at, claim_token = NULL,
         lease_until = NULL,
         smtp_response = COALESCE(v.response, o.smtp_response),
         last_error = COALESCE(v.error, o.last_error),
         next_attempt_at = COALESCE(v.next_at, o.next_attempt_at),
         sent_at = CASE WHEN v.status = 'sent' THEN v.at ELSE o.sent_at END
       FROM v
       WHERE o.id = v.id AND o.claim_token = v.token AND o.status = 'sending'
       RETURNING o.id, o.account_id
     ), copies AS (
       ${
      oweSentCopiesSql(
        "SELECT v.id, v.raw FROM v JOIN settled s ON s.id = v.id WHERE v.raw IS NOT NULL",
        "$2::timestamptz",
        "$3::timestamptz",
      )
    }
     ), audit AS (
       ${
      recordEventsSql(
        `SELECT v.n, CASE WHEN s.id IS NULL THEN 'claim_lost' ELSE v.event END AS event, v.at,
           v.account_id, v.message_id, v.detail
         FROM v LEFT JOIN settled s ON s.id = v.id
         WHERE v.event IS NOT NULL`,
      )
    }
     ), hooks AS (
       ${
      enqueueWebhooksSql(
        `SELECT v.n, v.hook_id AS event_id, v.hook_type AS type, v.account_id,
           v.hook_body AS body
         FROM v JOIN settled s ON s.id = v.id WHERE v.hook_id IS NOT NULL`,
        "$2::timestamptz",
        "$4::timestamptz",
      )
    }
     )
     SELECT (SELECT COALESCE(jsonb_agg(id), '[]'::jsonb) FROM settled) AS settled,
       (SELECT COALESCE(jsonb_agg(a.id), '[]'::jsonb) FROM accounts a
        WHERE a.smtp_auth_failure IS NOT NULL
          AND a.id IN (SELECT s.account_id FROM settled s JOIN v ON v.id = s.id
                       WHERE v.status = 'sent')) AS auth_failing`,
    [
      JSON.stringify(rows),
      at.toISOString(),
      new Date(at.getTime() + SENT_COPY_DAYS * DAY).toISOString(),
      new Date(at.getTime() + WEBHOOK_DEADLINE_MS).toISOString(),
    ],
    // Planning this statement cost twice its run (0.7 against 0.35 ms), once per settlement.
    { prepare: true },
  );
  const json = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v) as unknown[];
  const took = new Set(json(r.settled).map(Number));
  return {
    settled: sends.map((c) => took.has(Number(c.id))),
    authFailing: json(r.auth_failing).map(Number),
  };
}

/**
 * Rows still `sending` after their lease ran out: their sender died at an unknown point, maybe
 * after the server accepted the message. They become `unknown` for a person to settle and are
 * never re-sent automatically.
 */
export async function expireLeases(
  q: Queryable,
  at: Date,
): Promise<Array<{ id: number; accountId: number; messageId: number | null }>> {
  const rows = await q.query<{ id: number; account_id: number; message_id: number | null }>(
    `UPDATE outbox SET status = 'unknown', claim_token = NULL, lease_until = NULL,
       updated_at = $1::timestamptz,
       last_error = 'the sender stopped while sending (lease expired); it may or may not have gone out'
     WHERE status = 'sending' AND lease_until < $1::timestamptz
     RETURNING id, account_id, message_id`,
    [at.toISOString()],
  );
  return rows.map((r) => ({ id: r.id, accountId: r.account_id, messageId: r.message_id }));
}

/** Outbox rows counted by status (every status present, zero when none). */
export async function outboxCounts(q: Queryable): Promise<Record<OutboxStatus, number>> {
  const counts: Record<OutboxStatus, number> = {
    pending: 0,
    sending: 0,
    sent: 0,
    retry: 0,
    failed: 0,
    unknown: 0,
    suppressed: 0,
    cancelled: 0,
    bounced: 0,
  };
  const rows = await q.query<{ status: OutboxStatus; n: number }>(
    "SELECT status, count(*)::int AS n FROM outbox GROUP BY status",
  );
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

/** The reply a delivery report may be about, as `findReportedReply` finds it. */
export interface ReportedReply {
  id: number;
  status: OutboxStatus;
  recipient: string;
  messageId: number | null;
}

/**
 * The account's reply whose Message-ID is one of `messageIds`, trying them in order (the best
 * evidence first); null when none is ours.
 */
export async function findReportedReply(
  q: Queryable,
  accountId: number,
  messageIds: readonly string[],
): Promise<{ reply: ReportedReply; index: number } | null> {
  for (const [index, id] of messageIds.entries()) {
    const [r] = await q.query<
      { id: number; status: OutboxStatus; recipient: string; message_id: number | null }
    >(
      `SELECT id, status, recipient, message_id FROM outbox
       WHERE account_id = $1 AND message_id_header = $2 ORDER BY id LIMIT 1`,
      [accountId, id],
    );
    if (r) {
      const messageId = r.message_id === null ? null : Number(r.message_id);
      return { reply: { ...r, id: Number(r.id), messageId }, index };
    }
  }
  return null;
}

/**
 * Notes what a delivery report said of a reply that went out (`sent`, or `unknown` — the report
 * shows it did): a failure makes it `bounced`, a delay only keeps the report's fields. A row that
 * bounced already keeps its first report. Returns whether the row changed.
 */
export async function recordDeliveryReport(
  q: Queryable,
  id: number,
  report: {
    outcome: "bounced" | "delayed";
    action: string;
    status: string | null;
    diagnostic: string | null;
    reportMessageId: number;
  },
  at: Date,
): Promise<boolean> {
  const s = pgSafe(report);
  const rows = await q.query(
    `UPDATE outbox SET status = CASE WHEN $2 = 'bounced' THEN 'bounced' ELSE status END,
       dsn_action = $3, dsn_status = $4, dsn_diagnostic = $5, dsn_message_id = $6,
       dsn_at = $7::timestamptz, updated_at = $7::timestamptz
     WHERE id = $1 AND status IN ('sent', 'unknown')
     RETURNING 1 AS ok`,
    [id, s.outcome, s.action, s.status, s.diagnostic, s.reportMessageId, at.toISOString()],
  );
  return rows.length > 0;
}

/**
 * When a reply of the account to `recipient` last bounced permanently (status 5.x.x), or null:
 * the reply step does not answer that address again within the window.
 */
export async function lastHardBounce(
  q: Queryable,
  accountId: number,
  recipient: string,
): Promise<Date | null> {
  const [r] = await q.query<{ at: Date | null }>(
    `SELECT max(dsn_at) AS at FROM outbox
     WHERE account_id = $1 AND lower(recipient) = lower($2) AND status = 'bounced'
       AND dsn_status LIKE '5.%'`,
    [accountId, recipient],
  );
  return r?.at ? new Date(r.at) : null;
}
