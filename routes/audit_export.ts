/** The audit log as CSV (RFC 4180) and JSON, for export. */
import type { AuditRow } from "../src/store/audit_list.ts";

/**
 * One CSV field: quoted when needed, and a leading `= + - @` (or tab/CR) prefixed with `'` so
 * that a spreadsheet does not read text from mail as a formula (OWASP "CSV injection").
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** id, at, event, account_id, message_id, detail (JSON), CRLF line ends. */
export function auditCsv(rows: readonly AuditRow[]): string {
  const lines = ["id,at,event,account_id,message_id,detail"];
  for (const r of rows) {
    lines.push([
      String(r.id),
      r.at.toISOString(),
      csvField(r.event),
      r.accountId === null ? "" : String(r.accountId),
      r.messageId === null ? "" : String(r.messageId),
      csvField(JSON.stringify(r.detail)),
    ].join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** The JSON shape the API uses for an audit event. */
export function auditEventJson(r: AuditRow) {
  return {
    id: r.id,
    at: r.at.toISOString(),
    event: r.event,
    account_id: r.accountId,
    message_id: r.messageId,
    detail: r.detail,
  };
}

/** A JSON array of events. */
export function auditJson(rows: readonly AuditRow[]): string {
  return JSON.stringify(rows.map(auditEventJson));
}
