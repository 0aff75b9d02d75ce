/**
 * The reads of an export: the messages of the list's filters, newest first, by the list's own
 * keyset pages (src/store/message_list.ts), each with its raw source as stored — read a few at a
 * time, so that an export of any size holds one page of rows and a few megabytes of raw bytes.
 */
import type { Queryable } from "./db.ts";
import {
  listMessages,
  type MessageCursor,
  type MessageFilters,
  type MessageListRow,
} from "./message_list.ts";
import { listOutbox, type OutboxListRow } from "./outbox_admin.ts";
import type { OutboxStatus } from "./outbox.ts";

/** A listed message and its raw source, byte for byte as collected. */
export interface ExportedMessage {
  row: MessageListRow;
  raw: Uint8Array;
}

/** How an export reads: rows a page, and raw bytes a statement (at least one message). */
export interface ExportReadOptions {
  pageRows?: number;
  rawBytes?: number;
}

/** The raw sources of `ids`, by id (a message erased meanwhile is absent). */
async function rawSources(q: Queryable, ids: number[]): Promise<Map<number, Uint8Array>> {
  const rows = await q.query<{ id: number | string; raw: Uint8Array }>(
    "SELECT id, raw FROM messages WHERE id = ANY($1::bigint[])",
    [ids],
  );
  return new Map(rows.map((r) => [Number(r.id), new Uint8Array(r.raw)]));
}

/**
 * The stored sizes of `ids`' raw sources; octet_length reads a stored value's header, not the
 * value, so this costs nothing like reading them.
 */
async function rawSizes(q: Queryable, ids: number[]): Promise<Map<number, number>> {
  const rows = await q.query<{ id: number | string; n: number | string }>(
    "SELECT id, octet_length(raw) AS n FROM messages WHERE id = ANY($1::bigint[])",
    [ids],
  );
  return new Map(rows.map((r) => [Number(r.id), Number(r.n)]));
}

/** Every message that passes `filters`, newest first, as the list shows it (no raw source). */
export async function* exportedMessageRows(
  q: Queryable,
  filters: MessageFilters,
  pageRows = 500,
): AsyncGenerator<MessageListRow> {
  let cursor: MessageCursor | null = null;
  while (true) {
    const page = await listMessages(q, filters, cursor, pageRows);
    yield* page.rows;
    if (!page.next) return;
    cursor = page.next;
  }
}

/**
 * Every message that passes `filters`, newest first, with its raw source. A message erased
 * between its page and its raw source is skipped.
 */
export async function* exportedMessages(
  q: Queryable,
  filters: MessageFilters,
  options: ExportReadOptions = {},
): AsyncGenerator<ExportedMessage> {
  const pageRows = options.pageRows ?? 200;
  const rawBytes = options.rawBytes ?? 4 * 1024 * 1024;
  let cursor: MessageCursor | null = null;
  while (true) {
    const page = await listMessages(q, filters, cursor, pageRows);
    const sizes = await rawSizes(q, page.rows.map((r) => r.id));
    for (let i = 0; i < page.rows.length;) {
      // A group of rows whose raw sources together stay under rawBytes (one at least).
      let j = i;
      let bytes = 0;
      do bytes += sizes.get(page.rows[j++].id) ?? 0; while (
        j < page.rows.length && bytes + (sizes.get(page.rows[j].id) ?? 0) <= rawBytes
      );
      const group = page.rows.slice(i, j);
      const raws = await rawSources(q, group.map((r) => r.id));
      for (const row of group) {
        const raw = raws.get(row.id);
        if (raw) yield { row, raw };
      }
      i = j;
    }
    if (!page.next) return;
    cursor = page.next;
  }
}

/** Every outbox row that passes `filters`, newest first, by keyset pages of `pageRows`. */
export async function* exportedOutbox(
  q: Queryable,
  filters: { status?: OutboxStatus; accountId?: number },
  pageRows = 500,
): AsyncGenerator<OutboxListRow> {
  let before: number | null = null;
  while (true) {
    const page = await listOutbox(q, filters, before, pageRows);
    yield* page.rows;
    if (page.next === null) return;
    before = page.next;
  }
}
