/**
 * Auto-reply rules: what a rule is, and the JSON format users edit (`parseRules` /
 * `exportRules`), validated so that one pass lists every problem with its path. A rule is a named
 * predicate (`when`, every condition must hold) plus an action (reply with a template, or
 * ignore). Which rule answers a message is decided in src/domain/rule_match.ts.
 */

import type { Classification, ParsedEmail } from "./email.ts";
import type { ReplyTarget } from "./auto_reply_guard.ts";
import { parseTemplate } from "./template.ts";
import { unstorableStrings } from "./storable_text.ts";
import { type HolidayCalendar, parseActiveDate } from "./schedule.ts";
import { exportConditions, parseConditions, type RuleConditions } from "./rule_conditions.ts";
import { hasControl, isObject, show } from "./json_checks.ts";
import { isValidAddress } from "./auto_reply_guard.ts";
import { isReplyLanguage, REPLY_LANGUAGES, type ReplyLanguage } from "./reply_language.ts";

/** The texts of a reply in one language: template sources, and the locale of its dates. */
export interface ReplyVariant {
  subject: string;
  text: string;
  /** null: the HTML part is made from the text. */
  html: string | null;
  /** BCP 47 locale of dates in this variant; absent: the language's own (see `variantLocale`). */
  locale?: string;
}
import {
  exportRateLimitOverrides,
  parseRateLimitOverrides,
  type RateLimitOverrides,
} from "./rate_limit.ts";

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
    /**
     * Answer despite list headers and `Precedence: bulk` (transactional senders set them);
     * never despite Auto-Submitted, a bounce, or our own mail.
     */
    force?: boolean;
    /** Copies: visible (Cc) and hidden (Bcc) recipients of every reply, plain addresses. */
    cc?: string[];
    bcc?: string[];
    /** Where answers to the reply should go (the Reply-To header). */
    replyTo?: string;
    /** BCP 47 locale of dates in the main (default) texts; absent: pt-BR. */
    locale?: string;
    /** Texts by the message's language; the main texts answer every other language. */
    variants?: Partial<Record<ReplyLanguage, ReplyVariant>>;
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
  /** First local date (YYYY-MM-DD) the rule answers on; absent: from the start. */
  activeFrom?: string;
  /** Last local date the rule answers on, included; absent: no end (a vacation rule has one). */
  activeUntil?: string;
  /** This rule's rate window, breakers and cool-down, over the account's; absent: inherit. */
  limits?: RateLimitOverrides;
}

/** What `parseRules` made of a file: every rule, or every problem found (all at once). */
export type RulesParse = { ok: true; rules: Rule[] } | { ok: false; errors: string[] };

/** The message and account a rule is evaluated against. */
export interface RuleContext {
  email: ParsedEmail;
  classification: Classification;
  account: { name: string; addresses: readonly string[] };
  /** When the message arrived: schedules and active periods are read at this instant. */
  at?: Date;
  /** IANA zone of schedules without one (the account's, else the server's); default UTC. */
  timeZone?: string;
  /** Public holidays of a calendar and year; by default computed on each call. */
  holidays?: HolidayCalendar;
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
  /** Regex steps spent (program size × characters of each search run). */
  steps: number;
}

/**
 * The regex work one message's evaluation may do, in steps (program size × characters searched,
 * the bound of RE2's linear-time search). Counted, not timed, so that the same message and
 * rules always get the same decision however busy the machine is.
 */
export interface RuleBudget {
  steps: number;
}

/**
 * Steps per message by default: a few of the largest regexes over a full body, or a few hundred
 * ordinary ones — tens of milliseconds at most.
 */
export const DEFAULT_RULE_BUDGET: Readonly<RuleBudget> = Object.freeze({ steps: 20_000_000 });

/** The subject used when a reply action gives none. */
export const DEFAULT_SUBJECT_TEMPLATE = "Re: {{subject}}";
/** Most rules in one file. */
export const MAX_RULES = 500;
/** Longest subject text a condition looks at (characters); the rest is ignored. */
export const MAX_SUBJECT_MATCH_CHARS = 2_000;
/** Longest body text a condition looks at (characters); the rest is ignored. */
export const MAX_BODY_MATCH_CHARS = 10_000;

