import type { Queryable } from "./db.ts";
import { outboxCounts, type OutboxStatus } from "./outbox.ts";
import {
  healthOf,
  idleStatusJson,
  lagSeconds,
  mailboxProblemJson,
  mailboxWatchJson,
  progressJson,
  readAccountHealth,
} from "./account_health.ts";
import { afterProcessingCounts } from "./after_processing.ts";
import { countOpenBreakers } from "./breakers.ts";
import { readBudget } from "./send_budget.ts";
import { budgetJson } from "../domain/send_budget.ts";

/** The counts `cli stats` prints and the health endpoints read. */
export interface Stats {
  messages: number;
  forwarded: number;
  direct: number;
  unparsed: number;
  pending: number;
  outbox: Record<OutboxStatus, number>;
  /** Loop breakers open now, by scope (reset with `breakers reset`). */
  breakers_open: { account: number; recipient: number };
  accounts: Array<{
    id: number;
    name: string;
    address: string;
    enabled: boolean;
    messages: number;
    last_sync_at: string | null;
    last_error: string | null;
    mailboxes: Array<
      { mailbox: string; uidvalidity: number; last_uid: number; rescanning: boolean }
    >;
    /** Seconds since the last successful sync; null when there was none. */
    lag_seconds: number | null;
    /** Collections that failed in a row (0 after a success). */
    consecutive_failures: number;
    /** The IMAP IDLE watcher as a running instance reports it; null when none does. */
    idle: ReturnType<typeof idleStatusJson> | null;
    /** The most IMAP connections Carteiro holds to the account (its cap, or the default). */
    imap_connection_cap: number | null;
    /** Each configured mailbox: watched with IDLE by which instance, or left to the cron. */
    idle_mailboxes: Array<ReturnType<typeof mailboxWatchJson>>;
    /** The collection under way; null when none is. */
    progress: ReturnType<typeof progressJson> | null;
    /** Configured mailboxes the server refused to open; the others are collected. */
    mailbox_problems: Array<ReturnType<typeof mailboxProblemJson>>;
    /**
     * What the SMTP server said when it refused the account's login, and when; null while
     * sending works. While set, the account's replies wait.
     */
    smtp_auth_failure: { error: string; at: string } | null;
    /** The send budget a person set; null: the provider's default (docs/sending_limits.md). */
    send_budget: { per_minute: number | null; per_day: number | null } | null;
    /** "password" or "oauth". */
    auth: string;
    /** The OAuth provider refused the grant: the account waits for Reconnect. */
    reauthorization_needed: boolean;
  }>;
  /** Messages by after-processing state (mark read or move on the server). */
  after_processing: { pending: number; done: number; failed: number };
}

/** Stored messages in all: by kind, and those not parsed (failed) or not yet parsed (pending). */
export async function readMessageCounts(
  q: Queryable,
): Promise<Record<"messages" | "forwarded" | "direct" | "unparsed" | "pending", number>> {
  const [totals] = await q.query<Record<string, number>>(
    `SELECT count(*)::int AS messages,
       count(*) FILTER (WHERE kind = 'forwarded')::int AS forwarded,
       count(*) FILTER (WHERE kind = 'direct')::int AS direct,
       count(*) FILTER (WHERE parse_status = 'failed')::int AS unparsed,
       count(*) FILTER (WHERE parse_status = 'pending')::int AS pending
     FROM messages`,
  );
  return {
    messages: totals.messages,
    forwarded: totals.forwarded,
    direct: totals.direct,
    unparsed: totals.unparsed,
    pending: totals.pending,
  };
}

/**
 * Reads message counts overall and per account, with each mailbox's sync position and the
 * account's health as of `now`.
 */
export async function readStats(q: Queryable, now: Date): Promise<Stats> {
  const totals = await readMessageCounts(q);
  const accounts = await q.query<Record<string, unknown>>(
    `SELECT a.id, a.name, a.address, a.enabled, a.last_sync_at, a.last_error,
       a.consecutive_failures, a.smtp_auth_failure, a.smtp_auth_failure_at, a.send_budget, a.auth_kind,
       a.reauthorization_needed,
       (SELECT count(*)::int FROM messages m WHERE m.account_id = a.id) AS messages
     FROM accounts a ORDER BY a.id`,
  );
  const boxes = await q.query<Record<string, unknown>>(
    `SELECT account_id, mailbox, uidvalidity, last_uid, rescanning FROM mailbox_state
     ORDER BY account_id, mailbox`,
  );
  const health = await readAccountHealth(q, now);
  return {
    ...totals,
    outbox: await outboxCounts(q),
    breakers_open: await countOpenBreakers(q, now),
    accounts: accounts.map((a) => {
      const h = healthOf(health, a.id as number);
      const lastSync = (a.last_sync_at as Date | null) ?? null;
      return {
        id: a.id as number,
        name: a.name as string,
        address: a.address as string,
        enabled: a.enabled as boolean,
        messages: a.messages as number,
        last_sync_at: (a.last_sync_at as Date | null)?.toISOString() ?? null,
        last_error: (a.last_error as string | null) ?? null,
        mailboxes: boxes.filter((b) => b.account_id === a.id).map((b) => ({
          mailbox: b.mailbox as string,
          uidvalidity: Number(b.uidvalidity),
          last_uid: Number(b.last_uid),
          rescanning: b.rescanning as boolean,
        })),
        lag_seconds: lagSeconds(lastSync, now),
        consecutive_failures: a.consecutive_failures as number,
        idle: h.idle && idleStatusJson(h.idle),
        imap_connection_cap: h.connectionCap,
        idle_mailboxes: h.mailboxes.map(mailboxWatchJson),
        progress: h.progress && progressJson(h.progress),
        mailbox_problems: h.mailboxProblems.map(mailboxProblemJson),
        smtp_auth_failure: a.smtp_auth_failure
          ? {
            error: a.smtp_auth_failure as string,
            at: new Date(a.smtp_auth_failure_at as Date).toISOString(),
          }
          : null,
        send_budget: budgetJson(readBudget(a.send_budget)),
        auth: a.auth_kind as string,
        reauthorization_needed: a.reauthorization_needed as boolean,
      };
    }),
    after_processing: await afterProcessingCounts(q),
  };
}
