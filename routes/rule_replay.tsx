// Rendered once on the server, never reconciled: list items need no `key` (which hono/jsx
// would print as an attribute).
// deno-lint-ignore-file jsx-key
/**
 * `/rules/:id/replay`: a rule applied to stored mail a person chooses — the message list's
 * filters and the day from which mail is replayed (required). The first POST is the dry-run: the
 * list of messages, which would be answered and which not and why, and a confirmation form that
 * carries its token; the confirmation enqueues exactly that list (src/actions/rule_replay.ts).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { idParam, respond } from "./render.tsx";
import { fmtDate } from "./viewer_time.ts";
import { Params } from "./params.ts";
import { type Column, FilterInput, ListTable } from "./list_view.tsx";
import { parseReplayQuery, type ReplayQuery } from "./list_queries.ts";
import { filterFields } from "./messages.tsx";
import { getRuleRow, type RuleRow } from "../src/store/rules_admin.ts";
import { listAccounts } from "../src/store/accounts.ts";
import { replayRule } from "../src/actions/rule_replay.ts";
import { problemLines } from "../src/actions/result.ts";
import {
  REPLAY_MAX_MESSAGES,
  type ReplayItem,
  type ReplayResult,
} from "../src/domain/rule_replay.ts";

type AccountChoice = { id: number; name: string };

function itemColumns(t: Dict, confirmed: boolean): Column<ReplayItem>[] {
  return [
    { label: t.received, class: "nowrap", cell: (i) => fmtDate(i.receivedAt, t) },
    {
      label: t.subject,
      cell: (i) => <a href={`/messages/${i.messageId}`}>{i.subject || t.noSubject}</a>,
    },
    { label: t.from, cell: (i) => i.from ?? "" },
    {
      label: t.decision,
      cell: (i) =>
        i.result.outcome === "reply"
          ? (
            <>
              <span class="badge reply">{confirmed ? t.replayEnqueued : t.wouldReply}</span> →{" "}
              {i.result.recipient}
              {confirmed && i.result.outboxId !== undefined && (
                <>
                  {" "}(<a href={`/messages/${i.messageId}`}>#{i.result.outboxId}</a>)
                </>
              )}
            </>
          )
          : (
            <>
              <span class="badge suppressed">{t.replayNotAnswered}</span>{" "}
              <code>{i.result.reason}</code> {i.result.detail}
            </>
          ),
    },
  ];
}

/** What a dry-run or a replay did: counts, the list, and for a dry-run the confirmation. */
function ReplayReportView(
  props: { t: Dict; r: ReplayResult; csrf: string; path: string },
) {
  const { t, r } = props;
  const last = r.items[r.items.length - 1];
  return (
    <div id="replay-report" data-confirmed={String(r.confirmed)}>
      <h2>{r.confirmed ? t.replayDoneTitle : t.dryRun}</h2>
      <p class="summary">
        {fill(r.confirmed ? t.replayDone : t.replaySummary, {
          examined: r.items.length,
          replies: r.replies,
          skipped: r.skipped,
        })}
      </p>
      {r.capped && last && (
        <p class="notice">
          {fill(t.replayCapped, {
            max: REPLAY_MAX_MESSAGES,
            last: last.receivedAt.toISOString().slice(0, 10),
          })}
        </p>
      )}
      {Object.keys(r.reasons).length > 0 && (
        <p class="sub">
          {t.replayReasons}: {Object.entries(r.reasons).map(([reason, n], i) => (
            <>
              {i > 0 && ", "}
              <code>{reason}</code> {n}
            </>
          ))}
        </p>
      )}
      {r.confirmed
        ? (
          <p>
            <a href="/outbox">{t.replaySeeOutbox}</a>
          </p>
        )
        : r.replies > 0
        ? (
          <form
            method="post"
            action={props.path}
            hx-post={props.path}
            hx-target="#replay"
            hx-swap="outerHTML"
            id="replay-confirm"
          >
            <CsrfField token={props.csrf} />
            {Object.entries(r.filters).map(([k, v]) => <input type="hidden" name={k} value={v} />)}
            <input type="hidden" name="confirm" value={r.token} />
            <p class="sub">{t.replayConfirmNote}</p>
            <button type="submit">{fill(t.replayConfirm, { n: r.replies })}</button>
          </form>
        )
        : <p>{t.replayNothing}</p>}
      {r.items.length > 0 && (
        <ListTable
          class="list replay"
          inert
          columns={itemColumns(t, r.confirmed)}
          rows={r.items}
          rowAttrs={(i) => ({
            "data-message": String(i.messageId),
            "data-outcome": i.result.outcome,
          })}
        />
      )}
    </div>
  );
}

