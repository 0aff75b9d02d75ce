import type { Db, Queryable } from "../store/db.ts";
import { LockNamespace } from "../store/db.ts";
import type { AccountRow } from "../store/accounts.ts";
import { recordSyncOutcome } from "../store/accounts.ts";
import { accountHealthChange } from "../domain/webhooks.ts";
import type { AuditEvent } from "../domain/audit_events.ts";
import { recordEvent, recordEvents } from "../store/audit.ts";
import { advanceMailbox, finishMailbox, reconcileMailbox } from "../store/mailbox_state.ts";
import {
  type ArrivalOutcome,
  markTooLarge,
  storeArrival,
  storeArrivals,
} from "../store/messages.ts";
import { tooLargeReason } from "../domain/message_size.ts";
import { type ImapReader, MailboxUnavailableError, type RawMessage } from "../mail/imap_reader.ts";
import { afterAction } from "../domain/after_processing.ts";
import { markAfterPending } from "../store/after_processing.ts";
import {
  clearMailboxProblem,
  forgetUnlistedMailboxes,
  reportMailboxProblem,
} from "../store/mailbox_problems.ts";
import { settleMailbox } from "./after_processing.ts";
import { sha256Hex } from "../domain/sha256.ts";
import type { Logger } from "../log.ts";
import type { PendingMessage } from "./process_messages.ts";
import type { Analysis } from "../mail/analyze.ts";

/**
 * The largest message whose analysis starts as its bytes arrive. A larger one is parsed after its
 * batch is stored: the parser's copy and its decoding (~3× the message) and the storing's pieces
 * then never hold memory at the same time. One 42 MB message peaked at 445 MiB with both at once,
 * 324 MiB one after the other; parsing it a moment later costs nothing an ordinary message waits on.
 */
const EARLY_ANALYSIS_BYTES = 2 << 20;

/**
 * A fetched message with its content hash, and its analysis when one was started. `tooLarge` is
 * the server's size of a message over the account's limit, of which only the headers were read.
 */
type Fetched = RawMessage & { sha256: string; analysis?: Promise<Analysis>; tooLarge?: number };

export interface CollectDeps {
  db: Db;
  connect: (account: AccountRow) => Promise<ImapReader>;
  /**
   * Parses and classifies what was stored; runs under the same lock, after each batch. Given the
   * messages just stored, it parses their bytes already in memory; without them, it reads back
   * whatever is still pending.
   */
  processPending: (
    accountId: number,
    arrived?: AsyncIterable<PendingMessage[]>,
  ) => Promise<{ parsed: number; failed: number }>;
  now: () => Date;
  log: Logger;
  /** Messages per UID FETCH and per commit. */
  batchMessages?: number;
  /** Bytes per UID FETCH and per commit, so memory stays flat whatever the mailbox holds. */
  batchBytes?: number;
  /**
   * Parses and classifies a message; when given, each message's analysis starts as soon as its
   * bytes arrive (on worker threads, beside the storing of its batch) and is handed to
   * `processPending` with it. A message over `EARLY_ANALYSIS_BYTES` is parsed only once stored.
   */
  analyze?: (raw: Uint8Array) => Promise<Analysis>;
  /** UIDs listed at a time in a large mailbox (default 5,000). */
  listWindow?: number;
  /**
   * Asked before each batch: true ends the run there (a time-bounded cron handler). What was
   * committed stays, and the next run resumes from the high-water mark.
   */
  shouldStop?: () => boolean;
  /**
   * Told how far the collection of a mailbox is: once before its first batch (`done` 0) when
   * there is anything to fetch, then after each stored batch. Awaited, so keep it quick.
   */
  onProgress?: (p: CollectProgressEvent) => void | Promise<void>;
}

/**
 * `done` of the `total` messages this run listed in `mailbox` are committed (a message expunged
 * between the listing and the fetch counts as done: the high-water mark passed it).
 */
