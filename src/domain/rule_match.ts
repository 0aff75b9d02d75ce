/**
 * Which rule answers a message (`decideRule`). Rules run by priority, highest first, then in file
 * order; the first whose conditions all hold wins, and the trail records why each rule evaluated
 * before it missed.
 *
 * Regexes run on RE2 (src/domain/rule_regex.ts) rather than on JS RegExp, whose backtracking
 * makes `(a+)+$` exponential and even `.*a.*b` cubic in the input length. A search costs at most
 * program size × characters; each message's evaluation has a budget of such steps, and a rule
 * whose regex would go past it misses, with the reason in the trail.
 */

import { headerValues, type ParsedEmail } from "./email.ts";
import { addressMatches } from "./address_glob.ts";
import { compileRuleRegex } from "./rule_regex.ts";
import { activeOn, publicHolidays, scheduleHolds } from "./schedule.ts";
import {
  DEFAULT_RULE_BUDGET,
  MAX_BODY_MATCH_CHARS,
  MAX_SUBJECT_MATCH_CHARS,
  type Rule,
  type RuleBudget,
  type RuleContext,
  type RuleDecision,
  type RuleTrailEntry,
} from "./rules.ts";
import type { RuleConditions } from "./rule_conditions.ts";
import { show } from "./json_checks.ts";

/**
 * Picks the rule that answers a message: enabled rules by priority (highest first), then file
 * order; the first whose conditions all hold wins. The trail lists every rule looked at, up to
 * and including the winner, with the reason it missed or hit. Regexes share `budget`; a rule
 * whose regex would exceed what is left misses without running it.
 */
export function decideRule(
  rules: readonly Rule[],
  context: RuleContext,
  budget: RuleBudget = DEFAULT_RULE_BUDGET,
): RuleDecision {
  const ordered = rules
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => b.rule.priority - a.rule.priority || a.index - b.index)
    .map((x) => x.rule);
  const trail: RuleTrailEntry[] = [];
  const meter: RegexMeter = { budget: budget.steps, spent: 0 };
  for (const rule of ordered) {
    if (!rule.enabled) {
      trail.push({ rule: rule.name, hit: false, why: "disabled" });
      continue;
    }
    const result = matchRule(rule, context, meter);
    trail.push({ rule: rule.name, hit: result.hit, why: result.why });
    if (result.hit) return { matched: rule, trail, steps: meter.spent };
  }
  return { matched: null, trail, steps: meter.spent };
}

/** Regex steps allowed and spent so far for one message; `matchRule` adds to `spent`. */
export interface RegexMeter {
  budget: number;
  spent: number;
}

/**
 * Whether one rule's conditions all hold for a message (its `enabled` flag is not looked at),
 * with the first condition that failed, or the list of those that held. Regex searches are
 * charged to `meter` (by default a budget of its own).
 */
export function matchRule(
  rule: Rule,
  context: RuleContext,
  meter: RegexMeter = { budget: DEFAULT_RULE_BUDGET.steps, spent: 0 },
): { hit: boolean; why: string } {
  let period: string | null = null;
  if (rule.activeFrom !== undefined || rule.activeUntil !== undefined) {
    if (!context.at) return miss("has an active period, and the message has no arrival time");
    const zone = rule.when.schedule?.timeZone ?? context.timeZone ?? "UTC";
    const active = activeOn(
      { from: rule.activeFrom ?? null, until: rule.activeUntil ?? null },
      context.at,
      zone,
    );
    if (!active.hit) return miss(active.why);
    period = active.why;
  }
  const r = conditionsHold(rule.when, context, meter);
  if (!r.hit || period === null) return r;
  return { hit: true, why: r.why === "no conditions" ? period : `${period}; ${r.why}` };
}

/**
 * Whether a group of conditions all hold, with the first that failed, or those that held. `any`
 * holds when one of its groups does; `not` when its group does not.
 */
