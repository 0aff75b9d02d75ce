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
import { type Dict, fill, say } from "./i18n.ts";
import { EditorFrame } from "./forms.tsx";
import { respondList } from "./list_view.tsx";
import { AccountsTable, TestButton } from "./accounts_table.tsx";
import type { Child } from "hono/jsx";
import { idParam, respond } from "./render.tsx";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import { getAccountView, listAccountViews } from "../src/store/accounts_admin.ts";
import { removeAccount, saveAccount, testAccountConnection } from "../src/actions/accounts.ts";
import { CsrfField } from "./layout.tsx";
import { problemLines } from "../src/actions/result.ts";
import { testAccount } from "./account_check.ts";
import {
  type AccountForm,
  EMPTY_FORM,
  formOf,
  readAccountForm,
} from "../src/admin/account_form.ts";
import { readAccountHealth } from "../src/store/account_health.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";
import { cspWithProviders, OAuthButtons, providerLabel } from "./oauth.tsx";
import { TLS_MODES, type TlsMode } from "../src/domain/tls_mode.ts";

function TestResult(props: { t: Dict; id: number; ok: boolean; message: string }) {
  return (
    <span id={`test-${props.id}`} class={props.ok ? "ok" : "problems"} hx-disable role="status">
      {props.ok
        ? props.t.connectionOk
        : `${props.t.connectionFailed}: ${say(props.t, props.message ?? "")}`}
    </span>
  );
}

/**
 * Deleting an account: the person chooses what happens to its messages (erase them, or keep them
 * without an account) and confirms; a plain form, no script needed.
 */
function DeleteAccount(props: { t: Dict; id: number; csrf: string; errors?: string[] }) {
  const { t } = props;
  return (
    <form method="post" action={`/accounts/${props.id}/delete`} id="account-delete">
      <CsrfField token={props.csrf} />
      <fieldset>
        <legend>{t.deleteAccount}</legend>
        {props.errors?.length
          ? <p class="problems" role="alert">{props.errors.join(" ")}</p>
          : null}
        <label class="check">
          <input type="radio" name="messages" value="keep" required /> {t.deleteKeepMessages}
        </label>
        <label class="check">
          <input type="radio" name="messages" value="erase" required /> {t.deleteEraseMessages}
        </label>
        <label class="check">
          <input type="checkbox" name="confirm" value="1" required /> {t.deleteAccountConfirm}
        </label>
        <button type="submit" class="danger">{t.deleteAccount}</button>
      </fieldset>
    </form>
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
    /** An account connected with OAuth2: it has tokens, not passwords. */
    oauth?: { provider: string; identity: string } | null;
    /** A stored account may be deleted (one from the environment may not). */
    deletable?: boolean;
  },
) {
  const { t, form, oauth } = props;
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
  const modeLabel: Record<TlsMode, string> = {
    tls: t.tlsModeTls,
    starttls: t.tlsModeStarttls,
    plain: t.tlsModePlain,
  };
  const password = (name: string, set: boolean) =>
    oauth ? null : (
      <label>
        {t.password} <span class="sub">({set ? t.passwordSet : t.passwordNotSet})</span>
        <input type="password" name={name} value="" autocomplete="new-password" />
      </label>
    );
  const server = (kind: "imap" | "smtp", legend: string, passwordSet: boolean, more?: Child) => (
    <fieldset>
      <legend>{legend}</legend>
      {text(`${kind}_host`, t.host)}
      {text(`${kind}_port`, t.port)}
      <label>
        {t.tlsMode}
        <select name={`${kind}_tls`}>
          {TLS_MODES.map((mode) => (
            <option value={mode} selected={form[`${kind}_tls`] === mode}>{modeLabel[mode]}</option>
          ))}
        </select>
      </label>
      {text(`${kind}_user`, t.user)}
      {password(`${kind}_pass`, passwordSet)}
      {more}
    </fieldset>
  );
  return (
    <EditorFrame
      t={t}
      id="account-editor"
      title={props.id ? t.editAccount : t.newAccount}
      errors={props.errors}
      action={action}
      csrf={props.csrf}
      after={props.id && (
        <>
          <TestButton t={t} id={props.id} csrf={props.csrf} />
          {props.deletable && <DeleteAccount t={t} id={props.id} csrf={props.csrf} />}
        </>
      )}
    >
      {text("name", t.name)}
      {text("address", t.address, "email")}
      {text("display_name", t.displayName)}
      {check("enabled", t.enabled)}
      {oauth && (
        <p class="sub oauth-note">
          {fill(t.signInWith, {
            provider: providerLabel(oauth.provider),
            identity: oauth.identity,
          })}. {t.oauthServersNote}
        </p>
      )}
      {server(
        "imap",
        t.imap,
        props.imapSet,
        <>
          {text("mailboxes", t.mailboxes)}
          <label>
            {t.connectionCap} <span class="sub">({t.connectionCapHint})</span>
            <input
              type="number"
              name="imap_connection_cap"
              min="1"
              max="100"
              value={form.imap_connection_cap}
            />
          </label>
          <label>
            {t.maxMessageMb} <span class="sub">({t.maxMessageMbHint})</span>
            <input
              type="number"
              name="max_message_mb"
              min="1"
              max="1024"
              value={form.max_message_mb}
            />
          </label>
        </>,
      )}
      <fieldset>
        <legend>{t.afterProcessing}</legend>
        <label>
          {t.afterProcessing}
          <select name="after_processing">
            <option value="keep" selected={form.after_processing === "keep"}>{t.afterKeep}</option>
            <option value="seen" selected={form.after_processing === "seen"}>{t.afterSeen}</option>
            <option value="move" selected={form.after_processing === "move"}>{t.afterMove}</option>
          </select>
        </label>
        {text("after_folder", t.afterFolder)}
      </fieldset>
      {server("smtp", t.smtp, props.smtpSet, check("copy_to_sent", t.copyToSent))}
      <fieldset>
        <legend>{t.sendBudget}</legend>
        <p class="sub">{t.sendBudgetHelp}</p>
        {check("budget_custom", t.sendBudgetCustom)}
        {text("budget_per_minute", t.perMinute)}
        {text("budget_per_day", t.perDay)}
      </fieldset>
      <p>
        <a href="/accounts">{t.accounts}</a> <button type="submit">{t.save}</button>
      </p>
    </EditorFrame>
  );
}

