import type { Queryable } from "./db.ts";
import { outboxCounts, type OutboxStatus } from "./outbox.ts";
import {
  healthOf,
  idleStatusJson,
  lagSeconds,
  progressJson,
  readAccountHealth,
} from "./account_health.ts";

/** The counts `cli stats` prints and the health endpoints read. */
export interface Stats {
  messages: number;
  forwarded: number;
  direct: number;
  unparsed: number;
  pending: number;
  outbox: Record<OutboxStatus, number>;
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
    /** The collection under way; null when none is. */
    progress: ReturnType<typeof progressJson> | null;
  }>;
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
       a.consecutive_failures,
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
        progress: h.progress && progressJson(h.progress),
      };
    }),
  };
}
