/**
 * Per-account health that lives outside the `accounts` row: the IMAP IDLE state each running
 * instance reports, and the progress of a collection under way. Read by `stats`, `/metrics`, the
 * accounts page and the API.
 */
import type { Queryable } from "./db.ts";
import { camelRow } from "./row.ts";
import { type MailboxProblem, readMailboxProblems } from "./mailbox_problems.ts";
import { connectionCap, idlePlan } from "../domain/idle_leases.ts";
import { type IdleLease, readIdleLeases } from "./idle_leases.ts";

/**
 * An IDLE report older than this is from an instance that is gone (instances report every few
 * seconds): the account's IDLE state then reads as not reported, never as what it last said.
 */
export const IDLE_STALE_MS = 2 * 60_000;

/**
 * A progress row older than this is from a run that died (a running collection updates it at
 * least once per stored batch); it is no longer shown as running.
 */
export const PROGRESS_STALE_MS = 5 * 60_000;

/** Reports of instances gone this long are deleted by the next report of any instance. */
const IDLE_FORGET_MS = 60 * 60_000;

/** The IDLE watcher of one mailbox of an account, as an instance reports it. */
export interface IdleReport {
  accountId: number;
  /** 'idle' | 'connecting' | 'backoff' | 'unsupported' | 'stopped' (src/mail/imap_idle.ts). */
  state: string;
  mailbox: string;
  /** When the current state was entered. */
  since: Date;
  lastEventAt: Date | null;
  consecutiveFailures: number;
  lastError: string | null;
  lastErrorAt: Date | null;
}

/** A fresh IDLE report with the instance that made it. */
export interface IdleStatus extends Omit<IdleReport, "accountId"> {
  instance: string;
  updatedAt: Date;
}

/** A collection under way: `done` of the `total` messages this run found to fetch are stored. */
export interface CollectProgress {
  mailbox: string;
  done: number;
  total: number;
  startedAt: Date;
  updatedAt: Date;
}

/**
 * One configured mailbox of an account and how new mail in it is noticed: `idle` — watched with
 * IDLE by the instance holding its lease (none while the lease is free or being taken over);
 * `cron` — beyond the account's connection cap, collected by the minute cron only.
 */
export interface MailboxWatch {
  mailbox: string;
  mode: "idle" | "cron";
  /** The lease: the instance watching it now ("hostname:pid"), and its last heartbeat. */
  holder: string | null;
  heartbeatAt: Date | null;
  /** What the holder reports of its watcher (`missing`: no such mailbox on the server). */
  state: string | null;
  lastError: string | null;
}

/** What the readers show for one account. */
export interface AccountHealth {
  /**
   * The report to show: one saying `idle` if any does, else the most recent; null when no
   * running instance reports this account.
   */
  idle: IdleStatus | null;
  /** Every fresh report, one per instance watching the account. */
  idleReports: IdleStatus[];
  progress: CollectProgress | null;
  /** Configured mailboxes the server refused to open at the last try (src/store/mailbox_problems.ts). */
  mailboxProblems: MailboxProblem[];
  /** The account's cap on IMAP connections (its own or the provider's default). */
  connectionCap: number | null;
  /** Each configured mailbox, in order: watched with IDLE (by whom) or left to the cron. */
  mailboxes: MailboxWatch[];
}

/**
 * Replaces this instance's IDLE reports with `reports`, one per mailbox it watches (mailboxes it
 * no longer watches lose their row), in one statement, and forgets reports of instances gone for an hour.
 */