export function accountRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const box = createSecretBox(deps.secretKey);

  app.get("/accounts", async (c) => {
    const t = c.get("t");
    const now = deps.now();
    const rows = await listAccountViews(deps.db);
    const health = await readAccountHealth(deps.db, now);
    const csrf = c.get("csrfToken");
    const providers = deps.oauth?.providers() ?? [];
    // Connect and Reconnect are answered with a redirect to the provider.
    c.header("Content-Security-Policy", cspWithProviders(providers.map((p) => p.issuer)));
    return await respondList(c, {
      title: t.accounts,
      nav: "/accounts",
      list: (
        <AccountsTable
          t={t}
          rows={rows}
          health={health}
          now={now}
          csrf={csrf}
          envSmtpHost={deps.envSmtpHost ?? null}
        />
      ),
      above: () => (
        <>
          <p>
            <a class="button" href="/accounts/new">{t.newAccount}</a>
          </p>
          <OAuthButtons t={t} providers={providers.map((p) => p.id)} csrf={csrf} />
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
      oauth?: { provider: string; identity: string } | null;
      deletable?: boolean;
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
      deletable: a.source === "db",
      oauth: a.authKind === "oauth"
        ? { provider: a.oauthProvider ?? "", identity: a.oauthIdentity ?? "" }
        : null,
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
        oauth: existing?.authKind === "oauth"
          ? { provider: existing.oauthProvider ?? "", identity: existing.oauthIdentity ?? "" }
          : null,
      }, 422);
    if (existing?.source === "env") return await again([c.get("t").fromEnv]);
    if (!read.input) return await again(read.errors);
    const saved = await saveAccount(
      { ...deps, box },
      id,
      { settings: read.input, passwords: read.passwords, sendBudget: read.sendBudget },
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

  app.post("/accounts/:id{[0-9]+}/delete", async (c) => {
    const t = c.get("t");
    const id = idParam(c.req.param("id")) ?? 0;
    const a = await getAccountView(deps.db, id);
    if (!a) return c.notFound();
    const body = await c.req.parseBody();
    const refuse = (errors: string[]) =>
      respond(c, {
        title: t.accounts,
        nav: "/accounts",
        fragment: (
          <>
            <h1>{a.name}</h1>
            <DeleteAccount t={t} id={id} csrf={c.get("csrfToken")} errors={errors} />
          </>
        ),
        status: 422,
      });
    if (a.source === "env") return await refuse([t.fromEnv]);
    if (body.confirm !== "1") return await refuse([t.deleteNotConfirmed]);
    const removed = await removeAccount(deps, id, body.messages, actorName(c.get("actor")));
    if (!removed.ok) {
      if (removed.problem.code === "not_found") return c.notFound();
      return await refuse(
        removed.problem.code === "invalid" ? [t.deleteChoose] : problemLines(removed.problem),
      );
    }
    if (wantsFragment(c)) {
      fullPageRedirect(c, "/accounts");
      return c.html("", 200);
    }
    return c.redirect("/accounts", 303);
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