export interface CollectProgressEvent {
  accountId: number;
  account: string;
  mailbox: string;
  done: number;
  total: number;
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
  /** Messages over the account's limit, stored with their headers only and the reason. */
  tooLarge?: number;
  mailboxes: Array<{ mailbox: string; uidValidity: number; lastUid: number; rescan: boolean }>;
  /** Configured mailboxes the server refused to open this run; the others were collected. */
  unavailable: Array<{ mailbox: string; error: string }>;
  /** Messages marked `\Seen` or moved after processing, and those the server refused. */
  afterDone: number;
  afterFailed: number;
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
    unavailable: [],
    afterDone: 0,
    afterFailed: 0,
  };
  const locked = await deps.db.tryWithLock(LockNamespace.collect, account.id, async () => {
    try {
      await collectLocked(deps, account, summary);
      await syncOutcome(deps, account.id, null);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      summary.status = "error";
      summary.error = message;
      // Whatever was committed before the failure stays: the next run resumes from there.
      await syncOutcome(deps, account.id, message);
      deps.log.warn("collection failed", { account: account.name, error: message });
    }
  });
  if (!locked.acquired) summary.status = "skipped";
  return summary;
}

/**
 * Records a run's outcome and, in the same transaction, its audit events: each failure, and the
 * account's change of health (failing after several failures in a row, recovered after that).
 */
async function syncOutcome(deps: CollectDeps, accountId: number, error: string | null) {
  await deps.db.transaction(async (tx) => {
    const at = deps.now();
    const before = await recordSyncOutcome(tx, accountId, at, error);
    const change = accountHealthChange(before, error !== null);
    const events: AuditEvent[] = [];
    if (error !== null) {
      events.push({ event: "collect_failed", at, accountId, detail: { error } });
    }
    if (change === "failing" && error !== null) {
      events.push({
        event: "collect_failing",
        at,
        accountId,
        detail: { error, failures: before + 1 },
      });
    } else if (change === "recovered") {
      events.push({ event: "collect_recovered", at, accountId, detail: { failures: before } });
    }
    await recordEvents(tx, events);
  });
}

