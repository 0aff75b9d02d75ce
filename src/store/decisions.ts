import type { Queryable } from "./db.ts";
import { pgSafe } from "./pg_safe.ts";

/** What the rules decided for one message, as stored for the message page and the audit. */
export interface DecisionRecord {
  messageId: number;
  outcome: "reply" | "suppressed" | "no_rule" | "ignored";
  ruleName: string | null;
  reason: string | null;
  detail: string | null;
  trail: Array<{ rule: string; hit: boolean; why: string }>;
}

/**
 * Records a message's decision. A message decided before keeps its first decision — re-processing
 * never rewrites what was done — unless `replace` is set (a person corrected the classification
 * and the rules ran again; the audit log keeps the earlier one).
 */
export async function saveDecision(
  q: Queryable,
  d: DecisionRecord,
  at: Date,
  replace = false,
): Promise<boolean> {
  const onConflict = replace
    ? `DO UPDATE SET decided_at = EXCLUDED.decided_at, outcome = EXCLUDED.outcome,
         rule_name = EXCLUDED.rule_name, reason = EXCLUDED.reason, detail = EXCLUDED.detail,
         trail = EXCLUDED.trail`
    : "DO NOTHING";
  return await insertDecisions(q, [d], at, onConflict) > 0;
}

/** Records the first decision of several messages with one statement (see `saveDecision`). */
export async function saveDecisions(q: Queryable, ds: DecisionRecord[], at: Date): Promise<void> {
  if (ds.length > 0) await insertDecisions(q, ds, at, "DO NOTHING");
}

/** Inserts decision rows with one statement; returns how many were written. */
async function insertDecisions(
  q: Queryable,
  ds: DecisionRecord[],
  at: Date,
  onConflict: string,
): Promise<number> {
  const params: unknown[] = [at.toISOString()];
  const rows = ds.map((d) => {
    const n = params.push(
      d.messageId,
      d.outcome,
      d.ruleName,
      d.reason,
      d.detail === null ? null : pgSafe(d.detail),
      JSON.stringify(pgSafe(d.trail)),
    );
    return `($${n - 5}, $1::timestamptz, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
  });
  const written = await q.query(
    `INSERT INTO decisions (message_id, decided_at, outcome, rule_name, reason, detail, trail)
     VALUES ${rows.join(", ")}
     ON CONFLICT (message_id) ${onConflict}
     RETURNING 1 AS ok`,
    params,
  );
  return written.length;
}
