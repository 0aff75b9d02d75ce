// Rendered once on the server, never reconciled: list items need no `key` (which hono/jsx
// would print as an attribute).
// deno-lint-ignore-file jsx-key
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
import type { Dict } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { fmtDate, idParam, respond } from "./render.tsx";
import { Params } from "./params.ts";
import { wantsFragment } from "./htmx.ts";
import {
  getOutboxRow,
  listOutbox,
  OUTBOX_STATUSES,
  type OutboxAction,
  type OutboxListRow,
} from "../src/store/outbox_admin.ts";
import { outboxCounts, type OutboxStatus } from "../src/store/outbox.ts";
import { applyOutboxAction } from "../src/actions/outbox.ts";

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

/** One row of the list: the fragment an action answers with. */
export function OutboxRowView(
  props: { t: Dict; row: OutboxListRow; csrf: string; notice?: string },
) {
  const { t, row } = props;
  return (
    <tr id={`outbox-${row.id}`} data-status={row.status}>
      <td>{row.id}</td>
      <td>
        <span class={`badge ${row.status}`}>{row.status}</span>
        {props.notice && <div class="problems">{props.notice}</div>}
      </td>
      <td hx-disable>{row.recipient}</td>
      <td hx-disable>
        {row.messageId ? <a href={`/messages/${row.messageId}`}>{row.subject}</a> : row.subject}
        {row.ruleName && <div class="sub">{t.rule}: {row.ruleName}</div>}
      </td>
      <td>{row.attempts}</td>
      <td class="nowrap">{fmtDate(row.updatedAt)}</td>
      <td hx-disable class="error">{row.lastError ?? ""}</td>
      <td class="actions">
        {row.status === "failed" && (
          <ActionButton id={row.id} action="retry" label={t.retry} csrf={props.csrf} />
        )}
        {row.status === "unknown" && (
          <>
            <p class="sub">{t.unknownHelp}</p>
            <ActionButton
              id={row.id}
              action="settle"
              value="sent"
              label={t.settleSent}
              csrf={props.csrf}
            />
            <ActionButton
              id={row.id}
              action="settle"
              value="send_again"
              label={t.settleAgain}
              csrf={props.csrf}
              confirm={t.settleConfirm}
            />
          </>
        )}
        {(row.status === "pending" || row.status === "retry") && (
          <ActionButton
            id={row.id}
            action="cancel"
            label={t.cancel}
            csrf={props.csrf}
            confirm={t.cancelConfirm}
          />
        )}
      </td>
    </tr>
  );
}

function OutboxResults(
  props: {
    t: Dict;
    rows: OutboxListRow[];
    next: number | null;
    status: string;
    csrf: string;
    errors: string[];
  },
) {
  const { t } = props;
  const q = props.status ? `status=${props.status}&` : "";
  return (
    <div id="results">
      <Problems t={t} errors={props.errors} />
      {props.rows.length === 0 ? <p class="empty">{t.noOutbox}</p> : (
        <table class="list outbox">
          <thead>
            <tr>
              <th>#</th>
              <th>{t.status}</th>
              <th>{t.recipient}</th>
              <th>{t.subject}</th>
              <th>{t.attempts}</th>
              <th>{t.at}</th>
              <th>{t.lastError}</th>
              <th>{t.actions}</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => <OutboxRowView t={t} row={r} csrf={props.csrf} />)}
          </tbody>
        </table>
      )}
      {props.next !== null && (
        <nav class="pager">
          <a rel="next" href={`/outbox?${q}before=${props.next}`}>{t.older}</a>
        </nav>
      )}
    </div>
  );
}

function StatusCounts(props: { t: Dict; counts: Record<OutboxStatus, number>; current: string }) {
  return (
    <nav class="counts" aria-label={props.t.counts}>
      <a
        href="/outbox"
        hx-get="/outbox"
        hx-target="#results"
        hx-swap="outerHTML"
        hx-push-url="true"
        aria-current={props.current === "" ? "page" : undefined}
      >
        {props.t.all}
      </a>
      {OUTBOX_STATUSES.map((s) => (
        <a
          href={`/outbox?status=${s}`}
          hx-get={`/outbox?status=${s}`}
          hx-target="#results"
          hx-swap="outerHTML"
          hx-push-url="true"
          aria-current={props.current === s ? "page" : undefined}
        >
          {s} <b>{props.counts[s]}</b>
        </a>
      ))}
    </nav>
  );
}

export function outboxRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/outbox", async (c) => {
    const t = c.get("t");
    const params = Params.ofQuery(c);
    const status = params.oneOf("status", OUTBOX_STATUSES) ?? "";
    const before = params.id("before", "an outbox id");
    const errors = params.errors;
    const page = errors.length === 0
      ? await listOutbox(deps.db, { status: status || undefined }, before ?? null, 50)
      : { rows: [], next: null };
    const results = (
      <OutboxResults
        t={t}
        rows={page.rows}
        next={page.next}
        status={status}
        csrf={c.get("csrfToken")}
        errors={errors}
      />
    );
    const code = errors.length ? 422 : 200;
    if (wantsFragment(c)) return respond(c, { title: t.outbox, fragment: results, status: code });
    return respond(c, {
      title: t.outbox,
      nav: "/outbox",
      fragment: results,
      page: (
        <>
          <h1>{t.outbox}</h1>
          <StatusCounts t={t} counts={await outboxCounts(deps.db)} current={status} />
          {results}
        </>
      ),
      status: code,
    });
  });

  const act = async (c: Context<AppEnv>, action: OutboxAction | null) => {
    const id = idParam(c.req.param("id"));
    if (!id) return c.notFound();
    const t = c.get("t");
    if (!action) {
      const row = await getOutboxRow(deps.db, id);
      if (!row) return c.notFound();
      return respond(c, {
        title: t.outbox,
        fragment: (
          <OutboxRowView
            t={t}
            row={row}
            csrf={c.get("csrfToken")}
            notice="choice: sent or send_again"
          />
        ),
        page: <p class="problems">choice: must be sent or send_again</p>,
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
    return respond(c, {
      title: t.outbox,
      fragment: (
        <OutboxRowView
          t={t}
          row={row}
          csrf={c.get("csrfToken")}
          notice={result.ok ? undefined : t.actionConflict}
        />
      ),
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
