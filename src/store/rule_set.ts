import { exportRules, parseRules, type Rule } from "../domain/rules.ts";
import type { Queryable } from "./db.ts";

/** The stored rules, in evaluation order (the domain orders by priority, then this order). */
export async function loadRules(q: Queryable): Promise<Rule[]> {
  const rows = await q.query<{ definition: unknown }>(
    "SELECT definition FROM rules ORDER BY position, id",
  );
  const parsed = parseRules(rows.map((r) => r.definition));
  if (!parsed.ok) {
    throw new Error(`the stored rules are invalid: ${parsed.errors.join("; ")}`);
  }
  return parsed.rules;
}

/**
 * Replaces the stored rules with `rules` (already validated), keeping each rule's row, and so
 * its history, when its name stays. Run it in a transaction.
 */
export async function replaceRules(q: Queryable, rules: readonly Rule[], at: Date): Promise<void> {
  const definitions = exportRules(rules);
  const names = rules.map((r) => r.name);
  await q.query("DELETE FROM rules WHERE NOT (name = ANY($1::text[]))", [names]);
  for (const [position, rule] of rules.entries()) {
    await q.query(
      `INSERT INTO rules (name, enabled, priority, position, definition, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz, $6::timestamptz)
       ON CONFLICT (name) DO UPDATE SET enabled = EXCLUDED.enabled,
         priority = EXCLUDED.priority, position = EXCLUDED.position,
         definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at`,
      [
        rule.name,
        rule.enabled,
        rule.priority,
        position,
        JSON.stringify(definitions[position]),
        at.toISOString(),
      ],
    );
  }
}
