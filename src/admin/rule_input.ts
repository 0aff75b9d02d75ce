/**
 * Checks one rule as a person typed it (the JSON of one rule in the rules-file format) with the
 * same validation as `rules import`, plus the name's uniqueness among the stored rules.
 */
import { exportRules, parseRules, type Rule } from "../domain/rules.ts";

export type RuleInput =
  | { ok: true; rule: Rule; definition: Record<string, unknown> }
  | { ok: false; errors: string[] };

/**
 * Validates `input` (JSON text or an already-parsed value). `otherNames` are the names of the
 * other stored rules (not the one being edited).
 */
export function readRuleInput(input: unknown, otherNames: readonly string[]): RuleInput {
  let value = input;
  if (typeof input === "string") {
    if (input.length > 200_000) return { ok: false, errors: ["the rule is too long"] };
    try {
      value = JSON.parse(input);
    } catch (e) {
      return { ok: false, errors: [`not valid JSON: ${(e as Error).message}`] };
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, errors: ["a rule must be one JSON object (not a list)"] };
  }
  const parsed = parseRules([value]);
  if (!parsed.ok) {
    return { ok: false, errors: parsed.errors.map((e) => e.replace(/^rule 1 /, "")) };
  }
  const rule = parsed.rules[0];
  const clash = otherNames.find((n) => n.toLowerCase() === rule.name.toLowerCase());
  if (clash !== undefined) {
    return { ok: false, errors: [`name: "${rule.name}" is already used by another rule`] };
  }
  return { ok: true, rule, definition: exportRules([rule])[0] };
}

/** A starting point for a new rule. */
export const NEW_RULE_TEMPLATE = {
  name: "ack-direct",
  enabled: true,
  priority: 0,
  when: { kind: "direct" },
  reply: {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "Olá {{from_name}}, recebemos sua mensagem e responderemos em breve.",
  },
};