export async function writeIdleHealth(
  q: Queryable,
  instance: string,
  reports: IdleReport[],
  at: Date,
): Promise<void> {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const incoming = reports.map((r) => ({
    account_id: r.accountId,
    state: r.state,
    mailbox: r.mailbox,
    since: iso(r.since),
    last_event_at: iso(r.lastEventAt),
    consecutive_failures: r.consecutiveFailures,
    last_error: r.lastError,
    last_error_at: iso(r.lastErrorAt),
  }));
  await q.query(
    `WITH incoming AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(account_id integer, state text,
         mailbox text, since timestamptz, last_event_at timestamptz,
         consecutive_failures integer, last_error text, last_error_at timestamptz)
     ),
     gone AS (
       DELETE FROM idle_health h
       WHERE (h.instance = $1 AND NOT EXISTS (SELECT 1 FROM incoming i
                 WHERE i.account_id = h.account_id AND i.mailbox = h.mailbox))
          OR (h.instance <> $1 AND h.updated_at < $4::timestamptz)
     )
     INSERT INTO idle_health (account_id, instance, state, mailbox, since, last_event_at,
       consecutive_failures, last_error, last_error_at, updated_at)
     SELECT i.account_id, $1, i.state, i.mailbox, i.since, i.last_event_at,
       i.consecutive_failures, i.last_error, i.last_error_at, $3::timestamptz
     FROM incoming i JOIN accounts a ON a.id = i.account_id
     ON CONFLICT (account_id, instance, mailbox) DO UPDATE SET state = EXCLUDED.state,
       since = EXCLUDED.since, last_event_at = EXCLUDED.last_event_at,
       consecutive_failures = EXCLUDED.consecutive_failures, last_error = EXCLUDED.last_error,
       last_error_at = EXCLUDED.last_error_at, updated_at = EXCLUDED.updated_at`,
    [
      instance,
      JSON.stringify(incoming),
      at.toISOString(),
      new Date(at.getTime() - IDLE_FORGET_MS).toISOString(),
    ],
  );
}

/** Deletes every IDLE report of an instance (it is stopping). */
export async function deleteIdleHealth(q: Queryable, instance: string): Promise<void> {
  await q.query("DELETE FROM idle_health WHERE instance = $1", [instance]);
}

/**
 * Records how far the account's collection is. `done` 0 or another mailbox starts the clock
 * again (`started_at`).
 */
export async function writeProgress(
  q: Queryable,
  p: { accountId: number; mailbox: string; done: number; total: number },
  at: Date,
): Promise<void> {
  await q.query(
    `INSERT INTO collect_progress (account_id, mailbox, done, total, started_at, updated_at)
     SELECT $1::int, $2::text, $3::int, $4::int, $5::timestamptz, $5::timestamptz
     WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $1::int)
     ON CONFLICT (account_id) DO UPDATE SET mailbox = EXCLUDED.mailbox, done = EXCLUDED.done,
       total = EXCLUDED.total, updated_at = EXCLUDED.updated_at,
       started_at = CASE
         WHEN EXCLUDED.done = 0 OR collect_progress.mailbox <> EXCLUDED.mailbox
         THEN EXCLUDED.started_at ELSE collect_progress.started_at END`,
    [p.accountId, p.mailbox, p.done, p.total, at.toISOString()],
  );
}

/** Forgets the account's progress row (its collection ended). */
export async function clearProgress(q: Queryable, accountId: number): Promise<void> {
  await q.query("DELETE FROM collect_progress WHERE account_id = $1", [accountId]);
}

/** The fresh IDLE reports and running collections of every account, by account id. */
export async function readAccountHealth(
  q: Queryable,
  now: Date,
): Promise<Map<number, AccountHealth>> {
  const idle = await q.query<Record<string, unknown>>(
    `SELECT account_id, instance, state, mailbox, since, last_event_at, consecutive_failures,
       last_error, last_error_at, updated_at
     FROM idle_health WHERE updated_at >= $1::timestamptz
     ORDER BY account_id, (state = 'idle') DESC, updated_at DESC, instance`,
    [new Date(now.getTime() - IDLE_STALE_MS).toISOString()],
  );
  const progress = await q.query<Record<string, unknown>>(
    `SELECT account_id, mailbox, done, total, started_at, updated_at FROM collect_progress
     WHERE updated_at >= $1::timestamptz`,
    [new Date(now.getTime() - PROGRESS_STALE_MS).toISOString()],
  );
  const accounts = await q.query<Record<string, unknown>>(
    "SELECT id, imap_host, imap_connection_cap, mailboxes FROM accounts ORDER BY id",
  );
  const leases = await readIdleLeases(q);
  const out = new Map<number, AccountHealth>();
  const entry = (id: number) => {
    let h = out.get(id);
    if (!h) {
      h = emptyHealth();
      out.set(id, h);
    }
    return h;
  };
  for (const r of idle) {
    const { accountId, ...status } = camelRow<IdleStatus & { accountId: number }>(r);
    const h = entry(accountId);
    h.idleReports.push(status);
    h.idle ??= status;
  }
  for (const r of progress) {
    const { accountId, ...p } = camelRow<CollectProgress & { accountId: number }>(r);
    entry(accountId).progress = p;
  }
  for (const [accountId, problems] of await readMailboxProblems(q)) {
    entry(accountId).mailboxProblems = problems;
  }
  for (const r of accounts) {
    const a = camelRow<
      { id: number; imapHost: string; imapConnectionCap: number | null; mailboxes: string[] }
    >(r);
    const h = entry(a.id);
    h.connectionCap = connectionCap(a);
    h.mailboxes = mailboxWatches(
      idlePlan(a.mailboxes, h.connectionCap),
      leases.get(a.id) ?? [],
      h.idleReports,
    );
  }
  return out;
}

