/**
 * After processing: once a mailbox's messages are committed and processed (parsed, classified,
 * decided), what the account's setting asks is done on the server — `\Seen`, or a move to a
 * folder. Never before the commit: a run that dies first leaves the mail where it was, and the
 * next run does it. A refusal leaves the mail where it was, is recorded on the message, and is
 * tried again by later runs without storing the message again.
 */
import type { Db } from "../store/db.ts";
import type { AccountRow } from "../store/accounts.ts";
import type { AuditEvent } from "../domain/audit_events.ts";
import { type AfterAction, afterAction, sameMailbox } from "../domain/after_processing.ts";
import { dueAfterProcessing, recordAfterOutcome } from "../store/after_processing.ts";
import { recordEvents } from "../store/audit.ts";
import type { ImapReader } from "../mail/imap_reader.ts";

/** UIDs per STORE or MOVE command. */
const CHUNK = 500;

export interface AfterDeps {
  db: Db;
  now: () => Date;
}

/**
 * Does the account's after-processing for the messages of `mailbox` (this UIDVALIDITY) still to
 * do, and returns how many were done and how many failed. A message already in the target folder
 * is done without a command: moving it there again would give it a new UID, and a collected
 * target would be collected again.
 */
export async function settleMailbox(
  deps: AfterDeps,
  account: AccountRow,
  reader: ImapReader,
  mailbox: string,
  uidValidity: number,
): Promise<{ done: number; failed: number }> {
  const counts = { done: 0, failed: 0 };
  const action = afterAction(account.afterProcessing, account.afterFolder);
  // With "keep" nothing is done; messages marked under another setting wait for it to return.
  if (!action) return counts;
  let after = 0;
  while (true) {
    const due = await dueAfterProcessing(deps.db, account.id, mailbox, uidValidity, after, CHUNK);
    if (due.length === 0) return counts;
    after = due[due.length - 1].uid;
    let error: string | null = null;
    if (!(action.kind === "move" && sameMailbox(mailbox, action.folder))) {
      try {
        await reader.settle(mailbox, uidValidity, due.map((m) => m.uid), action);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
    }
    await record(deps, account.id, mailbox, due, action, error);
    counts[error === null ? "done" : "failed"] += due.length;
  }
}

/** The outcome on the messages and its audit rows, in one commit. */
async function record(
  deps: AfterDeps,
  accountId: number,
  mailbox: string,
  due: Array<{ id: number; attempts: number }>,
  action: AfterAction,
  error: string | null,
) {
  const at = deps.now();
  const folder = action.kind === "move" ? action.folder : null;
  const events: AuditEvent[] = [];
  for (const m of due) {
    if (error === null) {
      events.push({
        event: "after_processed",
        at,
        accountId,
        messageId: m.id,
        detail: { mailbox, action: action.kind, folder },
      });
    } else if (m.attempts === 0) {
      // Once per message: a target that keeps refusing is not audited every run.
      events.push({
        event: "after_processing_failed",
        at,
        accountId,
        messageId: m.id,
        detail: { mailbox, action: action.kind, folder, error },
      });
    }
  }
  await deps.db.transaction(async (tx) => {
    await recordAfterOutcome(tx, due.map((m) => m.id), action, error, at);
    await recordEvents(tx, events);
  });
}
