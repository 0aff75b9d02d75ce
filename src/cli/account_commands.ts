/**
 * `account budget NAME [--per-minute N] [--per-day N] | account budget NAME --default`: an
 * account's send budget from the command line, a thin adapter over src/actions/accounts.ts. A
 * window not given has no limit; `--default` goes back to the provider's default. JSON on
 * standard output; a problem is one line on standard error and exit 1; a malformed command line
 * exit 2.
 */
import type { Db } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import {
  removeAccount,
  saveAccount,
  saveSendBudget,
  setAccountEnabledAction,
} from "../actions/accounts.ts";
import { type AccountView, getAccountView, listAccountViews } from "../store/accounts_admin.ts";
import { formBodyOfJson, readAccountForm } from "../admin/account_form.ts";
import { maxMessageMb } from "../domain/message_size.ts";
import type { SecretBox } from "../auth/secret_box.ts";
import { problemLines } from "../actions/result.ts";
import { budgetJson, parseSendBudget, type SendBudget } from "../domain/send_budget.ts";
import type { AdminIo } from "./admin_commands.ts";

/** How the command is called. */
export const ACCOUNT_BUDGET_USAGE =
  "usage: account budget NAME [--per-minute N] [--per-day N] | account budget NAME --default";

/** Runs `account budget ARGS` on `db`; resolves to the exit code. */
export async function accountBudgetCommand(db: Db, args: string[], io: AdminIo): Promise<number> {
  const [sub, name, ...rest] = args;
  const read = sub === "budget" && name ? readBudgetArgs(rest) : null;
  if (!read) {
    io.say(ACCOUNT_BUDGET_USAGE);
    return 2;
  }
  let budget: SendBudget | null = null;
  if (read !== "default") {
    const parsed = parseSendBudget(read);
    if (parsed.errors.length > 0) {
      for (const e of parsed.errors) io.say(e.replace(/^per_(minute|day)/, "--per-$1"));
      return 1;
    }
    budget = parsed.budget;
  }
  const account = (await listAccounts(db)).find((a) => a.name === name);
  if (!account) {
    io.say(`no account is called "${name}"`);
    return 1;
  }
  const saved = await saveSendBudget({ db, now: io.now }, account.id, budget, "cli");
  if (!saved.ok) {
    for (const line of problemLines(saved.problem)) io.say(line);
    return 1;
  }
  io.print({ account: name, send_budget: budgetJson(budget) });
  return 0;
}

function readBudgetArgs(
  args: string[],
): { perMinute: string | null; perDay: string | null } | "default" | null {
  if (args.length === 1 && args[0] === "--default") return "default";
  const out = { perMinute: null as string | null, perDay: null as string | null };
  for (let i = 0; i < args.length; i += 2) {
    const value = args[i + 1];
    if (value === undefined) return null;
    if (args[i] === "--per-minute" && out.perMinute === null) out.perMinute = value;
    else if (args[i] === "--per-day" && out.perDay === null) out.perDay = value;
    else return null;
  }
  return out;
}

/**
 * The options of `account add` after its JSON: the password flags, and `--imap-tls MODE` /
 * `--smtp-tls MODE` (also `--imap-tls=MODE`); null when one is unknown or lacks its value.
 */
function readAddOptions(
  args: string[],
): { flags: Set<string>; tls: Record<string, string> } | null {
  const flags = new Set<string>();
  const tls: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].split(/=(.*)/s, 2);
    if ((name === "--imap-password" || name === "--smtp-password") && inline === undefined) {
      flags.add(name);
    } else if (name === "--imap-tls" || name === "--smtp-tls") {
      const value = inline ?? args[++i];
      if (value === undefined) return null;
      tls[name === "--imap-tls" ? "imap_tls" : "smtp_tls"] = value;
    } else return null;
  }
  return { flags, tls };
}

/** How the lifecycle commands are called. */
export const ACCOUNT_LIFECYCLE_USAGE = "usage: account list | account add JSON [--imap-password] " +
  "[--smtp-password] [--imap-tls tls|starttls|plain] [--smtp-tls tls|starttls|plain] | " +
  "account disable NAME | account enable NAME | " +
  "account delete NAME --erase|--keep";

