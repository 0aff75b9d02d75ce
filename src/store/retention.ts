/**
 * Retention and erasure in SQL (docs/retention.md): the settings, what is due, the batches that
 * drop raw sources, delete messages and audit rows, the keys kept of answered messages that are
 * removed, and the removal of everything that names one address.
 */
import type { Queryable } from "./db.ts";
import { LockNamespace } from "./db.ts";
import type { ForgottenKey } from "../domain/retention.ts";
import { forgottenKeys } from "../domain/retention.ts";

/** An account with at least one retention setting. */
export interface AccountRetention {
  accountId: number;
  accountName: string;
  keepRawDays: number | null;
  keepMessagesDays: number | null;
}

/** Every account with its retention settings (null: for ever), by id. */
export async function listAccountRetentions(q: Queryable): Promise<AccountRetention[]> {
  return await retentionRows(q, "");
}

/** Every account that keeps raw sources or messages for a number of days, by id. */
export async function accountRetentions(q: Queryable): Promise<AccountRetention[]> {
  return await retentionRows(
    q,
    "WHERE keep_raw_days IS NOT NULL OR keep_messages_days IS NOT NULL",
  );
}

async function retentionRows(q: Queryable, where: string): Promise<AccountRetention[]> {
  const rows = await q.query<
    { id: number; name: string; keep_raw_days: number | null; keep_messages_days: number | null }
  >(`SELECT id, name, keep_raw_days, keep_messages_days FROM accounts ${where} ORDER BY id`);
  return rows.map((r) => ({
    accountId: r.id,
    accountName: r.name,
    keepRawDays: r.keep_raw_days,
    keepMessagesDays: r.keep_messages_days,
  }));
}

/** Days the audit log is kept; null: for ever. */
export async function readKeepAuditDays(q: Queryable): Promise<number | null> {
  const [r] = await q.query<{ keep_audit_days: number | null }>(
    "SELECT keep_audit_days FROM retention_settings",
  );
  return r?.keep_audit_days ?? null;
}

/** Sets the days the audit log is kept (null: for ever). */
export async function writeKeepAuditDays(q: Queryable, days: number | null): Promise<void> {
  await q.query(
    `INSERT INTO retention_settings (id, keep_audit_days) VALUES (true, $1)
     ON CONFLICT (id) DO UPDATE SET keep_audit_days = EXCLUDED.keep_audit_days`,
    [days],
  );
}

/**
 * Waits, inside the transaction, for the account's collection to finish (its session lock,
 * src/jobs/collect_account.ts), and holds it off until the transaction ends: a message is never
 * removed while a copy of it is being decided.
 */
async function holdCollection(q: Queryable, accountId: number): Promise<void> {
  await q.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [
    LockNamespace.collect,
    accountId,
  ]);
}

// Parsed (or failed) messages only: a pending one still needs its bytes to be parsed.
const RAW_DUE = `account_id = $1 AND received_at < $2::timestamptz AND raw IS NOT NULL
  AND parse_status <> 'pending'`;

// A message whose reply is still in flight (or owes its Sent copy) waits for a later run.
const MESSAGE_DUE = `m.account_id = $1 AND m.received_at < $2::timestamptz
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id
    AND (o.status IN ('pending', 'retry', 'sending', 'unknown')
      OR EXISTS (SELECT 1 FROM sent_copies c WHERE c.outbox_id = o.id AND c.status = 'owed')))`;

/**
 * Raw sources of the account that arrived before `cutoff` and would be dropped; with `notBefore`,
 * only those that arrived since (older messages are deleted whole).
 */
