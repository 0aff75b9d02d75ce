/**
 * Exports of the lists, with the filter of the list they come from: the messages as mbox, a zip
 * of `.eml` files or CSV (`/messages/export`, `/api/v1/messages/export`), the outbox as CSV
 * (`/outbox/export`, `/api/v1/outbox/export`). The bytes stream as the reader takes them
 * (src/actions/exports.ts); the export is audited when it ends.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { Params } from "./params.ts";
import {
  listQueryString,
  type MessageQuery,
  type OutboxQuery,
  parseMessageQuery,
  parseOutboxQuery,
} from "./list_queries.ts";
import {
  exportFile,
  exportMessages,
  exportOutbox,
  MESSAGE_EXPORT_FORMATS,
  type MessageExportFormat,
} from "../src/actions/exports.ts";

/** "Export: mbox · zip · CSV", each link with the list's filter (not its page). */
export function ExportLinks(
  props: {
    t: Dict;
    path: string;
    query: MessageQuery | OutboxQuery;
    formats: MessageExportFormat[];
  },
) {
  const { t } = props;
  const label = { mbox: t.exportMbox, zip: t.exportZip, csv: t.exportCsvShort };
  const base = listQueryString(props.query.form);
  return (
    <p class="exports">
      {t.exportLabel}: {props.formats.map((f, i) => (
        <>
          {i > 0 && " · "}
          <a href={`${props.path}${base ? `${base}&` : "?"}format=${f}`} download data-format={f}>
            {label[f]}
          </a>
        </>
      ))}
    </p>
  );
}

/** How a refused export is answered: text for the pages, the JSON error for the API. */
export type ExportRefusal = (c: Context<AppEnv>, errors: string[]) => Response;

/** The export's filter as the person gave it: the list's fields that are set. */
function filterOf(form: Record<string, string | boolean>): Record<string, string | boolean> {
  return Object.fromEntries(Object.entries(form).filter(([, v]) => v !== "" && v !== false));
}

function streamed(c: Context<AppEnv>, body: ReadableStream<Uint8Array>, file: {
  type: string;
  name: string;
}) {
  return c.body(body, 200, {
    "Content-Type": file.type,
    "Content-Disposition": `attachment; filename="${file.name}"`,
    "Cache-Control": "no-store",
  });
}

/** `GET …/messages/export?format=mbox|zip|csv&<the list's filters>`. */
export function messageExportHandler(deps: AppDeps, refuse: ExportRefusal) {
  return (c: Context<AppEnv>) => {
    const params = Params.ofQuery(c);
    const format = params.oneOf("format", MESSAGE_EXPORT_FORMATS);
    if (!format && !params.text("format")) params.problem("format", "must be mbox, zip or csv");
    const query = parseMessageQuery(params);
    if (query.errors.length || !format) return refuse(c, query.errors);
    const body = exportMessages(deps, query.filters, format, {
      filter: filterOf(query.form),
      by: actorName(c.get("actor")),
    });
    return streamed(c, body, exportFile("messages", format, deps.now()));
  };
}

/** `GET …/outbox/export?format=csv&<the list's filters>`. */
export function outboxExportHandler(deps: AppDeps, refuse: ExportRefusal) {
  return (c: Context<AppEnv>) => {
    const params = Params.ofQuery(c);
    const format = params.oneOf("format", ["csv"] as const);
    if (!format && !params.text("format")) params.problem("format", "must be csv");
    const query = parseOutboxQuery(params);
    if (query.errors.length || !format) return refuse(c, query.errors);
    const body = exportOutbox(deps, query.filters, {
      filter: filterOf(query.form),
      by: actorName(c.get("actor")),
    });
    return streamed(c, body, exportFile("outbox", "csv", deps.now()));
  };
}
