/**
 * `/rules`: list, create, edit, enable/disable, reorder and delete; a live preview of the reply
 * a rule writes for a stored message, and a dry-run over the last N days. Preview and dry-run
 * use the pure decision (src/admin/rule_simulation.ts) and send nothing. Every change is an
 * action of src/actions/rules.ts, audited as `rule_changed`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { CsrfField } from "./layout.tsx";
import { EditorFrame } from "./forms.tsx";
import { type Column, ListView, respondList } from "./list_view.tsx";
import { idParam, respond, When } from "./render.tsx";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import { getRuleRow, listRuleRows, type RuleRow } from "../src/store/rules_admin.ts";
import {
  createRule,
  deleteRule,
  moveRule,
  setRuleEnabled,
  updateRule,
} from "../src/actions/rules.ts";
import { getStoredEmail, recentMessageChoices } from "../src/store/message_detail.ts";
import { NEW_RULE_TEMPLATE, readRuleInput } from "../src/admin/rule_input.ts";
import {
  DRY_RUN_MAX_DAYS,
  type DryRunReport,
  dryRunStored,
  previewRule,
  type RuleOutcome,
} from "../src/admin/rule_simulation.ts";
import { DryRunSection, type PreviewFacts, PreviewSection } from "./rule_outcomes.tsx";
import { rulePeriod } from "./rule_period.ts";
import type { Queryable } from "../src/store/db.ts";
import { problemLines } from "../src/actions/result.ts";
import { listRuleAttachments, type RuleAttachmentRow } from "../src/store/rule_attachments.ts";
import { addRuleAttachment, removeRuleAttachment } from "../src/actions/rule_attachments.ts";
import { MAX_RULE_ATTACHMENT_BYTES } from "../src/domain/rule_attachment.ts";
import { Problems } from "./layout.tsx";
import { fill } from "./i18n.ts";
import { EditButton, type FieldProblems, RuleFormFields } from "./rule_form_view.tsx";
import {
  applyFormEdit,
  type FormProblem,
  formShows,
  formToDefinition,
  newRuleForm,
  problemsByInput,
  readRuleForm,
  type RuleForm,
  ruleToForm,
} from "../src/admin/rule_form.ts";
import { parseRules } from "../src/domain/rules.ts";
import { DEFAULT_RATE_LIMIT_POLICY, resolveRateLimitPolicy } from "../src/domain/rate_limit.ts";

type Choice = { id: number; subject: string | null; fromAddress: string | null };

function ruleColumns(
  t: Dict,
  csrf: string,
  count: number,
  period: (r: RuleRow) => { kind: string; text: string },
): Column<RuleRow>[] {
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
    {
      label: t.period,
      cell: (r) => {
        const p = period(r);
        return <span class={`period ${p.kind}`}>{p.text}</span>;
      },
    },
    { label: t.at, class: "nowrap", cell: (r) => <When at={r.updatedAt} t={t} /> },
    {
      label: t.actions,
      class: "actions",
      cell: (r, i) => (
        <>
          {post(r, "enabled", ["enabled", r.enabled ? "0" : "1"], r.enabled ? t.disable : t.enable)}
          {i > 0 && post(r, "move", ["direction", "up"], `↑ ${t.up}`)}
          {i < count - 1 && post(r, "move", ["direction", "down"], `↓ ${t.down}`)}
          <a href={`/rules/${r.id}`}>{t.edit}</a>
          {r.definition.ignore !== true && <a href={`/rules/${r.id}/replay`}>{t.replay}</a>}
          {post(r, "delete", ["confirm", "1"], t.delete, t.deleteConfirm)}
        </>
      ),
    },
  ];
}

/** The list: the fragment every list action answers with. */
function RulesList(
  props: {
    t: Dict;
    rows: RuleRow[];
    csrf: string;
    period: (r: RuleRow) => { kind: string; text: string };
  },
) {
  const { t, rows } = props;
  return (
    <ListView
      t={t}
      id="rules-list"
      rows={rows}
      empty={t.noRules}
      table={{
        class: "list rules",
        columns: ruleColumns(t, props.csrf, rows.length, props.period),
        rowAttrs: (r) => ({ id: `rule-${r.id}`, "data-enabled": String(r.enabled) }),
      }}
    />
  );
}

