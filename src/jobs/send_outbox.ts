import type { Db, Queryable } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import type { AuditEvent } from "../domain/audit_events.ts";
import { type ClaimedReply, expireLeases, type SendOutcome, settleSends } from "../store/outbox.ts";
import {
  budgetUse,
  claimLocked,
  clearSmtpAuthFailure,
  deferAccount,
  lockDue,
  markSmtpAuthFailure,
} from "../store/send_budget.ts";
import { type AttachmentFile, loadAttachmentFiles } from "../store/rule_attachments.ts";
import type { SendResult, SmtpSender } from "../mail/smtp_sender.ts";
import { nextAttempt } from "../domain/retry_backoff.ts";
import {
  budgetRoom,
  budgetWindows,
  effectiveBudget,
  type SendBudget,
} from "../domain/send_budget.ts";
import { quotaWaitMs } from "../domain/smtp_answer.ts";
import type { Logger } from "../log.ts";

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
   * Replies in flight at once (default 1): claimed and not yet settled. Free places are filled
   * by one claim (the claims' row locks and the account's send budget keep two instances apart);
   * the sends that end while a settlement commits are settled together by the next. A process
   * that dies leaves at most this many rows `unknown`.
   */
  parallel?: number;
  /** First retry delay; later ones double (see retry_backoff.ts). */
  retryBaseMs?: number;
  /** Called at each step; the fault-injection tests end the process here. */
  checkpoint?: (step: SendStep) => void | Promise<void>;
  /**
   * Asked before each claim: true ends the drain there (a time-bounded cron handler); the rows
   * left due are taken by the next drain.
   */
  shouldStop?: () => boolean;
  /**
   * The SMTP host an account sends through when the database does not hold it (the account of
   * the environment): it picks the provider's default budget.
   */
  smtpHostOf?: (accountId: number, stored: string | null) => string | null;
  /**
   * After the server refused an account's login, its replies wait this long before one is tried
   * again (unless a person edits the account first). Default 30 minutes.
   */
  authRecheckMs?: number;
  /** Forgets an account's open SMTP connection (its login was refused: the next one logs in). */
  forgetSender?: (accountId: number) => void;
}

export interface SendSummary {
  expired: number;
  claimed: number;
  sent: number;
  retry: number;
  failed: number;
  unknown: number;
  lost: number;
  /** Due replies moved to a later time because the account's send budget was spent. */
  waiting: number;
}

/**
 * Drains the outbox once: rows whose lease ran out while `sending` become `unknown`; due rows
 * are claimed (`FOR UPDATE SKIP LOCKED`, with a lease) within their account's send budget, sent,
 * and settled by the claim they hold. Rows past the budget wait (`retry`) until it frees. A send
 * whose outcome is unknown is never retried automatically.
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
    waiting: 0,
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
  await drainLoop(deps, summary, Math.max(1, deps.parallel ?? 1));
  return summary;
}

/**
 * Keeps up to `slots` replies in flight: claims as many rows as places are free (one claim
 * transaction for them all), sends each at once, and hands each outcome to the settler. A place
 * frees when its row's settlement has committed, so claimed-and-unsettled rows never exceed
 * `slots`. Ends when nothing is due or the drain is told to stop, once the sends in flight have
 * settled.
 */
