/**
 * `/accounts`: the accounts with their health (last successful sync, last error, messages,
 * lag, failures in a row, the IMAP IDLE state a running instance reports, and the progress of a
 * collection under way, the table refreshing itself while one runs), add and edit (passwords encrypted at rest with SECRET_KEY and never shown back: the form
 * only says whether one is set), and "test connection" through the injected `testConnection`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { fmtDate, idParam, respond } from "./render.tsx";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import { type AccountView, getAccountView, listAccountViews } from "../src/store/accounts_admin.ts";
import { saveAccount, testAccountConnection } from "../src/actions/accounts.ts";
import { problemLines } from "../src/actions/result.ts";
import { testAccount } from "./account_check.ts";
import { type AccountForm, EMPTY_FORM, formOf, readAccountForm } from "./account_form.ts";
import {
  type AccountHealth,
  type CollectProgress,
  healthOf,
  type IdleStatus,
  readAccountHealth,
} from "../src/store/account_health.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";

function lag(now: Date, a: AccountView): string {
  if (!a.lastSyncAt) return "—";
  const s = Math.max(0, Math.round((now.getTime() - a.lastSyncAt.getTime()) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/** 100000 → "100 000": groups of three, the same in both languages. */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

function idleStateLabel(t: Dict, state: string): string {
  switch (state) {
    case "idle":
      return t.idleListening;
    case "connecting":
      return t.idleConnecting;
    case "backoff":
      return t.idleBackoff;
    case "unsupported":
      return t.idleUnsupported;
    case "stopped":
      return t.idleStopped;
    default:
      return state;
  }
}

function IdleCell(props: { t: Dict; idle: IdleStatus | null }) {
  const { t, idle } = props;
  if (!idle) return <td class="idle-none">{t.idleNotReported}</td>;
  return (
    <td class={`idle-${idle.state}`} hx-disable>
      {idleStateLabel(t, idle.state)}
      <div class="sub">
        {fill(t.idleSinceOn, { at: fmtDate(idle.since), instance: idle.instance })}
      </div>
      {idle.consecutiveFailures > 0 && (
        <div class="sub error">
          {fill(t.idleFailures, { n: idle.consecutiveFailures })}
          {idle.lastError ? `: ${idle.lastError}` : ""}
        </div>
      )}
    </td>
  );
}

function ProgressLine(props: { t: Dict; progress: CollectProgress }) {
  const p = props.progress;
  return (
    <div class="sub progress" hx-disable>
      <span class="nowrap">
        {fill(props.t.collecting, {
          mailbox: p.mailbox,
          done: groupDigits(p.done),
          total: groupDigits(p.total),
        })}
      </span>{" "}
      <progress value={p.done} max={Math.max(1, p.total)}></progress>
    </div>
  );
}

