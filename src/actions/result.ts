/**
 * What every action returns: its value, or a problem with a stable code that each edge maps to
 * its own answer (a 422 form, a JSON error, an exit code), and the transaction that writes a
 * change together with its audit event.
 */
import type { Db, Queryable } from "../store/db.ts";
import { isUniqueViolation } from "../store/sql_state.ts";

/** Why an action changed nothing. */
export type ProblemCode = "invalid" | "not_found" | "conflict" | "wrong_status" | "read_only";

/** A problem: its code, a sentence for a person, and one line per faulty field (`name: …`). */
export interface Problem {
  code: ProblemCode;
  message: string;
  details?: string[];
}

/** The lines a form or a terminal shows for a problem: one per field, else its sentence. */
export function problemLines(p: Problem): string[] {
  return p.details?.length ? p.details : [p.message];
}

/** An action's outcome. */
export type Result<T> = { ok: true; value: T } | { ok: false; problem: Problem };

/** What every action needs: the database and the clock. */
export interface ActionDeps {
  db: Db;
  now: () => Date;
}

/** The success of an action. */
export function done<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** A problem as an action's outcome. */
export function problem(
  code: ProblemCode,
  message: string,
  details?: string[],
): { ok: false; problem: Problem } {
  return { ok: false, problem: { code, message, ...(details ? { details } : {}) } };
}

/** Carries a problem out of a transaction, so that the transaction rolls back. */
class Refused extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/**
 * Runs `fn` in one transaction: committed when it returns a value, rolled back when it returns a
 * problem or throws. A unique violation (SQLSTATE 23505) becomes the `conflict` problem, whatever
 * statement raised it; anything else is thrown on.
 */
export async function transact<T>(
  db: Db,
  fn: (tx: Queryable) => Promise<Result<T>>,
  conflict: string,
): Promise<Result<T>> {
  try {
    return done(
      await db.transaction(async (tx) => {
        const r = await fn(tx);
        if (!r.ok) throw new Refused(r.problem);
        return r.value;
      }),
    );
  } catch (e) {
    if (e instanceof Refused) return { ok: false, problem: e.problem };
    if (isUniqueViolation(e)) return problem("conflict", conflict, [conflict]);
    throw e;
  }
}
