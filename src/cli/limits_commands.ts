/**
 * `breakers list [--open] | reset ID | reset --all` and `account settings NAME | set NAME JSON`:
 * the loop breakers and an account's reply settings from the command line, thin adapters over
 * src/actions/breakers.ts and src/actions/account_settings.ts. JSON on standard output; a problem
 * is one line per field on standard error and exit 1; a malformed command line exit 2.
 */
import type { Db } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import { breakerJson, listBreakers } from "../store/breakers.ts";
import { readAccountReplySettings } from "../store/account_settings.ts";
import { resetBreaker, resetOpenBreakers } from "../actions/breakers.ts";
import { saveAccountSettings } from "../actions/account_settings.ts";
import { problemLines } from "../actions/result.ts";
import { accountSettingsJson } from "../admin/account_settings_json.ts";
import {
  ACCOUNT_BUDGET_USAGE,
  ACCOUNT_LIFECYCLE_USAGE,
  accountBudgetCommand,
  accountLifecycleCommand,
} from "./account_commands.ts";
import type { SecretBox } from "../auth/secret_box.ts";
import type { AdminIo } from "./admin_commands.ts";

/** How `breakers` is called. */
export const BREAKERS_USAGE =
  "usage: breakers list [--open] | breakers reset ID | breakers reset --all";

/** How `account` is called. */
export const ACCOUNT_USAGE = "usage: account settings NAME | account set NAME JSON " +
  `(e.g. '{"time_zone": "America/Sao_Paulo", "limits": {"cool_down_seconds": 1800}}') | ` +
  ACCOUNT_BUDGET_USAGE.replace(/^usage: /, "") + " | " +
  ACCOUNT_LIFECYCLE_USAGE.replace(/^usage: /, "");

/** Runs `breakers ARGS` on `db`; resolves to the exit code. */
export async function breakersCommand(db: Db, args: string[], io: AdminIo): Promise<number> {
  const deps = { db, now: io.now };
  const [sub, ...rest] = args;
  if (sub === "list" && (rest.length === 0 || (rest.length === 1 && rest[0] === "--open"))) {
    const rows = await listBreakers(db, io.now(), { openOnly: rest[0] === "--open" });
    io.print(rows.map(breakerJson));
    return 0;
  }
  if (sub === "reset" && rest.length === 1 && rest[0] === "--all") {
    const reset = await resetOpenBreakers(deps, "cli");
    if (!reset.ok) return fail(io, problemLines(reset.problem));
    io.print({ reset: reset.value.map(breakerJson) });
    return 0;
  }
  if (sub === "reset" && rest.length === 1 && /^[1-9][0-9]{0,9}$/.test(rest[0])) {
    const reset = await resetBreaker(deps, Number(rest[0]), "cli");
    if (!reset.ok) return fail(io, problemLines(reset.problem));
    io.print({ reset: [breakerJson(reset.value)] });
    return 0;
  }
  io.say(BREAKERS_USAGE);
  return 2;
}

/** Runs `account ARGS` on `db`; resolves to the exit code. */
export async function accountCommand(
  db: Db,
  args: string[],
  io: AdminIo,
  box: SecretBox,
): Promise<number> {
  const [sub, name, json, ...more] = args;
  if (sub === "budget") return await accountBudgetCommand(db, args, io);
  const lifecycle = await accountLifecycleCommand(db, box, args, io);
  if (lifecycle !== null) return lifecycle;
  const reading = sub === "settings" && name !== undefined && json === undefined;
  const writing = sub === "set" && name !== undefined && json !== undefined && more.length === 0;
  if (!reading && !writing) {
    io.say(ACCOUNT_USAGE);
    return 2;
  }
  const account = (await listAccounts(db)).find((a) => a.name === name);
  if (!account) return fail(io, [`no account is called "${name}"`]);
  if (reading) {
    const settings = await readAccountReplySettings(db, account.id);
    if (!settings) return fail(io, [`no account is called "${name}"`]);
    io.print({ account: account.name, ...accountSettingsJson(settings) });
    return 0;
  }
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch (e) {
    return fail(io, [`JSON: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const saved = await saveAccountSettings({ db, now: io.now }, account.id, input, "cli");
  if (!saved.ok) return fail(io, problemLines(saved.problem));
  for (const note of saved.value.notes) io.say(note);
  io.print({ account: account.name, ...accountSettingsJson(saved.value.settings) });
  return 0;
}

function fail(io: AdminIo, lines: string[]): number {
  for (const line of lines) io.say(line);
  return 1;
}
