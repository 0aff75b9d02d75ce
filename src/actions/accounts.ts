/**
 * Accounts a person adds and edits on the accounts page, and the connection test: each change
 * (passwords encrypted with SECRET_KEY) and its audit event in one transaction.
 */
import { recordEvent } from "../store/audit.ts";
import {
  type AccountInput,
  type AccountRemoval,
  type AccountView,
  createAccount,
  deleteAccount,
  getAccountView,
  setAccountAfterProcessing,
  setAccountEnabled,
  updateAccount,
} from "../store/accounts_admin.ts";
import { clearSmtpAuthFailure, setSendBudget } from "../store/send_budget.ts";
import type { Queryable } from "../store/db.ts";
import { budgetJson, type SendBudget } from "../domain/send_budget.ts";
import { type SecretBox, SecretKeyError } from "../auth/secret_box.ts";
import { readAfterProcessing } from "../domain/after_processing.ts";
import { tlsModeProblem } from "../domain/tls_mode.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** An account's settings as a person typed them, and its passwords (empty: keep the stored). */
export interface AccountSettings {
  settings: Omit<AccountInput, "imapPassEnc" | "smtpPassEnc">;
  passwords: { imap: string; smtp: string };
  /** The send budget (null: the provider's default); left as it is when absent. */
  sendBudget?: SendBudget | null;
}