export async function countRawDue(
  q: Queryable,
  accountId: number,
  cutoff: Date,
  notBefore: Date | null = null,
): Promise<number> {
  const [r] = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM messages
     WHERE ${RAW_DUE} AND ($3::timestamptz IS NULL OR received_at >= $3::timestamptz)`,
    [accountId, cutoff.toISOString(), notBefore?.toISOString() ?? null],
  );
  return r.n;
}

/** Messages of the account that arrived before `cutoff` and would be deleted, with their replies. */
export async function countMessagesDue(
  q: Queryable,
  accountId: number,
  cutoff: Date,
): Promise<{ messages: number; replies: number }> {
  const [r] = await q.query<{ messages: number; replies: number }>(
    `SELECT count(*)::int AS messages,
       coalesce(sum((SELECT count(*) FROM outbox o WHERE o.message_id = m.id)), 0)::int AS replies
     FROM messages m WHERE ${MESSAGE_DUE}`,
    [accountId, cutoff.toISOString()],
  );
  return r;
}

/** Audit rows written before `cutoff`. */
export async function countAuditDue(q: Queryable, cutoff: Date): Promise<number> {
  const [r] = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE at < $1::timestamptz",
    [cutoff.toISOString()],
  );
  return r.n;
}

/** Drops up to `limit` raw sources of the account older than `cutoff`; returns how many. */
export async function purgeRawBatch(
  q: Queryable,
  accountId: number,
  cutoff: Date,
  at: Date,
  limit: number,
): Promise<number> {
  await holdCollection(q, accountId);
  const rows = await q.query(
    `UPDATE messages SET raw = NULL, raw_purged_at = $3::timestamptz
     WHERE id IN (SELECT id FROM messages WHERE ${RAW_DUE} ORDER BY id LIMIT $4
                  FOR UPDATE SKIP LOCKED)
     RETURNING id`,
    [accountId, cutoff.toISOString(), at.toISOString(), limit],
  );
  return rows.length;
}

/** What removing messages removed, by table. */
export interface MessageRemoval {
  messages: number;
  decisions: number;
  replies: number;
  sentCopies: number;
}

/**
 * Deletes up to `limit` messages of the account older than `cutoff` with their decisions, replies
 * and Sent copies; the keys of those that were answered stay, hashed (`forgetKeys`). Audit rows
 * keep their text (the audit log has its own retention); their link to the message is cleared.
 */
export async function purgeMessagesBatch(
  q: Queryable,
  accountId: number,
  cutoff: Date,
  at: Date,
  limit: number,
): Promise<MessageRemoval> {
  await holdCollection(q, accountId);
  const ids = (await q.query<{ id: number }>(
    `SELECT m.id FROM messages m WHERE ${MESSAGE_DUE} ORDER BY m.id LIMIT $3
     FOR UPDATE OF m SKIP LOCKED`,
    [accountId, cutoff.toISOString(), limit],
  )).map((r) => Number(r.id));
  return await removeMessages(q, ids, at);
}

/**
 * Deletes messages `ids` with their decisions, replies and Sent copies, keeping the hashed keys
 * of the answered ones (`forgottenKeys`), so that no copy of them is ever answered again.
 */
export async function removeMessages(
  q: Queryable,
  ids: number[],
  at: Date,
): Promise<MessageRemoval> {
  if (ids.length === 0) return { messages: 0, decisions: 0, replies: 0, sentCopies: 0 };
  const answered = await q.query<
    { account_id: number; content_sha256: string; message_id: string | null; keys: string[] }
  >(
    `SELECT m.account_id, m.content_sha256, m.message_id,
       array_agg(o.dedup_key ORDER BY o.id) AS keys
     FROM messages m JOIN outbox o ON o.message_id = m.id
     WHERE m.id = ANY($1::bigint[]) AND o.status <> 'cancelled' AND m.account_id IS NOT NULL
     GROUP BY m.id, m.account_id, m.content_sha256, m.message_id`,
    [ids],
  );
  await forgetKeys(
    q,
    answered.flatMap((m) =>
      forgottenKeys({
        accountId: m.account_id,
        rawSha256: m.content_sha256,
        messageIdHeader: m.message_id,
        dedupKeys: m.keys,
      })
    ),
    at,
  );
  const [counts] = await q.query<{ decisions: number; copies: number }>(
    `SELECT (SELECT count(*) FROM decisions WHERE message_id = ANY($1::bigint[]))::int AS decisions,
       (SELECT count(*) FROM sent_copies c JOIN outbox o ON o.id = c.outbox_id
        WHERE o.message_id = ANY($1::bigint[]))::int AS copies`,
    [ids],
  );
  const replies = await q.query(
    "DELETE FROM outbox WHERE message_id = ANY($1::bigint[]) RETURNING id",
    [
      ids,
    ],
  );
  const messages = await q.query("DELETE FROM messages WHERE id = ANY($1::bigint[]) RETURNING id", [
    ids,
  ]);
  return {
    messages: messages.length,
    decisions: counts.decisions,
    replies: replies.length,
    sentCopies: counts.copies,
  };
}

/** Deletes up to `limit` audit rows written before `cutoff`; returns how many. */
export async function purgeAuditBatch(q: Queryable, cutoff: Date, limit: number): Promise<number> {
  const rows = await q.query(
    `DELETE FROM audit_events WHERE id IN
       (SELECT id FROM audit_events WHERE at < $1::timestamptz ORDER BY id LIMIT $2)
     RETURNING id`,
    [cutoff.toISOString(), limit],
  );
  return rows.length;
}

/** Keeps the hashed keys of removed messages (a key kept already stays as it was). */
export async function forgetKeys(q: Queryable, keys: ForgottenKey[], at: Date): Promise<void> {
  if (keys.length === 0) return;
  await q.query(
    `INSERT INTO forgotten_keys (key_sha256, kind, forgotten_at)
     SELECT k, kind, $3::timestamptz FROM unnest($1::text[], $2::text[]) AS u(k, kind)
     ON CONFLICT (key_sha256) DO NOTHING`,
    [keys.map((k) => k.sha256), keys.map((k) => k.kind), at.toISOString()],
  );
}

/** Whether any of these hashed keys is one of a removed, answered message. */
export async function anyForgotten(q: Queryable, shas: string[]): Promise<boolean> {
  if (shas.length === 0) return false;
  const rows = await q.query(
    "SELECT 1 AS ok FROM forgotten_keys WHERE key_sha256 = ANY($1::text[]) LIMIT 1",
    [shas],
  );
  return rows.length > 0;
}