/** The replay form and, after a POST, its report: the `#replay` fragment. */
function ReplaySection(
  props: {
    t: Dict;
    rule: RuleRow;
    csrf: string;
    accounts: AccountChoice[];
    form: ReplayQuery["form"] | null;
    errors: string[];
    result?: ReplayResult;
  },
) {
  const { t, rule } = props;
  const path = `/rules/${rule.id}/replay`;
  return (
    <section id="replay">
      <form
        method="post"
        action={path}
        hx-post={path}
        hx-target="#replay"
        hx-swap="outerHTML"
        class="filters"
        id="replay-filters"
      >
        <CsrfField token={props.csrf} />
        {filterFields(t, props.accounts).map((f) => (
          <FilterInput
            t={t}
            field={f}
            value={props.form?.[f.name as keyof ReplayQuery["form"]] ?? ""}
          />
        ))}
        <button type="submit">{t.dryRun}</button>
      </form>
      <Problems t={t} errors={props.errors} />
      {props.result && <ReplayReportView t={t} r={props.result} csrf={props.csrf} path={path} />}
    </section>
  );
}

export function ruleReplayRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const render = async (
    c: Context<AppEnv>,
    rule: RuleRow,
    state: { form: ReplayQuery["form"] | null; errors: string[]; result?: ReplayResult },
    status?: 409 | 422,
  ) => {
    const t = c.get("t");
    const accounts = (await listAccounts(deps.db)).map((a) => ({ id: a.id, name: a.name }));
    const section = (
      <ReplaySection
        t={t}
        rule={rule}
        csrf={c.get("csrfToken")}
        accounts={accounts}
        {...state}
      />
    );
    const title = fill(t.replayTitle, { rule: rule.name });
    return respond(c, {
      title,
      nav: "/rules",
      fragment: section,
      page: (
        <>
          <h1>{title}</h1>
          <p class="sub">{fill(t.replayHelp, { max: REPLAY_MAX_MESSAGES })}</p>
          <p>
            <a href="/rules">{t.rules}</a> · <a href={`/rules/${rule.id}`}>{t.edit}</a>
          </p>
          {section}
        </>
      ),
      status,
    });
  };

  app.get("/rules/:id{[0-9]+}/replay", async (c) => {
    const rule = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!rule) return c.notFound();
    return await render(c, rule, { form: null, errors: [] });
  });

  app.post("/rules/:id{[0-9]+}/replay", async (c) => {
    const rule = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!rule) return c.notFound();
    const params = Params.ofForm(await c.req.parseBody({ all: true }));
    const confirm = params.text("confirm", 64);
    if (confirm && !/^[0-9a-f]{64}$/.test(confirm)) {
      params.problem("confirm", "not the token of a dry-run");
    }
    const query = parseReplayQuery(params);
    if (query.errors.length) return await render(c, rule, query, 422);
    const replayed = await replayRule(deps, rule.id, {
      filters: query.filters,
      typed: query.typed,
      confirm: confirm || null,
    }, actorName(c.get("actor")));
    if (!replayed.ok) {
      if (replayed.problem.code === "not_found") return c.notFound();
      const status = replayed.problem.code === "conflict" ? 409 : 422;
      return await render(c, rule, {
        form: query.form,
        errors: problemLines(replayed.problem),
      }, status);
    }
    return await render(c, rule, { form: query.form, errors: [], result: replayed.value });
  });

  return app;
}
