import type { Queryable } from "./db.ts";
import { pgSafe } from "./pg_safe.ts";
import type { AuditEvent, AuditEventName, AuditEventOf } from "../domain/audit_events.ts";

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

/** Appends several audit events with one statement, in the caller's transaction. */
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
}