interface EditorState {
  ruleId: number | null;
  /** Which view holds the rule: the form, or the JSON text ("Advanced"). */
  view: "form" | "json";
  /** The form's fields (the form view). */
  form: RuleForm;
  /** The JSON text (the JSON view), or the form's rule written as JSON. */
  definition: string;
  /** The form has no input for something in this rule: it is edited as JSON. */
  formUnavailable?: boolean;
  /** Problems shown next to the form's inputs. */
  fieldProblems?: FieldProblems;
  messageId: string;
  /** A message id typed instead of one chosen from the list. */
  messageRef: string;
  days: string;
  errors: string[];
  preview?: PreviewState;
  dryRun?: { days?: number; report?: DryRunReport; errors?: string[]; capped?: boolean };
  /** The rule's stored files (a saved rule only), and what an upload got wrong. */
  files?: RuleAttachmentRow[];
  fileErrors?: string[];
}

type PreviewState = { outcome?: RuleOutcome; errors?: string[]; facts?: PreviewFacts };

function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * The files attached to every reply of a saved rule: listed with a remove button each, and an
 * upload form (a plain multipart POST: a file input works without JS).
 */
function RuleFiles(
  props: { t: Dict; ruleId: number; files: RuleAttachmentRow[]; errors: string[]; csrf: string },
) {
  const { t, ruleId, files } = props;
  const base = `/rules/${ruleId}/attachments`;
  return (
    <section id="rule-files">
      <h2>{t.ruleFiles}</h2>
      <p class="sub">{fill(t.ruleFilesHelp, { max: fileSize(MAX_RULE_ATTACHMENT_BYTES) })}</p>
      <Problems t={t} errors={props.errors} />
      {files.length === 0 ? <p>{t.noRuleFiles}</p> : (
        <table class="list">
          <thead>
            <tr>
              <th>{t.fileName}</th>
              <th>{t.fileSize}</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr id={`rule-file-${f.id}`}>
                <td>
                  {f.filename} <span class="sub">{f.contentType}</span>
                </td>
                <td>{fileSize(f.size)}</td>
                <td>
                  <form
                    method="post"
                    action={`${base}/${f.id}/delete`}
                    hx-post={`${base}/${f.id}/delete`}
                    hx-target="#rule-files"
                    hx-swap="outerHTML"
                    hx-confirm={t.removeFileConfirm}
                  >
                    <CsrfField token={props.csrf} />
                    <button type="submit">{t.removeFile}</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form method="post" action={base} enctype="multipart/form-data" class="inline-form">
        <CsrfField token={props.csrf} />
        <input type="file" name="file" required />
        <button type="submit">{t.uploadFile}</button>
      </form>
    </section>
  );
}

function RuleEditor(
  props: { t: Dict; s: EditorState; csrf: string; choices: Choice[]; zones: string[] },
) {
  const { t, s } = props;
  const save = s.ruleId ? `/rules/${s.ruleId}` : "/rules";
  // Preview and dry-run post the same form elsewhere; their answer replaces their own section.
  const trial = (what: "preview" | "dry-run", label: string) => (
    <button
      type="submit"
      formaction={`/rules/${what}`}
      formnovalidate
      hx-post={`/rules/${what}`}
      hx-target={`#${what}`}
      hx-swap="outerHTML"
    >
      {label}
    </button>
  );
  const tab = (view: "form" | "json", label: string) => (
    <EditButton
      edit={`view:${view}`}
      label={label}
      class={s.view === view ? "tab current" : "tab"}
    />
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
          {s.ruleId && (
            <RuleFiles
              t={t}
              ruleId={s.ruleId}
              files={s.files ?? []}
              errors={s.fileErrors ?? []}
              csrf={props.csrf}
            />
          )}
          <PreviewSection t={t} {...(s.preview ?? {})} />
          <DryRunSection t={t} {...(s.dryRun ?? {})} />
        </>
      }
    >
      {s.ruleId && <input type="hidden" name="rule_id" value={String(s.ruleId)} />}
      <input type="hidden" name="view" value={s.view} />
      {/* Enter in a field saves: the first submit button in the form is the one it presses. */}
      <button
        type="submit"
        name="do"
        value="save"
        class="default-submit"
        tabindex={-1}
        aria-hidden="true"
      >
        {t.save}
      </button>
      <p class="tabs" role="group" aria-label={t.ruleViews}>
        {!s.formUnavailable && tab("form", t.ruleViewForm)}
        {tab("json", t.ruleViewJson)}
      </p>
      {s.formUnavailable && <p class="note">{t.formCannotShow}</p>}
      {s.view === "form"
        ? (
          <RuleFormFields
            t={t}
            form={s.form}
            problems={s.fieldProblems ?? new Map()}
            zones={props.zones}
          />
        )
        : (
          <label>
            {t.definition}
            <textarea name="definition" rows={18} spellcheck={false} class="code">
              {s.definition}
            </textarea>
          </label>
        )}
      <p>
        <a href="/rules">{t.rules}</a>{" "}
        <button type="submit" name="do" value="save">{t.save}</button>{" "}
        {s.ruleId && <a href={`/rules/${s.ruleId}/export`} download>{t.exportRule}</a>}
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
        <label>
          {t.messageRef}
          <input type="text" inputmode="numeric" name="message_ref" value={s.messageRef} size={8} />
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

  // A rule's period is read on the server's calendar (an account's zone may differ by a day).
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const listPage = async (c: Context<AppEnv>) => {
    const t = c.get("t");
    const now = deps.now();
    const period = (r: RuleRow) => rulePeriod(r.definition, now, zone, t, c.get("lang"));
    return await respondList(c, {
      title: t.rules,
      nav: "/rules",
      list: (
        <RulesList
          t={t}
          rows={await listRuleRows(deps.db)}
          csrf={c.get("csrfToken")}
          period={period}
        />
      ),
      above: () => (
        <>
          <p class="sub">{t.rulesHelp}</p>
          <p>
            <a class="button" href="/rules/new">{t.newRule}</a>{" "}
            <a href="/rules/export" download>{t.exportAll}</a>{" "}
            <a href="/rules/import">{t.importRules}</a>
          </p>
        </>
      ),
    });
  };

  const zones = Intl.supportedValuesOf("timeZone");

  const editor = async (c: Context<AppEnv>, s: EditorState, status?: 422) => {
    const t = c.get("t");
    if (s.ruleId && !s.files) {
      const row = await getRuleRow(deps.db, s.ruleId);
      s = { ...s, files: row ? await listRuleAttachments(deps.db, row.name) : [] };
    }
    const e = (
      <RuleEditor
        t={t}
        s={s}
        csrf={c.get("csrfToken")}
        choices={await recentMessageChoices(deps.db, 50)}
        zones={zones}
      />
    );
    return respond(c, { title: t.rules, nav: "/rules", fragment: e, status });
  };

  const by = (c: Context<AppEnv>) => actorName(c.get("actor"));

  /** The posted form as the editor holds it; a post without `view` is the JSON text. */
  const formState = async (c: Context<AppEnv>): Promise<EditorState> => {
    const body = stringFields(await c.req.parseBody());
    const str = (k: string) => body[k] ?? "";
    const view = str("view") === "form" ? "form" : "json";
    const form = view === "form" ? readRuleForm(body) : newRuleForm();
    return {
      ruleId: idParam(str("rule_id")),
      view,
      form,
      definition: view === "form"
        ? JSON.stringify(formToDefinition(form).definition, null, 2)
        : str("definition"),
      messageId: str("message_id"),
      messageRef: str("message_ref"),
      days: str("days") || "30",
      errors: [],
    };
  };

  /**
   * The rule a state holds, as the actions take it: the JSON text, or the form's rule; with
   * where each path of the form's rule came from and the form's own problems.
   */
  const candidate = (s: EditorState) => {
    if (s.view === "json") {
      return { definition: s.definition as unknown, inputs: new Map(), problems: [] };
    }
    const written = formToDefinition(s.form);
    return {
      definition: written.definition as unknown,
      inputs: written.inputs,
      problems: written.problems,
    };
  };

  /** The state with an action's problem lines: by input in the form view, listed in JSON's. */
  const withProblems = (
    c: Context<AppEnv>,
    s: EditorState,
    lines: string[],
    inputs: ReadonlyMap<string, string>,
    own: FormProblem[] = [],
  ): EditorState => {
    if (s.view === "json") return { ...s, errors: lines };
    const { byInput, unplaced } = problemsByInput(lines, inputs);
    for (const p of own) byInput.set(p.field, [...(byInput.get(p.field) ?? []), p.message]);
    const errors = unplaced.length > 0 ? unplaced : [c.get("t").fieldsHaveProblems];
    return { ...s, errors, fieldProblems: byInput };
  };

  app.get("/rules", (c) => listPage(c));

  /**
   * The editor as a GET opens it: the definition as stored, nothing previewed yet; in the form
   * unless `?view=json` asks for the JSON or the form has no input for something in the rule.
   */
  const opened = (
    ruleId: number | null,
    definition: unknown,
    want: string | undefined,
  ): EditorState => {
    const parsed = parseRules([definition]);
    const rule = parsed.ok ? parsed.rules[0] : null;
    const shows = rule !== null && formShows(rule);
    return {
      ruleId,
      view: shows && want !== "json" ? "form" : "json",
      form: rule && shows ? ruleToForm(rule) : newRuleForm(),
      formUnavailable: !shows,
      definition: JSON.stringify(definition, null, 2),
      messageId: "",
      messageRef: "",
      days: "30",
      errors: [],
    };
  };

  app.get("/rules/new", (c) => editor(c, opened(null, NEW_RULE_TEMPLATE, c.req.query("view"))));

  app.get("/rules/:id{[0-9]+}", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return c.notFound();
    if (wantsFragment(c)) fullPageRedirect(c, `/rules/${row.id}`);
    return await editor(c, opened(row.id, row.definition, c.req.query("view")));
  });

  /**
   * The editor's own buttons: add or remove a row, a group, a schedule or a breaker, and switch
   * between the form and the JSON. Nothing is saved; the editor comes back as it now is.
   */
  app.post("/rules/form", async (c) => {
    const t = c.get("t");
    const s = await formState(c);
    const body = stringFields(await c.req.parseBody());
    const edit = body.edit ?? "";
    if (edit === "view:json") {
      if (s.view === "json") return await editor(c, s);
      const written = candidate(s);
      const input = readRuleInput(written.definition, []);
      const definition = input.ok ? input.definition : written.definition;
      return await editor(c, {
        ...s,
        view: "json",
        definition: JSON.stringify(definition, null, 2),
      });
    }
    if (edit === "view:form") {
      if (s.view === "form") return await editor(c, s);
      // Only a rule that reads cleanly becomes a form (another rule's name does not matter here).
      const input = readRuleInput(s.definition, []);
      if (!input.ok) {
        return await editor(c, { ...s, errors: [t.jsonNotAForm, ...input.errors] }, 422);
      }
      if (!formShows(input.rule)) {
        return await editor(c, { ...s, formUnavailable: true, errors: [t.formCannotShow] }, 422);
      }
      return await editor(c, { ...s, view: "form", form: ruleToForm(input.rule) });
    }
    const changed = s.view === "form" ? applyFormEdit(s.form, edit) : null;
    return await editor(c, changed ? { ...s, form: changed } : s);
  });

  const saved = (c: Context<AppEnv>) => {
    if (wantsFragment(c)) {
      fullPageRedirect(c, "/rules");
      return c.html("", 200);
    }
    return c.redirect("/rules", 303);
  };

  app.post("/rules", async (c) => {
    const s = { ...(await formState(c)), ruleId: null };
    const rule = candidate(s);
    if (rule.problems.length > 0) {
      return await editor(c, withProblems(c, s, [], rule.inputs, rule.problems), 422);
    }
    const created = await createRule(deps, rule.definition, by(c));
    if (!created.ok) {
      return await editor(c, withProblems(c, s, problemLines(created.problem), rule.inputs), 422);
    }
    return saved(c);
  });

  app.post("/rules/:id{[0-9]+}", async (c) => {
    const id = idParam(c.req.param("id"));
    if (!id) return c.notFound();
    const s = { ...(await formState(c)), ruleId: id };
    const rule = candidate(s);
    if (rule.problems.length > 0) {
      return await editor(c, withProblems(c, s, [], rule.inputs, rule.problems), 422);
    }
    const updated = await updateRule(deps, id, rule.definition, by(c));
    if (updated.ok) return saved(c);
    if (updated.problem.code === "not_found") return c.notFound();
    return await editor(c, withProblems(c, s, problemLines(updated.problem), rule.inputs), 422);
  });

  const afterListAction = (c: Context<AppEnv>) =>
    wantsFragment(c) ? listPage(c) : c.redirect("/rules", 303);

  app.post("/rules/:id{[0-9]+}/enabled", async (c) => {
    const body = await c.req.parseBody();
    if (body.enabled !== "1" && body.enabled !== "0") {
      return c.text(c.get("t").badEnabled, 422);
    }
    const id = idParam(c.req.param("id")) ?? 0;
    const changed = await setRuleEnabled(deps, id, body.enabled === "1", by(c));
    return changed.ok ? await afterListAction(c) : c.notFound();
  });

  app.post("/rules/:id{[0-9]+}/move", async (c) => {
    const body = await c.req.parseBody();
    if (body.direction !== "up" && body.direction !== "down") {
      return c.text(c.get("t").badDirection, 422);
    }
    const moved = await moveRule(deps, idParam(c.req.param("id")) ?? 0, body.direction, by(c));
    return moved.ok ? await afterListAction(c) : c.notFound();
  });

  app.post("/rules/:id{[0-9]+}/delete", async (c) => {
    const deleted = await deleteRule(deps, idParam(c.req.param("id")) ?? 0, by(c));
    return deleted.ok ? await afterListAction(c) : c.notFound();
  });

  // A rule's files: a plain form posts here and comes back to the rule's page.
  app.post("/rules/:id{[0-9]+}/attachments", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return c.notFound();
    const body = await c.req.parseBody();
    const file = body.file;
    const added = file instanceof File
      ? await addRuleAttachment(deps, {
        rule: row.name,
        filename: file.name,
        contentType: file.type,
        content: new Uint8Array(await file.arrayBuffer()),
      }, by(c))
      : await addRuleAttachment(deps, {
        rule: row.name,
        filename: "",
        contentType: "",
        content: new Uint8Array(0),
      }, by(c));
    if (added.ok) return c.redirect(`/rules/${row.id}#rule-files`, 303);
    return await editor(c, {
      ...opened(row.id, row.definition, undefined),
      fileErrors: problemLines(added.problem),
    }, 422);
  });

  app.post("/rules/:id{[0-9]+}/attachments/:file{[0-9]+}/delete", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return c.notFound();
    const removed = await removeRuleAttachment(
      deps,
      row.name,
      idParam(c.req.param("file")) ?? 0,
      by(c),
    );
    if (!removed.ok) return c.notFound();
    if (!wantsFragment(c)) return c.redirect(`/rules/${row.id}#rule-files`, 303);
    return c.html(
      <RuleFiles
        t={c.get("t")}
        ruleId={row.id}
        files={await listRuleAttachments(deps.db, row.name)}
        errors={[]}
        csrf={c.get("csrfToken")}
      />,
    );
  });

  app.post("/rules/preview", async (c) => {
    const t = c.get("t");
    const s = await formState(c);
    const rule = candidate(s);
    const input = readRuleInput(rule.definition, await otherNames(deps.db, s.ruleId));
    let preview: PreviewState;
    if (rule.problems.length > 0) preview = { errors: rule.problems.map((p) => p.message) };
    else if (!input.ok) preview = { errors: input.errors };
    else {
      // A typed id wins over the list of recent messages.
      const ref = s.messageRef.trim().replace(/^#/, "");
      const chosen = ref !== "" ? ref : s.messageId;
      const messageId = idParam(chosen);
      const message = messageId ? await getStoredEmail(deps.db, messageId) : null;
      const missing = chosen && !messageId
        ? `${ref !== "" ? "message_ref" : "message_id"}: must be a message id`
        : chosen
        ? fill(t.noSuchMessage, { id: chosen })
        : t.noMessage;
      if (!message) preview = { errors: [missing] };
      else {
        const account = await deps.accountContext(message.accountId);
        const limits = resolveRateLimitPolicy(
          DEFAULT_RATE_LIMIT_POLICY,
          account.limits,
          input.rule.limits,
        );
        const replyTo = input.rule.action.type === "reply"
          ? input.rule.action.replyTo ?? null
          : null;
        preview = {
          outcome: await previewRule(input.rule, message, sim),
          facts: { messageId: message.id, limits, replyTo },
        };
      }
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
    const rule = candidate(s);
    const input = readRuleInput(rule.definition, await otherNames(deps.db, s.ruleId));
    let dryRun: EditorState["dryRun"];
    if (!(days >= 1 && days <= DRY_RUN_MAX_DAYS)) {
      dryRun = { errors: [`days: must be from 1 to ${DRY_RUN_MAX_DAYS}`] };
    } else if (rule.problems.length > 0) {
      dryRun = { errors: rule.problems.map((p) => p.message) };
    } else if (!input.ok) {
      dryRun = { errors: input.errors };
    } else {
      const editing = s.ruleId ? await getRuleRow(deps.db, s.ruleId) : null;
      const simulated = await dryRunStored(
        deps.db,
        input.rule,
        { days, now: deps.now(), replaces: editing?.name ?? input.rule.name },
        { ...sim, ...deps.dryRun },
      );
      dryRun = { days, ...simulated };
    }
    const status = dryRun.errors ? 422 : undefined;
    if (wantsFragment(c)) {
      return respond(c, { title: t.rules, fragment: <DryRunSection t={t} {...dryRun} />, status });
    }
    return await editor(c, { ...s, dryRun }, status);
  });

  return app;
}

/** A post's text fields (a file field is not text and is left out). */
function stringFields(body: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") out[k] = v;
  return out;
}
