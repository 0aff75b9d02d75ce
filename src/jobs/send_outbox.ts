import type { Db } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import { claimDue, type ClaimedReply, expireLeases, settleClaim } from "../store/outbox.ts";
import { type AttachmentFile, loadAttachmentFiles } from "../store/rule_attachments.ts";
import { oweSentCopy } from "../store/sent_copies.ts";
import type { SendResult, SmtpSender } from "../mail/smtp_sender.ts";
import { nextAttempt } from "../domain/retry_backoff.ts";
import type { Logger } from "../log.ts";

/** How long a copy for the Sent mailbox is retried before it is given up. */
const SENT_COPY_DAYS = 7;
const DAY = 86_400_000;

/** The points of a send at which a fault can be injected (see `SendDeps.checkpoint`). */
export type SendStep = "after_claim" | "before_data" | "after_accept" | "after_commit";

export interface SendDeps {
  db: Db;
  /** The SMTP sender of an account; rejects when it has no usable SMTP settings here. */
  senderFor: (accountId: number) => Promise<SmtpSender>;
  now: () => Date;
  /** A fresh, unique claim token. */
  newToken: () => string;
  log: Logger;
  leaseMs?: number;
  /**
   * Rows claimed at a time. One by default: a sender that dies leaves at most the row it held
   * `unknown` for a person to settle, not a whole batch.
   */
  batch?: number;
  /** First retry delay; later ones double (see retry_backoff.ts). */
  retryBaseMs?: number;
  /** Called at each step; the fault-injection tests end the process here. */
  checkpoint?: (step: SendStep) => void | Promise<void>;
  /**
   * Asked before each claim: true ends the drain there (a time-bounded cron handler); the rows
   * left due are taken by the next drain.
   */
  shouldStop?: () => boolean;
}

export interface SendSummary {
  expired: number;
  claimed: number;
  sent: number;
  retry: number;
  failed: number;
  unknown: number;
  lost: number;
}

/**
 * Drains the outbox once: rows whose lease ran out while `sending` become `unknown`; due rows
 * are claimed (`FOR UPDATE SKIP LOCKED`, with a lease), sent, and settled by the claim they hold.
 * A send whose outcome is unknown is never retried automatically.
 */
export async function drainOutbox(deps: SendDeps): Promise<SendSummary> {
  const summary: SendSummary = {
    expired: 0,
    claimed: 0,
    sent: 0,
    retry: 0,
    failed: 0,
    unknown: 0,
    lost: 0,
  };
  const expired = await deps.db.transaction(async (tx) => {
    const at = deps.now();
    const rows = await expireLeases(tx, at);
    for (const r of rows) {
      await recordEvent(tx, {
        event: "send_unknown",
        at,
        accountId: r.accountId,
        messageId: r.messageId,
        detail: { outbox_id: r.id, why: "lease expired while sending" },
      });
    }
    return rows.length;
  });
  summary.expired = expired;
  while (!deps.shouldStop?.()) {
    const claimed = await claimDue(
      deps.db,
      deps.now(),
      deps.leaseMs ?? 5 * 60_000,
      deps.newToken(),
      deps.batch ?? 1,
    );
    if (claimed.length === 0) break;
    summary.claimed += claimed.length;
    await deps.checkpoint?.("after_claim");
    for (const row of claimed) await sendOne(deps, row, summary);
  }
  return summary;
}

async function sendOne(deps: SendDeps, row: ClaimedReply, summary: SendSummary) {
  const result = await attempt(deps, row);
  const at = deps.now();
  const outcome = settlement(result, row, at, deps.retryBaseMs);
  const settled = await deps.db.transaction(async (tx) => {
    const ok = await settleClaim(tx, row.id, row.claimToken, outcome, at);
    // The copy for the Sent mailbox is owed with the send's record, in this transaction, and
    // made by a separate step (src/jobs/copy_sent.ts): a failing copy never touches the send.
    if (ok && result.kind === "accepted" && result.raw) {
      await oweSentCopy(tx, row.id, result.raw, at, new Date(at.getTime() + SENT_COPY_DAYS * DAY));
    }
    await recordEvent(tx, {
      event: ok ? eventFor(outcome.status) : "claim_lost",
      at,
      accountId: row.accountId,
      messageId: row.messageId,
      detail: {
        outbox_id: row.id,
        recipient: row.recipient,
        attempt: row.attempts,
        result: result.kind,
        ...("error" in result ? { error: result.error } : { response: result.response }),
      },
    });
    return ok;
  });
  if (!settled) {
    summary.lost++;
    deps.log.warn("outbox row was no longer ours when its send ended", { outbox_id: row.id });
    return;
  }
  summary[outcome.status]++;
  await deps.checkpoint?.("after_commit");
}

async function attempt(deps: SendDeps, row: ClaimedReply): Promise<SendResult> {
  let sender: SmtpSender;
  try {
    sender = await deps.senderFor(row.accountId);
  } catch (e) {
    // Nothing went out: missing settings or an unreadable password are worth retrying once a
    // person fixes them, until the row's deadline.
    return { kind: "temporary", error: e instanceof Error ? e.message : String(e) };
  }
  let files: AttachmentFile[];
  try {
    files = await loadAttachmentFiles(deps.db, row.attachmentIds ?? []);
  } catch (e) {
    // Nothing went out: a reply is sent as it was decided, with its files, or not at all.
    return { kind: "temporary", error: e instanceof Error ? e.message : String(e) };
  }
  await deps.checkpoint?.("before_data");
  const result = await sender.send({
    from: { name: row.fromName, address: row.fromAddress },
    to: { name: row.recipientName, address: row.recipient },
    cc: row.cc ?? [],
    bcc: row.bcc ?? [],
    replyTo: row.replyTo ?? null,
    attachments: files,
    subject: row.subject,
    text: row.text,
    html: row.html,
    messageId: row.messageIdHeader,
    inReplyTo: row.inReplyTo,
    references: row.references,
    headers: row.headers,
  });
  if (result.kind === "accepted") await deps.checkpoint?.("after_accept");
  return result;
}

function settlement(result: SendResult, row: ClaimedReply, at: Date, retryBaseMs?: number) {
  switch (result.kind) {
    case "accepted":
      return { status: "sent" as const, response: result.response };
    case "permanent":
      return { status: "failed" as const, error: result.error };
    case "unknown":
      return { status: "unknown" as const, error: result.error };
    case "temporary": {
      const next = nextAttempt(at, row.attempts, row.deadlineAt, retryBaseMs);
      return next
        ? { status: "retry" as const, error: result.error, nextAttemptAt: next }
        : { status: "failed" as const, error: `gave up at the deadline: ${result.error}` };
    }
  }
}

function eventFor(
  status: "sent" | "retry" | "failed" | "unknown",
): "sent" | "send_retry" | "send_failed" | "send_unknown" {
  return ({
    sent: "sent",
    retry: "send_retry",
    failed: "send_failed",
    unknown: "send_unknown",
  } as const)[
    status
  ];
}
