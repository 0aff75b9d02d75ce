import type { Db } from "../store/db.ts";
import { LockNamespace } from "../store/db.ts";
import type { AccountRow } from "../store/accounts.ts";
import { recordSyncOutcome } from "../store/accounts.ts";
import { recordEvent } from "../store/audit.ts";
import { advanceMailbox, finishMailbox, reconcileMailbox } from "../store/mailbox_state.ts";
import { type ArrivalOutcome, storeArrival } from "../store/messages.ts";
import type { ImapReader, RawMessage } from "../mail/imap_reader.ts";
import { sha256Hex } from "../mail/content_hash.ts";
import type { Logger } from "../log.ts";

export interface CollectDeps {
  db: Db;
  connect: (account: AccountRow) => Promise<ImapReader>;
  /** Parses and classifies what was stored; runs under the same lock, after each batch. */
  processPending: (accountId: number) => Promise<{ parsed: number; failed: number }>;
  now: () => Date;
  log: Logger;
  /** Messages per UID FETCH and per commit. */
  batchMessages?: number;
  /** Bytes per UID FETCH and per commit, so memory stays flat whatever the mailbox holds. */
  batchBytes?: number;
  /**
   * Asked before each batch: true ends the run there (a time-bounded cron handler). What was
   * committed stays, and the next run resumes from the high-water mark.
   */
  shouldStop?: () => boolean;
}

/** What one collection run of one account did; printed by `collect --once`. */
export interface CollectSummary {
  account: string;
  accountId: number;
  status: "ok" | "skipped" | "error";
  /** True when `shouldStop` ended the run before the mailboxes were read to their end. */
  partial: boolean;
  fetched: number;
  stored: number;
  remapped: number;
  present: number;
  parsed: number;
  failed: number;
  mailboxes: Array<{ mailbox: string; uidValidity: number; lastUid: number; rescan: boolean }>;
  error?: string;
}

/**
 * Collects one account: for each mailbox, stores the raw bytes of every message above the last
 * stored UID (a batch per transaction, the high-water mark moving in the same commit), then
 * parses and classifies them. A PostgreSQL advisory lock per account keeps two runs, in this
 * instance or another, from collecting the same account at once: a run finding it taken skips.
 */
export async function collectAccount(
  deps: CollectDeps,
  account: AccountRow,
): Promise<CollectSummary> {
  const summary: CollectSummary = {
    account: account.name,
    accountId: account.id,
    status: "ok",
    partial: false,
    fetched: 0,
    stored: 0,
    remapped: 0,
    present: 0,
    parsed: 0,
    failed: 0,
    mailboxes: [],
  };
  const locked = await deps.db.tryWithLock(LockNamespace.collect, account.id, async () => {
    try {
      await collectLocked(deps, account, summary);
      await recordSyncOutcome(deps.db, account.id, deps.now(), null);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      summary.status = "error";
      summary.error = message;
      // Whatever was committed before the failure stays: the next run resumes from there.
      await recordSyncOutcome(deps.db, account.id, deps.now(), message);
      await recordEvent(deps.db, {
        event: "collect_failed",
        at: deps.now(),
        accountId: account.id,
        detail: { error: message },
      });
      deps.log.warn("collection failed", { account: account.name, error: message });
    }
  });
  if (!locked.acquired) summary.status = "skipped";
  return summary;
}

async function collectLocked(deps: CollectDeps, account: AccountRow, summary: CollectSummary) {
  // Messages stored by a run that died before parsing them are finished first.
  addCounts(summary, await deps.processPending(account.id));
  const reader = await deps.connect(account);
  try {
    for (const mailbox of account.mailboxes) {
      if (summary.partial) break;
      await collectMailbox(deps, account, reader, mailbox, summary);
    }
  } finally {
    await reader.close();
  }
}

async function collectMailbox(
  deps: CollectDeps,
  account: AccountRow,
  reader: ImapReader,
  mailbox: string,
  summary: CollectSummary,
) {
  const snapshot = await reader.open(mailbox);
  const state = await deps.db.transaction((tx) =>
    reconcileMailbox(tx, account.id, mailbox, snapshot.uidValidity)
  );
  if (state.changed) {
    await recordEvent(deps.db, {
      event: "uidvalidity_changed",
      at: deps.now(),
      accountId: account.id,
      detail: { mailbox, from: state.previousUidValidity, to: snapshot.uidValidity },
    });
    deps.log.warn("UIDVALIDITY changed: matching stored messages by content", {
      account: account.name,
      mailbox,
    });
  }
  const listed = await reader.listAfter(state.lastUid);
  let lastUid = state.lastUid;
  for (const batch of batches(listed, deps.batchMessages ?? 200, deps.batchBytes ?? 16 << 20)) {
    if (deps.shouldStop?.()) {
      summary.partial = true;
      return;
    }
    const arrivals: Array<RawMessage & { sha256: string }> = [];
    for await (const m of reader.fetchRaw(batch.map((b) => b.uid))) {
      arrivals.push({ ...m, sha256: await sha256Hex(m.raw) });
    }
    summary.fetched += arrivals.length;
    const batchEnd = batch[batch.length - 1].uid;
    const outcomes = await deps.db.transaction(async (tx) => {
      const out: ArrivalOutcome[] = [];
      for (const m of arrivals) {
        const at = deps.now();
        const r = await storeArrival(
          tx,
          account.id,
          mailbox,
          snapshot.uidValidity,
          m,
          state.rescanning,
          at,
        );
        out.push(r.outcome);
        if (r.outcome === "stored") {
          await recordEvent(tx, {
            event: "collected",
            at,
            accountId: account.id,
            messageId: r.id,
            detail: { mailbox, uid: m.uid, size: m.raw.length },
          });
        }
      }
      // A UID listed but gone by the time of the FETCH (expunged meanwhile) is passed over too.
      await advanceMailbox(tx, account.id, mailbox, snapshot.uidValidity, batchEnd);
      return out;
    });
    for (const o of outcomes) summary[o]++;
    lastUid = batchEnd;
    addCounts(summary, await deps.processPending(account.id));
  }
  await finishMailbox(deps.db, account.id, mailbox, snapshot.uidValidity, deps.now());
  summary.mailboxes.push({
    mailbox,
    uidValidity: snapshot.uidValidity,
    lastUid,
    rescan: state.rescanning,
  });
}

function addCounts(summary: CollectSummary, c: { parsed: number; failed: number }) {
  summary.parsed += c.parsed;
  summary.failed += c.failed;
}

/** Splits the listing into runs of at most `maxCount` messages and about `maxBytes` bytes. */
export function batches<T extends { size: number }>(
  items: T[],
  maxCount: number,
  maxBytes: number,
): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxCount || bytes + item.size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
