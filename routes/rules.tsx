/**
 * `/rules`: list, create, edit, enable/disable, reorder and delete; a live preview of the reply
 * a rule writes for a stored message, and a dry-run over the last N days. Preview and dry-run
 * use the pure decision (src/admin/rule_simulation.ts) and send nothing. Every change is audited
 * as `rule_changed`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { EditorFrame } from "./forms.tsx";
import { type Column, ListView, respondList } from "./list_view.tsx";
import { DryRunList, PreviewSection } from "./rule_outcomes.tsx";
import { fmtDate, idParam, respond } from "./render.tsx";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import {
  deleteRule,
  getRuleRow,
  insertRule,
  listRuleRows,
  moveRule,
  type RuleRow,
  setRuleEnabled,
  updateRule,
} from "../src/store/rules_admin.ts";
import { loadRules } from "../src/store/rule_set.ts";
import { recordEvent } from "../src/store/audit.ts";
import {
  getStoredEmail,
  recentMessageChoices,
  storedEmailsSince,
} from "../src/store/message_detail.ts";
import { NEW_RULE_TEMPLATE, readRuleInput } from "../src/admin/rule_input.ts";
import {
  type DryRunReport,
  dryRunRule,
  previewRule,
  type RuleOutcome,
} from "../src/admin/rule_simulation.ts";
import type { Queryable } from "../src/store/db.ts";

/** Most messages one dry-run looks at, and the longest period. */
export const DRY_RUN_MAX_MESSAGES = 5_000;
export const DRY_RUN_MAX_DAYS = 365;

type Choice = { id: number; subject: string | null; fromAddress: string | null };

function ruleColumns(t: Dict, csrf: string, count: number): Column<RuleRow>[] {
  const post = (
    r: RuleRow,
    path: string,
    field: [string, string],
    label: string,
    confirm?: string,
  ) => (
    <form
      method="post"
      action={`/rules/${r.id}/${path}`}
      class="inline"
      hx-post={`/rules/${r.id}/${path}`}
      hx-target="#rules-list"
      hx-swap="outerHTML"
      hx-confirm={confirm}
    >
      <CsrfField token={csrf} />
      <input type="hidden" name={field[0]} value={field[1]} />
      <button type="submit">{label}</button>
    </form>
  );
  return [
    { label: "#", cell: (r) => r.position + 1 },
    { label: t.name, inert: true, cell: (r) => <a href={`/rules/${r.id}`}>{r.name}</a> },
    { label: t.priority, cell: (r) => r.priority },
    {
      label: t.status,
      cell: (r) => (
        <span class={`badge ${r.enabled ? "sent" : "cancelled"}`}>
          {r.enabled ? t.enabled : t.disabled}
        </span>
      ),
    },
    { label: t.at, class: "nowrap", cell: (r) => fmtDate(r.updatedAt) },
    {
      label: t.actions,
      class: "actions",
      cell: (r, i) => (
        <>
          {post(r, "enabled", ["enabled", r.enabled ? "0" : "1"], r.enabled ? t.disable : t.enable)}
          {i > 0 && post(r, "move", ["direction", "up"], `↑ ${t.up}`)}
          {i < count - 1 && post(r, "move", ["direction", "down"], `↓ ${t.down}`)}
          <a href={`/rules/${r.id}`}>{t.edit}</a>
          {post(r, "delete", ["confirm", "1"], t.delete, t.deleteConfirm)}
        </>
      ),
    },
  ];
}

/** The list: the fragment every list action answers with. */
function RulesList(props: { t: Dict; rows: RuleRow[]; csrf: string }) {
  const { t, rows } = props;
  return (
    <ListView
      t={t}
      id="rules-list"
      rows={rows}
      empty={t.noRules}
      table={{
        class: "list rules",
        columns: ruleColumns(t, props.csrf, rows.length),
        rowAttrs: (r) => ({ id: `rule-${r.id}`, "data-enabled": String(r.enabled) }),
      }}
    />
  );
}

