/**
 * The purge (docs/retention.md): each account's raw sources and messages older than its settings,
 * and audit rows older than the installation's, removed in batches — one transaction per batch, so
 * a large first purge never holds one long transaction — and one `retention_purged` audit row per
 * run with the counts. Runs daily from the service's cron, and from `cli purge` and the admin; a
 * dry run counts what would go and changes nothing. One run at a time across instances.
 */
import type { Db } from "../store/db.ts";
import { LockNamespace } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import {
  accountRetentions,
  countAuditDue,
  countMessagesDue,
  countRawDue,
  purgeAuditBatch,
  purgeMessagesBatch,
  purgeRawBatch,
  readKeepAuditDays,
} from "../store/retention.ts";
import { keepCutoff } from "../domain/retention.ts";

export interface PurgeDeps {
  db: Db;
  now: () => Date;
  /** Rows per batch (one transaction each); default 500. */
  batch?: number;
}

/** One account's part of a purge. */
export interface AccountPurge {
  accountId: number;
  account: string;
  keepRawDays: number | null;
  keepMessagesDays: number | null;
  raw: number;
  messages: number;
  replies: number;
}

/** What a purge removed (or, dry, would remove). */
export interface PurgeReport {
  dryRun: boolean;
  /** Another instance was purging: this run did nothing. */
  skipped: boolean;
  accounts: AccountPurge[];
  keepAuditDays: number | null;
  totals: { raw: number; messages: number; decisions: number; replies: number; audit: number };
}

/**
 * Runs the purge (or counts it, `dryRun`), recording one `retention_purged` event when anything
 * is set to be purged. `by` names who asked: `cron`, `cli`, a person.
 */
export async function purgeExpired(
  deps: PurgeDeps,
  options: { dryRun: boolean; by: string },
): Promise<PurgeReport> {
  if (options.dryRun) return await countExpired(deps);
  const locked = await deps.db.tryWithLock(
    LockNamespace.retention,
    0,
    () => runPurge(deps, options.by),
  );
  if (locked.acquired) return locked.value;
  const report = await countExpired(deps);
  return { ...report, dryRun: false, skipped: true };
}

async function countExpired(deps: PurgeDeps): Promise<PurgeReport> {
  const { db } = deps;
  const now = deps.now();
  const report = emptyReport(true, await readKeepAuditDays(db));
  for (const a of await accountRetentions(db)) {
    const part = accountPart(a);
    const messageCutoff = a.keepMessagesDays === null ? null : keepCutoff(now, a.keepMessagesDays);
    if (messageCutoff) {
      const due = await countMessagesDue(db, a.accountId, messageCutoff);
      part.messages = due.messages;
      part.replies = due.replies;
    }
    if (a.keepRawDays !== null) {
      // A message deleted takes its raw source with it: not counted twice.
      part.raw = await countRawDue(db, a.accountId, keepCutoff(now, a.keepRawDays), messageCutoff);
    }
    addPart(report, part);
  }
  if (report.keepAuditDays !== null) {
    report.totals.audit = await countAuditDue(db, keepCutoff(now, report.keepAuditDays));
  }
  return report;
}

async function runPurge(deps: PurgeDeps, by: string): Promise<PurgeReport> {
  const { db } = deps;
  const limit = deps.batch ?? 500;
  const start = deps.now();
  const report = emptyReport(false, await readKeepAuditDays(db));
  const accounts = await accountRetentions(db);
  // Batch by batch until one comes back short: each is its own transaction.
  const drain = async (batch: () => Promise<number>) => {
    let total = 0;
    while (true) {
      const n = await batch();
      total += n;
      if (n < limit) return total;
    }
  };
  for (const a of accounts) {
    const part = accountPart(a);
    if (a.keepMessagesDays !== null) {
      const cutoff = keepCutoff(start, a.keepMessagesDays);
      part.messages = await drain(() =>
        db.transaction(async (tx) => {
          const removed = await purgeMessagesBatch(tx, a.accountId, cutoff, deps.now(), limit);
          part.replies += removed.replies;
          report.totals.decisions += removed.decisions;
          return removed.messages;
        })
      );
    }
    if (a.keepRawDays !== null) {
      const cutoff = keepCutoff(start, a.keepRawDays);
      part.raw = await drain(() =>
        db.transaction((tx) => purgeRawBatch(tx, a.accountId, cutoff, deps.now(), limit))
      );
    }
    addPart(report, part);
  }
  if (report.keepAuditDays !== null) {
    const cutoff = keepCutoff(start, report.keepAuditDays);
    report.totals.audit = await drain(() =>
      db.transaction((tx) => purgeAuditBatch(tx, cutoff, limit))
    );
  }
  if (accounts.length > 0 || report.keepAuditDays !== null) {
    const { raw, messages, decisions, replies, audit } = report.totals;
    await recordEvent(db, {
      event: "retention_purged",
      at: deps.now(),
      detail: {
        raw,
        messages,
        decisions,
        replies,
        audit,
        accounts: report.accounts.map((p) => ({
          account_id: p.accountId,
          raw: p.raw,
          messages: p.messages,
          replies: p.replies,
        })),
        by,
      },
    });
  }
  return report;
}

function emptyReport(dryRun: boolean, keepAuditDays: number | null): PurgeReport {
  return {
    dryRun,
    skipped: false,
    accounts: [],
    keepAuditDays,
    totals: { raw: 0, messages: 0, decisions: 0, replies: 0, audit: 0 },
  };
}

function accountPart(
  a: {
    accountId: number;
    accountName: string;
    keepRawDays: number | null;
    keepMessagesDays: number | null;
  },
): AccountPurge {
  return {
    accountId: a.accountId,
    account: a.accountName,
    keepRawDays: a.keepRawDays,
    keepMessagesDays: a.keepMessagesDays,
    raw: 0,
    messages: 0,
    replies: 0,
  };
}

function addPart(report: PurgeReport, part: AccountPurge): void {
  report.accounts.push(part);
  report.totals.raw += part.raw;
  report.totals.messages += part.messages;
  report.totals.replies += part.replies;
}

/** The report as JSON (the CLI and the API print it). */
export function purgeReportJson(r: PurgeReport) {
  return {
    dry_run: r.dryRun,
    skipped: r.skipped,
    keep_audit_days: r.keepAuditDays,
    totals: r.totals,
    accounts: r.accounts.map((a) => ({
      account_id: a.accountId,
      account: a.account,
      keep_raw_days: a.keepRawDays,
      keep_messages_days: a.keepMessagesDays,
      raw: a.raw,
      messages: a.messages,
      replies: a.replies,
    })),
  };
}