function AccountsTable(
  props: {
    t: Dict;
    rows: AccountView[];
    health: Map<number, AccountHealth>;
    now: Date;
    csrf: string;
  },
) {
  const { t } = props;
  // While a collection runs, the table reloads itself every few seconds to show its progress.
  const running = props.rows.some((a) => healthOf(props.health, a.id).progress !== null);
  const poll = running
    ? { "hx-get": "/accounts", "hx-trigger": "every 5s", "hx-swap": "outerHTML" }
    : {};
  return (
    <table class="list accounts" id="accounts-table" {...poll}>
      <thead>
        <tr>
          <th>{t.name}</th>
          <th>{t.address}</th>
          <th>{t.imap}</th>
          <th>{t.status}</th>
          <th>{t.lastSync}</th>
          <th>{t.lag}</th>
          <th>{t.idleColumn}</th>
          <th>{t.failuresInARow}</th>
          <th>{t.lastErrorAt}</th>
          <th>{t.messages}</th>
          <th>{t.actions}</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((a) => {
          const health = healthOf(props.health, a.id);
          return (
            <tr id={`account-${a.id}`}>
              <td>
                <a href={`/accounts/${a.id}`}>{a.name}</a>
                {a.source === "env" && <div class="sub">env</div>}
              </td>
              <td>{a.address}</td>
              <td>{a.imapUser}@{a.imapHost}:{a.imapPort}</td>
              <td>{a.enabled ? t.enabled : t.disabled}</td>
              <td>
                <span class="nowrap">{a.lastSyncAt ? fmtDate(a.lastSyncAt) : t.never}</span>
                {health.progress && <ProgressLine t={t} progress={health.progress} />}
              </td>
              <td>{lag(props.now, a)}</td>
              <IdleCell t={t} idle={health.idle} />
              <td>{a.consecutiveFailures}</td>
              <td class="error" hx-disable>
                {a.lastError ? `${fmtDate(a.lastErrorAt)}: ${a.lastError}` : ""}
              </td>
              <td>{a.messages}</td>
              <td>
                <TestButton t={t} id={a.id} csrf={props.csrf} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function TestButton(props: { t: Dict; id: number; csrf: string }) {
  return (
    <form
      method="post"
      action={`/accounts/${props.id}/test`}
      class="inline"
      hx-post={`/accounts/${props.id}/test`}
      hx-target={`#test-${props.id}`}
      hx-swap="outerHTML"
    >
      <CsrfField token={props.csrf} />
      <button type="submit">{props.t.testConnection}</button>
      <span id={`test-${props.id}`}></span>
    </form>
  );
}

function TestResult(props: { t: Dict; id: number; ok: boolean; message: string }) {
  return (
    <span id={`test-${props.id}`} class={props.ok ? "ok" : "problems"} hx-disable role="status">
      {props.ok ? props.t.connectionOk : `${props.t.connectionFailed}: ${props.message}`}
    </span>
  );
}

function AccountEditor(
  props: {
    t: Dict;
    id: number | null;
    form: AccountForm;
    imapSet: boolean;
    smtpSet: boolean;
    csrf: string;
    errors: string[];
  },
) {
  const { t, form } = props;
  const action = props.id ? `/accounts/${props.id}` : "/accounts";
  const text = (name: keyof AccountForm, label: string, type = "text") => (
    <label>
      {label}
      <input type={type} name={name} value={String(form[name])} />
    </label>
  );
  const check = (name: keyof AccountForm, label: string) => (
    <label class="check">
      <input type="checkbox" name={name} value="1" checked={Boolean(form[name])} /> {label}
    </label>
  );
  const password = (name: string, set: boolean) => (
    <label>
      {t.password} <span class="sub">({set ? t.passwordSet : t.passwordNotSet})</span>
      <input type="password" name={name} value="" autocomplete="new-password" />
    </label>
  );
  return (
    <div id="account-editor">
      <h1>{props.id ? t.editAccount : t.newAccount}</h1>
      <Problems t={t} errors={props.errors} />
      <form
        method="post"
        action={action}
        class="stack"
        hx-post={action}
        hx-target="#account-editor"
        hx-swap="outerHTML"
      >
        <CsrfField token={props.csrf} />
        {text("name", t.name)}
        {text("address", t.address, "email")}
        {text("display_name", t.displayName)}
        {check("enabled", t.enabled)}
        <fieldset>
          <legend>{t.imap}</legend>
          {text("imap_host", t.host)}
          {text("imap_port", t.port)}
          {check("imap_tls", t.tls)}
          {text("imap_user", t.user)}
          {password("imap_pass", props.imapSet)}
          {text("mailboxes", t.mailboxes)}
        </fieldset>
        <fieldset>
          <legend>{t.smtp}</legend>
          {text("smtp_host", t.host)}
          {text("smtp_port", t.port)}
          {check("smtp_tls", t.tls)}
          {text("smtp_user", t.user)}
          {password("smtp_pass", props.smtpSet)}
        </fieldset>
        <p>
          <a href="/accounts">{t.accounts}</a> <button type="submit">{t.save}</button>
        </p>
      </form>
      {props.id && <TestButton t={t} id={props.id} csrf={props.csrf} />}
    </div>
  );
}

export function accountRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const box = createSecretBox(deps.secretKey);

  app.get("/accounts", async (c) => {
    const t = c.get("t");
    const now = deps.now();
    const table = (
      <AccountsTable
        t={t}
        rows={await listAccountViews(deps.db)}
        health={await readAccountHealth(deps.db, now)}
        now={now}
        csrf={c.get("csrfToken")}
      />
    );
    return respond(c, {
      title: t.accounts,
      nav: "/accounts",
      fragment: table,
      page: (
        <>
          <h1>{t.accounts}</h1>
          <p>
            <a class="button" href="/accounts/new">{t.newAccount}</a>
          </p>
          {table}
        </>
      ),
    });
  });

  const editor = (
    c: Context<AppEnv>,
    p: {
      id: number | null;
      form: AccountForm;
      imapSet: boolean;
      smtpSet: boolean;
      errors: string[];
    },
    status?: 422,
  ) =>
    respond(c, {
      title: c.get("t").accounts,
      nav: "/accounts",
      fragment: <AccountEditor t={c.get("t")} csrf={c.get("csrfToken")} {...p} />,
      status,
    });

  app.get(
    "/accounts/new",
    (c) => editor(c, { id: null, form: EMPTY_FORM, imapSet: false, smtpSet: false, errors: [] }),
  );

  app.get("/accounts/:id{[0-9]+}", async (c) => {
    const a = await getAccountView(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!a) return c.notFound();
    if (wantsFragment(c)) fullPageRedirect(c, `/accounts/${a.id}`);
    return await editor(c, {
      id: a.id,
      form: formOf(a),
      imapSet: a.imapPasswordSet,
      smtpSet: a.smtpPasswordSet,
      errors: a.source === "env" ? [c.get("t").fromEnv] : [],
    });
  });

  const save = async (c: Context<AppEnv>, id: number | null) => {
    const existing = id ? await getAccountView(deps.db, id) : null;
    if (id && !existing) return c.notFound();
    const read = readAccountForm(await c.req.parseBody());
    const again = (errors: string[]) =>
      editor(c, {
        id,
        form: read.form,
        imapSet: existing?.imapPasswordSet ?? false,
        smtpSet: existing?.smtpPasswordSet ?? false,
        errors,
      }, 422);
    if (existing?.source === "env") return await again([c.get("t").fromEnv]);
    if (!read.input) return await again(read.errors);
    const saved = await saveAccount(
      { ...deps, box },
      id,
      { settings: read.input, passwords: read.passwords },
      actorName(c.get("actor")),
    );
    if (!saved.ok) {
      const p = saved.problem;
      if (p.code === "not_found") return c.notFound();
      return await again(p.code === "read_only" ? [c.get("t").fromEnv] : problemLines(p));
    }
    if (wantsFragment(c)) {
      fullPageRedirect(c, "/accounts");
      return c.html("", 200);
    }
    return c.redirect("/accounts", 303);
  };

  app.post("/accounts", (c) => save(c, null));
  app.post("/accounts/:id{[0-9]+}", (c) => {
    // An id that cannot exist is a 404, never a new account.
    const id = idParam(c.req.param("id"));
    return id ? save(c, id) : c.notFound();
  });

  app.post("/accounts/:id{[0-9]+}/test", async (c) => {
    const t = c.get("t");
    const id = idParam(c.req.param("id")) ?? 0;
    const tested = await testAccountConnection(
      deps,
      id,
      (a) => testAccount(deps, box, a),
      actorName(c.get("actor")),
    );
    if (!tested.ok) return c.notFound();
    const { account: a, result } = tested.value;
    const view = (
      <TestResult t={t} id={id} ok={result.ok} message={result.ok ? "" : result.message} />
    );
    return respond(c, {
      title: t.accounts,
      nav: "/accounts",
      fragment: view,
      page: (
        <>
          <h1>{a.name}</h1>
          {view}
          <p>
            <a href="/accounts">{t.accounts}</a>
          </p>
        </>
      ),
    });
  });

  return app;
}
