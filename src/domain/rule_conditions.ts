/**
 * A rule's conditions (`when`): what they are, their JSON validated with every problem reported
 * by its path, and their JSON export. Matching them is src/domain/rule_match.ts.
 */
import type { MessageKind } from "./email.ts";
import { compileRuleRegex } from "./rule_regex.ts";
import { exportSchedule, parseSchedule, type Schedule } from "./schedule.ts";
import { isObject, show, stringList } from "./json_checks.ts";

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
  /** Opening hours (or, with `outside`, the hours outside them) in which the message arrived. */
  schedule?: Schedule;
  /** At least one of these groups of conditions holds. */
  any?: RuleConditions[];
  /** This group of conditions does not hold (all of it, taken together). */
  not?: RuleConditions;
}

/** A header is present (no `equals`/`contains`), equals a value, or contains a text. */
export interface HeaderCondition {
  name: string;
  /** Compared with each value of the header, trimmed and case-insensitive. */
  equals?: string;
  /** Searched in each value of the header, case-insensitive. */
  contains?: string;
}

const MAX_GLOB_LENGTH = 320;
const MAX_CONTAINS_LENGTH = 1_000;
const MAX_CONDITION_DEPTH = 5;
const MAX_ANY_ITEMS = 50;

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
  "schedule",
  "any",
  "not",
]);
const HEADER_KEYS = new Set(["name", "equals", "contains"]);

/** Validates a `when` object; every problem goes to `errors` with its path (`at`). */
export function parseConditions(
  raw: unknown,
  at: string,
  errors: string[],
  depth = 0,
): RuleConditions | null {
  if (raw === undefined) return {};
  if (!isObject(raw)) {
    errors.push(`${at}: must be an object of conditions`);
    return null;
  }
  if (depth > MAX_CONDITION_DEPTH) {
    errors.push(`${at}: any and not nest deeper than ${MAX_CONDITION_DEPTH} levels`);
    return null;
  }
  const when: RuleConditions = {};
  for (const key of Object.keys(raw)) {
    if (!WHEN_KEYS.has(key)) {
      errors.push(`${at}.${key}: unknown condition (known: ${[...WHEN_KEYS].join(", ")})`);
    }
  }
  if (raw.kind !== undefined) {
    if (raw.kind !== "forwarded" && raw.kind !== "direct") {
      errors.push(`${at}.kind: must be "forwarded" or "direct", got ${show(raw.kind)}`);
    } else {
      when.kind = raw.kind;
    }
  }
  if (raw.account !== undefined) {
    const list = stringList(raw.account, `${at}.account`, errors, MAX_GLOB_LENGTH);
    if (list) when.account = list.map((a) => a.trim());
  }
  for (const field of ["from", "original_from"] as const) {
    if (raw[field] === undefined) continue;
    const list = stringList(raw[field], `${at}.${field}`, errors, MAX_GLOB_LENGTH);
    if (!list) continue;
    // deno-lint-ignore no-control-regex -- refusing control characters is the point
    const bad = list.find((g) => /[\s\u0000-\u001f"<>,;()\\]/.test(g));
    if (bad !== undefined) {
      errors.push(
        `${at}.${field}: ${show(bad)} is not an address glob ` +
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
      errors.push(`${at}.${field}: must be a non-empty string`);
    } else if (v.length > MAX_CONTAINS_LENGTH) {
      errors.push(`${at}.${field}: is longer than ${MAX_CONTAINS_LENGTH} characters`);
    } else {
      when[field] = v;
    }
  }
  for (const field of ["subject_regex", "body_regex"] as const) {
    if (raw[field] === undefined) continue;
    const v = raw[field];
    if (typeof v !== "string" || v === "") {
      errors.push(`${at}.${field}: must be a non-empty string`);
      continue;
    }
    const compiled = compileRuleRegex(v);
    if (!compiled.ok) errors.push(`${at}.${field}: ${compiled.error}`);
    else when[field] = v;
  }
  if (raw.header !== undefined) {
    const list = Array.isArray(raw.header) ? raw.header : [raw.header];
    if (list.length === 0) errors.push(`${at}.header: must not be an empty list`);
    const parsed: HeaderCondition[] = [];
    list.forEach((item, i) => {
      const where = Array.isArray(raw.header) ? `${at}.header[${i}]` : `${at}.header`;
      const c = parseHeaderCondition(item, where, errors);
      if (c) parsed.push(c);
    });
    if (parsed.length === list.length && list.length > 0) when.header = parsed;
  }
  if (raw.schedule !== undefined) {
    const schedule = parseSchedule(raw.schedule, `${at}.schedule`, errors);
    if (schedule) when.schedule = schedule;
  }
  if (raw.any !== undefined) {
    if (!Array.isArray(raw.any) || raw.any.length === 0 || raw.any.length > MAX_ANY_ITEMS) {
      errors.push(
        `${at}.any: must be a list of 1 to ${MAX_ANY_ITEMS} condition objects, one of which must hold`,
      );
    } else {
      const list = raw.any.map((c, i) => parseConditions(c, `${at}.any[${i}]`, errors, depth + 1));
      if (list.every((c) => c !== null)) when.any = list as RuleConditions[];
    }
  }
  if (raw.not !== undefined) {
    const not = parseConditions(raw.not, `${at}.not`, errors, depth + 1);
    if (not) when.not = not;
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

/** The JSON form of a `when` object, the shape `parseConditions` accepts. */
export function exportConditions(w: RuleConditions): Record<string, unknown> {
  const when: Record<string, unknown> = {};
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
  if (w.schedule !== undefined) when.schedule = exportSchedule(w.schedule);
  if (w.any !== undefined) when.any = w.any.map(exportConditions);
  if (w.not !== undefined) when.not = exportConditions(w.not);
  return when;
}

function oneOrMany<T>(list: T[]): T | T[] {
  return list.length === 1 ? list[0] : list;
}

// ---------------------------------------------------------------------------------------------
