/**
 * `/outbox`: counts by status, a filtered list, and the actions a person takes: retry a failed
 * reply, settle an unknown one ("it was sent" / "send again"), cancel a pending one. Each
 * action is one guarded state change plus an audit event (src/actions/outbox.ts); with htmx
 * the row is swapped in place, without it the list is shown again.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, outboxStatusName, say } from "./i18n.ts";
import type { Child } from "hono/jsx";
import { CsrfField } from "./layout.tsx";
import { idParam, respond, When } from "./render.tsx";
import { wantsFragment } from "./htmx.ts";
import { getOutboxRow, listOutbox, type OutboxListRow } from "../src/store/outbox_admin.ts";
import { OUTBOX_STATUSES, type OutboxAction } from "../src/store/outbox_status.ts";
import { outboxCounts, type OutboxStatus } from "../src/store/outbox.ts";
import { type OutboxQuery, parseOutboxQuery, readList } from "./list_queries.ts";
import { type Column, ListView, respondList, TableRow } from "./list_view.tsx";
import { applyOutboxAction } from "../src/actions/outbox.ts";
import { SentCopyNote } from "./sent_copy_note.tsx";
import { ExportLinks, outboxExportHandler } from "./exports.tsx";

function ActionButton(
  props: {
    id: number;
    action: string;
    label: string;
    csrf: string;
    confirm?: string;
    value?: string;
  },
) {
  const url = `/outbox/${props.id}/${props.action}`;
  return (
    <form
      method="post"
      action={url}
      class="inline"
      hx-post={url}
      hx-target={`#outbox-${props.id}`}
      hx-swap="outerHTML"
      hx-confirm={props.confirm}
    >
      <CsrfField token={props.csrf} />
      {props.value && <input type="hidden" name="choice" value={props.value} />}
      <button type="submit" data-action={`${props.action}${props.value ? `-${props.value}` : ""}`}>
        {props.label}
      </button>
    </form>
  );
}

function outboxColumns(t: Dict, csrf: string, notice?: string): Column<OutboxListRow>[] {
  return [
    { label: "#", cell: (row) => row.id },
    {
      label: t.status,
      cell: (row) => (
        <>
          <span class={`badge ${row.status}`}>{outboxStatusName(t, row.status)}</span>
          {row.report && (
            <div class="sub" data-report-action={row.report.action}>
              <code>{row.report.action}</code> {row.report.status ?? ""}{" "}
              {row.report.messageId !== null && (
                <a href={`/messages/${row.report.messageId}`}>{t.deliveryReport}</a>
              )}
            </div>
          )}
          {notice && <div class="problems">{notice}</div>}
          <SentCopyNote t={t} copy={row.sentCopy} />
        </>
      ),
    },
    {
      label: t.recipient,
      inert: true,
      cell: (row) => (
        <>
          {row.recipient}
          {row.cc.length > 0 && <div class="sub">Cc: {row.cc.join(", ")}</div>}
          {row.bcc.length > 0 && <div class="sub">Bcc: {row.bcc.join(", ")}</div>}
          {row.attachments > 0 && <div class="sub">📎 {row.attachments}</div>}
        </>
      ),
    },
    {
      label: t.subject,
      inert: true,
      cell: (row) => (
        <>
          {row.messageId ? <a href={`/messages/${row.messageId}`}>{row.subject}</a> : row.subject}
          {row.ruleName && <div class="sub">{t.rule}: {row.ruleName}</div>}
        </>
      ),
    },
    { label: t.attempts, cell: (row) => row.attempts },
    { label: t.at, class: "nowrap", cell: (row) => <When at={row.updatedAt} t={t} /> },
    {
      label: t.lastError,
      class: "error",
      inert: true,
      // Our own words are said in the viewer's language; a server's answer stays as it came.
      cell: (row) => row.report?.diagnostic ?? say(t, row.lastError ?? ""),
    },
    {
      label: t.actions,
      class: "actions",
      cell: (row) => <RowActions t={t} row={row} csrf={csrf} />,
    },
  ];
}

function RowActions(props: { t: Dict; row: OutboxListRow; csrf: string }) {
  const { t, row } = props;
  const button = (action: string, label: string, more?: { value?: string; confirm?: string }) => (
    <ActionButton id={row.id} action={action} label={label} csrf={props.csrf} {...more} />
  );
  return (
    <>
      {row.status === "failed" && button("retry", t.retry)}
      {row.status === "unknown" && (
        <>
          <p class="sub">{t.unknownHelp}</p>
          {button("settle", t.settleSent, { value: "sent" })}
          {button("settle", t.settleAgain, { value: "send_again", confirm: t.settleConfirm })}
        </>
      )}
      {(row.status === "pending" || row.status === "retry") &&
        button("cancel", t.cancel, { confirm: t.cancelConfirm })}
    </>
  );
}

const rowAttrs = (row: OutboxListRow) => ({ id: `outbox-${row.id}`, "data-status": row.status });

/** One row of the list: the fragment an action answers with. */
export function OutboxRowView(
  props: { t: Dict; row: OutboxListRow; csrf: string; notice?: string },
) {
  const columns = outboxColumns(props.t, props.csrf, props.notice);
  return <TableRow columns={columns} row={props.row} attrs={rowAttrs(props.row)} />;
}

