/**
 * Exports of what the lists show: the messages of a filter as mbox (mboxrd, RFC 4155), as a zip
 * of `.eml` files or as CSV, and the outbox as CSV. Each is a byte stream that reads the
 * database in keyset pages as the reader takes its bytes (a `ReadableStream` pulled by the HTTP
 * response or the CLI's file), so that an export of any size holds one page of rows in memory.
 * Each export is audited when it ends — with how many rows went out, and whether the reader
 * took them all.
 */
import { Zip, ZipPassThrough } from "fflate";
import type { ActionDeps } from "./result.ts";
import { recordEvent } from "../store/audit.ts";
import {
  type ExportedMessage,
  exportedMessageRows,
  exportedMessages,
  exportedOutbox,
  type ExportReadOptions,
} from "../store/message_export.ts";
import type { MessageFilters, MessageListRow } from "../store/message_list.ts";
import type { OutboxListRow } from "../store/outbox_admin.ts";
import type { OutboxStatus } from "../store/outbox.ts";
import { mboxrdEntry } from "../domain/mbox.ts";
import { csvLine } from "../domain/csv.ts";
import { zipEnd } from "../domain/zip64_end.ts";

export const MESSAGE_EXPORT_FORMATS = ["mbox", "zip", "csv"] as const;
export type MessageExportFormat = typeof MESSAGE_EXPORT_FORMATS[number];

/** What an export writes in its audit event: the filter as given, who asked. */
export interface ExportOrder {
  /** The filter as the person gave it (the list's query fields). */
  filter: Record<string, string | boolean>;
  by: string;
}

/** The Content-Type and file name of an export made on `at`. */
export function exportFile(
  what: "messages" | "outbox",
  format: MessageExportFormat,
  at: Date,
): { type: string; name: string } {
  const name = `carteiro-${what}-${at.toISOString().slice(0, 10)}.${format}`;
  const type = format === "mbox"
    ? "application/mbox"
    : format === "zip"
    ? "application/zip"
    : "text/csv; charset=utf-8";
  return { type, name };
}

/** The list's columns, one message a record. */
const MESSAGE_CSV_HEADER = [
  "id",
  "received_at",
  "account",
  "mailbox",
  "from_address",
  "from_name",
  "subject",
  "kind",
  "confidence",
  "original_from",
  "parse_status",
  "reply_status",
  "rule",
  "reason",
  "outbox_status",
];

function messageCsv(m: MessageListRow): string {
  return csvLine([
    m.id,
    m.receivedAt.toISOString(),
    m.accountName,
    m.mailbox,
    m.fromAddress,
    m.fromName,
    m.subject,
    m.kind,
    m.confidence,
    m.originalFromAddress,
    m.parseStatus,
    m.decision,
    m.ruleName,
    m.reason,
    m.outboxStatus,
  ]);
}

const OUTBOX_CSV_HEADER = [
  "id",
  "status",
  "created_at",
  "sent_at",
  "account_id",
  "message_id",
  "rule",
  "recipient",
  "cc",
  "subject",
  "attempts",
  "last_error",
  "smtp_response",
  "next_attempt_at",
  "delivery_report",
];

function outboxCsv(r: OutboxListRow): string {
  return csvLine([
    r.id,
    r.status,
    r.createdAt.toISOString(),
    r.sentAt?.toISOString() ?? null,
    r.accountId,
    r.messageId,
    r.ruleName,
    r.recipient,
    r.cc.join(", "),
    r.subject,
    r.attempts,
    r.lastError,
    r.smtpResponse,
    r.status === "pending" || r.status === "retry" ? r.nextAttemptAt.toISOString() : null,
    r.report ? [r.report.action, r.report.status].filter(Boolean).join(" ") : null,
  ]);
}

/** How a stream of items becomes bytes: each item's bytes, then the end's. */
interface Encoder<T> {
  item(x: T): Uint8Array[];
  end(): Uint8Array[];
}

/**
 * A pull stream over `items`: an item is read only when the reader wants more bytes (the
 * backpressure of the HTTP response or of the file), and `done` is told how many items went out
 * and whether the reader took the whole export (false when it went away or a read failed).
 */
function pulled<T>(
  items: AsyncGenerator<T>,
  encoder: Encoder<T>,
  done: (count: number, complete: boolean) => Promise<void>,
): ReadableStream<Uint8Array> {
  let count = 0;
  let ended = false;
  const finish = async (complete: boolean) => {
    if (ended) return;
    ended = true;
    await done(count, complete);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Some items (a first page's headers) may yield no bytes of their own: go on until one does.
        while (true) {
          const next = await items.next();
          if (next.done) {
            for (const chunk of encoder.end()) controller.enqueue(chunk);
            await finish(true);
            controller.close();
            return;
          }
          count++;
          const chunks = encoder.item(next.value);
          for (const chunk of chunks) controller.enqueue(chunk);
          if (chunks.length) return;
        }
      } catch (e) {
        await items.return(undefined).catch(() => {});
        await finish(false).catch(() => {});
        controller.error(e);
      }
    },
    async cancel() {
      await items.return(undefined).catch(() => {});
      await finish(false);
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: 256 * 1024 }));
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** The mbox entries of messages. */
function mboxEncoder(): Encoder<ExportedMessage> {
  return {
    item: ({ row, raw }) => [mboxrdEntry(raw, row.fromAddress, row.receivedAt)],
    end: () => [],
  };
}

