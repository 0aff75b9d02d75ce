import type { Queryable } from "./db.ts";
import { WhereClause } from "./where_clause.ts";

/** Filters of the audit log; every one that is set must hold. */
export interface AuditFilters {
  event?: string;
  accountId?: number;
  messageId?: number;
  since?: Date;
  until?: Date;
}

export interface AuditRow {
  id: number;
  at: Date;
  event: string;
  accountId: number | null;
  messageId: number | null;
  detail: Record<string, unknown>;
}

/** The last row of the previous page: newest first, by (at, id). */
export interface AuditCursor {
  micros: number;
  id: number;
}

export function encodeAuditCursor(c: AuditCursor): string {
  return `${c.micros}.${c.id}`;
}

export function decodeAuditCursor(text: string | null | undefined): AuditCursor | null {
  const m = /^(-?\d{1,17})\.(\d{1,15})$/.exec(text ?? "");
  return m ? { micros: Number(m[1]), id: Number(m[2]) } : null;
}

/** One page of audit events, newest first, by keyset on (at, id). */
export async function listAudit(
  q: Queryable,
  filters: AuditFilters,
  cursor: AuditCursor | null,
  limit: number,
): Promise<{ rows: AuditRow[]; next: AuditCursor | null }> {
  const where = new WhereClause();
  const p = (v: unknown) => where.param(v);
  if (filters.event) where.and(`event = ${p(filters.event)}`);
  if (filters.accountId !== undefined) where.and(`account_id = ${p(filters.accountId)}`);
  if (filters.messageId !== undefined) where.and(`message_id = ${p(filters.messageId)}`);
  if (filters.since) where.and(`at >= ${p(filters.since.toISOString())}::timestamptz`);
  if (filters.until) where.and(`at < ${p(filters.until.toISOString())}::timestamptz`);
  if (cursor) where.before("at", "id", cursor);
  const rows = await q.query<Record<string, unknown>>(
    `SELECT id, at, (extract(epoch FROM at) * 1000000)::bigint AS micros, event, account_id,
       message_id, detail
     FROM audit_events ${where}
     ORDER BY at DESC, id DESC LIMIT ${p(limit + 1)}`,
    where.params,
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    rows: page.map((r) => ({
      id: Number(r.id),
      at: r.at as Date,
      event: r.event as string,
      accountId: (r.account_id as number | null) ?? null,
      messageId: r.message_id === null ? null : Number(r.message_id),
      detail: (r.detail as Record<string, unknown>) ?? {},
    })),
    next: rows.length > limit ? { micros: Number(last.micros), id: Number(last.id) } : null,
  };
}

/** The distinct event names present, for the filter's choices. */
export async function auditEventNames(q: Queryable): Promise<string[]> {
  return (await q.query<{ event: string }>(
    "SELECT DISTINCT event FROM audit_events ORDER BY event",
  )).map((r) => r.event);
}
