import type { Queryable } from "./db.ts";
import { camelRow } from "./row.ts";

/**
 * A stored rule as the admin edits it: `definition` is the rule in the import/export JSON format
 * (src/domain/rules.ts `exportRules`), and `name`, `enabled` and `priority` mirror it.
 */
export interface RuleRow {
  id: number;
  name: string;
  enabled: boolean;
  priority: number;
  position: number;
  definition: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

/** The columns of `RuleRow`, in its order (read back with `camelRow`). */
const COLUMNS = "id, name, enabled, priority, position, definition, created_at, updated_at";

/** Every rule in file order (position, then id): the order `loadRules` evaluates ties in. */
export async function listRuleRows(q: Queryable): Promise<RuleRow[]> {
  return (await q.query(`SELECT ${COLUMNS} FROM rules ORDER BY position, id`)).map(
    camelRow<RuleRow>,
  );
}

/** One rule, or null. */
export async function getRuleRow(q: Queryable, id: number): Promise<RuleRow | null> {
  const [r] = await q.query(`SELECT ${COLUMNS} FROM rules WHERE id = $1`, [id]);
  return r ? camelRow<RuleRow>(r) : null;
}

/** Adds a rule at the end of the order. Fails on a duplicate name (unique). */
export async function insertRule(
  q: Queryable,
  r: { name: string; enabled: boolean; priority: number; definition: Record<string, unknown> },
  at: Date,
): Promise<RuleRow> {
  const [row] = await q.query(
    `INSERT INTO rules (name, enabled, priority, position, definition, created_at, updated_at)
     VALUES ($1, $2, $3, (SELECT COALESCE(max(position), -1) + 1 FROM rules), $4::jsonb,
       $5::timestamptz, $5::timestamptz)
     RETURNING ${COLUMNS}`,
    [r.name, r.enabled, r.priority, JSON.stringify(r.definition), at.toISOString()],
  );
  return camelRow<RuleRow>(row);
}

/** Replaces a rule's definition (and its mirrored columns); null when there is no such rule. */
export async function updateRule(
  q: Queryable,
  id: number,
  r: { name: string; enabled: boolean; priority: number; definition: Record<string, unknown> },
  at: Date,
): Promise<RuleRow | null> {
  const [row] = await q.query(
    `UPDATE rules SET name = $2, enabled = $3, priority = $4, definition = $5::jsonb,
       updated_at = $6::timestamptz
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, r.name, r.enabled, r.priority, JSON.stringify(r.definition), at.toISOString()],
  );
  return row ? camelRow<RuleRow>(row) : null;
}

/** Turns a rule on or off, in its column and in its definition. */
export async function setRuleEnabled(
  q: Queryable,
  id: number,
  enabled: boolean,
  at: Date,
): Promise<RuleRow | null> {
  const [row] = await q.query(
    `UPDATE rules SET enabled = $2,
       definition = jsonb_set(definition, '{enabled}', to_jsonb($2::boolean)),
       updated_at = $3::timestamptz
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, enabled, at.toISOString()],
  );
  return row ? camelRow<RuleRow>(row) : null;
}

/**
 * Moves a rule one place up or down in the file order (swapping with its neighbour), and
 * renumbers positions 0..n-1. Returns false when there is no such rule.
 */
export async function moveRule(
  tx: Queryable,
  id: number,
  direction: "up" | "down",
  at: Date,
): Promise<boolean> {
  const ids = (await tx.query<{ id: number }>(
    "SELECT id FROM rules ORDER BY position, id FOR UPDATE",
  )).map((r) => r.id);
  const i = ids.indexOf(id);
  if (i < 0) return false;
  const j = direction === "up" ? i - 1 : i + 1;
  if (j >= 0 && j < ids.length) [ids[i], ids[j]] = [ids[j], ids[i]];
  await setOrder(tx, ids, at);
  return true;
}

/**
 * Sets the file order to `ids` (every rule exactly once). Returns false, changing nothing, when
 * the list is not a permutation of the stored rules.
 */
export async function reorderRules(tx: Queryable, ids: number[], at: Date): Promise<boolean> {
  const stored = (await tx.query<{ id: number }>("SELECT id FROM rules ORDER BY id FOR UPDATE"))
    .map((r) => r.id);
  const given = [...ids].sort((a, b) => a - b);
  if (given.length !== stored.length || given.some((v, k) => v !== stored[k])) return false;
  await setOrder(tx, ids, at);
  return true;
}

async function setOrder(tx: Queryable, ids: number[], at: Date) {
  await tx.query(
    `UPDATE rules r SET position = o.pos - 1, updated_at = $2::timestamptz
     FROM unnest($1::int[]) WITH ORDINALITY AS o(id, pos)
     WHERE r.id = o.id AND r.position <> o.pos - 1`,
    [ids, at.toISOString()],
  );
}

/** Deletes a rule; returns its name, or null when there was none. */
export async function deleteRule(q: Queryable, id: number): Promise<string | null> {
  const [r] = await q.query<{ name: string }>("DELETE FROM rules WHERE id = $1 RETURNING name", [
    id,
  ]);
  return r?.name ?? null;
}