/**
 * Offsets in the central directory are 32 bits (fflate writes no ZIP64 extra fields): a file
 * that would start or end past this is not added, and the export fails there.
 */
const ZIP_MAX_BYTES = 0xffff_ffff;

/** The earliest and latest time a zip entry can hold (MS-DOS dates, 1980–2107; fflate: –2099). */
const ZIP_EARLIEST = Date.UTC(1980, 0, 1, 12);
const ZIP_LATEST = Date.UTC(2099, 11, 31);

/** What fflate's zip writer needs of a finished file to write its central directory entry. */
const CENTRAL_FIELDS = [
  "f",
  "u",
  "o",
  "extra",
  "c",
  "b",
  "crc",
  "size",
  "mtime",
  "flag",
  "compression",
  "os",
  "attrs",
] as const;
const nothing = () => {};

/**
 * fflate keeps each finished file of a streamed zip as the file object itself, with its closures
 * and their scopes until the central directory is written at the end: ~3 KB of RSS a message
 * (bench/RESULTS.md: 403 MB at 100,000). Once a file is written only the fields its central
 * directory entry is made of are needed (`Zip.e` and `wzh` in fflate 0.8.3, pinned), so its record
 * is replaced by those alone (~1.7 KB of RSS a message remains, 276 MB at 100,000). A record not
 * shaped as expected (another fflate) is left as it is.
 */
function compactLastEntry(zip: Zip): void {
  const entries = (zip as unknown as { u?: Record<string, unknown>[] }).u;
  const last = Array.isArray(entries) ? entries[entries.length - 1] : undefined;
  if (!last || typeof last.crc !== "number" || typeof last.b !== "number") return;
  const compact: Record<string, unknown> = { r: nothing, t: nothing };
  for (const k of CENTRAL_FIELDS) compact[k] = last[k];
  entries![entries!.length - 1] = compact;
}

/**
 * The zip of `.eml` files (stored, not compressed: mail compresses poorly once its attachments
 * are base64 of compressed files, and storing costs no CPU), each named by its date and id.
 */
function zipEncoder(): Encoder<ExportedMessage> {
  let out: Uint8Array[] = [];
  let failure: Error | null = null;
  let entries = 0;
  let bytes = 0;
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else {
      out.push(chunk);
      bytes += chunk.length;
    }
  });
  const take = () => {
    if (failure) throw failure;

    const chunks = out;
    out = [];
    return chunks;
  };
  return {
    item: ({ row, raw }) => {
      if (bytes + raw.length + 1024 > ZIP_MAX_BYTES) {
        throw new Error("a zip export stops at 4 GiB: narrow the filter, or export as mbox");
      }
      const stamp = row.receivedAt.toISOString().replace(/[-:]/g, "").slice(0, 15);
      const file = new ZipPassThrough(`${stamp}Z-${row.id}.eml`);
      file.mtime = Math.min(ZIP_LATEST, Math.max(ZIP_EARLIEST, row.receivedAt.getTime()));
      zip.add(file);
      file.push(raw, true);
      compactLastEntry(zip);
      entries++;
      return take();
    },
    end: () => {
      zip.end();
      const chunks = take();
      // fflate writes the classic end record only: past 65,535 files it needs the ZIP64 one.
      const last = chunks.pop();
      return last ? [...chunks, ...zipEnd(last, entries)] : chunks;
    },
  };
}

function csvEncoder<T>(header: string[], line: (x: T) => string): Encoder<T> {
  let first = true;
  return {
    item: (x) => {
      const text = (first ? csvLine(header) : "") + line(x);
      first = false;
      return [utf8(text)];
    },
    end: () => first ? [utf8(csvLine(header))] : [],
  };
}

/**
 * The messages that pass `filters`, newest first, as `format`; audited (`exported`) when the
 * stream ends or its reader goes away.
 */
export function exportMessages(
  deps: ActionDeps,
  filters: MessageFilters,
  format: MessageExportFormat,
  order: ExportOrder,
  read?: ExportReadOptions,
): ReadableStream<Uint8Array> {
  const audit = (count: number, complete: boolean) =>
    recordEvent(deps.db, {
      event: "exported",
      at: deps.now(),
      detail: { by: order.by, what: "messages", format, filter: order.filter, count, complete },
    });
  if (format === "csv") {
    const rows = exportedMessageRows(deps.db, filters, read?.pageRows);
    return pulled(rows, csvEncoder(MESSAGE_CSV_HEADER, messageCsv), audit);
  }
  const encoder = format === "mbox" ? mboxEncoder() : zipEncoder();
  return pulled(exportedMessages(deps.db, filters, read), encoder, audit);
}

/** The outbox rows that pass `filters`, newest first, as CSV; audited like the messages. */
export function exportOutbox(
  deps: ActionDeps,
  filters: { status?: OutboxStatus; accountId?: number },
  order: ExportOrder,
): ReadableStream<Uint8Array> {
  return pulled(
    exportedOutbox(deps.db, filters),
    csvEncoder(OUTBOX_CSV_HEADER, outboxCsv),
    (count, complete) =>
      recordEvent(deps.db, {
        event: "exported",
        at: deps.now(),
        detail: {
          by: order.by,
          what: "outbox",
          format: "csv",
          filter: order.filter,
          count,
          complete,
        },
      }),
  );
}
