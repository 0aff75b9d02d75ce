import type { Queryable } from "./db.ts";
import { pgSafe } from "./pg_safe.ts";

/** One audit event; `detail` is free-form JSON that says what happened and why. */
export interface AuditEvent {
  event: string;
  at: Date;
  accountId?: number | null;
  messageId?: number | null;
  detail?: Record<string, unknown>;
}

/** Appends an audit event, in the caller's transaction when given one. */
export async function recordEvent(q: Queryable, e: AuditEvent): Promise<void> {
  await recordEvents(q, [e]);
}

/** Appends several audit events with one statement, in the caller's transaction. */
export async function recordEvents(q: Queryable, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const params: unknown[] = [];
  const rows = events.map((e) => {
    const n = params.push(
      e.event,
      e.at.toISOString(),
      e.accountId ?? null,
      e.messageId ?? null,
      JSON.stringify(pgSafe(e.detail ?? {})),
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
