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
import type { AppDeps, ConnectionTarget } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { EditorFrame } from "./forms.tsx";
import { respondList } from "./list_view.tsx";
import { AccountsTable, TestButton } from "./accounts_table.tsx";
import type { Child } from "hono/jsx";
import { idParam, respond } from "./render.tsx";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import {
  type AccountInput,
  type AccountView,
  createAccount,
  getAccountView,
  listAccountViews,
  updateAccount,
} from "../src/store/accounts_admin.ts";
import { recordEvent } from "../src/store/audit.ts";
import { readAccountHealth } from "../src/store/account_health.ts";
import { createSecretBox, SecretKeyError } from "../src/auth/secret_box.ts";
import {
  type ConnectionProblem,
  describeConnectionProblem,
  isConnectionProblem,
} from "../src/domain/connection_problem.ts";

/** The form as typed; passwords are never put back into it. */
export interface AccountForm {
  name: string;
  address: string;
  display_name: string;
  enabled: boolean;
  imap_host: string;
  imap_port: string;
  imap_tls: boolean;
  imap_user: string;
  mailboxes: string;
  smtp_host: string;
  smtp_port: string;
  smtp_tls: boolean;
  smtp_user: string;
}

const EMPTY_FORM: AccountForm = {
  name: "",
  address: "",
  display_name: "",
  enabled: true,
  imap_host: "",
  imap_port: "993",
  imap_tls: true,
  imap_user: "",
  mailboxes: "INBOX",
  smtp_host: "",
  smtp_port: "465",
  smtp_tls: true,
  smtp_user: "",
};

function formOf(a: AccountView): AccountForm {
  return {
    name: a.name,
    address: a.address,
    display_name: a.displayName,
    enabled: a.enabled,
    imap_host: a.imapHost,
    imap_port: String(a.imapPort),
    imap_tls: a.imapTls,
    imap_user: a.imapUser,
    mailboxes: a.mailboxes.join(", "),
    smtp_host: a.smtpHost ?? "",
    smtp_port: a.smtpPort === null ? "" : String(a.smtpPort),
    smtp_tls: a.smtpTls ?? true,
    smtp_user: a.smtpUser ?? "",
  };
}