async function collectLocked(deps: CollectDeps, account: AccountRow, summary: CollectSummary) {
  // Messages stored by a run that died before parsing them are finished first.
  addCounts(summary, await deps.processPending(account.id));
  const reader = await deps.connect(account);
  try {
    for (const mailbox of account.mailboxes) {
      if (summary.partial) break;
      try {
        await collectMailbox(deps, account, reader, mailbox, summary);
      } catch (e) {
        // A mailbox the server refuses to open is reported on the account; the others go on.
        if (!(e instanceof MailboxUnavailableError)) throw e;
        summary.unavailable.push({ mailbox, error: e.message });
        await reportUnavailable(deps, account, mailbox, e.message);
      }
    }
    await forgetUnlistedMailboxes(deps.db, account.id, account.mailboxes);
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
  await reportAvailable(deps, account, mailbox);
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
  let lastUid = state.lastUid;
  // A large mailbox is listed a window of UIDs at a time, so memory stays that of a window.
  const highest = snapshot.uidNext - 1;
  const windowed = Number.isSafeInteger(highest) && highest > 0;
  // Without UIDNEXT, the one listing of everything above the mark serves for the count too.
  const whole = windowed ? null : await reader.listAfter(state.lastUid);
  const total = whole ? whole.length : await reader.countAfter(state.lastUid);
  let done = 0;
  const progress = () =>
    deps.onProgress?.({ accountId: account.id, account: account.name, mailbox, done, total });
  if (total > 0) await progress();
  // The next batch is fetched while this one is stored and parsed (at most two in memory).
  // A message over the account's limit is never downloaded: its size (RFC822.SIZE, listed before
  // any FETCH of bytes) decides, and only its header block is read and kept, with the reason.
  const limit = account.maxMessageBytes;
  const fetchBatch = async (batch: Array<{ uid: number; size: number }>) => {
    const out: Fetched[] = [];
    const whole = batch.filter((b) => b.size <= limit).map((b) => b.uid);
    for await (const m of reader.fetchRaw(whole)) {
      const early = m.raw.length <= EARLY_ANALYSIS_BYTES;
      out.push({
        ...m,
        sha256: await sha256Hex(m.raw),
        analysis: early ? deps.analyze?.(m.raw) : undefined,
      });
    }
    const over = batch.filter((b) => b.size > limit);
    if (over.length > 0) {
      const sizes = new Map(over.map((b) => [b.uid, b.size]));
      for await (const m of reader.fetchHeaders(over.map((b) => b.uid))) {
        out.push({ ...m, sha256: await sha256Hex(m.raw), tooLarge: sizes.get(m.uid) });
      }
      out.sort((a, b) => a.uid - b.uid);
    }
    return out;
  };
  const prefetch = (plan: Array<Array<{ uid: number; size: number }>>, i: number) => {
    if (i >= plan.length) return null;
    // Each run of an account takes at least its first batch, however little time is left, so
    // that a short budget still makes progress.
    if ((i > 0 || summary.fetched > 0) && deps.shouldStop?.()) return null;
    const p = fetchBatch(plan[i]);
    p.catch(() => {}); // its failure is thrown where it is awaited
    return p;
  };
  // Each batch is stored (raw bytes and the high-water mark in one commit) and handed on to be
  // parsed and classified while the next one is stored.
  async function* storedBatches(): AsyncGenerator<PendingMessage[]> {
    let cursor = state.lastUid;
    while (true) {
      const upTo = windowed
        ? Math.min(cursor + (deps.listWindow ?? LIST_WINDOW), highest)
        : undefined;
      if (upTo !== undefined && upTo <= cursor) return;
      const listed = whole ?? await reader.listAfter(cursor, upTo);
      cursor = upTo ?? Infinity;
      const plan = batches(listed, deps.batchMessages ?? 200, deps.batchBytes ?? 16 << 20);
      let next = prefetch(plan, 0);
      for (let i = 0; i < plan.length; i++) {
        if (!next) {
          summary.partial = true;
          return;
        }
        const arrivals = await next;
        next = prefetch(plan, i + 1);
        const batchEnd = plan[i][plan[i].length - 1].uid;
        summary.fetched += arrivals.length;
        const stored = await storeBatch(deps, account.id, mailbox, snapshot.uidValidity, {
          arrivals,
          batchEnd,
          rescanning: state.rescanning,
          limit,
          afterPendingSince: afterAction(account.afterProcessing, account.afterFolder)
            ? account.connectedAt
            : null,
        });
        for (const o of stored.outcomes) summary[o.outcome]++;
        if (stored.tooLarge > 0) summary.tooLarge = (summary.tooLarge ?? 0) + stored.tooLarge;
        lastUid = batchEnd;
        done += plan[i].length;
        await progress();
        yield stored.kept;
      }
      if (!windowed) return;
    }
  }
  const stream = storedBatches();
  addCounts(summary, await deps.processPending(account.id, stream));
  // Whatever the parser left unread is still stored: it stays pending for the next run.
  for await (const _left of stream);
  // Only now, with the messages committed and processed, is anything done to them on the server.
  const settled = await settleMailbox(deps, account, reader, mailbox, snapshot.uidValidity);
  summary.afterDone += settled.done;
  summary.afterFailed += settled.failed;
  if (summary.partial) return;
  await finishMailbox(deps.db, account.id, mailbox, snapshot.uidValidity, deps.now());
  summary.mailboxes.push({
    mailbox,
    uidValidity: snapshot.uidValidity,
    lastUid,
    rescan: state.rescanning,
  });
}

/**
 * Stores one fetched batch: the raw bytes, a `collected` audit row each, and the mailbox's
 * high-water mark, in one commit. Returns the messages newly stored, still to be parsed.
 */
async function storeBatch(
  deps: CollectDeps,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  batch: {
    arrivals: Fetched[];
    batchEnd: number;
    rescanning: boolean;
    /**
     * When the account does something on the server after processing, its `connectedAt`: the
     * new messages received since are marked to do. History (mail that was there before the
     * account was connected) is never touched, as it is never answered.
     */
    afterPendingSince: Date | null;
    /** The account's largest message collected whole, bytes. */
    limit: number;
  },
): Promise<
  { kept: PendingMessage[]; outcomes: Array<{ outcome: ArrivalOutcome }>; tooLarge: number }
> {
  const { arrivals } = batch;
  const at = deps.now();
  return await deps.db.transaction(async (tx) => {
    const outcomes = batch.rescanning
      ? await storeOneByOne(tx, accountId, mailbox, uidValidity, arrivals, at)
      : await storeArrivals(tx, accountId, mailbox, uidValidity, arrivals, at);
    const kept: PendingMessage[] = [];
    const events: AuditEvent[] = [];
    const tooLarge: Array<{ id: number; size: number }> = [];
    outcomes.forEach((o, i) => {
      if (o.outcome !== "stored") return;
      const m = arrivals[i];
      if (m.tooLarge !== undefined) {
        tooLarge.push({ id: o.id, size: m.tooLarge });
        events.push({
          event: "message_too_large",
          at,
          accountId,
          messageId: o.id,
          detail: { mailbox, uid: m.uid, size: m.tooLarge, limit: batch.limit },
        });
        return;
      }
      kept.push({
        id: o.id,
        raw: m.raw,
        sha256: m.sha256,
        internalDate: m.internalDate,
        collectedAt: at,
        analysis: m.analysis,
      });
      events.push({
        event: "collected",
        at,
        accountId,
        messageId: o.id,
        detail: { mailbox, uid: m.uid, size: m.raw.length },
      });
    });
    for (const t of tooLarge) {
      await markTooLarge(tx, t.id, t.size, tooLargeReason(t.size, batch.limit), at);
    }
    await recordEvents(tx, events);
    const since = batch.afterPendingSince;
    if (since) {
      const fresh = kept.filter((k) => !k.internalDate || k.internalDate >= since);
      await markAfterPending(tx, fresh.map((k) => k.id));
    }
    // A UID listed but gone by the time of the FETCH (expunged meanwhile) is passed over too.
    await advanceMailbox(tx, accountId, mailbox, uidValidity, batch.batchEnd);
    return { kept, outcomes, tooLarge: tooLarge.length };
  });
}

/** A rescan matches each message by content before storing it (see `storeArrival`). */
async function storeOneByOne(
  tx: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  arrivals: Fetched[],
  at: Date,
): Promise<Array<{ outcome: ArrivalOutcome; id: number }>> {
  const out: Array<{ outcome: ArrivalOutcome; id: number }> = [];
  for (const m of arrivals) {
    out.push(await storeArrival(tx, accountId, mailbox, uidValidity, m, true, at));
  }
  return out;
}

/** Reports `mailbox` unavailable; the audit row is written once, when the report begins. */
async function reportUnavailable(
  deps: CollectDeps,
  account: AccountRow,
  mailbox: string,
  error: string,
) {
  const at = deps.now();
  const began = await deps.db.transaction(async (tx) => {
    const isNew = await reportMailboxProblem(tx, account.id, mailbox, error, at);
    if (isNew) {
      await recordEvent(tx, {
        event: "mailbox_unavailable",
        at,
        accountId: account.id,
        detail: { mailbox, error },
      });
    }
    return isNew;
  });
  if (began) deps.log.warn("mailbox unavailable", { account: account.name, mailbox, error });
}

/** Clears a report of `mailbox` (it opened), with its audit row. */
async function reportAvailable(deps: CollectDeps, account: AccountRow, mailbox: string) {
  await deps.db.transaction(async (tx) => {
    if (!await clearMailboxProblem(tx, account.id, mailbox)) return;
    await recordEvent(tx, {
      event: "mailbox_available",
      at: deps.now(),
      accountId: account.id,
      detail: { mailbox },
    });
  });
}

/** UIDs listed at a time: a window's listing is a few hundred kilobytes at most. */
const LIST_WINDOW = 5_000;

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
