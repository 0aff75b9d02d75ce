/**
 * The never-answer list, from the exceptions page, `/api/v1/never-answer` or
 * `deno task cli never-answer`: adding and removing an entry, each with its audit event in the
 * same transaction. The replies read the list through `neverAnswerFor` (src/services.ts).
 */
import type { Queryable } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import { deleteNeverAnswer, insertNeverAnswer } from "../store/never_answer.ts";
import { readNeverAnswerPattern } from "../domain/never_answer.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** An entry to add: a pattern, for one account or (`accountId` null) for every account. */
export interface NeverAnswerInput {
  pattern: unknown;
  accountId: number | null;
}

async function accountExists(q: Queryable, id: number): Promise<boolean> {
  return (await q.query("SELECT 1 AS ok FROM accounts WHERE id = $1", [id])).length === 1;
}

/**
 * Adds an entry. A bad pattern is `invalid`, an unknown account `not_found`, a pattern already
 * listed for the same account (or globally) a `conflict`, told by the unique index's SQLSTATE.
 */
export function addNeverAnswer(
  deps: ActionDeps,
  input: NeverAnswerInput,
  by: string,
): Promise<Result<{ id: number; pattern: string; accountId: number | null }>> {
  const read = readNeverAnswerPattern(input.pattern);
  if (!read.ok) return Promise.resolve(problem("invalid", read.error, [read.error]));
  const { pattern } = read;
  const accountId = input.accountId;
  return transact(deps.db, async (tx) => {
    if (accountId !== null && !await accountExists(tx, accountId)) {
      return problem("not_found", "no such account");
    }
    const at = deps.now();
    const id = await insertNeverAnswer(tx, { accountId, pattern, by }, at);
    await recordEvent(tx, {
      event: "never_answer_added",
      at,
      accountId,
      detail: { id, pattern, account_id: accountId, by },
    });
    return done({ id, pattern, accountId });
  }, `pattern: "${pattern}" is already on the list${accountId === null ? "" : " of that account"}`);
}

/** Removes entry `id`; an entry that does not exist is `not_found`. */
export function removeNeverAnswer(
  deps: ActionDeps,
  id: number,
  by: string,
): Promise<Result<{ id: number; pattern: string }>> {
  return transact(deps.db, async (tx) => {
    const gone = await deleteNeverAnswer(tx, id);
    if (!gone) return problem("not_found", "no such never-answer entry");
    await recordEvent(tx, {
      event: "never_answer_removed",
      at: deps.now(),
      accountId: gone.accountId,
      detail: { id, pattern: gone.pattern, account_id: gone.accountId, by },
    });
    return done({ id, pattern: gone.pattern });
  }, "the list changed meanwhile");
}