/** Saving an account needs the box that encrypts its passwords. */
export interface AccountDeps extends ActionDeps {
  box: SecretBox;
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
 * Adds an account (`id` null) or updates account `id`. An account read from the environment is
 * `read_only` (its settings come from there); a name another account has is a `conflict`.
 */
export function saveAccount(
  deps: AccountDeps,
  id: number | null,
  input: AccountSettings,
  by: string,
): Promise<Result<number>> {
  const { settings, passwords } = input;
  return transact(deps.db, async (tx) => {
    const existing = id ? await getAccountView(tx, id) : null;
    if (id && !existing) return problem("not_found", "no such account");
    if (existing?.source === "env") {
      return problem("read_only", "this account's settings come from the environment");
    }
    // Plain IMAP or SMTP only to this machine, whoever calls (src/domain/tls_mode.ts).
    const plain = [
      tlsModeProblem("imap", settings.imapTls, settings.imapHost),
      settings.smtpHost && settings.smtpTls
        ? tlsModeProblem("smtp", settings.smtpTls, settings.smtpHost)
        : null,
    ].filter((p): p is string => p !== null);
    if (plain.length > 0) return problem("invalid", plain[0], plain);
    if (existing) {
      const moved = passwordsLeftBehind(existing, settings, passwords);
      if (moved.length > 0) return problem("invalid", moved[0], moved);
    }
    let imapPassEnc: string | null = null;
    let smtpPassEnc: string | null = null;
    try {
      if (passwords.imap) imapPassEnc = await deps.box.encrypt("imap_pass", passwords.imap);
      if (passwords.smtp) smtpPassEnc = await deps.box.encrypt("smtp_pass", passwords.smtp);
    } catch (e) {
      if (e instanceof SecretKeyError) return problem("invalid", e.message, [e.message]);
      throw e;
    }
    const account: AccountInput = { ...settings, imapPassEnc, smtpPassEnc };
    const at = deps.now();
    let saved = id;
    if (saved) await updateAccount(tx, saved, account);
    else saved = await createAccount(tx, account, at);
    if (input.sendBudget !== undefined) await setSendBudget(tx, saved, input.sendBudget);
    await recordEvent(tx, {
      event: "account_changed",
      at,
      accountId: saved,
      detail: {
        action: existing ? "updated" : "created",
        name: account.name,
        by,
        imap_password_changed: imapPassEnc !== null,
        smtp_password_changed: smtpPassEnc !== null,
        after_processing: account.afterProcessing ?? "keep",
        after_folder: account.afterFolder ?? null,
        ...(account.maxMessageBytes !== undefined
          ? { max_message_bytes: account.maxMessageBytes }
          : {}),
        ...(input.sendBudget !== undefined ? { send_budget: budgetJson(input.sendBudget) } : {}),
      },
    });
    if (existing) await clearAuthFailure(tx, saved, at, by);
    return done(saved);
  }, `name: "${settings.name}" is already used by another account`);
}

/**
 * Sets account `id`'s send budget (null: back to the provider's default). Any account, the
 * environment's too: the budget is not among the settings the environment gives. Counts as an
 * edit: an account whose SMTP login was refused gets its replies tried again.
 */
export function saveSendBudget(
  deps: ActionDeps,
  id: number,
  budget: SendBudget | null,
  by: string,
): Promise<Result<AccountView>> {
  return transact(deps.db, async (tx) => {
    const existing = await getAccountView(tx, id);
    if (!existing) return problem("not_found", "no such account");
    await setSendBudget(tx, id, budget);
    const at = deps.now();
    await recordEvent(tx, {
      event: "account_changed",
      at,
      accountId: id,
      detail: {
        action: "send_budget",
        name: existing.name,
        by,
        imap_password_changed: false,
        smtp_password_changed: false,
        send_budget: budgetJson(budget),
      },
    });
    await clearAuthFailure(tx, id, at, by);
    return done((await getAccountView(tx, id))!);
  }, "the account changed meanwhile; try again");
}

/** An edit ends a refused SMTP login: the account's replies are tried again at once. */
async function clearAuthFailure(tx: Queryable, id: number, at: Date, by: string) {
  const was = await clearSmtpAuthFailure(tx, id);
  if (was === null) return;
  await recordEvent(tx, {
    event: "smtp_auth_cleared",
    at,
    accountId: id,
    detail: { reason: "account_edited", was, by },
  });
}

/** What a connection test found: a stable category and a sentence for a person. */
export type ConnectionCheck = { ok: true } | { ok: false; error: string; message: string };

/**
 * Tests account `id`'s connection with `check` (which reaches the servers) and records the
 * outcome as `connection_tested`; the account and what the test found are the value.
 */
export async function testAccountConnection<R extends ConnectionCheck>(
  deps: ActionDeps,
  id: number,
  check: (account: AccountView) => Promise<R>,
  by: string,
): Promise<Result<{ account: AccountView; result: R }>> {
  const account = await getAccountView(deps.db, id);
  if (!account) return problem("not_found", "no such account");
  // The test talks to the network: it runs outside any transaction; only its record is written.
  const result = await check(account);
  await recordEvent(deps.db, {
    event: "connection_tested",
    at: deps.now(),
    accountId: id,
    detail: { ok: result.ok, problem: result.ok ? null : result.error, by },
  });
  return done({ account, result });
}

/**
 * Sets what is done on the server to account `id`'s messages once processed (`keep`, `seen`, or
 * `move` to `folder`), with its audit event. An account from the environment is `read_only`
 * (IMAP_AFTER sets it there).
 */
export function setAfterProcessing(
  deps: ActionDeps,
  id: number,
  input: { mode: string; folder: string },
  by: string,
): Promise<Result<AccountView>> {
  return transact(deps.db, async (tx) => {
    const existing = await getAccountView(tx, id);
    if (!existing) return problem("not_found", "no such account");
    if (existing.source === "env") {
      return problem("read_only", "this account's settings come from the environment");
    }
    const read = readAfterProcessing(input.mode, input.folder);
    if ("problem" in read) return problem("invalid", read.problem, [read.problem]);
    await setAccountAfterProcessing(tx, id, read.mode, read.folder);
    await recordEvent(tx, {
      event: "account_changed",
      at: deps.now(),
      accountId: id,
      detail: {
        action: "updated",
        name: existing.name,
        by,
        imap_password_changed: false,
        smtp_password_changed: false,
        after_processing: read.mode,
        after_folder: read.folder,
      },
    });
    return done({ ...existing, afterProcessing: read.mode, afterFolder: read.folder });
  }, "the account changed meanwhile; try again");
}

/**
 * Disables (`enabled` false: no collection, no sending) or enables account `id`. Any account, the
 * environment's too: ACCOUNTS_JSON gives its settings, not whether a person paused it.
 */
export function setAccountEnabledAction(
  deps: ActionDeps,
  id: number,
  enabled: boolean,
  by: string,
): Promise<Result<AccountView>> {
  return transact(deps.db, async (tx) => {
    const existing = await getAccountView(tx, id);
    if (!existing) return problem("not_found", "no such account");
    await setAccountEnabled(tx, id, enabled);
    await recordEvent(tx, {
      event: "account_changed",
      at: deps.now(),
      accountId: id,
      detail: {
        action: enabled ? "enabled" : "disabled",
        name: existing.name,
        by,
        imap_password_changed: false,
        smtp_password_changed: false,
      },
    });
    return done({ ...existing, enabled });
  }, "the account changed meanwhile; try again");
}

/** What to do with a deleted account's messages; anything else is not a choice. */
export function readMessagesChoice(value: unknown): "erase" | "keep" | null {
  return value === "erase" || value === "keep" ? value : null;
}

/**
 * Deletes account `id`: `erase` removes its messages, decisions and replies; `keep` leaves them
 * detached ("(deleted account)"). Replies not yet sent are cancelled, never sent. The choice is
 * required (`invalid` without it); an account from the environment is `read_only` (it would come
 * back at the next start: remove it from ACCOUNTS_JSON instead).
 */
export function removeAccount(
  deps: ActionDeps,
  id: number,
  messages: unknown,
  by: string,
): Promise<Result<AccountRemoval & { name: string }>> {
  return transact(deps.db, async (tx) => {
    const choice = readMessagesChoice(messages);
    const existing = await getAccountView(tx, id);
    if (!existing) return problem("not_found", "no such account");
    if (!choice) {
      const why = "messages: choose erase (delete them) or keep (keep them without an account)";
      return problem("invalid", why, [why]);
    }
    if (existing.source === "env") {
      return problem(
        "read_only",
        "this account comes from the environment (ACCOUNTS_JSON): remove it there, or disable it",
      );
    }
    const at = deps.now();
    const removed = await deleteAccount(tx, id, choice, at);
    await recordEvent(tx, {
      event: "account_changed",
      at,
      accountId: null,
      detail: {
        action: "deleted",
        name: existing.name,
        by,
        imap_password_changed: false,
        smtp_password_changed: false,
        messages: choice,
        message_count: removed.messages,
        replies_cancelled: removed.repliesCancelled,
      },
    });
    return done({ ...removed, name: existing.name });
  }, "the account changed meanwhile; try again");
}
