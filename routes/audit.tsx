// Rendered once on the server, never reconciled: list items need no `key` (which hono/jsx
// would print as an attribute).
// deno-lint-ignore-file jsx-key
/**
 * `/audit`: every event with filters and keyset paging, and its export as CSV or JSON with the
 * same filters (`/audit/export.csv`, `/audit/export.json`).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { Problems } from "./layout.tsx";
import { fmtDate, respond } from "./render.tsx";
import { pushUrl, wantsFragment } from "./htmx.ts";
import {
  type AuditCursor,
  auditEventNames,
  type AuditFilters,
  type AuditRow,
  decodeAuditCursor,
  encodeAuditCursor,
  listAudit,
} from "../src/store/audit_list.ts";
import { auditCsv, auditJson } from "./audit_export.ts";
import { endOfDay, Params } from "./params.ts";

/** The audit filters as typed and as understood. */
export interface ParsedAuditQuery {
  form: { event: string; account: string; message: string; since: string; until: string };
  filters: AuditFilters;
  cursor: AuditCursor | null;
  limit: number;
  errors: string[];
}

/** Parses `event, account, message, since, until (YYYY-MM-DD, inclusive), after, limit`. */
export function parseAuditQuery(params: Params): ParsedAuditQuery {
  const form = {
    event: params.text("event", 64),
    account: params.text("account", 20),
    message: params.text("message", 20),
    since: params.text("since", 20),
    until: params.text("until", 20),
  };
  const filters: AuditFilters = {};
  if (form.event) {
    if (/^[a-z_]{1,64}$/.test(form.event)) filters.event = form.event;
    else params.problem("event", "must be an event name");
  }
  filters.accountId = params.id("account", "an account id");
  filters.messageId = params.id("message", "a message id");
  filters.since = params.day("since");
  const until = params.day("until");
  if (until) filters.until = endOfDay(until);
  const after = params.text("after", 40);
  const cursor = after ? decodeAuditCursor(after) : null;
  if (after && !cursor) params.problem("after", "not a cursor from this list");
  const limit = params.int("limit", 1, 500, 50);
  return { form, filters, cursor, limit, errors: params.errors };
}

function queryString(form: ParsedAuditQuery["form"], after?: string): string {
  const p = new URLSearchParams();
  for (const [k, val] of Object.entries(form)) if (val) p.set(k, val);
  if (after) p.set("after", after);
  const s = p.toString();
  return s ? `?${s}` : "";
}

function AuditResults(
  props: { t: Dict; query: ParsedAuditQuery; rows: AuditRow[]; next: AuditCursor | null },
) {
  const { t, query } = props;
  return (
    <div id="results" hx-disable>
      <Problems t={t} errors={query.errors} />
      <p class="exports">
        <a href={`/audit/export.csv${queryString(query.form)}`}>{t.exportCsv}</a>{" "}
        <a href={`/audit/export.json${queryString(query.form)}`}>{t.exportJson}</a>
      </p>
      {props.rows.length === 0 ? <p class="empty">{t.noEvents}</p> : (
        <table class="list audit">
          <thead>
            <tr>
              <th>{t.at}</th>
              <th>{t.event}</th>
              <th>{t.account}</th>
              <th>{t.message}</th>
              <th>{t.detail}</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr>
                <td class="nowrap">{fmtDate(r.at)}</td>
                <td>
                  <code>{r.event}</code>
                </td>
                <td>{r.accountId ?? ""}</td>
                <td>{r.messageId ? <a href={`/messages/${r.messageId}`}>{r.messageId}</a> : ""}</td>
                {/* JSON-encoded: control and bidi characters show as escapes (RELIABILITY J-07). */}
                <td class="detail">
                  <code>
                    {JSON.stringify(r.detail).replace(
                      /[\u202a-\u202e\u2066-\u2069]/g,
                      (ch) => `\\u${ch.charCodeAt(0).toString(16)}`,
                    )}
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(query.cursor || props.next) && (
        <nav class="pager">
          {query.cursor && <a href={`/audit${queryString(query.form)}`}>{t.newest}</a>}
          {props.next && (
            <a rel="next" href={`/audit${queryString(query.form, encodeAuditCursor(props.next))}`}>
              {t.older}
            </a>
          )}
        </nav>
      )}
    </div>
  );
}

function AuditFilterForm(props: { t: Dict; form: ParsedAuditQuery["form"]; events: string[] }) {
  const { t, form } = props;
  return (
    <form
      class="filters"
      method="get"
      action="/audit"
      hx-get="/audit"
      hx-target="#results"
      hx-swap="outerHTML"
      hx-push-url="true"
      hx-trigger="change, submit"
    >
      <label>
        {t.event}
        <select name="event">
          <option value="">{t.all}</option>
          {props.events.map((e) => <option value={e} selected={form.event === e}>{e}</option>)}
        </select>
      </label>
      <label>
        {t.account}
        <input type="text" name="account" value={form.account} size={4} inputmode="numeric" />
      </label>
      <label>
        {t.message}
        <input type="text" name="message" value={form.message} size={6} inputmode="numeric" />
      </label>
      <label>
        {t.since}
        <input type="date" name="since" value={form.since} />
      </label>
      <label>
        {t.until}
        <input type="date" name="until" value={form.until} />
      </label>
      <button type="submit">{t.apply}</button>
      <a href="/audit">{t.clear}</a>
    </form>
  );
}

/** Most events one export returns. */
export const EXPORT_LIMIT = 100_000;

export function auditRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/audit", async (c) => {
    const t = c.get("t");
    const query = parseAuditQuery(Params.ofQuery(c));
    const page = query.errors.length
      ? { rows: [], next: null }
      : await listAudit(deps.db, query.filters, query.cursor, query.limit);
    const results = <AuditResults t={t} query={query} rows={page.rows} next={page.next} />;
    const status = query.errors.length ? 422 : 200;
    if (wantsFragment(c)) {
      pushUrl(
        c,
        `/audit${queryString(query.form, query.cursor ? c.req.query("after") : undefined)}`,
      );
      return respond(c, { title: t.audit, fragment: results, status });
    }
    return respond(c, {
      title: t.audit,
      nav: "/audit",
      fragment: results,
      page: (
        <>
          <h1>{t.audit}</h1>
          <AuditFilterForm t={t} form={query.form} events={await auditEventNames(deps.db)} />
          {results}
        </>
      ),
      status,
    });
  });

  const exportRows = async (query: ParsedAuditQuery): Promise<AuditRow[]> => {
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