function DryRunSection(
  props: { t: Dict; days?: number; report?: DryRunReport; errors?: string[]; capped?: boolean },
) {
  const { t, report } = props;
  return (
    <section id="dry-run">
      <Problems t={t} errors={props.errors ?? []} />
      {report && (
        <>
          <h2>{fill(t.dryRunTitle, { days: props.days ?? 0 })}</h2>
          <p class="summary">
            {fill(t.dryRunSummary, {
              examined: report.examined,
              replied: report.replied.length,
              suppressed: report.suppressed.length,
              other: report.otherRule.length,
              unmatched: report.unmatched,
            })}
            {props.capped ? ` (${DRY_RUN_MAX_MESSAGES} max)` : ""}
          </p>
          {report.stoppedAtBudget && (
            <p class="problems stopped" role="status">
              {fill(t.dryRunStopped, {
                examined: report.examined,
                total: report.total,
                seconds: (report.elapsedMs / 1000).toFixed(1),
              })}
            </p>
          )}
          <p class="sub">{t.dryRunNote}</p>
          <DryRunList t={t} title={t.wouldReply} items={report.replied} kind="replied" />
          <DryRunList t={t} title={t.wouldSuppress} items={report.suppressed} kind="suppressed" />
          <DryRunList t={t} title={t.ignoredBy} items={report.ignored} kind="ignored" />
          <DryRunList t={t} title={t.takenBy} items={report.otherRule} kind="other" />
        </>
      )}
    </section>
  );
}

interface EditorState {
  ruleId: number | null;
  definition: string;
  messageId: string;
  days: string;
  errors: string[];
  preview?: { outcome?: RuleOutcome; errors?: string[] };
  dryRun?: { days?: number; report?: DryRunReport; errors?: string[]; capped?: boolean };
}

function RuleEditor(props: { t: Dict; s: EditorState; csrf: string; choices: Choice[] }) {
  const { t, s } = props;
  const save = s.ruleId ? `/rules/${s.ruleId}` : "/rules";
  // Preview and dry-run post the same form elsewhere; their answer replaces their own section.
  const trial = (what: "preview" | "dry-run", label: string) => (
    <button
      type="submit"
      formaction={`/rules/${what}`}
      hx-post={`/rules/${what}`}
      hx-target={`#${what}`}
      hx-swap="outerHTML"
    >
      {label}
    </button>
  );
  return (
    <EditorFrame
      t={t}
      id="rule-editor"
      title={s.ruleId ? t.editRule : t.newRule}
      errors={s.errors}
      action={save}
      csrf={props.csrf}
      after={
        <>
          <PreviewSection t={t} {...(s.preview ?? {})} />
          <DryRunSection t={t} {...(s.dryRun ?? {})} />
        </>
      }
    >
      {s.ruleId && <input type="hidden" name="rule_id" value={String(s.ruleId)} />}
      <label>
        {t.definition}
        <textarea name="definition" rows={18} spellcheck={false} class="code">
          {s.definition}
        </textarea>
      </label>
      <p>
        <a href="/rules">{t.rules}</a>{" "}
        <button type="submit" name="do" value="save">{t.save}</button>
      </p>
      <fieldset class="inline-form">
        <label>
          {t.previewWith}
          <select name="message_id">
            {props.choices.map((m) => (
              <option value={String(m.id)} selected={s.messageId === String(m.id)}>
                #{m.id} {m.subject ?? t.noSubject} ({m.fromAddress ?? "—"})
              </option>
            ))}
          </select>
        </label>
        {trial("preview", t.preview)}
      </fieldset>
      <fieldset class="inline-form">
        <label>
          {t.days}
          <input type="number" name="days" min={1} max={DRY_RUN_MAX_DAYS} value={s.days} />
        </label>
        {trial("dry-run", t.dryRun)}
      </fieldset>
    </EditorFrame>
  );
}

