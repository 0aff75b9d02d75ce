import type { Queryable } from "./db.ts";
import { outboxCounts, type OutboxStatus } from "./outbox.ts";

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
  }>;
}

/** Reads message counts overall and per account, with each mailbox's sync position. */
export async function readStats(q: Queryable): Promise<Stats> {
  const [totals] = await q.query<Record<string, number>>(
    `SELECT count(*)::int AS messages,
       count(*) FILTER (WHERE kind = 'forwarded')::int AS forwarded,
       count(*) FILTER (WHERE kind = 'direct')::int AS direct,
       count(*) FILTER (WHERE parse_status = 'failed')::int AS unparsed,
       count(*) FILTER (WHERE parse_status = 'pending')::int AS pending
     FROM messages`,
  );
  const accounts = await q.query<Record<string, unknown>>(
    `SELECT a.id, a.name, a.address, a.enabled, a.last_sync_at, a.last_error,
       (SELECT count(*)::int FROM messages m WHERE m.account_id = a.id) AS messages
     FROM accounts a ORDER BY a.id`,
  );
  const boxes = await q.query<Record<string, unknown>>(
    `SELECT account_id, mailbox, uidvalidity, last_uid, rescanning FROM mailbox_state
     ORDER BY account_id, mailbox`,
  );
  return {
    messages: totals.messages,
    forwarded: totals.forwarded,
    direct: totals.direct,
    unparsed: totals.unparsed,
    pending: totals.pending,
    outbox: await outboxCounts(q),
    accounts: accounts.map((a) => ({
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
    })),
  };
}
