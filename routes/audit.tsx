/**
 * `/audit`: every event with filters and keyset paging, and its export as CSV or JSON with the
 * same filters (`/audit/export.csv`, `/audit/export.json`).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { fmtDate } from "./render.tsx";
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
    { label: t.at, class: "nowrap", cell: (r) => fmtDate(r.at) },
    { label: t.event, cell: (r) => <code>{r.event}</code> },
    { label: t.account, cell: (r) => r.accountId ?? "" },
    {
      label: t.message,
      cell: (r) => (r.messageId ? <a href={`/messages/${r.messageId}`}>{r.messageId}</a> : ""),
    },
    {
      label: t.detail,
      class: "detail",
      // JSON-encoded: control and bidi characters show as escapes (RELIABILITY J-07).
      cell: (r) => (
        <code>
          {JSON.stringify(r.detail).replace(
            /[\u202a-\u202e\u2066-\u2069]/g,
            (ch) => `\\u${ch.charCodeAt(0).toString(16)}`,
          )}
        </code>
      ),
    },
  ];
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
    { type: "select", name: "event", label: t.event, options: events.map((e) => [e, e] as const) },
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
