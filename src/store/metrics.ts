import type { Queryable } from "./db.ts";
import { outboxCounts, type OutboxStatus } from "./outbox.ts";
import { healthOf, readAccountHealth } from "./account_health.ts";
import { readMessageCounts } from "./stats.ts";
import { countOpenBreakers } from "./breakers.ts";
import { afterProcessingCounts } from "./after_processing.ts";

/** The numbers `/metrics` exposes. Counters are totals since the database began. */
export interface MetricsSnapshot {
  messagesCollected: number;
  parseFailures: number;
  messagesByKind: { forwarded: number; direct: number };
  outbox: Record<OutboxStatus, number>;
  /** Send attempts that failed (temporarily or for good), from the audit log. */
  sendFailures: { retry: number; failed: number; unknown: number };
  suppressionsByReason: Record<string, number>;
  /** Loop breakers open now, by scope. */
  breakersOpen: { account: number; recipient: number };
  accounts: Array<{
    id: number;
    name: string;
    enabled: boolean;
    lastSyncAt: Date | null;
    /** Collections that failed in a row. */
    consecutiveFailures: number;
    /** A running instance reported, less than two minutes ago, that it listens with IDLE. */
    idleUp: boolean;
    /** IDLE sessions failed in a row: the most any fresh report says (0 without one). */
    idleConsecutiveFailures: number;
    /** Messages the collection under way has still to store (0 when none runs). */
    syncRemaining: number;
    /** Configured mailboxes the server refused to open at the last try. */
    mailboxesUnavailable: number;
    /** The cap on IMAP connections in force (the account's, or the provider's default). */
    connectionCap: number;
    /** Mailboxes watched with IDLE now (a fresh lease), and those left to the cron by the cap. */
    idleMailboxesHeld: number;
    idleMailboxesCronOnly: number;
    /** The SMTP server refused the account's login: its replies wait. */
    smtpAuthFailed: boolean;
    /** The OAuth provider refused the account's grant: it waits for Reconnect. */
    reauthorizationNeeded: boolean;
  }>;
  /** Messages by after-processing state (mark read or move on the server). */
  afterProcessing: { pending: number; done: number; failed: number };
}

/** Reads every metric in a few aggregate queries; account health as of `now`. */
export async function readMetrics(q: Queryable, now: Date): Promise<MetricsSnapshot> {
  const m = await readMessageCounts(q);
  const sends = await q.query<{ event: string; n: number }>(
    `SELECT event, count(*)::int AS n FROM audit_events
     WHERE event IN ('send_retry', 'send_failed', 'send_unknown') GROUP BY event`,
  );
  const reasons = await q.query<{ reason: string; n: number }>(
    `SELECT COALESCE(reason, 'unknown') AS reason, count(*)::int AS n FROM decisions
     WHERE outcome = 'suppressed' GROUP BY 1 ORDER BY 1`,
  );
  const accounts = await q.query<Record<string, unknown>>(
    `SELECT id, name, enabled, last_sync_at, consecutive_failures,
       smtp_auth_failure IS NOT NULL AS smtp_auth_failed, reauthorization_needed
     FROM accounts ORDER BY id`,
  );
  const health = await readAccountHealth(q, now);
  const send = (e: string) => sends.find((s) => s.event === e)?.n ?? 0;
  return {
    messagesCollected: m.messages,
    parseFailures: m.unparsed,
    messagesByKind: { forwarded: m.forwarded, direct: m.direct },
    outbox: await outboxCounts(q),
    sendFailures: {
      retry: send("send_retry"),
      failed: send("send_failed"),
      unknown: send("send_unknown"),
    },
    suppressionsByReason: Object.fromEntries(reasons.map((r) => [r.reason, r.n])),
    breakersOpen: await countOpenBreakers(q, now),
    accounts: accounts.map((a) => {
      const h = healthOf(health, a.id as number);
      return {
        id: a.id as number,
        name: a.name as string,
        enabled: a.enabled as boolean,
        lastSyncAt: (a.last_sync_at as Date | null) ?? null,
        consecutiveFailures: a.consecutive_failures as number,
        idleUp: h.idleReports.some((r) => r.state === "idle"),
        idleConsecutiveFailures: Math.max(0, ...h.idleReports.map((r) => r.consecutiveFailures)),
        syncRemaining: h.progress ? Math.max(0, h.progress.total - h.progress.done) : 0,
        mailboxesUnavailable: h.mailboxProblems.length,
        connectionCap: h.connectionCap ?? 0,
        idleMailboxesHeld: h.mailboxes.filter((w) => w.mode === "idle" && w.holder).length,
        idleMailboxesCronOnly: h.mailboxes.filter((w) => w.mode === "cron").length,
        smtpAuthFailed: a.smtp_auth_failed as boolean,
        reauthorizationNeeded: a.reauthorization_needed as boolean,
      };
    }),
    afterProcessing: await afterProcessingCounts(q),
  };
}
