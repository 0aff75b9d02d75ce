/**
 * `never-answer list | add PATTERN [--account NAME] | remove ID`: the never-answer list from the
 * command line, a thin adapter over src/actions/never_answer.ts. JSON on standard output; a
 * problem is one line per field on standard error and exit 1; a malformed command line exit 2.
 */
import type { Db } from "../store/db.ts";
import { listAccounts } from "../store/accounts.ts";
import { listNeverAnswer, neverAnswerJson } from "../store/never_answer.ts";
import { addNeverAnswer, removeNeverAnswer } from "../actions/never_answer.ts";
import { problemLines } from "../actions/result.ts";
import type { AdminIo } from "./admin_commands.ts";

/** How the command is called. */
export const NEVER_ANSWER_USAGE =
  "usage: never-answer list | never-answer add PATTERN [--account NAME] | never-answer remove ID";

/** Runs `never-answer ARGS` on `db`; resolves to the exit code. */
export async function neverAnswerCommand(db: Db, args: string[], io: AdminIo): Promise<number> {
  const deps = { db, now: io.now };
  const [sub, ...rest] = args;
  if (sub === "list" && rest.length === 0) {
    io.print((await listNeverAnswer(db)).map(neverAnswerJson));
    return 0;
  }
  if (sub === "add") {
    const named = readAdd(rest);
    if (!named) {
      io.say(NEVER_ANSWER_USAGE);
      return 2;
    }
    let accountId: number | null = null;
    if (named.account !== null) {
      const account = (await listAccounts(db)).find((a) => a.name === named.account);
      if (!account) {
        io.say(`--account: no account is called "${named.account}"`);
        return 1;
      }
      accountId = account.id;
    }
    const added = await addNeverAnswer(deps, { pattern: named.pattern, accountId }, "cli");
    if (!added.ok) {
      for (const line of problemLines(added.problem)) io.say(line);
      return 1;
    }
    io.print({
      added: true,
      id: added.value.id,
      pattern: added.value.pattern,
      account: named.account,
    });
    return 0;
  }
  if (sub === "remove" && rest.length === 1 && /^[1-9][0-9]{0,9}$/.test(rest[0])) {
    const removed = await removeNeverAnswer(deps, Number(rest[0]), "cli");
    if (!removed.ok) {
      for (const line of problemLines(removed.problem)) io.say(line);
      return 1;
    }
    io.print({ removed: true, id: removed.value.id, pattern: removed.value.pattern });
    return 0;
  }
  io.say(NEVER_ANSWER_USAGE);
  return 2;
}

/** `PATTERN [--account NAME]` in either order, or null when it is not that. */
function readAdd(args: string[]): { pattern: string; account: string | null } | null {
  let pattern: string | null = null;
  let account: string | null = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--account") {
      if (account !== null || args[i + 1] === undefined) return null;
      account = args[++i];
    } else if (pattern === null) {
      pattern = args[i];
    } else {
      return null;
    }
  }
  return pattern === null ? null : { pattern, account };
}
