/**
 * `/audit`: every event with filters and keyset paging, and its export as CSV or JSON with the
 * same filters (`/audit/export.csv`, `/audit/export.json`).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { auditEventName, auditFieldName, type Dict, say } from "./i18n.ts";
import { When } from "./render.tsx";
import {
  type AuditCursor,
  auditEventNames,
  type AuditRow,
  encodeAuditCursor,
  listAudit,
} from "../src/store/audit_list.ts";
import { auditCsv, auditJson } from "./audit_export.ts";
import { Params } from "./params.ts";
import { type AuditQuery, listQueryString, parseAuditQuery, readList } from "./list_queries.ts";
import { type Column, type FilterField, FilterForm, ListView, respondList } from "./list_view.tsx";

function auditColumns(t: Dict): Column<AuditRow>[] {
  return [
    { label: t.at, class: "nowrap", cell: (r) => <When at={r.at} t={t} /> },
    {
      label: t.event,
      cell: (r) => (
        <>
          {auditEventName(t, r.event)} <code class="sub">{r.event}</code>
        </>
      ),
    },
    { label: t.account, cell: (r) => r.accountId ?? "" },
    {
      label: t.message,
      cell: (r) => (r.messageId ? <a href={`/messages/${r.messageId}`}>{r.messageId}</a> : ""),
    },
    { label: t.detail, class: "detail", cell: (r) => <AuditDetail t={t} detail={r.detail} /> },
  ];
}

/** The detail's sentences, which the domain writes in English: said in the viewer's language. */
const SENTENCE_FIELDS = new Set(["detail", "why", "problem"]);

/** JSON-encoded: control and bidi characters show as escapes (RELIABILITY J-07). */
function jsonText(value: unknown): string {
  return bidiSafe(JSON.stringify(value) ?? "null");
}

/** Control and bidi characters as escapes (RELIABILITY J-07). */
function bidiSafe(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * An event's detail, field by field: the field's name in the viewer's language, its value as
 * JSON (codes, data), a sentence of the domain translated (`say`).
 */
function AuditDetail(props: { t: Dict; detail: unknown }) {
  const { t, detail } = props;
  if (detail === null || typeof detail !== "object" || Array.isArray(detail)) {
    return <code>{jsonText(detail)}</code>;
  }
  return (
    <>
      {Object.entries(detail as Record<string, unknown>).map(([key, value], i) => {
        const name = auditFieldName(t, key);
        // A code (`server_files_sent_mail`, `authentication`) stays code.
        const sentence = SENTENCE_FIELDS.has(key) && typeof value === "string" &&
          !/^[a-z0-9_]+$/.test(value);
        return (
          <span class="field">
            {i > 0 && " · "}
            {name ?? <code>{key}</code>}:{" "}
            {sentence ? bidiSafe(say(t, value)) : <code>{jsonText(value)}</code>}
          </span>
        );
      })}
    </>
  );
}

function AuditResults(
  props: {
    t: Dict;
    query: AuditQuery;
    page: { rows: AuditRow[]; next: AuditCursor | null } | null;
  },
) {
  const { t, query, page } = props;
  return (
    <ListView
      t={t}
      id="results"
      inert
      errors={query.errors}
      top={
        <p class="exports">
          <a href={`/audit/export.csv${listQueryString(query.form)}`}>{t.exportCsv}</a>{" "}
          <a href={`/audit/export.json${listQueryString(query.form)}`}>{t.exportJson}</a>
        </p>
      }
      rows={page?.rows ?? null}
      empty={t.noEvents}
      table={{ class: "list audit", columns: auditColumns(t) }}
      pager={{ path: "/audit", query, next: page?.next ? encodeAuditCursor(page.next) : null }}
    />
  );
}

function filterFields(t: Dict, events: string[]): FilterField[] {
  return [
    {
      type: "select",
      name: "event",
      label: t.event,
      options: events.map((e) => [e, auditEventName(t, e)] as const),
    },
    { type: "id", name: "account", label: t.account, size: 4 },
    { type: "id", name: "message", label: t.message, size: 6 },
    { type: "date", name: "since", label: t.since },
    { type: "date", name: "until", label: t.until },
  ];
}

/** Most events one export returns. */
export const EXPORT_LIMIT = 100_000;

export function auditRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/audit", async (c) => {
    const t = c.get("t");
    const { query, page } = await readList(c, deps.db, parseAuditQuery, listAudit);
    const above = async () => {
      const fields = filterFields(t, await auditEventNames(deps.db));
      return (
        <FilterForm t={t} path="/audit" target="results" fields={fields} values={query.form} />
      );
    };
    const list = <AuditResults t={t} query={query} page={page} />;
    return await respondList(c, { title: t.audit, nav: "/audit", list, above, query });
  });

  const exportRows = async (query: AuditQuery): Promise<AuditRow[]> => {
    const rows: AuditRow[] = [];
    let cursor: AuditCursor | null = null;
    while (rows.length < EXPORT_LIMIT) {
      const page = await listAudit(
        deps.db,
        query.filters,
        cursor,
        Math.min(1000, EXPORT_LIMIT - rows.length),
      );
      rows.push(...page.rows);
      if (!page.next) break;
      cursor = page.next;
    }
    return rows;
  };

  const exporter = (format: "csv" | "json") => async (c: Context<AppEnv>) => {
    const query = parseAuditQuery(Params.ofQuery(c));
    if (query.errors.length) return c.text(query.errors.join("\n"), 422);
    const rows = await exportRows(query);
    const stamp = deps.now().toISOString().slice(0, 10);
    if (format === "csv") {
      return c.body(auditCsv(rows), 200, {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="carteiro-audit-${stamp}.csv"`,
      });
    }
    return c.body(auditJson(rows), 200, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="carteiro-audit-${stamp}.json"`,
    });
  };
  app.get("/audit/export.csv", exporter("csv"));
  app.get("/audit/export.json", exporter("json"));

  return app;
}