const MAX_NAME_LENGTH = 100;
const RULE_KEYS = new Set([
  "name",
  "enabled",
  "priority",
  "active_from",
  "active_until",
  "when",
  "reply",
  "ignore",
  "action",
  "limits",
]);
const REPLY_KEYS = new Set([
  "to",
  "subject",
  "text",
  "html",
  "force",
  "cc",
  "bcc",
  "reply_to",
  "locale",
  "variants",
]);
const VARIANT_KEYS = new Set(["subject", "text", "html", "locale"]);
/** Most Cc (and, apart, Bcc) addresses on one rule's replies. */
export const MAX_COPY_ADDRESSES = 10;
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
    // Text PostgreSQL cannot store (a NUL, a lone surrogate) is refused wherever it is, by path.
    for (const found of unstorableStrings(raw, "")) {
      const path = found.slice(0, found.lastIndexOf(": "));
      if (!problems.some((p) => p.startsWith(`${path}:`))) problems.push(found);
    }
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

  const when = parseConditions(raw.when, "when", errors);
  const action = parseAction(raw, errors);
  const activeFrom = parseActiveDate(raw.active_from, "active_from", errors);
  const activeUntil = parseActiveDate(raw.active_until, "active_until", errors);
  if (activeFrom !== null && activeUntil !== null && activeUntil < activeFrom) {
    errors.push(`active_until: ${activeUntil} is before active_from ${activeFrom}`);
  }
  let limits: RateLimitOverrides | undefined;
  if (raw.limits !== undefined) {
    const parsed = parseRateLimitOverrides(raw.limits, "limits");
    if (parsed.ok) limits = parsed.overrides;
    else errors.push(...parsed.errors);
  }
  if (errors.length > 0 || !when || !action) return null;
  const rule: Rule = { name, enabled, priority, when, action };
  if (activeFrom !== null) rule.activeFrom = activeFrom;
  if (activeUntil !== null) rule.activeUntil = activeUntil;
  if (limits !== undefined) rule.limits = limits;
  return rule;
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
      errors.push(`reply.${key}: unknown field (known: ${[...REPLY_KEYS].join(", ")})`);
      ok = false;
    }
  }
  if (reply.to !== "sender" && reply.to !== "original_sender") {
    errors.push(`reply.to: must be "sender" or "original_sender", got ${show(reply.to)}`);
    ok = false;
  }
  const subject = reply.subject === undefined ? DEFAULT_SUBJECT_TEMPLATE : reply.subject;
  if (!checkTemplates(reply, "reply", true, errors)) ok = false;
  if (reply.force !== undefined && typeof reply.force !== "boolean") {
    errors.push("reply.force: must be true or false");
    ok = false;
  }
  const cc = addressList(reply.cc, "reply.cc", errors);
  const bcc = addressList(reply.bcc, "reply.bcc", errors);
  let replyTo: string | null = null;
  if (reply.reply_to !== undefined) {
    if (typeof reply.reply_to !== "string" || !isValidAddress(reply.reply_to.trim())) {
      errors.push(`reply.reply_to: ${show(reply.reply_to)} is not one plain e-mail address`);
      ok = false;
    } else {
      replyTo = reply.reply_to.trim().toLowerCase();
    }
  }
  if (cc === null || bcc === null) ok = false;
  const locale = localeField(reply.locale, "reply.locale", errors);
  if (locale === null) ok = false;
  const variants = parseVariants(reply.variants, subject, errors);
  if (variants === null) ok = false;
  if (!ok) return null;
  const action: RuleAction = {
    type: "reply",
    to: reply.to as ReplyTarget,
    subject: subject as string,
    text: reply.text as string,
    html: typeof reply.html === "string" ? reply.html : null,
  };
  if (reply.force === true) action.force = true;
  if (cc && cc.length > 0) action.cc = cc;
  if (bcc && bcc.length > 0) action.bcc = bcc;
  if (replyTo) action.replyTo = replyTo;
  if (locale) action.locale = locale;
  if (variants && Object.keys(variants).length > 0) action.variants = variants;
  return action;
}

/** Validates subject/text/html of a reply or a variant; false when one of them fails. */
function checkTemplates(
  raw: Record<string, unknown>,
  path: string,
  defaultSubject: boolean,
  errors: string[],
): boolean {
  let ok = true;
  const subject = raw.subject === undefined && defaultSubject
    ? DEFAULT_SUBJECT_TEMPLATE
    : raw.subject;
  const checks: Array<[string, unknown, boolean, boolean]> = [
    ["subject", subject, true, defaultSubject],
    ["text", raw.text, false, true],
    ["html", raw.html, false, false],
  ];
  for (const [field, value, singleLine, required] of checks) {
    if ((value === undefined || value === null) && !required) continue;
    if (typeof value !== "string" || (required && value.trim() === "")) {
      errors.push(`${path}.${field}: ${required ? "is required and " : ""}must be a string`);
      ok = false;
      continue;
    }
    const parsed = parseTemplate(value, { singleLine });
    if (!parsed.ok) {
      errors.push(...parsed.errors.map((e) => `${path}.${field}: ${e}`));
      ok = false;
    }
  }
  return ok;
}

