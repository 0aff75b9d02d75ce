/**
 * A person's correction of the classifier, from the message page: the new kind (and for a
 * forward the original sender), its audit event and the rules run again, in one transaction.
 */
import type { Queryable } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import { overrideClassification } from "../store/message_detail.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** A correction as a person gives it. */
export interface ClassificationCorrection {
  kind: "forwarded" | "direct" | undefined;
  originalFromAddress: string;
  originalFromName: string;
}

/** What the correction needs besides the database: the rules run again for the message. */
export interface CorrectionDeps extends ActionDeps {
  rerunRules: (tx: Queryable, messageId: number, at: Date) => Promise<boolean>;
}

const ADDRESS = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

/** Every problem with a correction, one line per field; empty when there is none. */
export function correctionProblems(c: ClassificationCorrection): string[] {
  const problems: string[] = [];
  if (!c.kind) problems.push("kind: must be forwarded or direct");
  if (c.kind === "forwarded" && !ADDRESS.test(c.originalFromAddress)) {
    problems.push("original_from_address: a forward needs the original sender's address");
  }
  return problems;
}

/**
 * Sets message `id`'s classification as a person says, then runs the rules again for it (never
 * a second reply to a message that has one).
 */
export function correctClassification(
  deps: CorrectionDeps,
  id: number,
  correction: ClassificationCorrection,
  by: string,
): Promise<Result<number>> {
  return transact(deps.db, async (tx) => {
    const problems = correctionProblems(correction);
    const kind = correction.kind;
    if (problems.length > 0 || !kind) {
      return problem("invalid", "the correction is invalid", problems);
    }
    const address = correction.originalFromAddress.toLowerCase();
    const at = deps.now();
    const ok = await overrideClassification(tx, id, {
      kind,
      originalFromAddress: address || null,
      originalFromName: correction.originalFromName || null,
      by,
    }, at);
    if (!ok) return problem("not_found", "no such message");
    await recordEvent(tx, {
      event: "classification_overridden",
      at,
      messageId: id,
      detail: { kind, original_from: address || null, by },
    });
    await deps.rerunRules(tx, id, at);
    return done(id);
  }, "the message changed meanwhile");
}
