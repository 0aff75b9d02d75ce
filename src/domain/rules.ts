/**
 * Auto-reply rules: the JSON format users edit (`parseRules` / `exportRules`) and the decision
 * of which rule answers a message (`decideRule`). A rule is a named predicate (`when`, every
 * condition must hold) plus an action (reply with a template, or ignore). Rules run by priority,
 * highest first, then in file order; the first that matches wins, and the trail records why each
 * rule evaluated before it missed.
 *
 * Regexes run on a small linear-time engine (Thompson NFA simulation) rather than on JS RegExp,
 * whose backtracking makes `(a+)+$` exponential and even `.*a.*b` cubic in the input length.
 * The engine's cost is bounded by pattern size × input size, and both are capped.
 */

import { type Classification, headerValues, type MessageKind, type ParsedEmail } from "./email.ts";
import type { ReplyTarget } from "./auto_reply_guard.ts";
import { parseTemplate } from "./template.ts";

/** What a rule requires of a message. Keys mirror the JSON file; every present key must hold. */
export interface RuleConditions {
  kind?: MessageKind;
  /** The account's name or one of its addresses (any of the list), case-insensitive. */
  account?: string[];
  /** Globs on the From address (`*@empresa.test`), or on its domain when there is no `@`. */
  from?: string[];
  /** Globs on the forwarded message's original sender, like `from`. */
  original_from?: string[];
  subject_contains?: string;
  subject_regex?: string;
  body_contains?: string;
  body_regex?: string;
  /** Header checks; all must hold. */
  header?: HeaderCondition[];
}

/** A header is present (no `equals`/`contains`), equals a value, or contains a text. */
export interface HeaderCondition {
  name: string;
  /** Compared with each value of the header, trimmed and case-insensitive. */
  equals?: string;
  /** Searched in each value of the header, case-insensitive. */
  contains?: string;
}

/** What a rule does when it matches. */
export type RuleAction =
  | {
    type: "reply";
    to: ReplyTarget;
    /** Template sources, validated by `parseRules`. */
    subject: string;
    text: string;
    /** null: the HTML part is made from the text. */
    html: string | null;
  }
  | { type: "ignore" };

/** One validated rule. */
export interface Rule {
  /** Unique in a rule set; the rule's identity in dedup keys and rate-limit handles. */
  name: string;
  enabled: boolean;
  /** Higher runs first; ties keep file order. Default 0. */
  priority: number;
  when: RuleConditions;
  action: RuleAction;
}

/** What `parseRules` made of a file: every rule, or every problem found (all at once). */
export type RulesParse = { ok: true; rules: Rule[] } | { ok: false; errors: string[] };

/** The message and account a rule is evaluated against. */
export interface RuleContext {
  email: ParsedEmail;
  classification: Classification;
  account: { name: string; addresses: readonly string[] };
}

/** One line of the decision trail: a rule, whether it matched, and why. */
export interface RuleTrailEntry {
  rule: string;
  hit: boolean;
  why: string;
}

/** The winning rule (or null) and the trail of every rule evaluated up to it. */
export interface RuleDecision {
  matched: Rule | null;
  trail: RuleTrailEntry[];
}

/** The subject used when a reply action gives none. */
export const DEFAULT_SUBJECT_TEMPLATE = "Re: {{subject}}";
/** Most rules in one file. */
export const MAX_RULES = 500;
/** Longest regex pattern, in characters. */
export const MAX_REGEX_LENGTH = 500;
/** Most NFA instructions a regex may compile to (repetitions expanded). */
export const MAX_REGEX_PROGRAM = 1_000;
/** Largest count in `{n,m}`. */
export const MAX_REGEX_REPEAT = 100;
/** Longest subject text a condition looks at (characters); the rest is ignored. */
export const MAX_SUBJECT_MATCH_CHARS = 2_000;
/** Longest body text a condition looks at (characters); the rest is ignored. */
export const MAX_BODY_MATCH_CHARS = 10_000;

const MAX_NAME_LENGTH = 100;
const MAX_GLOB_LENGTH = 320;
const MAX_CONTAINS_LENGTH = 1_000;

const RULE_KEYS = new Set(["name", "enabled", "priority", "when", "reply", "ignore", "action"]);
const WHEN_KEYS = new Set([
  "kind",
  "account",
  "from",
  "original_from",
  "subject_contains",
  "subject_regex",
  "body_contains",
  "body_regex",
  "header",
]);
const REPLY_KEYS = new Set(["to", "subject", "text", "html"]);
const HEADER_KEYS = new Set(["name", "equals", "contains"]);

/**
 * Validates a rules file (already JSON-parsed): an array of rules. Unknown keys, wrong types,
 * duplicate names, unknown template variables and unsafe or invalid regexes are refused, each
 * error naming the rule and the field; every problem is reported at once.
 */
