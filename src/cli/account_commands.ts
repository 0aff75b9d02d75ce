/**
 * `account budget NAME [--per-minute N] [--per-day N] | account budget NAME --default`: an
 * account's send budget from the command line, a thin adapter over src/actions/accounts.ts. A
 * window not given has no limit; `--default` goes back to the provider's default. JSON on
 * standard output; a problem is one line on standard error and exit 1; a malformed command line
 * exit 2.
 */
import type { Db } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import { saveSendBudget } from "../actions/accounts.ts";
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
