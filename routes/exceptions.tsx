/**
 * `/exceptions`: the never-answer list — addresses, address globs and domains Carteiro never
 * answers, for every account or for one, whatever the rules say (src/actions/never_answer.ts).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { CsrfField } from "./layout.tsx";
import { idParam, When } from "./render.tsx";
import { parseId } from "./params.ts";
import { type Column, ListView, respondList } from "./list_view.tsx";
import { wantsFragment } from "./htmx.ts";
import { listNeverAnswer, type NeverAnswerRow } from "../src/store/never_answer.ts";
import { type AccountView, listAccountViews } from "../src/store/accounts_admin.ts";
import { MAX_NEVER_ANSWER_LENGTH } from "../src/domain/never_answer.ts";
import { addNeverAnswer, removeNeverAnswer } from "../src/actions/never_answer.ts";
import { problemLines } from "../src/actions/result.ts";

function exceptionColumns(t: Dict, csrf: string): Column<NeverAnswerRow>[] {
  return [
    { label: t.neverAnswerPattern, cell: (r) => <code>{r.pattern}</code> },
    { label: t.account, cell: (r) => r.accountName ?? t.allAccounts },
    { label: t.created, cell: (r) => <When at={r.createdAt} t={t} /> },
    { label: t.addedBy, cell: (r) => r.createdBy },
    {
      label: "",
      cell: (r) => (
        <form method="post" action={`/exceptions/${r.id}/remove`} class="inline">
          <CsrfField token={csrf} />
          <button type="submit">{t.removeException}</button>
        </form>
      ),
    },
  ];
}

/** What the add form holds when it is shown again. */
interface AddForm {
  pattern?: string;
  account?: string;
}

function ExceptionsSection(
  props: {
    t: Dict;
    rows: NeverAnswerRow[];
    accounts: AccountView[];
    csrf: string;
    form?: AddForm;
    errors?: string[];
  },
) {
  const { t } = props;
  const form = props.form ?? {};
  return (
    <ListView
      t={t}
      id="exceptions"
      errors={props.errors}
      top={
        <>
          <p>{t.exceptionsIntro}</p>
          <form
            method="post"
            action="/exceptions"
            class="inline-form"
            hx-post="/exceptions"
            hx-target="#exceptions"
            hx-swap="outerHTML"
          >
            <CsrfField token={props.csrf} />
            <label>
              {t.neverAnswerPattern}{" "}
              <input
                type="text"
                name="pattern"
                value={form.pattern ?? ""}
                maxlength={MAX_NEVER_ANSWER_LENGTH}
                required
              />
            </label>
            <label>
              {t.account}{" "}
              <select name="account">
                <option value="">{t.allAccounts}</option>
                {props.accounts.map((a) => (
                  <option value={String(a.id)} selected={form.account === String(a.id)}>
                    {a.name}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">{t.addException}</button>
          </form>
        </>
      }
      rows={props.rows}
      empty={t.noExceptions}
      table={{ class: "list", inert: true, columns: exceptionColumns(t, props.csrf) }}
    />
  );
}

/** The exceptions page, its add form and its remove buttons. */
export function exceptionRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (
    c: Context<AppEnv>,
    extra: { form?: AddForm; errors?: string[] },
    status?: 422,
  ) => {
    const t = c.get("t");
    const [rows, accounts] = [await listNeverAnswer(deps.db), await listAccountViews(deps.db)];
    const list = (
      <ExceptionsSection
        t={t}
        rows={rows}
        accounts={accounts}
        csrf={c.get("csrfToken")}
        {...extra}
      />
    );
    return await respondList(c, { title: t.exceptions, nav: "/exceptions", list, status });
  };

  app.get("/exceptions", (c) => page(c, {}));

  app.post("/exceptions", async (c) => {
    const body = await c.req.parseBody();
    const form = {
      pattern: typeof body.pattern === "string" ? body.pattern : "",
      account: typeof body.account === "string" ? body.account : "",
    };
    // An id no account has (0 for anything that is not one) is the action's `not_found`.
    const accountId = form.account === "" ? null : parseId(form.account) ?? 0;
    const added = await addNeverAnswer(
      deps,
      { pattern: form.pattern, accountId },
      actorName(c.get("actor")),
    );
    if (!added.ok) return await page(c, { form, errors: problemLines(added.problem) }, 422);
    return wantsFragment(c) ? await page(c, {}) : c.redirect("/exceptions", 303);
  });

  app.post("/exceptions/:id{[0-9]+}/remove", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    const removed = await removeNeverAnswer(deps, id, actorName(c.get("actor")));
    if (!removed.ok) return c.notFound();
    return wantsFragment(c) ? await page(c, {}) : c.redirect("/exceptions", 303);
  });

  return app;
}
