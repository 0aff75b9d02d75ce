/** The audit log as CSV (RFC 4180) and JSON, for export. */
import type { AuditRow } from "../src/store/audit_list.ts";
import { csvField } from "../src/domain/csv.ts";

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
