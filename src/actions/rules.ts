/**
 * What a person does to the rules, from the rules page, `/api/v1/rules` or the CLI: each action
 * checks its input, changes the rules and writes its `rule_changed` audit event in one
 * transaction.
 */
import type { Queryable } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import {
  deleteRule as deleteRuleRow,
  getRuleRow,
  insertRule,
  listRuleRows,
  moveRule as moveRuleRow,
  reorderRules as reorderRuleRows,
  type RuleRow,
  setRuleEnabled as setRuleRowEnabled,
  updateRule as updateRuleRow,
} from "../store/rules_admin.ts";
import { replaceRules } from "../store/rule_set.ts";
import { readRuleInput } from "../admin/rule_input.ts";
import { exportRules, parseRules } from "../domain/rules.ts";
import type { RuleEditDetail } from "../domain/audit_events.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

const TAKEN = "name: another rule has this name";

async function otherNames(q: Queryable, exceptId: number | null): Promise<string[]> {
  return (await listRuleRows(q)).filter((r) => r.id !== exceptId).map((r) => r.name);
}

function audit(tx: Queryable, at: Date, detail: RuleEditDetail): Promise<void> {
  return recordEvent(tx, { event: "rule_changed", at, detail });
}

/** Reads a rule (the rules file's JSON, or its text) and adds it last in the order. */
export function createRule(
  deps: ActionDeps,
  definition: unknown,
  by: string,
): Promise<Result<RuleRow>> {
  return transact(deps.db, async (tx) => {
    const input = readRuleInput(definition, await otherNames(tx, null));
    if (!input.ok) return problem("invalid", "the rule is invalid", input.errors);
    const at = deps.now();
    const row = await insertRule(tx, {
      name: input.rule.name,
      enabled: input.rule.enabled,
      priority: input.rule.priority,
      definition: input.definition,
    }, at);
    await audit(tx, at, { action: "created", rule: row.name, by });
    return done(row);
  }, TAKEN);
}

/** Replaces rule `id`'s definition; the audit event keeps the old name when it changed. */
export function updateRule(
  deps: ActionDeps,
  id: number,
  definition: unknown,
  by: string,
): Promise<Result<RuleRow>> {
  return transact(deps.db, async (tx) => {
    const before = await getRuleRow(tx, id);
    if (!before) return problem("not_found", "no such rule");
    const input = readRuleInput(definition, await otherNames(tx, id));
    if (!input.ok) return problem("invalid", "the rule is invalid", input.errors);
    const at = deps.now();
    const row = await updateRuleRow(tx, id, {
      name: input.rule.name,
      enabled: input.rule.enabled,
      priority: input.rule.priority,
      definition: input.definition,
    }, at);
    if (!row) return problem("not_found", "no such rule");
    const was = before.name !== row.name ? { was: before.name } : {};
    await audit(tx, at, { action: "updated", rule: row.name, by, ...was });
    return done(row);
  }, TAKEN);
}

/** Turns rule `id` on or off. */
export function setRuleEnabled(
  deps: ActionDeps,
  id: number,
  enabled: boolean,
  by: string,
): Promise<Result<RuleRow>> {
  return transact(deps.db, async (tx) => {
    const at = deps.now();
    const row = await setRuleRowEnabled(tx, id, enabled, at);
    if (!row) return problem("not_found", "no such rule");
    await audit(tx, at, { action: row.enabled ? "enabled" : "disabled", rule: row.name, by });
    return done(row);
  }, "the rule changed meanwhile");
}

/** Moves rule `id` one place up or down in the order. */
export function moveRule(
  deps: ActionDeps,
  id: number,
  direction: "up" | "down",
  by: string,
): Promise<Result<RuleRow>> {
  return transact(deps.db, async (tx) => {
    const at = deps.now();
    const row = await moveRuleRow(tx, id, direction, at) ? await getRuleRow(tx, id) : null;
    if (!row) return problem("not_found", "no such rule");
    await audit(tx, at, { action: "moved", rule: row.name, by, direction });
    return done(row);
  }, "the rules changed meanwhile");
}

/** Sets the order of every rule; `ids` must list each rule exactly once. */
export function reorderRules(
  deps: ActionDeps,
  ids: number[],
  by: string,
): Promise<Result<RuleRow[]>> {
  return transact(deps.db, async (tx) => {
    const at = deps.now();
    if (!await reorderRuleRows(tx, ids, at)) {
      return problem("invalid", "ids: must list every rule exactly once");
    }
    await audit(tx, at, { action: "reordered", rule: "*", by });
    return done(await listRuleRows(tx));
  }, "the rules changed meanwhile");
}

/** Deletes rule `id`; its name is the value. */
export function deleteRule(deps: ActionDeps, id: number, by: string): Promise<Result<string>> {
  return transact(deps.db, async (tx) => {
    const name = await deleteRuleRow(tx, id);
    if (name === null) return problem("not_found", "no such rule");
    await audit(tx, deps.now(), { action: "deleted", rule: name, by });
    return done(name);
  }, "the rule changed meanwhile");
}

/**
 * Replaces every rule with those of a rules file (`deno task cli rules import`); nothing changes
 * when any rule is invalid.
 */
export function importRules(deps: ActionDeps, json: unknown): Promise<Result<{ count: number }>> {
  return transact(deps.db, async (tx) => {
    const parsed = parseRules(json);
    if (!parsed.ok) return problem("invalid", "no rule was imported", parsed.errors);
    const at = deps.now();
    await replaceRules(tx, parsed.rules, at);
    await recordEvent(tx, {
      event: "rule_changed",
      at,
      detail: { via: "cli import", rules: parsed.rules.map((r) => r.name) },
    });
    return done({ count: parsed.rules.length });
  }, "two rules have the same name");
}

/** What an import on the rules page did: the names added and the names replaced. */
export interface RulesMerge {
  created: string[];
  updated: string[];
}

/**
 * Imports one rule (an object) or several (a list) as exported: a rule whose name a stored rule
 * has (case-insensitively) replaces that rule's definition, keeping its row, place and files;
 * the others are added last, in file order. Every other stored rule stays. Nothing changes when
 * one rule is invalid.
 */
export function mergeRules(
  deps: ActionDeps,
  json: unknown,
  by: string,
): Promise<Result<RulesMerge>> {
  return transact(deps.db, async (tx) => {
    const list = Array.isArray(json) ? json : [json];
    if (list.length === 0) return problem("invalid", "the file has no rule");
    const parsed = parseRules(list);
    if (!parsed.ok) return problem("invalid", "no rule was imported", parsed.errors);
    const at = deps.now();
    const stored = await listRuleRows(tx);
    const definitions = exportRules(parsed.rules);
    const merged: RulesMerge = { created: [], updated: [] };
    for (const [i, rule] of parsed.rules.entries()) {
      const fields = {
        name: rule.name,
        enabled: rule.enabled,
        priority: rule.priority,
        definition: definitions[i],
      };
      const same = stored.find((r) => r.name.toLowerCase() === rule.name.toLowerCase());
      if (same) {
        await updateRuleRow(tx, same.id, fields, at);
        merged.updated.push(rule.name);
      } else {
        await insertRule(tx, fields, at);
        merged.created.push(rule.name);
      }
    }
    await recordEvent(tx, {
      event: "rule_changed",
      at,
      detail: {
        via: "admin import",
        rules: parsed.rules.map((r) => r.name),
        by,
        created: merged.created,
        updated: merged.updated,
      },
    });
    return done(merged);
  }, TAKEN);
}
