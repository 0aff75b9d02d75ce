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
  const params: unknown[] = [];
  const rows = events.map((e) => {
    const n = params.push(
      e.event,
      e.at.toISOString(),
      e.accountId ?? null,
      e.messageId ?? null,
      JSON.stringify(pgSafe(e.detail)),
    );
    return `($${n - 4}, $${n - 3}::timestamptz, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
  });
  await q.query(
    `INSERT INTO audit_events (event, at, account_id, message_id, detail) VALUES ${
      rows.join(", ")
    }`,
    params,
  );
  const told = events.map((e) => webhookEventOf(e, () => crypto.randomUUID()))
    .filter((w): w is WebhookEvent => w !== null);
  if (told.length > 0) await enqueueWebhooks(q, told, told[0].createdAt);
}
