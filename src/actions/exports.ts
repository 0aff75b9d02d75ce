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
import { ZipDirectory } from "../domain/zip_directory.ts";

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

/** What fflate's streaming zip writer holds of a file it has written (fflate 0.8.3, pinned). */
interface WrittenFile {
  f: Uint8Array;
  u: boolean;
  c: number;
  b: number;
  crc: number;
  size: number;
  mtime: number;
}

function isWrittenFile(x: unknown): x is WrittenFile {
  const w = x as Partial<WrittenFile> | undefined;
  return !!w && w.f instanceof Uint8Array && typeof w.c === "number" &&
    typeof w.b === "number" && typeof w.crc === "number" && typeof w.size === "number";
}

/**
 * A zip written as its files come, stored (not compressed). fflate writes each file — local
 * header, data, data descriptor — and its CRC; it would keep an object per file until its `end()`
 * writes the central directory (~1.7 KB of heap a file). Each finished file is taken out of the
 * writer's list instead and its directory record packed (src/domain/zip_directory.ts): the memory
 * stays flat whatever the count. Past 65,535 files the end has the ZIP64 record too.
 */
export function streamedZip(): {
  add(name: string, mtime: number, data: Uint8Array): Uint8Array[];
  end(): Uint8Array[];
  readonly bytes: number;
} {
  let out: Uint8Array[] = [];
  let failure: Error | null = null;
  let bytes = 0;
  const directory = new ZipDirectory();
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else {
      out.push(chunk);
      bytes += chunk.length;
    }
  });
  const written = (zip as unknown as { u?: unknown[] }).u;
  if (!Array.isArray(written)) throw new Error("zip: the fflate in use is not the one expected");
  const take = () => {
    if (failure) throw failure;
    const chunks = out;
    out = [];
    return chunks;
  };
  return {
    get bytes() {
      return bytes;
    },
    add(name, mtime, data) {
      const offset = bytes;
      const file = new ZipPassThrough(name);
      file.mtime = mtime;
      zip.add(file);
      file.push(data, true);
      const done = written.pop();
      if (!isWrittenFile(done) || written.length > 0 || bytes !== offset + done.b) {
        throw new Error("zip: the fflate in use did not write the file as expected");
      }
      directory.add({
        name: done.f,
        utf8: done.u,
        crc: done.crc,
        storedSize: done.c,
        size: done.size,
        mtime,
        offset,
      });
      return take();
    },
    end() {
      return [...take(), ...directory.end(bytes)];
    },
  };
}

/** The zip of `.eml` files, each named by its date and id (see `streamedZip`). */
function zipEncoder(): Encoder<ExportedMessage> {
  const zip = streamedZip();
  return {
    item: ({ row, raw }) => {
      if (zip.bytes + raw.length + 1024 > ZIP_MAX_BYTES) {
        throw new Error("a zip export stops at 4 GiB: narrow the filter, or export as mbox");
      }
      const stamp = row.receivedAt.toISOString().replace(/[-:]/g, "").slice(0, 15);
      const mtime = Math.min(ZIP_LATEST, Math.max(ZIP_EARLIEST, row.receivedAt.getTime()));
      return zip.add(`${stamp}Z-${row.id}.eml`, mtime, raw);
    },
    end: () => zip.end(),
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
