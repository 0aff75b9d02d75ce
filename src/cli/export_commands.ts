/**
 * `export --format mbox|zip|csv [FILTERS] --out FILE` and `export --outbox --format csv …`: the
 * exports of the message list and of the outbox (src/actions/exports.ts) written to a file, a
 * thin adapter like the pages' and the API's. The filters are the list's, named as its query
 * parameters; an account may be given by name. Exit 2 on a malformed command line, 1 when the
 * export failed (the file is then incomplete).
 */
import { parseArgs } from "node:util";
import type { ActionDeps } from "../actions/result.ts";
import {
  exportMessages,
  exportOutbox,
  MESSAGE_EXPORT_FORMATS,
  type MessageExportFormat,
} from "../actions/exports.ts";
import { listAccounts } from "../store/accounts.ts";
import { type MessageFilters, REPLY_STATUSES } from "../store/message_list.ts";
import { OUTBOX_STATUSES } from "../store/outbox_status.ts";
import type { OutboxStatus } from "../store/outbox.ts";
import type { FileSink } from "./command_socket_protocol.ts";

export const EXPORT_USAGE =
  "usage: export --format mbox|zip|csv [--account NAME|ID] [--kind forwarded|direct] " +
  "[--reply STATUS] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--unparsed] [--q TEXT] --out FILE\n" +
  "       export --outbox --format csv [--status STATUS] [--account NAME|ID] --out FILE";

export interface ExportIo {
  say(line: string): void;
  print(doc: unknown): void;
  createFile(path: string): Promise<FileSink>;
}

/** A `YYYY-MM-DD` day as UTC midnight, or null (not a day: 2026-02-31), as the list reads it. */
function day(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text ? d : null;
}

/** Runs `export ARGS`; resolves to the exit code. */
export async function exportCommand(
  deps: ActionDeps,
  args: string[],
  io: ExportIo,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        format: { type: "string" },
        out: { type: "string" },
        outbox: { type: "boolean" },
        account: { type: "string" },
        kind: { type: "string" },
        reply: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        unparsed: { type: "boolean" },
        q: { type: "string" },
        status: { type: "string" },
      },
      strict: true,
    }));
  } catch (e) {
    io.say(`${e instanceof Error ? e.message : String(e)}\n${EXPORT_USAGE}`);
    return 2;
  }
  const problems: string[] = [];
  const format = values.format as MessageExportFormat | undefined;
  const formats: readonly string[] = values.outbox ? ["csv"] : MESSAGE_EXPORT_FORMATS;
  if (!format || !formats.includes(format)) problems.push(`--format: one of ${formats.join(", ")}`);
  if (!values.out) problems.push("--out: the file to write");
  const oneOf = <T extends string>(name: string, v: string | undefined, options: readonly T[]) => {
    if (v === undefined) return undefined;
    if ((options as readonly string[]).includes(v)) return v as T;
    problems.push(`--${name}: one of ${options.join(", ")}`);
    return undefined;
  };
  // The filter as given, for the audit event: the list's parameter names.
  const filter: Record<string, string | boolean> = {};
  let accountId: number | undefined;
  if (values.account !== undefined) {
    const accounts = await listAccounts(deps.db);
    const account = accounts.find((a) => a.name === values.account) ??
      accounts.find((a) => String(a.id) === values.account);
    if (account) {
      accountId = account.id;
      filter.account = String(account.id);
    } else problems.push(`--account: no account is called "${values.account}"`);
  }
  if (values.outbox) {
    for (const k of ["kind", "reply", "since", "until", "unparsed", "q"] as const) {
      if (values[k] !== undefined) problems.push(`--${k}: not a filter of the outbox`);
    }
    const status = oneOf<OutboxStatus>("status", values.status, OUTBOX_STATUSES);
    if (status) filter.status = status;
    if (problems.length) return refuse(io, problems);
    return await write(io, values.out!, {
      what: "outbox",
      format: "csv",
      stream: () => exportOutbox(deps, { status, accountId }, { filter, by: "cli" }),
    });
  }
  if (values.status !== undefined) problems.push("--status: a filter of the outbox (--outbox)");
  const filters: MessageFilters = { accountId };
  filters.kind = oneOf("kind", values.kind, ["forwarded", "direct"] as const);
  filters.reply = oneOf("reply", values.reply, REPLY_STATUSES);
  for (const k of ["since", "until"] as const) {
    const text = values[k];
    if (text === undefined) continue;
    const d = day(text);
    if (!d) problems.push(`--${k}: a date, YYYY-MM-DD`);
    // `until` is inclusive: up to the next midnight.
    else filters[k] = k === "until" ? new Date(d.getTime() + 86_400_000) : d;
  }
  if (filters.since && filters.until && filters.since >= filters.until) {
    problems.push("--since: must not be after --until");
  }
  if (values.unparsed) filters.unparsed = true;
  if (values.q?.trim()) filters.q = values.q.trim().slice(0, 500);
  for (const k of ["kind", "reply", "since", "until", "q"] as const) {
    if (values[k] !== undefined) filter[k] = values[k]!;
  }
  if (values.unparsed) filter.unparsed = true;
  if (problems.length) return refuse(io, problems);
  return await write(io, values.out!, {
    what: "messages",
    format: format!,
    stream: () => exportMessages(deps, filters, format!, { filter, by: "cli" }),
  });
}

function refuse(io: ExportIo, problems: string[]): number {
  for (const p of problems) io.say(p);
  io.say(EXPORT_USAGE);
  return 2;
}

/**
 * Copies the export into the file as it is read; the stream waits for each write. The export
 * starts (and is audited) only once the file is open.
 */
async function write(
  io: ExportIo,
  path: string,
  exp: { what: string; format: string; stream: () => ReadableStream<Uint8Array> },
): Promise<number> {
  let file: FileSink;
  try {
    file = await io.createFile(path);
  } catch (e) {
    io.say(`${path}: cannot be written: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const reader = exp.stream().getReader();
  let bytes = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      await file.write(value);
      bytes += value.length;
    }
    await file.close();
  } catch (e) {
    await reader.cancel().catch(() => {});
    await file.close().catch(() => {});
    io.say(
      `carteiro: the export stopped (${
        e instanceof Error ? e.message : String(e)
      }): ${path} is incomplete`,
    );
    return 1;
  }
  io.print({ exported: exp.what, format: exp.format, file: path, bytes });
  return 0;
}