/** `reply.cc` / `reply.bcc`: one address or a list, each one plain mailbox, no repeats. */
function addressList(v: unknown, path: string, errors: string[]): string[] | null {
  if (v === undefined) return [];
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list)) {
    errors.push(`${path}: must be an e-mail address or a list of e-mail addresses`);
    return null;
  }
  if (list.length > MAX_COPY_ADDRESSES) {
    errors.push(`${path}: has ${list.length} addresses; the limit is ${MAX_COPY_ADDRESSES}`);
    return null;
  }
  const out: string[] = [];
  let ok = true;
  list.forEach((item, i) => {
    const at = Array.isArray(v) ? `${path}[${i}]` : path;
    if (typeof item !== "string" || !isValidAddress(item.trim())) {
      errors.push(`${at}: ${show(item)} is not one plain e-mail address`);
      ok = false;
      return;
    }
    const address = item.trim().toLowerCase();
    if (out.includes(address)) {
      errors.push(`${at}: ${show(item)} is listed twice`);
      ok = false;
      return;
    }
    out.push(address);
  });
  return ok ? out : null;
}

/** A BCP 47 locale Intl knows; undefined when absent, null when invalid (an error is pushed). */
function localeField(v: unknown, path: string, errors: string[]): string | undefined | null {
  if (v === undefined) return undefined;
  if (typeof v === "string" && v.trim() !== "" && v.length <= 35) {
    try {
      const [canonical] = Intl.getCanonicalLocales(v.trim());
      if (canonical) return canonical;
    } catch {
      // Refused below, with the path.
    }
  }
  errors.push(`${path}: ${show(v)} is not a locale such as "pt-BR", "en-US" or "es"`);
  return null;
}

/** `reply.variants`: texts by language (pt, en, es); the subject defaults to the main one. */
function parseVariants(
  v: unknown,
  mainSubject: unknown,
  errors: string[],
): Partial<Record<ReplyLanguage, ReplyVariant>> | null {
  if (v === undefined) return {};
  if (!isObject(v)) {
    errors.push(
      `reply.variants: must be an object by language, e.g. {"en": {"subject": …, "text": …}}`,
    );
    return null;
  }
  const out: Partial<Record<ReplyLanguage, ReplyVariant>> = {};
  let ok = true;
  for (const [language, raw] of Object.entries(v)) {
    const path = `reply.variants.${language}`;
    if (!isReplyLanguage(language)) {
      errors.push(`${path}: unknown language (known: ${REPLY_LANGUAGES.join(", ")})`);
      ok = false;
      continue;
    }
    if (!isObject(raw)) {
      errors.push(`${path}: must be an object with subject, text and html`);
      ok = false;
      continue;
    }
    let fine = true;
    for (const key of Object.keys(raw)) {
      if (!VARIANT_KEYS.has(key)) {
        errors.push(`${path}.${key}: unknown field (known: ${[...VARIANT_KEYS].join(", ")})`);
        fine = false;
      }
    }
    if (!checkTemplates(raw, path, false, errors)) fine = false;
    if (raw.subject === undefined && typeof mainSubject !== "string") fine = false;
    const locale = localeField(raw.locale, `${path}.locale`, errors);
    if (locale === null || !fine) {
      ok = false;
      continue;
    }
    const variant: ReplyVariant = {
      subject: typeof raw.subject === "string" ? raw.subject : mainSubject as string,
      text: raw.text as string,
      html: typeof raw.html === "string" ? raw.html : null,
    };
    if (locale) variant.locale = locale;
    out[language] = variant;
  }
  return ok ? out : null;
}

/**
 * The JSON form of rules, the shape `parseRules` accepts: `parseRules(exportRules(r))` gives
 * `r` back. Single-item lists are written as plain strings/objects.
 */
export function exportRules(rules: readonly Rule[]): Record<string, unknown>[] {
  return rules.map((rule) => {
    const when = exportConditions(rule.when);
    const out: Record<string, unknown> = {
      name: rule.name,
      enabled: rule.enabled,
      priority: rule.priority,
    };
    if (rule.activeFrom !== undefined) out.active_from = rule.activeFrom;
    if (rule.activeUntil !== undefined) out.active_until = rule.activeUntil;
    if (rule.limits !== undefined) out.limits = exportRateLimitOverrides(rule.limits);
    out.when = when;
    if (rule.action.type === "ignore") {
      out.ignore = true;
    } else {
      const reply: Record<string, unknown> = {
        to: rule.action.to,
        subject: rule.action.subject,
        text: rule.action.text,
      };
      if (rule.action.html !== null) reply.html = rule.action.html;
      if (rule.action.force) reply.force = true;
      if (rule.action.cc) reply.cc = rule.action.cc;
      if (rule.action.bcc) reply.bcc = rule.action.bcc;
      if (rule.action.replyTo) reply.reply_to = rule.action.replyTo;
      if (rule.action.locale) reply.locale = rule.action.locale;
      if (rule.action.variants) {
        const variants: Record<string, unknown> = {};
        for (const [language, variant] of Object.entries(rule.action.variants)) {
          const v: Record<string, unknown> = { subject: variant.subject, text: variant.text };
          if (variant.html !== null) v.html = variant.html;
          if (variant.locale) v.locale = variant.locale;
          variants[language] = v;
        }
        reply.variants = variants;
      }
      out.reply = reply;
    }
    return out;
  });
}
