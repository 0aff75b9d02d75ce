import type { Classification, ParsedEmail } from "../domain/email.ts";
import type { Db, Queryable } from "../store/db.ts";
import type { AuditEvent } from "../domain/audit_events.ts";
import { recordEvents } from "../store/audit.ts";
import {
  type ParsedResult,
  pendingMessages,
  saveParsedBatch,
  saveParseFailure,
} from "../store/messages.ts";
import type { Analysis } from "../mail/analyze.ts";

/** A stored message that has just been parsed and classified, inside the transaction saving it. */
export interface ClassifiedMessage {
  id: number;
  accountId: number;
  email: ParsedEmail;
  classification: Classification;
  /** SHA-256 of the raw bytes: the content half of the message's identity. */
  sha256: string;
  internalDate: Date | null;
  collectedAt: Date;
}

export interface ProcessDeps {
  db: Db;
  /**
   * Parses and classifies one raw message; never rejects. Messages of a batch are handed over
   * together, so a pool of workers can take them side by side.
   */
  analyze: (raw: Uint8Array, handOver?: boolean) => Promise<Analysis>;
  now: () => Date;
  /**
   * Runs in the same transaction that saves a batch's classifications, with the messages parsed
   * (in order), so that whatever it decides (the reply decisions and outbox rows) commits
   * together with them, or not at all.
   */
  afterClassified?: (tx: Queryable, messages: ClassifiedMessage[], at: Date) => Promise<void>;
}

/** A stored, still `pending` message with its raw bytes. */
export interface PendingMessage {
  id: number;
  raw: Uint8Array;
  sha256: string;
  internalDate: Date | null;
  collectedAt: Date;
  /** Its analysis, when the collector started it as the message arrived. */
  analysis?: Promise<Analysis>;
}

/** Messages parsed between two commits. */
const BATCH = 50;

/**
 * Parses and classifies every stored message of the account still `pending`, reading the raw
 * bytes back from the database (messages stored by a run that ended before parsing them), or,
 * when `arrived` is given, the batches it yields, from the bytes already in memory. A message that
 * fails to parse is marked `failed` with the parser's error and stays stored and visible; it
 * never stops the run. Run it under the account's collection lock.
 */
export async function processPending(
  deps: ProcessDeps,
  accountId: number,
  arrived?: AsyncIterable<PendingMessage[]>,
): Promise<{ parsed: number; failed: number }> {
  const counts = { parsed: 0, failed: 0 };
  // Parsing a batch (CPU) overlaps with the commit of the one before (the database's work), and
  // with whatever produces the next batch; commits stay in order, one at a time.
  let saving: Promise<unknown> = Promise.resolve(null);
  const save = async (results: ParsedBatch) => {
    const failure = await saving;
    if (failure) throw failure;
    saving = saveBatch(deps, accountId, results, counts).then(() => null, (e) => e);
  };
  let stopped: unknown = null;
  try {
    for await (const batch of arrived ?? readBack(deps, accountId)) {
      for (let i = 0; i < batch.length; i += BATCH) {
        await save(await parseBatch(deps, batch.slice(i, i + BATCH)));
      }
    }
  } catch (e) {
    stopped = e;
  }
  // A failure while a commit is in flight waits for it: nothing of this run outlives the lock.
  const failure = await saving;
  if (stopped) throw stopped;
  if (failure) throw failure;
  return counts;
}

/** The account's pending messages, read back from the database a batch at a time. */
async function* readBack(deps: ProcessDeps, accountId: number) {
  let after = 0;
  while (true) {
    const batch = await pendingMessages(deps.db, accountId, BATCH, after);
    if (batch.length === 0) return;
    after = batch[batch.length - 1].id;
    yield batch;
  }
}

type ParsedBatch = Array<{ m: PendingMessage } & Analysis>;

async function parseBatch(deps: ProcessDeps, batch: PendingMessage[]): Promise<ParsedBatch> {
  // Nothing reads a stored message's bytes after its analysis: they may move to the parser.
  const analyses = await Promise.all(batch.map((m) => m.analysis ?? deps.analyze(m.raw, true)));
  return batch.map((m, i) => ({ m, ...analyses[i] }));
}

/**
 * Saves a parsed batch in one transaction: the parse results, their audit events and what
 * `afterClassified` decides commit together or not at all.
 */
async function saveBatch(
  deps: ProcessDeps,
  accountId: number,
  results: ParsedBatch,
  counts: { parsed: number; failed: number },
) {
  const at = deps.now();
  await deps.db.transaction(async (tx) => {
    const events: AuditEvent[] = [];
    const parsed: ParsedResult[] = [];
    const failures: Array<Promise<void>> = [];
    for (const { m, outcome, classification } of results) {
      if (!outcome.ok || !classification) {
        const error = outcome.ok ? "not classified" : outcome.error;
        events.push({ event: "parse_failed", at, accountId, messageId: m.id, detail: { error } });
        // Sent together: the driver pipelines them on the transaction's connection.
        failures.push(saveParseFailure(tx, m.id, error, at));
        continue;
      }
      events.push({
        event: "classified",
        at,
        accountId,
        messageId: m.id,
        detail: {
          kind: classification.kind,
          confidence: classification.confidence,
          original_from: classification.original?.fromAddress ?? null,
        },
      });
      parsed.push({ id: m.id, email: outcome.email, classification });
    }
    await Promise.all([...failures, saveParsedBatch(tx, parsed, at)]);
    // The audit rows come before the reply step's own, in the order they happened.
    await recordEvents(tx, events);
    const classified: ClassifiedMessage[] = [];
    for (const { m, outcome, classification } of results) {
      if (!outcome.ok || !classification) continue;
      classified.push({
        id: m.id,
        accountId,
        email: outcome.email,
        classification,
        sha256: m.sha256,
        internalDate: m.internalDate,
        collectedAt: m.collectedAt,
      });
    }
    await deps.afterClassified?.(tx, classified, at);
  });
  for (const r of results) {
    if (r.outcome.ok) counts.parsed++;
    else counts.failed++;
  }
}