const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;
const ADDRESS = /^[^\s@<>"(),;:]{1,64}@[A-Za-z0-9.-]{1,253}$/;

/** Reads and checks the form; passwords as typed (empty: keep the stored one). */
export function readAccountForm(body: Record<string, unknown>): {
  form: AccountForm;
  passwords: { imap: string; smtp: string };
  input: Omit<AccountInput, "imapPassEnc" | "smtpPassEnc"> | null;
  errors: string[];
} {
  const s = (k: string) => (typeof body[k] === "string" ? (body[k] as string).trim() : "");
  const b = (k: string) => ["1", "on", "true"].includes(s(k));
  const form: AccountForm = {
    name: s("name"),
    address: s("address").toLowerCase(),
    display_name: s("display_name"),
    enabled: b("enabled"),
    imap_host: s("imap_host"),
    imap_port: s("imap_port"),
    imap_tls: b("imap_tls"),
    imap_user: s("imap_user"),
    mailboxes: s("mailboxes"),
    smtp_host: s("smtp_host"),
    smtp_port: s("smtp_port"),
    smtp_tls: b("smtp_tls"),
    smtp_user: s("smtp_user"),
  };
  const passwords = {
    imap: typeof body.imap_pass === "string" ? body.imap_pass : "",
    smtp: typeof body.smtp_pass === "string" ? body.smtp_pass : "",
  };
  const errors: string[] = [];
  if (!/^[\w.@+-]{1,64}$/.test(form.name)) {
    errors.push("name: 1–64 letters, digits or . _ - @ +");
  }
  if (!ADDRESS.test(form.address)) errors.push("address: must be an e-mail address");
  if (form.display_name.length > 200 || /[\r\n]/.test(form.display_name)) {
    errors.push("display_name: one line, at most 200 characters");
  }
  if (!HOST.test(form.imap_host)) errors.push("imap_host: must be a host name or address");
  const port = (v: string, field: string) => {
    const n = Number(v);
    if (!/^\d{1,5}$/.test(v) || n < 1 || n > 65535) {
      errors.push(`${field}: must be a port from 1 to 65535`);
      return 0;
    }
    return n;
  };
  const imapPort = port(form.imap_port, "imap_port");
  if (!form.imap_user || form.imap_user.length > 320) errors.push("imap_user: required");
  const mailboxes = form.mailboxes.split(",").map((m) => m.trim()).filter(Boolean);
  if (mailboxes.length === 0 || mailboxes.some((m) => m.length > 200 || /[\r\n]/.test(m))) {
    errors.push("mailboxes: at least one mailbox name");
  }
  const smtp = form.smtp_host !== "";
  if (smtp && !HOST.test(form.smtp_host)) errors.push("smtp_host: must be a host name or address");
  const smtpPort = smtp ? port(form.smtp_port, "smtp_port") : null;
  if (passwords.imap.length > 1024 || passwords.smtp.length > 1024) {
    errors.push("passwords: at most 1024 characters");
  }
  return {
    form,
    passwords,
    errors,
    input: errors.length ? null : {
      name: form.name,
      address: form.address,
      displayName: form.display_name,
      enabled: form.enabled,
      imapHost: form.imap_host,
      imapPort,
      imapTls: form.imap_tls,
      imapUser: form.imap_user,
      mailboxes,
      smtpHost: smtp ? form.smtp_host : null,
      smtpPort,
      smtpTls: smtp ? form.smtp_tls : null,
      smtpUser: smtp ? form.smtp_user || null : null,
    },
  };
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
  const server = (kind: "imap" | "smtp", legend: string, passwordSet: boolean, more?: Child) => (
    <fieldset>
      <legend>{legend}</legend>
      {text(`${kind}_host`, t.host)}
      {text(`${kind}_port`, t.port)}
      {check(`${kind}_tls`, t.tls)}
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
      after={props.id && <TestButton t={t} id={props.id} csrf={props.csrf} />}
    >
      {text("name", t.name)}
      {text("address", t.address, "email")}
      {text("display_name", t.displayName)}
      {check("enabled", t.enabled)}
      {server("imap", t.imap, props.imapSet, text("mailboxes", t.mailboxes))}
      {server("smtp", t.smtp, props.smtpSet)}
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
    return await respondList(c, {
      title: t.accounts,
      nav: "/accounts",
      list: <AccountsTable t={t} rows={rows} health={health} now={now} csrf={csrf} />,
      above: () => (
        <p>
          <a class="button" href="/accounts/new">{t.newAccount}</a>
        </p>
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
    if (existing) {
      const moved = passwordsLeftBehind(existing, read.input, read.passwords);
      if (moved.length > 0) return await again(moved);
    }
    let imapPassEnc: string | null = null;
    let smtpPassEnc: string | null = null;
    try {
      if (read.passwords.imap) imapPassEnc = await box.encrypt("imap_pass", read.passwords.imap);
      if (read.passwords.smtp) smtpPassEnc = await box.encrypt("smtp_pass", read.passwords.smtp);
    } catch (e) {
      if (e instanceof SecretKeyError) return await again([e.message]);
      throw e;
    }
    const input: AccountInput = { ...read.input, imapPassEnc, smtpPassEnc };
    const at = deps.now();
    try {
      if (id) await updateAccount(deps.db, id, input);
      else id = await createAccount(deps.db, input, at);
    } catch (e) {
      if (/unique|duplicate/i.test((e as Error).message)) {
        return await again([`name: "${read.input.name}" is already used by another account`]);
      }
      throw e;
    }
    await recordEvent(deps.db, {
      event: "account_changed",
      at,
      accountId: id,
      detail: {
        action: existing ? "updated" : "created",
        name: input.name,
        by: actorName(c.get("actor")),
        imap_password_changed: imapPassEnc !== null,
        smtp_password_changed: smtpPassEnc !== null,
      },
    });
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
    const a = await getAccountView(deps.db, id);
    if (!a) return c.notFound();
    const result = await testAccount(deps, box, a);
    const view = (
      <TestResult t={t} id={id} ok={result.ok} message={result.ok ? "" : result.message} />
    );
    await recordEvent(deps.db, {
      event: "connection_tested",
      at: deps.now(),
      accountId: id,
      detail: {
        ok: result.ok,
        problem: result.ok ? null : result.error,
        by: actorName(c.get("actor")),
      },
    });
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

/**
 * A saved password belongs to the server it was saved for (host, port, TLS, user). An edit that
 * moves either server without typing its password again is refused, the way a mail program asks
 * for the password when its server changes: silently keeping the password would send it to the
 * new server, and silently dropping it would leave an account that fails at its next collection.
 * (The store clears a password that moves anyway, whoever the caller.)
 */
export function passwordsLeftBehind(
  existing: AccountView,
  next: Omit<AccountInput, "imapPassEnc" | "smtpPassEnc">,
  passwords: { imap: string; smtp: string },
): string[] {
  const errors: string[] = [];
  const imapMoved = existing.imapHost !== next.imapHost || existing.imapPort !== next.imapPort ||
    existing.imapTls !== next.imapTls || existing.imapUser !== next.imapUser;
  if (existing.imapPasswordSet && !passwords.imap && imapMoved) {
    errors.push(
      `imap_pass: enter the password again for the new server (the saved one stays with ${existing.imapHost}:${existing.imapPort})`,
    );
  }
  const smtpMoved = existing.smtpHost !== next.smtpHost || existing.smtpPort !== next.smtpPort ||
    existing.smtpTls !== next.smtpTls || existing.smtpUser !== next.smtpUser;
  // An account that stops sending (no SMTP host) needs no password: the store drops the old one.
  if (existing.smtpPasswordSet && !passwords.smtp && next.smtpHost !== null && smtpMoved) {
    errors.push(
      `smtp_pass: enter the password again for the new server (the saved one stays with ${existing.smtpHost}:${existing.smtpPort})`,
    );
  }
  return errors;
}

/**
 * What "test connection" shows: a category of failure (a stable code for the API) and a sentence
 * for a person, never the server's or the network's own words.
 */
export type AccountTestResult =
  | { ok: true }
  | { ok: false; error: ConnectionProblem | "secret_key"; message: string };

/**
 * Asks `testConnection` at the account's endpoints, with its passwords decrypted (failing closed
 * on a wrong or missing SECRET_KEY): `connectionTarget` reads them in one statement, so a stored
 * password goes only where it was saved for.
 */
export async function testAccount(
  deps: AppDeps,
  box: ReturnType<typeof createSecretBox>,
  a: AccountView,
): Promise<AccountTestResult> {
  let target: ConnectionTarget | null;
  try {
    target = await deps.connectionTarget(a.id, box);
  } catch (e) {
    if (e instanceof SecretKeyError) {
      return { ok: false, error: "secret_key", message: e.message };
    }
    throw e;
  }
  if (!target) return { ok: false, error: "unreachable", message: "the account is gone" };
  // Only a category comes back: whatever else a failure said stays out of the page and the API.
  const failed = (error: unknown): AccountTestResult => {
    const problem = isConnectionProblem(error) ? error : "unreachable";
    return { ok: false, error: problem, message: describeConnectionProblem(problem) };
  };
  try {
    const r = await deps.testConnection(target);
    return r.ok ? { ok: true } : failed(r.error);
  } catch {
    return failed(null);
  }
}
