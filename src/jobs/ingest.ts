/**
 * The ingest chain, top to bottom: **collect** (log in to IMAP, fetch what is new, store the
 * exact bytes), **analyse** (parse and classify each stored batch), **decide** (the rules, and
 * the reply's outbox row, in the transaction that saves the classification). Sending is not
 * part of it: the outbox drain runs elsewhere (STYLE §5).
 */
import type { Db, Queryable } from "../store/db.ts";
import { type AccountRow, listAccounts } from "../store/accounts.ts";
import { connectImap } from "../mail/imap_reader.ts";
import type { ImapConnection } from "../mail/account_access.ts";
import { type AnalyzePool, startAnalyzePool } from "../mail/analyze_pool.ts";
import type { Analysis } from "../mail/analyze.ts";
import type { Logger } from "../log.ts";
import {
  collectAccount,
  type CollectDeps,
  type CollectProgressEvent,
  type CollectSummary,
} from "./collect_account.ts";
import { collectAll } from "./collect_all.ts";
import { type ClassifiedMessage, type PendingMessage, processPending } from "./process_messages.ts";
import { replyBatchStep, type ReplyStepDeps } from "./reply_step.ts";
import { recordBounces } from "./bounce_step.ts";

export interface IngestDeps {
  db: Db;
  now: () => Date;
  log: Logger;
  /** Messages per UID FETCH and per commit (COLLECT_BATCH). */
  batchMessages?: number;
  /**
   * Logs in to an account's IMAP with `connect` (src/mail/account_access.ts `connectWithLogin`:
   * an OAuth account's refused token is refreshed and tried once more).
   */
  imapLogin: <T>(account: AccountRow, connect: (c: ImapConnection) => Promise<T>) => Promise<T>;
  /** Parses and classifies one message; never rejects (see `startAnalyzer`). */
  analyze: (raw: Uint8Array, handOver?: boolean) => Promise<Analysis>;
  /** What the reply decision reads: the account, the installation's addresses, the limits. */
  reply: ReplyStepDeps;
  /** Saves a collection's progress, for `stats` and the accounts page. */
  saveProgress: (p: CollectProgressEvent) => Promise<void>;
}

/** The chain, for the cron (every account), IMAP IDLE (one account) and `collect --once`. */
export interface IngestChain {
  /** One collection of one account, analysed and decided as it is stored. */
  collectAccount(account: AccountRow): Promise<CollectSummary>;
  /**
   * One collection of every enabled account. `shouldStop`, when given, is asked before each batch
   * (a time-bounded cron handler); `onProgress` is told of the progress too (the CLI's line).
   */
  collectAll(
    shouldStop?: () => boolean,
    onProgress?: (p: CollectProgressEvent) => void,
  ): Promise<CollectSummary[]>;
}

/** Wires collect → analyse → decide over `deps`. */
export function ingestChain(deps: IngestDeps): IngestChain {
  const { db, now, log, analyze } = deps;

  // 1. Collect: under the account's lock, batch by batch (raw bytes and the high-water mark in
  // one commit); each message's analysis starts as its bytes arrive, and each stored batch is
  // handed on to be analysed and decided while the next one is fetched and stored.
  const collect: CollectDeps = {
    db,
    now,
    log,
    batchMessages: deps.batchMessages,
    onProgress: deps.saveProgress,
    connect: (account) => deps.imapLogin(account, connectImap),
    analyze,
    processPending: analyseStored,
  };

  // 2. Analyse: the parsed message and its classification are saved batch by batch; a message
  // that fails to parse is kept, marked failed, never dropped.
  function analyseStored(accountId: number, arrived?: AsyncIterable<PendingMessage[]>) {
    return processPending({ db, analyze, now, afterClassified: decide }, accountId, arrived);
  }

  // 3. Decide: the rules run in the transaction that saves the classifications, so the decision,
  // its audit events and the outbox row commit with them or not at all; delivery reports of our
  // own replies are recorded in it too.
  const decide = decideStep(deps.reply);

  return {
    collectAccount: (account) => collectAccount(collect, account),
    collectAll: async (shouldStop, onProgress) =>
      collectAll({
        ...collect,
        shouldStop,
        onProgress: onProgress
          ? async (p) => {
            onProgress(p);
            await deps.saveProgress(p);
          }
          : deps.saveProgress,
      }, await listAccounts(db)),
  };
}

/**
 * The decide step for a batch of new messages: delivery reports of our own replies are matched
 * and recorded first (src/jobs/bounce_step.ts), so a hard bounce holds back a later message of
 * the same batch; then the rules decide each message (src/jobs/reply_step.ts).
 */
export function decideStep(reply: ReplyStepDeps) {
  const replies = replyBatchStep(reply);
  return async (tx: Queryable, messages: ClassifiedMessage[], at: Date): Promise<void> => {
    await recordBounces(tx, messages, at);
    await replies(tx, messages, at);
  };
}

// The parser and the classifier load on first use: on a server they run on worker threads
// (src/mail/analyze_pool.ts), and the collecting thread never needs its own copy.
const analysisModule = () => import("../mail/analyze.ts");

/**
 * Where messages are parsed and classified: on `workers` worker threads (started on first use),
 * or on the calling thread when `workers` is 0 (deploy mode, PARSE_WORKERS=0).
 */
export function startAnalyzer(workers: number) {
  let pool: AnalyzePool | null = null;
  return {
    analyze: async (raw: Uint8Array, handOver?: boolean): Promise<Analysis> =>
      workers === 0
        ? (await analysisModule()).analyzeMessage(raw)
        : (pool ??= startAnalyzePool(workers)).analyze(raw, handOver),
    close: () => pool?.close(),
  };
}
