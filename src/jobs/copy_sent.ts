import type { Db } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import {
  claimCopies,
  type ClaimedCopy,
  type CopySettlement,
  settleCopy,
} from "../store/sent_copies.ts";
import type { SentCopyOutcome, SentCopyRequest } from "../mail/sent_copy.ts";
import { nextAttempt } from "../domain/retry_backoff.ts";
import type { Logger } from "../log.ts";

/** The point of a copy at which a fault can be injected: appended, not yet recorded. */
export type CopyStep = "after_append";

export interface CopyDeps {
  db: Db;
  /** Makes one copy in the account's Sent mailbox; rejects when it cannot (retried later). */
  copy: (accountId: number, request: SentCopyRequest) => Promise<SentCopyOutcome>;
  now: () => Date;
  newToken: () => string;
  log: Logger;
  leaseMs?: number;
  /** First retry delay; later ones double, capped at an hour (see retry_backoff.ts). */
  retryBaseMs?: number;
  checkpoint?: (step: CopyStep) => void | Promise<void>;
  /** Asked before each claim: true ends the pass there; what is left is taken by the next. */
  shouldStop?: () => boolean;
}

export interface CopySummary {
  copied: number;
  skipped: number;
  retry: number;
  failed: number;
}

/**
 * Appends the copies owed to the accounts' Sent mailboxes, one claimed at a time. A copy whose
 * earlier attempt may have reached the server (any attempt but the first) is looked for by its
 * Message-ID before appending, so an interruption between APPEND and its record never doubles it.
 * A failure is retried with backoff until the copy's deadline; it never touches the send.
 */
export async function copySentReplies(deps: CopyDeps): Promise<CopySummary> {
  const summary: CopySummary = { copied: 0, skipped: 0, retry: 0, failed: 0 };
  while (!deps.shouldStop?.()) {
    const [claimed] = await claimCopies(
      deps.db,
      deps.now(),
      deps.leaseMs ?? 5 * 60_000,
      deps.newToken(),
      1,
    );
    if (!claimed) break;
    const status = await copyOne(deps, claimed);
    if (status) summary[status]++;
  }
  return summary;
}

async function copyOne(deps: CopyDeps, c: ClaimedCopy): Promise<keyof CopySummary | null> {
  let settlement: CopySettlement;
  let alreadyThere = false;
  try {
    const outcome = await deps.copy(c.accountId, {
      raw: c.raw,
      messageIdHeader: c.messageIdHeader,
      searchFirst: c.attempts > 1,
    });
    if (outcome.kind === "copied") {
      await deps.checkpoint?.("after_append");
      alreadyThere = outcome.alreadyThere;
      settlement = { status: "copied", mailbox: outcome.mailbox, uid: outcome.uid };
    } else {
      settlement = {
        status: "skipped",
        error: "the server files submitted mail in Sent itself (Gmail)",
      };
    }
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    const next = nextAttempt(deps.now(), c.attempts, c.deadlineAt, deps.retryBaseMs);
    settlement = next
      ? { status: "retry", error, nextAttemptAt: next }
      : { status: "failed", error: `gave up at the deadline: ${error}` };
  }
  const at = deps.now();
  const ok = await deps.db.transaction(async (tx) => {
    if (!await settleCopy(tx, c.outboxId, c.claimToken, settlement, at)) return false;
    const base = { outbox_id: c.outboxId, attempt: c.attempts };
    const ids = { at, accountId: c.accountId, messageId: c.messageId };
    switch (settlement.status) {
      case "copied":
        await recordEvent(tx, {
          event: "sent_copied",
          ...ids,
          detail: {
            ...base,
            mailbox: settlement.mailbox,
            uid: settlement.uid,
            already_there: alreadyThere,
          },
        });
        break;
      case "skipped":
        await recordEvent(tx, {
          event: "sent_copy_skipped",
          ...ids,
          detail: { ...base, why: "server_files_sent_mail" },
        });
        break;
      case "retry":
        await recordEvent(tx, {
          event: "sent_copy_retry",
          ...ids,
          detail: {
            ...base,
            error: settlement.error,
            next_attempt_at: settlement.nextAttemptAt.toISOString(),
          },
        });
        break;
      case "failed":
        await recordEvent(tx, {
          event: "sent_copy_failed",
          ...ids,
          detail: { ...base, error: settlement.error },
        });
        break;
    }
    return true;
  });
  if (!ok) {
    deps.log.warn("sent copy was no longer ours when it ended", { outbox_id: c.outboxId });
    return null;
  }
  if (settlement.status === "retry" || settlement.status === "failed") {
    deps.log.warn("copy to Sent failed", {
      outbox_id: c.outboxId,
      error: settlement.error,
      status: settlement.status,
    });
  }
  return settlement.status;
}
