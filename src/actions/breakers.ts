/**
 * Resetting loop breakers, from the breakers page, `/api/v1/breakers` or
 * `deno task cli breakers reset`: each reset deletes the breaker (replies in its scope may go
 * again) and writes its `breaker_reset` event in the same transaction.
 */
import type { Queryable } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import { type BreakerRow, deleteBreaker, listBreakers } from "../store/breakers.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

async function reset(tx: Queryable, id: number, at: Date, by: string) {
  const gone = await deleteBreaker(tx, id, at);
  if (!gone) return null;
  await recordEvent(tx, {
    event: "breaker_reset",
    at,
    accountId: gone.accountId,
    detail: {
      id: gone.id,
      scope: gone.scope,
      recipient: gone.recipient,
      tripped_at: gone.trippedAt.toISOString(),
      was_open: gone.open,
      by,
    },
  });
  return gone;
}

/** Resets breaker `id`; one that is not on record (reset meanwhile) is `not_found`. */
export function resetBreaker(
  deps: ActionDeps,
  id: number,
  by: string,
): Promise<Result<BreakerRow>> {
  return transact(deps.db, async (tx) => {
    const gone = await reset(tx, id, deps.now(), by);
    return gone ? done(gone) : problem("not_found", "no such breaker (it may have been reset)");
  }, "the breakers changed meanwhile");
}

/** Resets every breaker still open, each with its own event; the ones reset, maybe none. */
export function resetOpenBreakers(deps: ActionDeps, by: string): Promise<Result<BreakerRow[]>> {
  return transact(deps.db, async (tx) => {
    const at = deps.now();
    const gone: BreakerRow[] = [];
    for (const b of await listBreakers(tx, at, { openOnly: true })) {
      const row = await reset(tx, b.id, at, by);
      if (row) gone.push(row);
    }
    return done(gone);
  }, "the breakers changed meanwhile");
}
