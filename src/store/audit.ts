import type { Queryable } from "./db.ts";
import { pgSafe } from "./pg_safe.ts";
import type { AuditEvent, AuditEventName, AuditEventOf } from "../domain/audit_events.ts";
import { type WebhookEvent, webhookEventOf } from "../domain/webhooks.ts";
import { enqueueWebhooks } from "./webhooks.ts";

/**
 * Appends an audit event of the vocabulary (src/domain/audit_events.ts), in the caller's
 * transaction when given one.
 */
export async function recordEvent<E extends AuditEventName>(
  q: Queryable,
  e: AuditEventOf<E>,
): Promise<void> {
  await recordEvents(q, [e as AuditEvent]);
}

/**
 * Appends several audit events with one statement, in the caller's transaction. The events a
 * webhook may tell of (src/domain/webhooks.ts `webhookEventOf`) are enqueued for the endpoints
 * that want them in the same transaction (a transactional outbox): a change, its audit row and
 * its webhook deliveries commit together or not at all.
 */
export async function recordEvents(q: Queryable, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e, n) => ({
    n,
    event: e.event,
    at: e.at.toISOString(),
    account_id: e.accountId ?? null,
    message_id: e.messageId ?? null,
    detail: pgSafe(e.detail),
  }));
  await q.query(
    recordEventsSql(
      `SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(n integer, event text,
         at timestamptz, account_id integer, message_id bigint, detail jsonb)`,
    ),
    [JSON.stringify(rows)],
  );
  const told = events.map((e) => webhookEventOf(e, () => crypto.randomUUID()))
    .filter((w): w is WebhookEvent => w !== null);
  if (told.length > 0) await enqueueWebhooks(q, told, told[0].createdAt);
}

/**
 * The statement that appends each event `source` gives (a query with `n`, its order, `event`,
 * `at`, `account_id`, `message_id` and `detail`), ids in that order. `recordEvents` runs it alone,
 * the outbox's settlement (`settleSends`) inside its own statement.
 */
export function recordEventsSql(source: string): string {
  return `INSERT INTO audit_events (event, at, account_id, message_id, detail)
     SELECT x.event, x.at, x.account_id, x.message_id, x.detail FROM (${source}) AS x
     ORDER BY x.n`;
}