function OutboxResults(
  props: {
    t: Dict;
    query: OutboxQuery;
    page: { rows: OutboxListRow[]; next: number | null } | null;
    csrf: string;
  },
) {
  const { t, query, page } = props;
  return (
    <ListView
      t={t}
      id="results"
      errors={query.errors}
      top={<ExportLinks t={t} path="/outbox/export" query={query} formats={["csv"]} />}
      rows={page?.rows ?? null}
      empty={t.noOutbox}
      table={{ class: "list outbox", columns: outboxColumns(t, props.csrf), rowAttrs }}
      pager={{ path: "/outbox", query, next: page?.next ? String(page.next) : null }}
    />
  );
}

function StatusCounts(props: { t: Dict; counts: Record<OutboxStatus, number>; current: string }) {
  const link = (status: string, label: Child) => {
    const url = status ? `/outbox?status=${status}` : "/outbox";
    return (
      <a
        href={url}
        hx-get={url}
        hx-target="#results"
        hx-swap="outerHTML"
        hx-push-url="true"
        aria-current={props.current === status ? "page" : undefined}
      >
        {label}
      </a>
    );
  };
  return (
    <nav class="counts" aria-label={props.t.counts}>
      {link("", props.t.all)}
      {OUTBOX_STATUSES.map((s) =>
        link(
          s,
          <>
            {outboxStatusName(props.t, s)} <b>{props.counts[s]}</b>
          </>,
        )
      )}
    </nav>
  );
}

export function outboxRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/outbox", async (c) => {
    const t = c.get("t");
    const { query, page } = await readList(c, deps.db, parseOutboxQuery, listOutbox);
    const above = async () => {
      const counts = await outboxCounts(deps.db);
      return <StatusCounts t={t} counts={counts} current={query.filters.status ?? ""} />;
    };
    const list = <OutboxResults t={t} query={query} page={page} csrf={c.get("csrfToken")} />;
    return await respondList(c, { title: t.outbox, nav: "/outbox", list, above, query });
  });

  // The list's filter as CSV (routes/exports.tsx).
  app.get(
    "/outbox/export",
    outboxExportHandler(
      deps,
      (c, errors) => c.text(errors.map((e) => say(c.get("t"), e)).join("\n"), 422),
    ),
  );

  /** The row as it stands now, with a notice, as the fragment an action answers with. */
  const rowAnswer = (
    c: Context<AppEnv>,
    row: OutboxListRow,
    answer: { notice?: string; page?: Child; status: 200 | 409 | 422 },
  ) =>
    respond(c, {
      title: c.get("t").outbox,
      fragment: (
        <OutboxRowView t={c.get("t")} row={row} csrf={c.get("csrfToken")} notice={answer.notice} />
      ),
      page: answer.page,
      status: answer.status,
    });

  const act = async (c: Context<AppEnv>, action: OutboxAction | null) => {
    const id = idParam(c.req.param("id"));
    if (!id) return c.notFound();
    const t = c.get("t");
    if (!action) {
      const row = await getOutboxRow(deps.db, id);
      if (!row) return c.notFound();
      return rowAnswer(c, row, {
        notice: t.badChoice,
        page: <p class="problems">{t.badChoice}</p>,
        status: 422,
      });
    }
    const result = await applyOutboxAction(deps, id, action, actorName(c.get("actor")));
    if (!result.ok && result.problem.code === "not_found") return c.notFound();
    if (!wantsFragment(c)) {
      if (!result.ok) {
        return respond(c, {
          title: t.outbox,
          fragment: <p class="problems">{t.actionConflict}</p>,
          status: 409,
        });
      }
      return c.redirect(`/outbox?status=${result.value.status}#outbox-${id}`, 303);
    }
    const row = result.ok ? result.value : await getOutboxRow(deps.db, id);
    if (!row) return c.notFound();
    return rowAnswer(c, row, {
      notice: result.ok ? undefined : t.actionConflict,
      status: result.ok ? 200 : 409,
    });
  };

  app.post("/outbox/:id{[0-9]+}/retry", (c) => act(c, { type: "retry" }));
  app.post("/outbox/:id{[0-9]+}/cancel", (c) => act(c, { type: "cancel" }));
  app.post("/outbox/:id{[0-9]+}/settle", async (c) => {
    const body = await c.req.parseBody();
    const choice = body.choice;
    return await act(
      c,
      choice === "sent" || choice === "send_again" ? { type: "settle", choice } : null,
    );
  });

  return app;
}