export function parseRules(json: unknown): RulesParse {
  if (!Array.isArray(json)) {
    return { ok: false, errors: ["the rules file must be a JSON array of rules"] };
  }
  if (json.length > MAX_RULES) {
    return { ok: false, errors: [`the file has ${json.length} rules; the limit is ${MAX_RULES}`] };
  }
  const errors: string[] = [];
  const rules: Rule[] = [];
  const seen = new Map<string, number>();
  json.forEach((raw, index) => {
    const label = ruleLabel(raw, index);
    const problems: string[] = [];
    const rule = parseRule(raw, problems);
    // Names are compared even when a rule has other problems, so that one pass reports all.
    const name = isObject(raw) && typeof raw.name === "string" ? raw.name.trim() : "";
    if (name !== "") {
      const earlier = seen.get(name.toLowerCase());
      if (earlier !== undefined) {
        problems.push(`name: ${JSON.stringify(name)} is already used by rule ${earlier + 1}`);
      } else {
        seen.set(name.toLowerCase(), index);
      }
    }
    errors.push(...problems.map((p) => `${label}: ${p}`));
    if (rule && problems.length === 0) rules.push(rule);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules };
}

function ruleLabel(raw: unknown, index: number): string {
  const name = isObject(raw) && typeof raw.name === "string" && raw.name.trim() !== ""
    ? JSON.stringify(raw.name.length > 60 ? raw.name.slice(0, 59) + "…" : raw.name)
    : "(no name)";
  return `rule ${index + 1} ${name}`;
}

function parseRule(raw: unknown, errors: string[]): Rule | null {
  if (!isObject(raw)) {
    errors.push("must be an object");
    return null;
  }
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.has(key)) {
      errors.push(`${key}: unknown field (known: ${[...RULE_KEYS].join(", ")})`);
    }
  }

  let name = "";
  if (typeof raw.name !== "string" || raw.name.trim() === "") {
    errors.push("name: is required and must be a non-empty string");
  } else if (raw.name.length > MAX_NAME_LENGTH) {
    errors.push(`name: is longer than ${MAX_NAME_LENGTH} characters`);
  } else if (hasControl(raw.name)) {
    errors.push("name: contains a control character");
  } else {
    name = raw.name.trim();
  }

  let enabled = true;
  if (raw.enabled !== undefined) {
    if (typeof raw.enabled !== "boolean") errors.push("enabled: must be true or false");
    else enabled = raw.enabled;
  }

  let priority = 0;
  if (raw.priority !== undefined) {
    if (
      typeof raw.priority !== "number" || !Number.isInteger(raw.priority) ||
      Math.abs(raw.priority) > 1_000_000
    ) {
      errors.push("priority: must be an integer between -1000000 and 1000000");
    } else {
      priority = raw.priority;
    }
  }

  const when = parseConditions(raw.when, errors);
  const action = parseAction(raw, errors);
  if (errors.length > 0 || !when || !action) return null;
  return { name, enabled, priority, when, action };
}