function conditionsHold(
  w: RuleConditions,
  context: RuleContext,
  meter: RegexMeter,
): { hit: boolean; why: string } {
  const { email, classification, account } = context;
  const held: string[] = [];
  if (w.schedule !== undefined) {
    if (!context.at) return miss("has a schedule, and the message has no arrival time");
    const holidays = context.holidays ?? publicHolidays;
    const r = scheduleHolds(w.schedule, context.at, context.timeZone ?? "UTC", holidays);
    if (!r.hit) return miss(r.why);
    held.push(r.why);
  }

  if (w.kind !== undefined) {
    if (classification.kind !== w.kind) {
      return miss(`kind is ${classification.kind}, the rule wants ${w.kind}`);
    }
    held.push(`kind is ${w.kind}`);
  }
  if (w.account !== undefined) {
    const names = [account.name, ...account.addresses].map((a) => a.trim().toLowerCase());
    if (!w.account.some((a) => names.includes(a.toLowerCase()))) {
      return miss(`account ${show(account.name)} is not ${w.account.map(show).join(" or ")}`);
    }
    held.push("account matches");
  }
  if (w.from !== undefined) {
    const from = email.from[0]?.address ?? "";
    const glob = w.from.find((g) => addressMatches(g, from));
    if (glob === undefined) {
      return miss(`from ${show(from)} matches none of ${w.from.map(show).join(", ")}`);
    }
    held.push(`from matches ${show(glob)}`);
  }
  if (w.original_from !== undefined) {
    const original = classification.kind === "forwarded"
      ? (classification.original?.fromAddress ?? "").toLowerCase()
      : "";
    const glob = w.original_from.find((g) => addressMatches(g, original));
    if (glob === undefined) {
      return miss(
        `original sender ${show(original)} matches none of ${w.original_from.map(show).join(", ")}`,
      );
    }
    held.push(`original sender matches ${show(glob)}`);
  }
  const subject = (email.subject ?? "").slice(0, MAX_SUBJECT_MATCH_CHARS);
  const subjectFailed = textFailed(
    "subject",
    subject,
    { contains: w.subject_contains, regex: w.subject_regex },
    meter,
    held,
  );
  if (subjectFailed !== null) return miss(subjectFailed);
  if (w.body_contains !== undefined || w.body_regex !== undefined) {
    const bodyFailed = textFailed(
      "body",
      bodyText(email),
      { contains: w.body_contains, regex: w.body_regex },
      meter,
      held,
    );
    if (bodyFailed !== null) return miss(bodyFailed);
  }
  for (const c of w.header ?? []) {
    const values = headerValues(email, c.name);
    if (values.length === 0) return miss(`header ${c.name} is absent`);
    if (c.equals !== undefined) {
      const want = c.equals.trim().toLowerCase();
      if (!values.some((v) => v.trim().toLowerCase() === want)) {
        return miss(`header ${c.name} is not ${show(c.equals)}`);
      }
      held.push(`header ${c.name} is ${show(c.equals)}`);
    } else if (c.contains !== undefined) {
      const want = c.contains.toLowerCase();
      if (!values.some((v) => v.toLowerCase().includes(want))) {
        return miss(`header ${c.name} does not contain ${show(c.contains)}`);
      }
      held.push(`header ${c.name} contains ${show(c.contains)}`);
    } else {
      held.push(`header ${c.name} is present`);
    }
  }
  if (w.any !== undefined) {
    const misses: string[] = [];
    let hit: { hit: boolean; why: string } | null = null;
    for (const group of w.any) {
      const r = conditionsHold(group, context, meter);
      if (r.hit) {
        hit = r;
        break;
      }
      misses.push(r.why);
    }
    if (!hit) return miss(`none of any holds (${misses.join(" | ")})`);
    held.push(`any: ${hit.why}`);
  }
  if (w.not !== undefined) {
    const r = conditionsHold(w.not, context, meter);
    if (r.hit) return miss(`not: ${r.why}`);
    held.push(`not: ${r.why}`);
  }
  return { hit: true, why: held.length === 0 ? "no conditions" : held.join("; ") };
}

function miss(why: string): { hit: false; why: string } {
  return { hit: false, why };
}

/**
 * The `…_contains` and `…_regex` conditions on one text of the mail (its subject or its body):
 * why the first that fails does, or null when all hold, with what held pushed onto `held`.
 */
function textFailed(
  what: "subject" | "body",
  text: string,
  want: { contains?: string; regex?: string },
  meter: RegexMeter,
  held: string[],
): string | null {
  if (want.contains !== undefined) {
    if (!text.toLowerCase().includes(want.contains.toLowerCase())) {
      return `${what} does not contain ${show(want.contains)}`;
    }
    held.push(`${what} contains ${show(want.contains)}`);
  }
  if (want.regex !== undefined) {
    const r = regexTest(`${what}_regex`, want.regex, text, meter);
    if (r !== true) return r === false ? `${what} does not match /${want.regex}/` : r;
    held.push(`${what} matches /${want.regex}/`);
  }
  return null;
}

/** The text a body condition looks at: the text part, else the HTML without tags; capped. */
function bodyText(email: ParsedEmail): string {
  if (email.text !== null && email.text !== "") return email.text.slice(0, MAX_BODY_MATCH_CHARS);
  if (email.html === null) return "";
  return htmlToText(email.html.slice(0, MAX_BODY_MATCH_CHARS * 4)).slice(0, MAX_BODY_MATCH_CHARS);
}

/** Removes tags and decodes the common entities; good enough to search in, never displayed. */
function htmlToText(html: string): string {
  let out = "";
  let inTag = false;
  for (const c of html) {
    if (c === "<") inTag = true;
    else if (c === ">" && inTag) inTag = false;
    else if (!inTag) out += c;
  }
  return out.replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, e: string) => ENTITIES[e] ?? "");
}

const ENTITIES: Readonly<Record<string, string>> = Object.freeze({
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  "#39": "'",
  nbsp: " ",
});

/** true, false, or why the regex was not run (invalid, or past the message's budget). */
function regexTest(
  field: string,
  pattern: string,
  text: string,
  meter: RegexMeter,
): boolean | string {
  const compiled = compileRuleRegex(pattern);
  if (!compiled.ok) return `invalid regex /${pattern}/: ${compiled.error}`;
  const cost = compiled.regex.cost(text);
  const left = Math.max(0, meter.budget - meter.spent);
  if (cost > left) {
    return `${field} not evaluated: it would take ${count(cost)} steps and ${count(left)} of ` +
      `this message's budget of ${count(meter.budget)} remain; treated as no match`;
  }
  meter.spent += cost;
  return compiled.regex.test(text);
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