function emptyHealth(): AccountHealth {
  return {
    idle: null,
    idleReports: [],
    progress: null,
    mailboxProblems: [],
    connectionCap: null,
    mailboxes: [],
  };
}

/** The account's mailboxes with their lease holder and what the holder reports. */
function mailboxWatches(
  plan: ReturnType<typeof idlePlan>,
  leases: IdleLease[],
  reports: IdleStatus[],
): MailboxWatch[] {
  const watched = plan.idle.map((mailbox): MailboxWatch => {
    const lease = leases.find((l) => l.mailbox === mailbox) ?? null;
    const report = lease
      ? reports.find((r) => r.mailbox === mailbox && r.instance === lease.holder) ?? null
      : null;
    return {
      mailbox,
      mode: "idle",
      holder: lease?.holder ?? null,
      heartbeatAt: lease?.heartbeatAt ?? null,
      state: report?.state ?? null,
      lastError: report?.lastError ?? null,
    };
  });
  const cron = plan.cronOnly.map((mailbox): MailboxWatch => ({
    mailbox,
    mode: "cron",
    holder: null,
    heartbeatAt: null,
    state: null,
    lastError: null,
  }));
  return [...watched, ...cron];
}

/** The account's entry of `readAccountHealth`, or an empty one. */
export function healthOf(all: Map<number, AccountHealth>, accountId: number): AccountHealth {
  return all.get(accountId) ?? emptyHealth();
}

/** Seconds since the account's last successful sync, as of `now`; null when there was none. */
export function lagSeconds(lastSyncAt: Date | null, now: Date): number | null {
  return lastSyncAt ? Math.max(0, Math.round((now.getTime() - lastSyncAt.getTime()) / 1000)) : null;
}

/** An IDLE status as `stats` and the API print it. */
export function idleStatusJson(s: IdleStatus) {
  return {
    state: s.state,
    instance: s.instance,
    mailbox: s.mailbox,
    since: s.since.toISOString(),
    last_event_at: s.lastEventAt?.toISOString() ?? null,
    consecutive_failures: s.consecutiveFailures,
    last_error: s.lastError,
    updated_at: s.updatedAt.toISOString(),
  };
}

/** A mailbox the server refused to open, as `stats` and the API print it. */
export function mailboxProblemJson(p: MailboxProblem) {
  return {
    mailbox: p.mailbox,
    error: p.error,
    since: p.since.toISOString(),
    checked_at: p.checkedAt.toISOString(),
  };
}

/** A mailbox's watch as `stats` and the API print it. */
export function mailboxWatchJson(m: MailboxWatch) {
  return {
    mailbox: m.mailbox,
    mode: m.mode,
    holder: m.holder,
    heartbeat_at: m.heartbeatAt?.toISOString() ?? null,
    state: m.state,
    last_error: m.lastError,
  };
}

/** A collection's progress as `stats` and the API print it. */
export function progressJson(p: CollectProgress) {
  return {
    mailbox: p.mailbox,
    done: p.done,
    total: p.total,
    started_at: p.startedAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}