function parseConditions(raw: unknown, errors: string[]): RuleConditions | null {
  if (raw === undefined) return {};
  if (!isObject(raw)) {
    errors.push("when: must be an object of conditions");
    return null;
  }
  const when: RuleConditions = {};
  for (const key of Object.keys(raw)) {
    if (!WHEN_KEYS.has(key)) {
      errors.push(`when.${key}: unknown condition (known: ${[...WHEN_KEYS].join(", ")})`);
    }
  }
  if (raw.kind !== undefined) {
    if (raw.kind !== "forwarded" && raw.kind !== "direct") {
      errors.push(`when.kind: must be "forwarded" or "direct", got ${show(raw.kind)}`);
    } else {
      when.kind = raw.kind;
    }
  }
  if (raw.account !== undefined) {
    const list = stringList(raw.account, "when.account", errors, MAX_GLOB_LENGTH);
    if (list) when.account = list.map((a) => a.trim());
  }
  for (const field of ["from", "original_from"] as const) {
    if (raw[field] === undefined) continue;
    const list = stringList(raw[field], `when.${field}`, errors, MAX_GLOB_LENGTH);
    if (!list) continue;
    // deno-lint-ignore no-control-regex -- refusing control characters is the point
    const bad = list.find((g) => /[\s\u0000-\u001f"<>,;()\\]/.test(g));
    if (bad !== undefined) {
      errors.push(
        `when.${field}: ${show(bad)} is not an address glob ` +
          `(use * and ? on an address or a domain, e.g. "*@empresa.test" or "empresa.test")`,
      );
    } else {
      when[field] = list.map((g) => g.trim().toLowerCase());
    }
  }
  for (const field of ["subject_contains", "body_contains"] as const) {
    if (raw[field] === undefined) continue;
    const v = raw[field];
    if (typeof v !== "string" || v === "") {
      errors.push(`when.${field}: must be a non-empty string`);
    } else if (v.length > MAX_CONTAINS_LENGTH) {
      errors.push(`when.${field}: is longer than ${MAX_CONTAINS_LENGTH} characters`);
    } else {
      when[field] = v;
    }
  }
  for (const field of ["subject_regex", "body_regex"] as const) {
    if (raw[field] === undefined) continue;
    const v = raw[field];
    if (typeof v !== "string" || v === "") {
      errors.push(`when.${field}: must be a non-empty string`);
      continue;
    }
    const compiled = compileRegex(v);
    if (!compiled.ok) errors.push(`when.${field}: ${compiled.error}`);
    else when[field] = v;
  }
  if (raw.header !== undefined) {
    const list = Array.isArray(raw.header) ? raw.header : [raw.header];
    if (list.length === 0) errors.push("when.header: must not be an empty list");
    const parsed: HeaderCondition[] = [];
    list.forEach((item, i) => {
      const at = Array.isArray(raw.header) ? `when.header[${i}]` : "when.header";
      const c = parseHeaderCondition(item, at, errors);
      if (c) parsed.push(c);
    });
    if (parsed.length === list.length && list.length > 0) when.header = parsed;
  }
  return when;
}

function parseHeaderCondition(raw: unknown, at: string, errors: string[]): HeaderCondition | null {
  if (!isObject(raw)) {
    errors.push(`${at}: must be an object like {"name": "X-Priority", "equals": "1"}`);
    return null;
  }
  let ok = true;
  for (const key of Object.keys(raw)) {
    if (!HEADER_KEYS.has(key)) {
      errors.push(`${at}.${key}: unknown field (known: name, equals, contains)`);
      ok = false;
    }
  }
  // RFC 5322 §3.6.8: a field name is printable ASCII except colon.
  if (typeof raw.name !== "string" || !/^[\x21-\x39\x3b-\x7e]{1,100}$/.test(raw.name)) {
    errors.push(`${at}.name: must be a header field name (printable ASCII, no colon or space)`);
    ok = false;
  }
  const out: HeaderCondition = { name: typeof raw.name === "string" ? raw.name : "" };
  for (const field of ["equals", "contains"] as const) {
    if (raw[field] === undefined) continue;
    const v = raw[field];
    if (typeof v !== "string" || v.length > MAX_CONTAINS_LENGTH) {
      errors.push(`${at}.${field}: must be a string of at most ${MAX_CONTAINS_LENGTH} characters`);
      ok = false;
    } else {
      out[field] = v;
    }
  }
  if (raw.equals !== undefined && raw.contains !== undefined) {
    errors.push(`${at}: use either equals or contains, not both`);
    ok = false;
  }
  return ok ? out : null;
}

function parseAction(raw: Record<string, unknown>, errors: string[]): RuleAction | null {
  const ignore = raw.ignore === true || raw.action === "ignore";
  if (raw.ignore !== undefined && typeof raw.ignore !== "boolean") {
    errors.push("ignore: must be true or false");
    return null;
  }
  if (raw.action !== undefined && raw.action !== "ignore" && raw.action !== "reply") {
    errors.push(`action: must be "reply" or "ignore", got ${show(raw.action)}`);
    return null;
  }
  if (raw.action === "reply" && raw.ignore === true) {
    errors.push('action: "reply" contradicts "ignore": true; keep one of them');
    return null;
  }
  if (ignore) {
    if (raw.reply !== undefined) {
      errors.push("reply: a rule that ignores a message cannot also reply; remove one of them");
      return null;
    }
    return { type: "ignore" };
  }
  if (raw.reply === undefined) {
    errors.push('reply: is required (or set "ignore": true)');
    return null;
  }
  if (!isObject(raw.reply)) {
    errors.push("reply: must be an object with to, subject, text and html");
    return null;
  }
  const reply = raw.reply;
  let ok = true;
  for (const key of Object.keys(reply)) {
    if (!REPLY_KEYS.has(key)) {
      errors.push(`reply.${key}: unknown field (known: to, subject, text, html)`);
      ok = false;
    }
  }
  if (reply.to !== "sender" && reply.to !== "original_sender") {
    errors.push(`reply.to: must be "sender" or "original_sender", got ${show(reply.to)}`);
    ok = false;
  }
  const subject = reply.subject === undefined ? DEFAULT_SUBJECT_TEMPLATE : reply.subject;
  const checks: Array<[string, unknown, boolean, boolean]> = [
    ["subject", subject, true, true],
    ["text", reply.text, false, true],
    ["html", reply.html, false, false],
  ];
  for (const [field, value, singleLine, required] of checks) {
    if ((value === undefined || value === null) && !required) continue;
    if (typeof value !== "string" || (required && value.trim() === "")) {
      errors.push(`reply.${field}: ${required ? "is required and " : ""}must be a string`);
      ok = false;
      continue;
    }
    const parsed = parseTemplate(value, { singleLine });
    if (!parsed.ok) {
      errors.push(...parsed.errors.map((e) => `reply.${field}: ${e}`));
      ok = false;
    }
  }
  if (!ok) return null;
  return {
    type: "reply",
    to: reply.to as ReplyTarget,
    subject: subject as string,
    text: reply.text as string,
    html: typeof reply.html === "string" ? reply.html : null,
  };
}

/**
 * The JSON form of rules, the shape `parseRules` accepts: `parseRules(exportRules(r))` gives
 * `r` back. Single-item lists are written as plain strings/objects.
 */
export function exportRules(rules: readonly Rule[]): Record<string, unknown>[] {
  return rules.map((rule) => {
    const when: Record<string, unknown> = {};
    const w = rule.when;
    if (w.kind !== undefined) when.kind = w.kind;
    if (w.account !== undefined) when.account = oneOrMany(w.account);
    if (w.from !== undefined) when.from = oneOrMany(w.from);
    if (w.original_from !== undefined) when.original_from = oneOrMany(w.original_from);
    for (
      const key of ["subject_contains", "subject_regex", "body_contains", "body_regex"] as const
    ) {
      if (w[key] !== undefined) when[key] = w[key];
    }
    if (w.header !== undefined) {
      when.header = oneOrMany(w.header.map((c) => ({ ...c })));
    }
    const out: Record<string, unknown> = {
      name: rule.name,
      enabled: rule.enabled,
      priority: rule.priority,
      when,
    };
    if (rule.action.type === "ignore") {
      out.ignore = true;
    } else {
      const reply: Record<string, unknown> = {
        to: rule.action.to,
        subject: rule.action.subject,
        text: rule.action.text,
      };
      if (rule.action.html !== null) reply.html = rule.action.html;
      out.reply = reply;
    }
    return out;
  });
}

function oneOrMany<T>(list: T[]): T | T[] {
  return list.length === 1 ? list[0] : list;
}

/**
 * Picks the rule that answers a message: enabled rules by priority (highest first), then file
 * order; the first whose conditions all hold wins. The trail lists every rule looked at, up to
 * and including the winner, with the reason it missed or hit.
 */
export function decideRule(rules: readonly Rule[], context: RuleContext): RuleDecision {
  const ordered = rules
    .map((rule, index) => ({ rule, index }))
    .sort((a, b) => b.rule.priority - a.rule.priority || a.index - b.index)
    .map((x) => x.rule);
  const trail: RuleTrailEntry[] = [];
  for (const rule of ordered) {
    if (!rule.enabled) {
      trail.push({ rule: rule.name, hit: false, why: "disabled" });
      continue;
    }
    const result = matchRule(rule, context);
    trail.push({ rule: rule.name, hit: result.hit, why: result.why });
    if (result.hit) return { matched: rule, trail };
  }
  return { matched: null, trail };
}

/**
 * Whether one rule's conditions all hold for a message (its `enabled` flag is not looked at),
 * with the first condition that failed, or the list of those that held.
 */
export function matchRule(rule: Rule, context: RuleContext): { hit: boolean; why: string } {
  const w = rule.when;
  const { email, classification, account } = context;
  const held: string[] = [];

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
  if (w.subject_contains !== undefined) {
    if (!subject.toLowerCase().includes(w.subject_contains.toLowerCase())) {
      return miss(`subject does not contain ${show(w.subject_contains)}`);
    }
    held.push(`subject contains ${show(w.subject_contains)}`);
  }
  if (w.subject_regex !== undefined) {
    const r = regexTest(w.subject_regex, subject);
    if (r !== true) return miss(r === false ? `subject does not match /${w.subject_regex}/` : r);
    held.push(`subject matches /${w.subject_regex}/`);
  }
  if (w.body_contains !== undefined || w.body_regex !== undefined) {
    const body = bodyText(email);
    if (w.body_contains !== undefined) {
      if (!body.toLowerCase().includes(w.body_contains.toLowerCase())) {
        return miss(`body does not contain ${show(w.body_contains)}`);
      }
      held.push(`body contains ${show(w.body_contains)}`);
    }
    if (w.body_regex !== undefined) {
      const r = regexTest(w.body_regex, body);
      if (r !== true) return miss(r === false ? `body does not match /${w.body_regex}/` : r);
      held.push(`body matches /${w.body_regex}/`);
    }
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
  return { hit: true, why: held.length === 0 ? "no conditions" : held.join("; ") };
}

function miss(why: string): { hit: false; why: string } {
  return { hit: false, why };
}

/**
 * Matches an address against a glob, case-insensitively. A glob with `@` is matched against the
 * whole address; one without is a domain glob matched against the part after `@`
 * (`empresa.test` is that domain only, `*.empresa.test` its subdomains). `*` is any run of
 * characters, `?` one character.
 */
export function addressMatches(glob: string, address: string): boolean {
  const a = address.trim().toLowerCase();
  const g = glob.trim().toLowerCase();
  if (a === "" || g === "") return false;
  if (g.includes("@")) return globMatch(g, a);
  const at = a.lastIndexOf("@");
  return at >= 0 && globMatch(g, a.slice(at + 1));
}

/** Wildcard match with `*` and `?`: greedy with one backtrack point, O(pattern × text). */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
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

function regexTest(pattern: string, text: string): boolean | string {
  const compiled = compileRegex(pattern);
  if (!compiled.ok) return `invalid regex /${pattern}/: ${compiled.error}`;
  return regexSearch(compiled.program, text);
}

// ---------------------------------------------------------------------------------------------
// A linear-time regex engine for rule conditions.
//
// Syntax (a subset of JavaScript's): literals, `.`, `[...]` / `[^...]` with ranges, `\d \w \s`
// and their negations, `\b \B`, `^ $` (per line), groups `( )` `(?: )` `(?<name> )`,
// alternation `|`, quantifiers `* + ? {n} {n,} {n,m}` (a lazy `?` suffix is accepted),
// escapes `\n \r \t \f \v \0 \xHH \uHHHH \u{H…}` and escaped punctuation. Matching is always
// case-insensitive and searches anywhere in the text. Backreferences and lookaround are
// refused: they are what makes matching non-regular. Cost: O(text × program) per match.
// ---------------------------------------------------------------------------------------------

type ClassItem =
  | { kind: "range"; lo: number; hi: number }
  | { kind: "builtin"; name: "d" | "w" | "s"; negated: boolean };

type RegexNode =
  | { t: "empty" }
  | { t: "char"; cp: number }
  | { t: "any" }
  | { t: "class"; items: ClassItem[]; negated: boolean }
  | { t: "assert"; kind: "bol" | "eol" | "wb" | "nwb" }
  | { t: "cat"; parts: RegexNode[] }
  | { t: "alt"; options: RegexNode[] }
  | { t: "rep"; node: RegexNode; min: number; max: number };

type Inst =
  | { op: "char"; cp: number }
  | { op: "any" }
  | {
    op: "class";
    items: ClassItem[];
    negated: boolean;
    /** The answer for each ASCII code point, case folding included, computed once. */
    ascii: readonly boolean[];
  }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "assert"; kind: "bol" | "eol" | "wb" | "nwb" }
  | { op: "match" };

/** A compiled rule regex: the NFA program `regexSearch` runs. */
export interface RegexProgram {
  readonly source: string;
  readonly insts: readonly Inst[];
}

/** Compiles a rule regex, or says why it is refused. */
export function compileRegex(
  source: string,
): { ok: true; program: RegexProgram } | { ok: false; error: string } {
  if (source.length > MAX_REGEX_LENGTH) {
    return { ok: false, error: `is longer than ${MAX_REGEX_LENGTH} characters` };
  }
  try {
    const parser = new RegexParser(Array.from(source, (c) => c.codePointAt(0)!));
    const node = parser.parse();
    const insts: Inst[] = [];
    emit(node, insts);
    push(insts, { op: "match" });
    return { ok: true, program: { source, insts } };
  } catch (e) {
    if (e instanceof RegexError) return { ok: false, error: e.message };
    throw e;
  }
}

/** Whether the program matches anywhere in `text` (case-insensitive, `^`/`$` per line). */
export function regexSearch(program: RegexProgram, text: string): boolean {
  const input = Array.from(text, (c) => c.codePointAt(0)!);
  const insts = program.insts;
  const n = insts.length;
  // Numeric copies of the program so that the inner loops stay on small integers.
  const op = new Int8Array(n);
  const arg = new Int32Array(n);
  const alt = new Int32Array(n);
  insts.forEach((inst, i) => {
    op[i] = OPCODE[inst.op];
    if (inst.op === "char") arg[i] = inst.cp;
    else if (inst.op === "jmp") arg[i] = inst.x;
    else if (inst.op === "split") [arg[i], alt[i]] = [inst.x, inst.y];
    else if (inst.op === "assert") arg[i] = ASSERTION[inst.kind];
  });
  const mark = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n + 1);
  let current = new Int32Array(n);
  let next = new Int32Array(n);
  let currentSize = 0;
  let nextSize = 0;

  // Adds the thread at `pc` and everything reachable from it without consuming input, at
  // position `pos`, to `list`; returns true when Match is reachable. Each instruction enters a
  // list at most once per position: that bounds the work and ends empty loops like `(a*)*`.
  const add = (list: Int32Array, size: number, pc: number, pos: number): number => {
    let top = 0;
    stack[top++] = pc;
    while (top > 0) {
      const at = stack[--top];
      if (mark[at] === pos) continue;
      mark[at] = pos;
      switch (op[at]) {
        case OP_JMP:
          stack[top++] = arg[at];
          break;
        case OP_SPLIT:
          stack[top++] = alt[at];
          stack[top++] = arg[at];
          break;
        case OP_ASSERT:
          if (assertionHolds(arg[at], input, pos)) stack[top++] = at + 1;
          break;
        case OP_MATCH:
          return -1;
        default:
          list[size++] = at;
      }
    }
    return size;
  };

  for (let pos = 0; pos <= input.length; pos++) {
    // Unanchored search: a new thread starts at every position.
    currentSize = add(current, currentSize, 0, pos);
    if (currentSize < 0) return true;
    if (pos === input.length) break;
    const c = input[pos];
    const lc = foldCase(c);
    nextSize = 0;
    for (let i = 0; i < currentSize; i++) {
      const pc = current[i];
      let ok: boolean;
      switch (op[pc]) {
        case OP_CHAR:
          ok = arg[pc] === lc;
          break;
        case OP_ANY:
          ok = !isLineBreak(c);
          break;
        default: {
          const inst = insts[pc] as Extract<Inst, { op: "class" }>;
          ok = c < 128 ? inst.ascii[c] : classMatchesFolded(inst.items, inst.negated, c, lc);
        }
      }
      if (ok) {
        nextSize = add(next, nextSize, pc + 1, pos + 1);
        if (nextSize < 0) return true;
      }
    }
    [current, next] = [next, current];
    currentSize = nextSize;
  }
  return false;
}

const OP_CHAR = 0;
const OP_ANY = 1;
const OP_CLASS = 2;
const OP_SPLIT = 3;
const OP_JMP = 4;
const OP_ASSERT = 5;
const OP_MATCH = 6;
const OPCODE: Readonly<Record<Inst["op"], number>> = Object.freeze({
  char: OP_CHAR,
  any: OP_ANY,
  class: OP_CLASS,
  split: OP_SPLIT,
  jmp: OP_JMP,
  assert: OP_ASSERT,
  match: OP_MATCH,
});
const ASSERTION: Readonly<Record<"bol" | "eol" | "wb" | "nwb", number>> = Object.freeze({
  bol: 0,
  eol: 1,
  wb: 2,
  nwb: 3,
});

class RegexError extends Error {}

class RegexParser {
  #src: number[];
  #at = 0;

  constructor(src: number[]) {
    this.#src = src;
  }

  parse(): RegexNode {
    const node = this.#alternation(0);
    if (this.#at < this.#src.length) {
      throw new RegexError(`unmatched ")" at position ${this.#at}`);
    }
    return node;
  }

  #peek(): number | undefined {
    return this.#src[this.#at];
  }

  #alternation(depth: number): RegexNode {
    if (depth > 50) throw new RegexError("groups are nested too deeply");
    const options = [this.#concat(depth)];
    while (this.#peek() === 0x7c /* | */) {
      this.#at++;
      options.push(this.#concat(depth));
    }
    return options.length === 1 ? options[0] : { t: "alt", options };
  }

  #concat(depth: number): RegexNode {
    const parts: RegexNode[] = [];
    for (;;) {
      const c = this.#peek();
      if (c === undefined || c === 0x7c || c === 0x29 /* ) */) break;
      parts.push(this.#repeat(depth));
    }
    if (parts.length === 0) return { t: "empty" };
    return parts.length === 1 ? parts[0] : { t: "cat", parts };
  }

  #repeat(depth: number): RegexNode {
    const start = this.#at;
    let node = this.#atom(depth);
    let quantified = false;
    for (;;) {
      const at = this.#at;
      const bounds = this.#quantifier();
      if (!bounds) break;
      if (this.#peek() === 0x3f /* ? */) this.#at++; // lazy: the same set of matches
      if ((node.t === "assert" || node.t === "empty") && this.#src[start] !== 0x28 /* ( */) {
        throw new RegexError(`nothing to repeat at position ${start}`);
      }
      if (quantified) throw new RegexError(`a quantifier follows another at position ${at}`);
      node = { t: "rep", node, min: bounds[0], max: bounds[1] };
      quantified = true;
    }
    return node;
  }

  /** Reads `*`, `+`, `?` or a counted `{…}` at the cursor, or returns null when none is there. */
  #quantifier(): [number, number] | null {
    const c = this.#peek();
    if (c === 0x7b /* { */) {
      const counted = this.#counted();
      if (!counted) throw new RegexError(`"{" at position ${this.#at} must be escaped as \\{`);
      return counted;
    }
    const bounds: [number, number] | null = c === 0x2a /* * */
      ? [0, Infinity]
      : c === 0x2b /* + */
      ? [1, Infinity]
      : c === 0x3f /* ? */
      ? [0, 1]
      : null;
    if (bounds) this.#at++;
    return bounds;
  }

  /** Parses `{n}`, `{n,}` or `{n,m}` at the cursor; leaves the cursor after `}`. */
  #counted(): [number, number] | null {
    let i = this.#at + 1;
    const digits = () => {
      let s = "";
      while (i < this.#src.length && this.#src[i] >= 0x30 && this.#src[i] <= 0x39) {
        s += String.fromCharCode(this.#src[i++]);
      }
      return s;
    };
    const a = digits();
    if (a === "") return null;
    let b: string | null = a;
    if (this.#src[i] === 0x2c /* , */) {
      i++;
      b = digits();
    }
    if (this.#src[i] !== 0x7d /* } */) return null;
    const min = Number(a);
    const max = b === "" ? Infinity : Number(b);
    if (min > MAX_REGEX_REPEAT || (max !== Infinity && max > MAX_REGEX_REPEAT)) {
      throw new RegexError(`a repeat count above ${MAX_REGEX_REPEAT} at position ${this.#at}`);
    }
    if (max < min) throw new RegexError(`{${a},${b}} has max < min at position ${this.#at}`);
    this.#at = i + 1;
    return [min, max];
  }

  #atom(depth: number): RegexNode {
    const c = this.#src[this.#at++];
    switch (c) {
      case 0x2e /* . */:
        return { t: "any" };
      case 0x5e /* ^ */:
        return { t: "assert", kind: "bol" };
      case 0x24 /* $ */:
        return { t: "assert", kind: "eol" };
      case 0x5b /* [ */:
        return this.#class();
      case 0x28 /* ( */:
        return this.#group(depth);
      case 0x5c /* \ */: {
        const e = this.#escape(false);
        return e.t === "char" ? { t: "char", cp: foldCase(e.cp) } : e;
      }
      case 0x2a:
      case 0x2b:
      case 0x3f:
        throw new RegexError(`nothing to repeat at position ${this.#at - 1}`);
      case 0x7b:
        throw new RegexError(`"{" at position ${this.#at - 1} must be escaped as \\{`);
      default:
        return { t: "char", cp: foldCase(c) };
    }
  }

  #group(depth: number): RegexNode {
    if (this.#peek() === 0x3f /* ? */) {
      const next = this.#src[this.#at + 1];
      const after = this.#src[this.#at + 2];
      if (next === 0x3a /* : */) {
        this.#at += 2;
      } else if (next === 0x3c /* < */ && after !== 0x3d && after !== 0x21) {
        // (?<name> … ): a named group; names are not used for matching.
        const close = this.#src.indexOf(0x3e, this.#at);
        if (close < 0) throw new RegexError("unterminated group name");
        this.#at = close + 1;
      } else if (next === 0x3d || next === 0x21 || next === 0x3c) {
        throw new RegexError(
          `lookaround (?=, (?!, (?<=, (?<! at position ${this.#at - 1} is not supported`,
        );
      } else {
        throw new RegexError(`unknown group syntax "(?" at position ${this.#at - 1}`);
      }
    }
    const inner = this.#alternation(depth + 1);
    if (this.#src[this.#at] !== 0x29 /* ) */) {
      throw new RegexError(`missing ")" for the group opened before position ${this.#at}`);
    }
    this.#at++;
    return inner;
  }

  #class(): RegexNode {
    let negated = false;
    if (this.#peek() === 0x5e) {
      negated = true;
      this.#at++;
    }
    const items: ClassItem[] = [];
    for (;;) {
      const c = this.#src[this.#at];
      if (c === undefined) throw new RegexError('missing "]" to close a character class');
      if (c === 0x5d /* ] */) {
        this.#at++;
        break;
      }
      const lo = this.#classAtom();
      if (
        this.#src[this.#at] === 0x2d /* - */ && this.#src[this.#at + 1] !== 0x5d &&
        this.#src[this.#at + 1] !== undefined
      ) {
        this.#at++;
        const hi = this.#classAtom();
        if (typeof lo !== "number" || typeof hi !== "number") {
          throw new RegexError(`a range cannot use \\d, \\w or \\s (near position ${this.#at})`);
        }
        if (hi < lo) throw new RegexError(`range out of order near position ${this.#at}`);
        items.push({ kind: "range", lo, hi });
      } else if (typeof lo === "number") {
        items.push({ kind: "range", lo, hi: lo });
      } else {
        items.push(lo);
      }
    }
    return { t: "class", items, negated };
  }

  #classAtom(): number | ClassItem {
    const c = this.#src[this.#at++];
    if (c !== 0x5c) return c;
    const e = this.#escape(true);
    if (e.t === "char") return e.cp;
    if (e.t === "class" && e.items.length === 1 && e.items[0].kind === "builtin") {
      return e.items[0];
    }
    throw new RegexError(`\\B is not allowed in a class (near position ${this.#at})`);
  }

  /** After a backslash; characters come back unfolded. In a class, `\b` is a backspace. */
  #escape(inClass: boolean): RegexNode {
    const c = this.#src[this.#at++];
    if (c === undefined) throw new RegexError("the pattern ends with a lone backslash");
    const ch = String.fromCodePoint(c);
    const builtin = (name: "d" | "w" | "s", negated: boolean): RegexNode => ({
      t: "class",
      items: [{ kind: "builtin", name, negated }],
      negated: false,
    });
    switch (ch) {
      case "d":
      case "w":
      case "s":
        return builtin(ch, false);
      case "D":
      case "W":
      case "S":
        return builtin(ch.toLowerCase() as "d" | "w" | "s", true);
      case "b":
        return inClass ? { t: "char", cp: 0x08 } : { t: "assert", kind: "wb" };
      case "B":
        if (inClass) throw new RegexError("\\B is not allowed in a class");
        return { t: "assert", kind: "nwb" };
      case "n":
        return { t: "char", cp: 0x0a };
      case "r":
        return { t: "char", cp: 0x0d };
      case "t":
        return { t: "char", cp: 0x09 };
      case "f":
        return { t: "char", cp: 0x0c };
      case "v":
        return { t: "char", cp: 0x0b };
      case "0":
        return { t: "char", cp: 0 };
      case "x":
        return { t: "char", cp: this.#hex(2, 2) };
      case "u":
        if (this.#peek() === 0x7b /* { */) {
          this.#at++;
          const cp = this.#hex(1, 6);
          if (this.#src[this.#at++] !== 0x7d || cp > 0x10ffff) {
            throw new RegexError("bad \\u{…} escape");
          }
          return { t: "char", cp };
        }
        return { t: "char", cp: this.#hex(4, 4) };
    }
    if (c >= 0x31 && c <= 0x39) {
      throw new RegexError(`backreferences (\\${ch}) are not supported`);
    }
    if (ch === "k") throw new RegexError("named backreferences (\\k) are not supported");
    if (/[A-Za-z0-9]/.test(ch)) throw new RegexError(`unknown escape \\${ch}`);
    return { t: "char", cp: c };
  }

  #hex(min: number, max: number): number {
    let s = "";
    while (s.length < max && /[0-9a-fA-F]/.test(String.fromCodePoint(this.#peek() ?? 0x20))) {
      s += String.fromCodePoint(this.#src[this.#at++]);
    }
    if (s.length < min) throw new RegexError("bad hexadecimal escape");
    return parseInt(s, 16);
  }
}

function push(insts: Inst[], inst: Inst): number {
  if (insts.length >= MAX_REGEX_PROGRAM) {
    throw new RegexError(
      `is too large once its repetitions are expanded (limit ${MAX_REGEX_PROGRAM} steps)`,
    );
  }
  insts.push(inst);
  return insts.length - 1;
}

/** Thompson construction: appends the instructions for `node` to `insts`. */
function emit(node: RegexNode, insts: Inst[]): void {
  switch (node.t) {
    case "empty":
      return;
    case "char":
      push(insts, { op: "char", cp: node.cp });
      return;
    case "any":
      push(insts, { op: "any" });
      return;
    case "class":
      push(insts, {
        op: "class",
        items: node.items,
        negated: node.negated,
        ascii: Array.from(
          { length: 128 },
          (_, c) => classMatchesFolded(node.items, node.negated, c, foldCase(c)),
        ),
      });
      return;
    case "assert":
      push(insts, { op: "assert", kind: node.kind });
      return;
    case "cat":
      for (const p of node.parts) emit(p, insts);
      return;
    case "alt": {
      // split L1, next; L1: a; jmp end; next: split L2, … ; last option falls through.
      const jumps: number[] = [];
      node.options.forEach((option, i) => {
        if (i < node.options.length - 1) {
          const split = push(insts, { op: "split", x: 0, y: 0 });
          emit(option, insts);
          jumps.push(push(insts, { op: "jmp", x: 0 }));
          insts[split] = { op: "split", x: split + 1, y: insts.length };
        } else {
          emit(option, insts);
        }
      });
      for (const j of jumps) insts[j] = { op: "jmp", x: insts.length };
      return;
    }
    case "rep": {
      for (let i = 0; i < node.min; i++) emit(node.node, insts);
      if (node.max === Infinity) {
        // L: split body, end; body; jmp L
        const split = push(insts, { op: "split", x: 0, y: 0 });
        emit(node.node, insts);
        push(insts, { op: "jmp", x: split });
        insts[split] = { op: "split", x: split + 1, y: insts.length };
      } else {
        for (let i = node.min; i < node.max; i++) {
          const split = push(insts, { op: "split", x: 0, y: 0 });
          emit(node.node, insts);
          insts[split] = { op: "split", x: split + 1, y: insts.length };
        }
      }
      return;
    }
  }
}

/** Simple case folding to lower case, one code point to one code point. */
function foldCase(cp: number): number {
  if (cp >= 0x41 && cp <= 0x5a) return cp + 32;
  if (cp < 0x80) return cp;
  const lower = String.fromCodePoint(cp).toLowerCase();
  const folded = lower.codePointAt(0)!;
  return lower.length === String.fromCodePoint(folded).length ? folded : cp;
}

function upperCase(cp: number): number {
  if (cp >= 0x61 && cp <= 0x7a) return cp - 32;
  if (cp < 0x80) return cp;
  const upper = String.fromCodePoint(cp).toUpperCase();
  const u = upper.codePointAt(0)!;
  return upper.length === String.fromCodePoint(u).length ? u : cp;
}

function classMatchesFolded(
  items: readonly ClassItem[],
  negated: boolean,
  c: number,
  lc: number,
): boolean {
  const hit = inClass(items, c) || inClass(items, lc) || inClass(items, upperCase(c));
  return hit !== negated;
}

function inClass(items: readonly ClassItem[], c: number): boolean {
  for (const item of items) {
    if (item.kind === "range") {
      if (c >= item.lo && c <= item.hi) return true;
    } else if (builtinMatches(item.name, c) !== item.negated) {
      return true;
    }
  }
  return false;
}

function builtinMatches(name: "d" | "w" | "s", c: number): boolean {
  if (name === "d") return c >= 0x30 && c <= 0x39;
  if (name === "w") return isWordChar(c);
  // JavaScript's \s: ECMAScript WhiteSpace and LineTerminator.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function isWordChar(c: number | undefined): boolean {
  return c !== undefined &&
    ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x5f);
}

function isLineBreak(c: number | undefined): boolean {
  return c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
}

function assertionHolds(kind: number, input: readonly number[], pos: number): boolean {
  switch (kind) {
    case 0: // ^ (per line)
      return pos === 0 || isLineBreak(input[pos - 1]);
    case 1: // $ (per line)
      return pos === input.length || isLineBreak(input[pos]);
    case 2: // \b
      return isWordChar(input[pos - 1]) !== isWordChar(input[pos]);
    default: // \B
      return isWordChar(input[pos - 1]) === isWordChar(input[pos]);
  }
}

// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(
  v: unknown,
  field: string,
  errors: string[],
  maxLength: number,
): string[] | null {
  const list = typeof v === "string" ? [v] : v;
  if (
    !Array.isArray(list) || list.length === 0 ||
    !list.every((x) => typeof x === "string" && x.trim() !== "")
  ) {
    errors.push(`${field}: must be a non-empty string or a non-empty list of strings`);
    return null;
  }
  const long = list.find((x: string) => x.length > maxLength);
  if (long !== undefined) {
    errors.push(`${field}: ${show(long)} is longer than ${maxLength} characters`);
    return null;
  }
  return list as string[];
}

function hasControl(s: string): boolean {
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s);
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 80 ? v.slice(0, 79) + "…" : v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? s.slice(0, 79) + "…" : s;
}