async function otherNames(q: Queryable, exceptId: number | null): Promise<string[]> {
  return (await listRuleRows(q)).filter((r) => r.id !== exceptId).map((r) => r.name);
}

export function ruleRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const sim = { accountContext: deps.accountContext, ownAddresses: deps.ownAddresses };

  const listPage = async (c: Context<AppEnv>) => {
    const t = c.get("t");
    return await respondList(c, {
      title: t.rules,
      nav: "/rules",
      list: <RulesList t={t} rows={await listRuleRows(deps.db)} csrf={c.get("csrfToken")} />,
      above: () => (
        <>
          <p class="sub">{t.rulesHelp}</p>
          <p>
            <a class="button" href="/rules/new">{t.newRule}</a>
          </p>
        </>
      ),
    });
  };

  const editor = async (c: Context<AppEnv>, s: EditorState, status?: 422) => {
    const t = c.get("t");
    const e = (
      <RuleEditor
        t={t}
        s={s}
        csrf={c.get("csrfToken")}
        choices={await recentMessageChoices(deps.db, 50)}
      />
    );
    return respond(c, { title: t.rules, nav: "/rules", fragment: e, status });
  };

  const audit = (c: Context<AppEnv>, action: string, rule: string, extra = {}) =>
    recordEvent(deps.db, {
      event: "rule_changed",
      at: deps.now(),
      detail: { action, rule, by: actorName(c.get("actor")), ...extra },
    });

  const formState = async (c: Context<AppEnv>): Promise<EditorState> => {
    const body = await c.req.parseBody();
    const str = (k: string) => (typeof body[k] === "string" ? (body[k] as string) : "");
    return {
      ruleId: idParam(str("rule_id")),
      definition: str("definition"),
      messageId: str("message_id"),
      days: str("days") || "30",
      errors: [],
    };
  };

  app.get("/rules", (c) => listPage(c));

  /** The editor as a GET opens it: the definition as stored, nothing previewed yet. */
  const opened = (ruleId: number | null, definition: unknown): EditorState => ({
    ruleId,
    definition: JSON.stringify(definition, null, 2),
    messageId: "",
    days: "30",
    errors: [],
  });

  app.get("/rules/new", (c) => editor(c, opened(null, NEW_RULE_TEMPLATE)));

  app.get("/rules/:id{[0-9]+}", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return c.notFound();
    if (wantsFragment(c)) fullPageRedirect(c, `/rules/${row.id}`);
    return await editor(c, opened(row.id, row.definition));
  });

  const saved = (c: Context<AppEnv>) => {
    if (wantsFragment(c)) {
      fullPageRedirect(c, "/rules");
      return c.html("", 200);
    }
    return c.redirect("/rules", 303);
  };

  app.post("/rules", async (c) => {
    const s = await formState(c);
    s.ruleId = null;
    const input = readRuleInput(s.definition, await otherNames(deps.db, null));
    if (!input.ok) return await editor(c, { ...s, errors: input.errors }, 422);
    const row = await insertRule(deps.db, {
      name: input.rule.name,
      enabled: input.rule.enabled,
      priority: input.rule.priority,
      definition: input.definition,
    }, deps.now());
    await audit(c, "created", row.name);
    return saved(c);
  });

  app.post("/rules/:id{[0-9]+}", async (c) => {
    const id = idParam(c.req.param("id"));
    const before = id ? await getRuleRow(deps.db, id) : null;
    if (!before || !id) return c.notFound();
    const s = { ...(await formState(c)), ruleId: id };
    const input = readRuleInput(s.definition, await otherNames(deps.db, id));
    if (!input.ok) return await editor(c, { ...s, errors: input.errors }, 422);
    await updateRule(deps.db, id, {
      name: input.rule.name,
      enabled: input.rule.enabled,
      priority: input.rule.priority,
      definition: input.definition,
    }, deps.now());
    await audit(
      c,
      "updated",
      input.rule.name,
      before.name !== input.rule.name ? { was: before.name } : {},
    );
    return saved(c);
  });

  const afterListAction = (c: Context<AppEnv>) =>
    wantsFragment(c) ? listPage(c) : c.redirect("/rules", 303);

  app.post("/rules/:id{[0-9]+}/enabled", async (c) => {
    const body = await c.req.parseBody();
    if (body.enabled !== "1" && body.enabled !== "0") {
      return c.text("enabled: must be 1 or 0", 422);
    }
    const row = await setRuleEnabled(
      deps.db,
      idParam(c.req.param("id")) ?? 0,
      body.enabled === "1",
      deps.now(),
    );
    if (!row) return c.notFound();
    await audit(c, row.enabled ? "enabled" : "disabled", row.name);
    return await afterListAction(c);
  });

  app.post("/rules/:id{[0-9]+}/move", async (c) => {
    const body = await c.req.parseBody();
    if (body.direction !== "up" && body.direction !== "down") {
      return c.text("direction: must be up or down", 422);
    }
    const id = idParam(c.req.param("id")) ?? 0;
    const direction = body.direction;
    const moved = await deps.db.transaction((tx) => moveRule(tx, id, direction, deps.now()));
    if (!moved) return c.notFound();
    const row = await getRuleRow(deps.db, id);
    await audit(c, "moved", row?.name ?? String(id), { direction });
    return await afterListAction(c);
  });

  app.post("/rules/:id{[0-9]+}/delete", async (c) => {
    const name = await deleteRule(deps.db, idParam(c.req.param("id")) ?? 0);
    if (name === null) return c.notFound();
    await audit(c, "deleted", name);
    return await afterListAction(c);
  });

  app.post("/rules/preview", async (c) => {
    const t = c.get("t");
    const s = await formState(c);
    const input = readRuleInput(s.definition, await otherNames(deps.db, s.ruleId));
    let preview: EditorState["preview"];
    if (!input.ok) preview = { errors: input.errors };
    else {
      const messageId = idParam(s.messageId);
      const message = messageId ? await getStoredEmail(deps.db, messageId) : null;
      const missing = s.messageId && !messageId ? "message_id: must be a message id" : t.noMessage;
      preview = message
        ? { outcome: await previewRule(input.rule, message, sim) }
        : { errors: [missing] };
    }
    const status = preview.errors ? 422 : undefined;
    if (wantsFragment(c)) {
      return respond(c, {
        title: t.rules,
        fragment: <PreviewSection t={t} {...preview} />,
        status,
      });
    }
    return await editor(c, { ...s, preview }, status);
  });

  app.post("/rules/dry-run", async (c) => {
    const t = c.get("t");
    const s = await formState(c);
    const days = /^\d{1,3}$/.test(s.days) ? Number(s.days) : NaN;
    const input = readRuleInput(s.definition, await otherNames(deps.db, s.ruleId));
    let dryRun: EditorState["dryRun"];
    if (!(days >= 1 && days <= DRY_RUN_MAX_DAYS)) {
      dryRun = { errors: [`days: must be from 1 to ${DRY_RUN_MAX_DAYS}`] };
    } else if (!input.ok) {
      dryRun = { errors: input.errors };
    } else {
      const editing = s.ruleId ? await getRuleRow(deps.db, s.ruleId) : null;
      const since = new Date(deps.now().getTime() - days * 86_400_000);
      const messages = await storedEmailsSince(deps.db, since, DRY_RUN_MAX_MESSAGES);
      const report = await dryRunRule(
        input.rule,
        await loadRules(deps.db),
        messages,
        { ...sim, ...deps.dryRun },
        editing?.name ?? input.rule.name,
      );
      dryRun = { days, report, capped: messages.length >= DRY_RUN_MAX_MESSAGES };
    }
    const status = dryRun.errors ? 422 : undefined;
    if (wantsFragment(c)) {
      return respond(c, { title: t.rules, fragment: <DryRunSection t={t} {...dryRun} />, status });
    }
    return await editor(c, { ...s, dryRun }, status);
  });

  return app;
}