/** An account as `account list` prints it: settings and health, never a password. */
export function accountListJson(a: AccountView) {
  return {
    id: a.id,
    name: a.name,
    address: a.address,
    source: a.source,
    enabled: a.enabled,
    imap: { host: a.imapHost, port: a.imapPort, tls: a.imapTls, user: a.imapUser },
    imap_password_set: a.imapPasswordSet,
    mailboxes: a.mailboxes,
    max_message_mb: maxMessageMb(a.maxMessageBytes),
    smtp: a.smtpHost
      ? { host: a.smtpHost, port: a.smtpPort, tls: a.smtpTls, user: a.smtpUser }
      : null,
    smtp_password_set: a.smtpPasswordSet,
    messages: a.messages,
    last_sync_at: a.lastSyncAt?.toISOString() ?? null,
    last_error: a.lastError,
  };
}

/**
 * `account list | add JSON | disable NAME | enable NAME | delete NAME --erase|--keep`: thin
 * adapters over src/actions/accounts.ts. `add` takes the settings as JSON with the admin form's
 * field names; its passwords are read from standard input, one line each (IMAP first, then SMTP
 * with --smtp-password), never from the command line. Resolves to the exit code, or null when
 * `args` is none of these commands.
 */
export async function accountLifecycleCommand(
  db: Db,
  box: SecretBox,
  args: string[],
  io: AdminIo,
): Promise<number | null> {
  const [sub, arg, ...rest] = args;
  const deps = { db, now: io.now };
  if (sub === "list" && arg === undefined) {
    io.print((await listAccountViews(db)).map(accountListJson));
    return 0;
  }
  if (sub === "add" && arg !== undefined) {
    const options = readAddOptions(rest);
    if (!options) {
      io.say(ACCOUNT_LIFECYCLE_USAGE);
      return 2;
    }
    const { flags, tls } = options;
    let json: unknown;
    try {
      json = JSON.parse(arg);
    } catch (e) {
      return fail(io, [`JSON: ${e instanceof Error ? e.message : String(e)}`]);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return fail(io, ["JSON: an object with the account's settings"]);
    }
    if ("imap_pass" in json || "smtp_pass" in json) {
      return fail(io, ["passwords are read from stdin (--imap-password, --smtp-password)"]);
    }
    // --imap-tls / --smtp-tls go over the JSON's imap_tls / smtp_tls (a mode, or true/false).
    const body = formBodyOfJson({ ...(json as Record<string, unknown>), ...tls });
    if (flags.has("--imap-password")) body.imap_pass = (await io.readLine()) ?? "";
    if (flags.has("--smtp-password")) body.smtp_pass = (await io.readLine()) ?? "";
    const read = readAccountForm(body);
    if (!read.input) return fail(io, read.errors);
    const saved = await saveAccount(
      { ...deps, box },
      null,
      { settings: read.input, passwords: read.passwords },
      "cli",
    );
    if (!saved.ok) return fail(io, problemLines(saved.problem));
    io.print(accountListJson((await getAccountView(db, saved.value))!));
    return 0;
  }
  const needsName = sub === "disable" || sub === "enable" || sub === "delete";
  if (!needsName || arg === undefined) return null;
  const choice = rest.length === 1 && (rest[0] === "--erase" || rest[0] === "--keep")
    ? rest[0].slice(2)
    : null;
  if (sub === "delete" ? choice === null : rest.length > 0) {
    io.say(ACCOUNT_LIFECYCLE_USAGE);
    return 2;
  }
  const account = (await listAccounts(db)).find((a) => a.name === arg);
  if (!account) return fail(io, [`no account is called "${arg}"`]);
  if (sub === "delete") {
    const removed = await removeAccount(deps, account.id, choice, "cli");
    if (!removed.ok) return fail(io, problemLines(removed.problem));
    io.print({
      deleted: arg,
      messages: choice,
      message_count: removed.value.messages,
      replies_cancelled: removed.value.repliesCancelled,
    });
    return 0;
  }
  const saved = await setAccountEnabledAction(deps, account.id, sub === "enable", "cli");
  if (!saved.ok) return fail(io, problemLines(saved.problem));
  io.print(accountListJson(saved.value));
  return 0;
}

function fail(io: AdminIo, lines: string[]): number {
  for (const line of lines) io.say(line);
  return 1;
}