async function drainLoop(deps: SendDeps, summary: SendSummary, slots: number) {
  const inFlight = new Set<Promise<void>>();
  const settle = settler(deps, summary);
  let failure: { error: unknown } | null = null;
  // Claims wait for half the places to be free (while others are in flight): fewer, larger
  // claim transactions, the database's work per reply being what limits the rate.
  const fill = Math.ceil(slots / 2);
  while (failure === null && !deps.shouldStop?.()) {
    const free = slots - inFlight.size;
    if (free === 0 || (free < fill && inFlight.size > 0)) {
      await Promise.race(inFlight);
      continue;
    }
    const claimed = await claimWithinBudget(deps, summary, free);
    if (claimed === null) break;
    summary.claimed += claimed.length;
    if (claimed.length === 0) continue;
    await deps.checkpoint?.("after_claim");
    for (const row of claimed) {
      const one: Promise<void> = sendOne(deps, row, settle)
        .catch((error) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(one));
      inFlight.add(one);
    }
  }
  await Promise.all(inFlight);
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/**
 * Claims due rows in one transaction: each account's row is locked while its budget is counted
 * and its rows claimed, so two instances take turns and the second counts the first one's claims
 * (`sending` rows count). An account whose budget is spent has its due rows moved to the moment
 * it frees. Null when nothing was due.
 */
function claimWithinBudget(
  deps: SendDeps,
  summary: SendSummary,
  limit: number,
): Promise<ClaimedReply[] | null> {
  return deps.db.transaction(async (tx) => {
    const at = deps.now();
    const pausedSince = new Date(at.getTime() - (deps.authRecheckMs ?? 30 * 60_000));
    const { due, accounts } = await lockDue(tx, at, pausedSince, limit);
    if (due.length === 0) return null;
    const byAccount = new Map<number, number[]>();
    for (const r of due) byAccount.set(r.accountId, [...byAccount.get(r.accountId) ?? [], r.id]);
    const ids: number[] = [];
    for (const accountId of [...byAccount.keys()].sort((a, b) => a - b)) {
      const rows = byAccount.get(accountId)!;
      const account = accounts.get(accountId);
      if (!account) {
        // No row to count against (it cannot go while replies reference it): the send says why.
        ids.push(...rows);
        continue;
      }
      const host = deps.smtpHostOf?.(accountId, account.smtpHost) ?? account.smtpHost;
      const { budget } = effectiveBudget(account.stored, host, account.address);
      const { room, freesAt } = budgetRoom(
        await budgetUse(tx, accountId, budgetWindows(budget), at),
      );
      if (room > 0) {
        ids.push(...rows.slice(0, room));
        continue;
      }
      const until = freesAt ?? new Date(at.getTime() + 60_000);
      summary.waiting += await deferAccount(
        tx,
        accountId,
        at,
        until,
        `waiting for the account's send budget (${
          describeBudget(budget)
        }) until ${until.toISOString()}`,
      );
    }
    return await claimLocked(tx, ids, at, deps.leaseMs ?? 5 * 60_000, deps.newToken());
  });
}

function describeBudget(b: SendBudget | null): string {
  const parts = [];
  if (b?.perMinute) parts.push(`${b.perMinute} a minute`);
  if (b?.perDay) parts.push(`${b.perDay} a day`);
  return parts.join(", ") || "none";
}

/** A send that ended, waiting for its settlement. */
interface Ended {
  row: ClaimedReply;
  result: SendResult;
  outcome: SendOutcome;
  at: Date;
}

async function sendOne(
  deps: SendDeps,
  row: ClaimedReply,
  settle: (ended: Ended) => Promise<void>,
) {
  const result = await attempt(deps, row);
  const at = deps.now();
  await settle({ row, result, outcome: settlement(result, row, at, deps.retryBaseMs), at });
  await deps.checkpoint?.("after_commit");
}

/**
 * Settles ended sends: one at a time when they end apart, and those that end while a settlement
 * is committing all together in the next one (one statement for the rows, the Sent copies, the
 * audit events and their webhooks: `settleSends`). A send is settled only after its outcome is
 * known; a process that dies before the commit leaves its rows `sending`, as a lone settlement
 * would.
 */
function settler(deps: SendDeps, summary: SendSummary) {
  let queue: Array<{ ended: Ended; done: () => void; fail: (e: unknown) => void }> = [];
  let running = false;
  const flush = async () => {
    running = true;
    while (queue.length > 0) {
      const group = queue;
      queue = [];
      try {
        await settleGroup(deps, summary, group.map((g) => g.ended));
        for (const g of group) g.done();
      } catch (e) {
        for (const g of group) g.fail(e);
      }
    }
    running = false;
  };
  return (ended: Ended) =>
    new Promise<void>((done, fail) => {
      queue.push({ ended, done, fail });
      if (!running) flush();
    });
}

async function settleGroup(deps: SendDeps, summary: SendSummary, group: Ended[]) {
  // One statement: the rows, each still guarded by its claim, the copies owed to the Sent
  // mailbox (made by a separate step, src/jobs/copy_sent.ts: a failing copy never touches the
  // send), the audit events and their webhooks.
  const { settled, authFailing } = await settleSends(
    deps.db,
    group.map(({ row, result, outcome, at }) => ({
      id: row.id,
      token: row.claimToken,
      outcome,
      at,
      raw: result.kind === "accepted" ? result.raw : null,
      audit: {
        event: eventFor(outcome.status),
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
      } as AuditEvent,
    })),
    group[group.length - 1].at,
  );
  // What the sends tell about their accounts, in the order they ended: most settlements have
  // nothing to change (every send accepted, no login failure on record) and skip this.
  const failing = new Set(authFailing);
  const cleared = new Set<number>();
  const changes = group.filter(({ row, result, outcome }) => {
    if (result.kind === "accepted") {
      // The first accepted send of an account clears its login failure; the later ones find
      // nothing to clear.
      if (!failing.has(row.accountId) || cleared.has(row.accountId)) return false;
      cleared.add(row.accountId);
      return true;
    }
    if (result.kind === "auth") {
      failing.add(row.accountId);
      cleared.delete(row.accountId);
      return true;
    }
    return result.kind === "quota" && outcome.status === "retry";
  });
  if (changes.length > 0) {
    await deps.db.transaction(async (tx) => {
      for (const { row, result, outcome, at } of changes) {
        await accountState(deps, tx, row, result, outcome, at);
      }
    });
  }
  for (const [i, { row, outcome }] of group.entries()) {
    if (!settled[i]) {
      summary.lost++;
      deps.log.warn("outbox row was no longer ours when its send ended", { outbox_id: row.id });
    } else summary[outcome.status]++;
  }
}

/**
 * What a send tells about its account: a quota answer holds the account's other due replies to
 * the same later time; a refused login puts the account in `smtp_auth_failure` (its replies
 * wait); an accepted reply clears that state. Only the changes of state are audited.
 */
async function accountState(
  deps: SendDeps,
  tx: Queryable,
  row: ClaimedReply,
  result: SendResult,
  outcome: ReturnType<typeof settlement>,
  at: Date,
) {
  if (result.kind === "quota" && outcome.status === "retry") {
    await deferAccount(
      tx,
      row.accountId,
      at,
      outcome.nextAttemptAt,
      `waiting for the server's sending quota: ${result.error}`,
    );
  } else if (result.kind === "auth") {
    deps.forgetSender?.(row.accountId);
    if (await markSmtpAuthFailure(tx, row.accountId, result.error, at)) {
      await recordEvent(tx, {
        event: "smtp_auth_failed",
        at,
        accountId: row.accountId,
        detail: { error: result.error },
      });
    }
  } else if (result.kind === "accepted") {
    const was = await clearSmtpAuthFailure(tx, row.accountId);
    if (was !== null) {
      await recordEvent(tx, {
        event: "smtp_auth_cleared",
        at,
        accountId: row.accountId,
        detail: { reason: "send_accepted", was, by: "sender" },
      });
    }
  }
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
    case "quota":
      // Over quota the reply waits, however long: the server will take it later.
      return {
        status: "retry" as const,
        error: `the server's sending quota: ${result.error}`,
        nextAttemptAt: new Date(at.getTime() + quotaWaitMs(result.error)),
      };
    case "auth":
      // Nothing is wrong with the reply: it waits with its account (claims skip the account
      // until a person edits it, or the re-check).
      return {
        status: "retry" as const,
        error: `the SMTP server refused the account's login: ${result.error}`,
        nextAttemptAt: at,
      };
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
