/**
 * The rule editor's form and the rules file's JSON, both ways. A rule becomes a `RuleForm` (what
 * the form's inputs hold: strings, checkboxes, rows of conditions), the form's posted fields become
 * a `RuleForm` again, and a `RuleForm` becomes the JSON of one rule, which is then validated by
 * `readRuleInput` exactly as a typed JSON rule is. Each JSON path the form wrote is remembered
 * with the input that wrote it, so that the validator's problems (`when.any[1].from: …`) are shown
 * next to that input.
 *
 * Field names are flat (`when.any.1.r.0.value`) so that a plain form post, without JavaScript,
 * carries the whole rule.
 */
import { exportRules, parseRules, type Rule, type RuleAction } from "../domain/rules.ts";
import type { HeaderCondition, RuleConditions } from "../domain/rule_conditions.ts";
import type { Schedule } from "../domain/schedule.ts";
import { REPLY_LANGUAGES, type ReplyLanguage } from "../domain/reply_language.ts";

/** One condition: what it looks at, how, and the value (`arg`: a header's name). */
export interface ConditionRow {
  field: string;
  op: string;
  arg: string;
  value: string;
}

/** Opening hours as the form holds them: ranges per weekday, Sunday first. */
export interface ScheduleForm {
  timezone: string;
  /** Seven texts, Sunday first: `"09:00-12:00, 13:00-18:00"`; empty: closed. */
  hours: string[];
  /** Holiday calendars, `"BR, BR-SP"`. */
  calendars: string;
  /** Holiday dates, `"2026-12-24, 2026-12-31"`. */
  dates: string;
  outside: boolean;
}

/** A group of conditions that must all hold, with its `any` groups and its `not` group. */
export interface GroupForm {
  rows: ConditionRow[];
  schedule: ScheduleForm | null;
  any: GroupForm[];
  not: GroupForm | null;
}

export interface VariantForm {
  subject: string;
  text: string;
  html: string;
  locale: string;
}

export interface BreakerForm {
  scope: string;
  max: string;
  within: string;
}

/** Everything the rule editor's form holds. */
export interface RuleForm {
  name: string;
  enabled: boolean;
  priority: string;
  activeFrom: string;
  activeUntil: string;
  action: "reply" | "ignore";
  reply: {
    to: string;
    subject: string;
    text: string;
    html: string;
    force: boolean;
    cc: string;
    bcc: string;
    replyTo: string;
    locale: string;
    variants: Record<ReplyLanguage, VariantForm>;
  };
  limits: { window: string; coolDown: string; coolDownManual: boolean; breakers: BreakerForm[] };
  when: GroupForm;
}

/** Weekday keys as the schedule writes them, Sunday first (the form shows Monday first). */
export const WEEKDAY_KEYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

/** The fields a condition row can look at, and the operators each allows (the first: default). */
export const CONDITION_FIELDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  kind: ["is"],
  account: ["is"],
  from: ["matches"],
  original_from: ["matches"],
  subject: ["contains", "regex"],
  body: ["contains", "regex"],
  header: ["present", "equals", "contains"],
});

/** Every operator, in the order the form lists them. */
export const CONDITION_OPS = ["is", "matches", "contains", "regex", "present", "equals"] as const;

/** The condition key of the rules file a field and operator write (header aside). */
function conditionKey(field: string, op: string): keyof RuleConditions | null {
  switch (`${field}/${op}`) {
    case "kind/is":
      return "kind";
    case "account/is":
      return "account";
    case "from/matches":
      return "from";
    case "original_from/matches":
      return "original_from";
    case "subject/contains":
      return "subject_contains";
    case "subject/regex":
      return "subject_regex";
    case "body/contains":
      return "body_contains";
    case "body/regex":
      return "body_regex";
    default:
      return null;
  }
}

/** Most rows, groups and breakers read from one post: far more than a person writes. */
const MAX_ITEMS = 60;
/** Most groups (any, except when) and rows one post is read with, in all. */
const MAX_GROUPS = 200;
const MAX_ROWS = 1_000;
/** Longest input name read from a post. */
const MAX_NAME_LENGTH = 200;
/** Deepest nesting of `any`/`not` read from a post (the rules allow 5 levels). */
const MAX_DEPTH = 6;

// --- names of the inputs ------------------------------------------------------------------------

/** The names of the inputs, shared by the page that renders them and the reader of the post. */
export const names = {
  row: (group: string, i: number, part: keyof ConditionRow) => `${group}.r.${i}.${part}`,
  /** A hidden input that says an `any` or `not` group exists (it may have no rows). */
  group: (group: string) => `${group}.g`,
  any: (group: string, i: number) => `${group}.any.${i}`,
  not: (group: string) => `${group}.not`,
  schedule: (group: string) => `${group}.s`,
  scheduleField: (group: string, part: "timezone" | "calendars" | "dates" | "outside") =>
    `${group}.s.${part}`,
  scheduleDay: (group: string, day: number) => `${group}.s.hours.${WEEKDAY_KEYS[day]}`,
  variant: (language: ReplyLanguage, part: keyof VariantForm) =>
    `reply.variants.${language}.${part}`,
  breaker: (i: number, part: keyof BreakerForm) => `limits.breakers.${i}.${part}`,
};

/** The root group's name prefix. */
export const ROOT_GROUP = "when";

// --- rule → form ---------------------------------------------------------------------------------

function emptyVariant(): VariantForm {
  return { subject: "", text: "", html: "", locale: "" };
}

/** An empty schedule: Monday to Friday, 09:00 to 18:00, in the account's zone. */
export function newScheduleForm(): ScheduleForm {
  return {
    timezone: "",
    hours: ["", "09:00-18:00", "09:00-18:00", "09:00-18:00", "09:00-18:00", "09:00-18:00", ""],
    calendars: "",
    dates: "",
    outside: false,
  };
}

/** A group without conditions. */
export function newGroupForm(rows: ConditionRow[] = []): GroupForm {
  return { rows, schedule: null, any: [], not: null };
}

/** A row that looks at nothing yet (skipped until a field is chosen). */
export function newConditionRow(): ConditionRow {
  return { field: "", op: "", arg: "", value: "" };
}

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${
    String(minutes % 60).padStart(2, "0")
  }`;
}

function scheduleToForm(s: Schedule): ScheduleForm {
  return {
    timezone: s.timeZone ?? "",
    hours: s.hours.map((ranges) => ranges.map(([a, b]) => `${hhmm(a)}-${hhmm(b)}`).join(", ")),
    calendars: s.holidayCalendars.join(", "),
    dates: s.holidayDates.join(", "),
    outside: s.outside,
  };
}

function groupToForm(w: RuleConditions): GroupForm {
  const rows: ConditionRow[] = [];
  const row = (field: string, op: string, value: string, arg = "") =>
    rows.push({ field, op, arg, value });
  if (w.kind !== undefined) row("kind", "is", w.kind);
  if (w.account !== undefined) row("account", "is", w.account.join(", "));
  if (w.from !== undefined) row("from", "matches", w.from.join(", "));
  if (w.original_from !== undefined) row("original_from", "matches", w.original_from.join(", "));
  if (w.subject_contains !== undefined) row("subject", "contains", w.subject_contains);
  if (w.subject_regex !== undefined) row("subject", "regex", w.subject_regex);
  if (w.body_contains !== undefined) row("body", "contains", w.body_contains);
  if (w.body_regex !== undefined) row("body", "regex", w.body_regex);
  for (const h of w.header ?? []) {
    if (h.equals !== undefined) row("header", "equals", h.equals, h.name);
    else if (h.contains !== undefined) row("header", "contains", h.contains, h.name);
    else row("header", "present", "", h.name);
  }
  return {
    rows,
    schedule: w.schedule ? scheduleToForm(w.schedule) : null,
    any: (w.any ?? []).map(groupToForm),
    not: w.not ? groupToForm(w.not) : null,
  };
}

/** The form of a new rule, or of a rule whose action is to ignore (reply fields at rest). */
function restingReply(): RuleForm["reply"] {
  return {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "",
    html: "",
    force: false,
    cc: "",
    bcc: "",
    replyTo: "",
    locale: "",
    variants: { pt: emptyVariant(), en: emptyVariant(), es: emptyVariant() },
  };
}

function replyToForm(a: Extract<RuleAction, { type: "reply" }>): RuleForm["reply"] {
  const variants = { pt: emptyVariant(), en: emptyVariant(), es: emptyVariant() };
  for (const language of REPLY_LANGUAGES) {
    const v = a.variants?.[language];
    if (v) {
      variants[language] = {
        subject: v.subject,
        text: v.text,
        html: v.html ?? "",
        locale: v.locale ?? "",
      };
    }
  }
  return {
    to: a.to,
    subject: a.subject,
    text: a.text,
    html: a.html ?? "",
    force: a.force === true,
    cc: (a.cc ?? []).join(", "),
    bcc: (a.bcc ?? []).join(", "),
    replyTo: a.replyTo ?? "",
    locale: a.locale ?? "",
    variants,
  };
}

/** The form that shows `rule`. */
export function ruleToForm(rule: Rule): RuleForm {
  const limits = rule.limits ?? {};
  return {
    name: rule.name,
    enabled: rule.enabled,
    priority: String(rule.priority),
    activeFrom: rule.activeFrom ?? "",
    activeUntil: rule.activeUntil ?? "",
    action: rule.action.type,
    reply: rule.action.type === "reply" ? replyToForm(rule.action) : restingReply(),
    limits: {
      window: limits.windowSeconds === undefined ? "" : String(limits.windowSeconds),
      coolDown: typeof limits.coolDownSeconds === "number" ? String(limits.coolDownSeconds) : "",
      coolDownManual: limits.coolDownSeconds === null,
      breakers: (limits.breakers ?? []).map((b) => ({
        scope: b.scope,
        max: String(b.max),
        within: String(b.withinSeconds),
      })),
    },
    when: groupToForm(rule.when),
  };
}

/** The form of a rule not written yet. */
export function newRuleForm(): RuleForm {
  return {
    name: "",
    enabled: true,
    priority: "0",
    activeFrom: "",
    activeUntil: "",
    action: "reply",
    reply: restingReply(),
    limits: { window: "", coolDown: "", coolDownManual: false, breakers: [] },
    when: newGroupForm([newConditionRow()]),
  };
}

// --- form → fields → form -------------------------------------------------------------------------

/** The inputs of a form as a post carries them (a checkbox: present with "1" when ticked). */
export function ruleFormFields(form: RuleForm): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const put = (name: string, value: string) => out.push([name, value]);
  const tick = (name: string, on: boolean) => on && put(name, "1");
  put("name", form.name);
  tick("enabled", form.enabled);
  put("priority", form.priority);
  put("active_from", form.activeFrom);
  put("active_until", form.activeUntil);
  put("action", form.action);
  const r = form.reply;
  put("reply.to", r.to);
  put("reply.subject", r.subject);
  put("reply.text", r.text);
  put("reply.html", r.html);
  tick("reply.force", r.force);
  put("reply.cc", r.cc);
  put("reply.bcc", r.bcc);
  put("reply.reply_to", r.replyTo);
  put("reply.locale", r.locale);
  for (const language of REPLY_LANGUAGES) {
    for (const part of ["subject", "text", "html", "locale"] as const) {
      put(names.variant(language, part), r.variants[language][part]);
    }
  }
  put("limits.window_seconds", form.limits.window);
  put("limits.cool_down_seconds", form.limits.coolDown);
  tick("limits.cool_down_manual", form.limits.coolDownManual);
  form.limits.breakers.forEach((b, i) => {
    put(names.breaker(i, "scope"), b.scope);
    put(names.breaker(i, "max"), b.max);
    put(names.breaker(i, "within"), b.within);
  });
  const group = (g: GroupForm, at: string) => {
    if (at !== ROOT_GROUP) put(names.group(at), "1");
    g.rows.forEach((row, i) => {
      for (const part of ["field", "op", "arg", "value"] as const) {
        put(names.row(at, i, part), row[part]);
      }
    });
    if (g.schedule) {
      const s = g.schedule;
      put(names.schedule(at), "1");
      put(names.scheduleField(at, "timezone"), s.timezone);
      s.hours.forEach((h, d) => put(names.scheduleDay(at, d), h));
      put(names.scheduleField(at, "calendars"), s.calendars);
      put(names.scheduleField(at, "dates"), s.dates);
      tick(names.scheduleField(at, "outside"), s.outside);
    }
    g.any.forEach((sub, i) => group(sub, names.any(at, i)));
    if (g.not) group(g.not, names.not(at));
  };
  group(form.when, ROOT_GROUP);
  return out;
}

/**
 * The posted names sorted by the group they belong to (`when`, `when.any.1`, `when.any.1.not`),
 * in one pass, so that reading a post costs time in proportion to its size however many groups
 * it names.
 */
function namesByGroup(keys: readonly string[]) {
  /** Group → the rest of its names (`r.0.field`, `s.hours.mon`, `g`). */
  const rest = new Map<string, string[]>();
  for (const key of keys) {
    // The form's names are short (six levels deep is under 100 characters); longer ones are not
    // the form's, and are not worth a regex's time.
    if (key.length > MAX_NAME_LENGTH) continue;
    const m = /^(when(?:\.(?:any\.\d{1,4}|not))*)\.([^]+)$/.exec(key);
    if (!m) continue;
    const list = rest.get(m[1]) ?? [];
    list.push(m[2]);
    rest.set(m[1], list);
  }
  /** Group → the numbers of its `any` groups that were posted (with their `g`), in order. */
  const children = new Map<string, number[]>();
  for (const [g, names] of rest) {
    const m = /^(.+)\.any\.(\d{1,4})$/.exec(g);
    if (!m || !names.includes("g")) continue;
    children.set(m[1], [...(children.get(m[1]) ?? []), Number(m[2])]);
  }
  for (const [g, list] of children) {
    children.set(g, [...new Set(list)].sort((a, b) => a - b).slice(0, MAX_ITEMS));
  }
  /** Numbers `n` for which `${part}.n.${suffix}` is one of the group's names, in order. */
  const indices = (group: string, part: string, suffix: string) => {
    const found = new Set<number>();
    for (const r of rest.get(group) ?? []) {
      const m = /^(r|any)\.(\d{1,4})\.(.+)$/.exec(r);
      if (m && m[1] === part && m[3] === suffix) found.add(Number(m[2]));
    }
    return [...found].sort((a, b) => a - b).slice(0, MAX_ITEMS);
  };
  return {
    rows: (group: string) => indices(group, "r", "field"),
    /** Children `group.any.n` that exist: their own `g` name was posted. */
    any: (group: string) => children.get(group) ?? [],
  };
}

/** Numbers `n` for which `limits.breakers.n.scope` was posted, in order. */
function breakerIndices(keys: readonly string[]): number[] {
  const found = new Set<number>();
  for (const k of keys) {
    const m = /^limits\.breakers\.(\d{1,4})\.scope$/.exec(k);
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b).slice(0, MAX_ITEMS);
}

/** Reads the form back from a post's fields (strings; files are left out by the caller). */
export function readRuleForm(body: Readonly<Record<string, string>>): RuleForm {
  const keys = Object.keys(body);
  const groups = namesByGroup(keys);
  const get = (name: string) => (Object.hasOwn(body, name) ? body[name] : "");
  const ticked = (name: string) => Object.hasOwn(body, name) && body[name] !== "";
  const variant = (language: ReplyLanguage): VariantForm => ({
    subject: get(names.variant(language, "subject")),
    text: lf(get(names.variant(language, "text"))),
    html: lf(get(names.variant(language, "html"))),
    locale: get(names.variant(language, "locale")),
  });
  // A post names at most this many groups and rows in all: the page it comes back as stays small.
  const left = { groups: MAX_GROUPS, rows: MAX_ROWS };
  const group = (at: string, depth: number): GroupForm => {
    left.groups--;
    const rowIds = groups.rows(at).slice(0, Math.max(0, left.rows));
    left.rows -= rowIds.length;
    const rows = rowIds.map((i) => ({
      field: get(names.row(at, i, "field")),
      op: get(names.row(at, i, "op")),
      arg: get(names.row(at, i, "arg")),
      value: get(names.row(at, i, "value")),
    }));
    const schedule = ticked(names.schedule(at))
      ? {
        timezone: get(names.scheduleField(at, "timezone")),
        hours: WEEKDAY_KEYS.map((_, d) => get(names.scheduleDay(at, d))),
        calendars: get(names.scheduleField(at, "calendars")),
        dates: get(names.scheduleField(at, "dates")),
        outside: ticked(names.scheduleField(at, "outside")),
      }
      : null;
    const deeper = depth < MAX_DEPTH;
    const any: GroupForm[] = [];
    for (const i of deeper ? groups.any(at) : []) {
      if (left.groups <= 0) break;
      any.push(group(names.any(at, i), depth + 1));
    }
    const not = deeper && left.groups > 0 && ticked(names.group(names.not(at)))
      ? group(names.not(at), depth + 1)
      : null;
    return { rows, schedule, any, not };
  };
  return {
    name: get("name"),
    enabled: ticked("enabled"),
    priority: get("priority"),
    activeFrom: get("active_from"),
    activeUntil: get("active_until"),
    action: get("action") === "ignore" ? "ignore" : "reply",
    reply: {
      to: get("reply.to"),
      subject: get("reply.subject"),
      text: lf(get("reply.text")),
      html: lf(get("reply.html")),
      force: ticked("reply.force"),
      cc: get("reply.cc"),
      bcc: get("reply.bcc"),
      replyTo: get("reply.reply_to"),
      locale: get("reply.locale"),
      variants: { pt: variant("pt"), en: variant("en"), es: variant("es") },
    },
    limits: {
      window: get("limits.window_seconds"),
      coolDown: get("limits.cool_down_seconds"),
      coolDownManual: ticked("limits.cool_down_manual"),
      breakers: breakerIndices(keys).map((i) => ({
        scope: get(names.breaker(i, "scope")),
        max: get(names.breaker(i, "max")),
        within: get(names.breaker(i, "within")),
      })),
    },
    when: group(ROOT_GROUP, 0),
  };
}

/** Browsers post a textarea's line breaks as CRLF (HTML's form encoding); rules keep LF. */
function lf(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

// --- form → rule JSON ------------------------------------------------------------------------------

/** A problem of the form itself (not of the rule it writes), at one input. */
export interface FormProblem {
  field: string;
  message: string;
}

/** The JSON of one rule written from a form, where each path came from, and the form's problems. */
export interface FormDefinition {
  definition: Record<string, unknown>;
  /** JSON path (`when.any[1].from`) → the input that wrote it. */
  inputs: Map<string, string>;
  problems: FormProblem[];
}

/** A whole number as typed, as a number; anything else as typed, for the validator to name. */
function numberOrText(text: string): number | string {
  const t = text.trim();
  return /^-?\d{1,16}$/.test(t) ? Number(t) : t;
}

/** A list typed with commas (addresses, globs, account names); trimmed, blanks dropped. */
function commaList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** The rules file's JSON of the rule a form holds. */
export function formToDefinition(form: RuleForm): FormDefinition {
  const inputs = new Map<string, string>();
  const problems: FormProblem[] = [];
  const def: Record<string, unknown> = {};
  const at = (path: string, input: string) => inputs.set(path, input);

  def.name = form.name;
  at("name", "name");
  def.enabled = form.enabled;
  def.priority = form.priority.trim() === "" ? 0 : numberOrText(form.priority);
  at("priority", "priority");
  if (form.activeFrom.trim() !== "") def.active_from = form.activeFrom.trim();
  at("active_from", "active_from");
  if (form.activeUntil.trim() !== "") def.active_until = form.activeUntil.trim();
  at("active_until", "active_until");

  const limits: Record<string, unknown> = {};
  const l = form.limits;
  if (l.window.trim() !== "") limits.window_seconds = numberOrText(l.window);
  if (l.breakers.length > 0) {
    limits.breakers = l.breakers.map((b, i) => {
      at(`limits.breakers[${i}]`, names.breaker(i, "scope"));
      at(`limits.breakers[${i}].scope`, names.breaker(i, "scope"));
      at(`limits.breakers[${i}].max`, names.breaker(i, "max"));
      at(`limits.breakers[${i}].within_seconds`, names.breaker(i, "within"));
      return { scope: b.scope, max: numberOrText(b.max), within_seconds: numberOrText(b.within) };
    });
  }
  if (l.coolDownManual) limits.cool_down_seconds = null;
  else if (l.coolDown.trim() !== "") limits.cool_down_seconds = numberOrText(l.coolDown);
  at("limits", "limits.window_seconds");
  at("limits.window_seconds", "limits.window_seconds");
  at("limits.breakers", "limits.window_seconds");
  at("limits.cool_down_seconds", "limits.cool_down_seconds");
  if (Object.keys(limits).length > 0) def.limits = limits;

  def.when = groupToDefinition(form.when, ROOT_GROUP, "when", inputs, problems);

  if (form.action === "ignore") {
    def.ignore = true;
  } else {
    const r = form.reply;
    const reply: Record<string, unknown> = { to: r.to };
    at("reply", "reply.text");
    at("reply.to", "reply.to");
    if (r.subject.trim() !== "") reply.subject = r.subject;
    at("reply.subject", "reply.subject");
    reply.text = r.text;
    at("reply.text", "reply.text");
    if (r.html !== "") reply.html = r.html;
    at("reply.html", "reply.html");
    if (r.force) reply.force = true;
    for (const [key, text] of [["cc", r.cc], ["bcc", r.bcc]] as const) {
      const list = commaList(text);
      if (list.length > 0) reply[key] = list;
      at(`reply.${key}`, `reply.${key}`);
    }
    if (r.replyTo.trim() !== "") reply.reply_to = r.replyTo.trim();
    at("reply.reply_to", "reply.reply_to");
    if (r.locale.trim() !== "") reply.locale = r.locale.trim();
    at("reply.locale", "reply.locale");
    const variants: Record<string, unknown> = {};
    for (const language of REPLY_LANGUAGES) {
      const v = r.variants[language];
      if (v.subject === "" && v.text === "" && v.html === "" && v.locale.trim() === "") continue;
      const out: Record<string, unknown> = {};
      if (v.subject.trim() !== "") out.subject = v.subject;
      out.text = v.text;
      if (v.html !== "") out.html = v.html;
      if (v.locale.trim() !== "") out.locale = v.locale.trim();
      variants[language] = out;
      const path = `reply.variants.${language}`;
      at(path, names.variant(language, "text"));
      for (const part of ["subject", "text", "html", "locale"] as const) {
        at(`${path}.${part}`, names.variant(language, part));
      }
    }
    if (Object.keys(variants).length > 0) reply.variants = variants;
    def.reply = reply;
  }
  return { definition: def, inputs, problems };
}

function groupToDefinition(
  g: GroupForm,
  prefix: string,
  path: string,
  inputs: Map<string, string>,
  problems: FormProblem[],
): Record<string, unknown> {
  const when: Record<string, unknown> = {};
  const headers: Array<{ condition: HeaderCondition; row: number }> = [];
  const firstInput = g.rows.length > 0
    ? names.row(prefix, 0, "field")
    : prefix === ROOT_GROUP
    ? ""
    : names.group(prefix);
  if (firstInput !== "") inputs.set(path, firstInput);
  g.rows.forEach((row, i) => {
    const field = row.field.trim();
    if (field === "") return;
    const input = (part: keyof ConditionRow) => names.row(prefix, i, part);
    const ops = CONDITION_FIELDS[field];
    if (!ops) {
      problems.push({ field: input("field"), message: `${path}: unknown condition ${field}` });
      return;
    }
    const op = row.op.trim() === "" ? ops[0] : row.op.trim();
    if (!ops.includes(op)) {
      problems.push({
        field: input("op"),
        message: `${path}: ${field} takes ${ops.join(" or ")}, not ${op}`,
      });
      return;
    }
    if (field === "header") {
      const condition: HeaderCondition = { name: row.arg.trim() };
      if (op === "equals") condition.equals = row.value;
      if (op === "contains") condition.contains = row.value;
      headers.push({ condition, row: i });
      return;
    }
    const key = conditionKey(field, op)!;
    if (key in when) {
      problems.push({
        field: input("field"),
        message: `${path}.${key}: is already in this group; ` +
          `put alternatives in an "any" group`,
      });
      return;
    }
    const list = key === "account" || key === "from" || key === "original_from";
    when[key] = list ? commaList(row.value) : key === "kind" ? row.value.trim() : row.value;
    inputs.set(`${path}.${key}`, input("value"));
  });
  if (headers.length > 0) {
    when.header = headers.length === 1 ? headers[0].condition : headers.map((h) => h.condition);
    headers.forEach((h, i) => {
      const where = headers.length === 1 ? `${path}.header` : `${path}.header[${i}]`;
      inputs.set(where, names.row(prefix, h.row, "value"));
      inputs.set(`${where}.name`, names.row(prefix, h.row, "arg"));
      inputs.set(`${where}.equals`, names.row(prefix, h.row, "value"));
      inputs.set(`${where}.contains`, names.row(prefix, h.row, "value"));
    });
  }
  if (g.schedule) {
    const s = g.schedule;
    const at = `${path}.schedule`;
    const schedule: Record<string, unknown> = {};
    if (s.timezone.trim() !== "") schedule.timezone = s.timezone.trim();
    inputs.set(at, names.scheduleField(prefix, "timezone"));
    inputs.set(`${at}.timezone`, names.scheduleField(prefix, "timezone"));
    const hours: Record<string, string[]> = {};
    s.hours.forEach((text, d) => {
      const ranges = commaList(text);
      if (ranges.length > 0) hours[WEEKDAY_KEYS[d]] = ranges;
      inputs.set(`${at}.hours.${WEEKDAY_KEYS[d]}`, names.scheduleDay(prefix, d));
    });
    schedule.hours = hours;
    inputs.set(`${at}.hours`, names.scheduleDay(prefix, 1));
    const calendars = s.calendars.split(/[\s,]+/).filter((c) => c !== "");
    const dates = s.dates.split(/[\s,]+/).filter((c) => c !== "");
    const holidays = [...calendars, ...dates];
    holidays.forEach((_, i) => {
      const input = i < calendars.length ? "calendars" : "dates";
      inputs.set(`${at}.holidays[${i}]`, names.scheduleField(prefix, input));
    });
    inputs.set(`${at}.holidays`, names.scheduleField(prefix, "calendars"));
    if (holidays.length > 0) schedule.holidays = holidays;
    if (s.outside) schedule.outside = true;
    when.schedule = schedule;
  }
  if (g.any.length > 0) {
    when.any = g.any.map((sub, i) =>
      groupToDefinition(sub, names.any(prefix, i), `${path}.any[${i}]`, inputs, problems)
    );
    inputs.set(`${path}.any`, names.group(names.any(prefix, 0)));
  }
  if (g.not) {
    when.not = groupToDefinition(g.not, names.not(prefix), `${path}.not`, inputs, problems);
  }
  return when;
}

// --- the validator's problems, by input -------------------------------------------------------------

/**
 * Splits a validator's line (`"name": when.any[1].from: …`, with or without `rule 1 ` before
 * the name) into its JSON path and its message; null when it names no path.
 */
export function problemPath(line: string): { path: string; message: string } | null {
  const m = /^(?:rule \d+ )?(?:"(?:[^"\\]|\\.)*"|\(no name\)): ([A-Za-z_][\w.[\]]*): ([\s\S]*)$/
    .exec(line);
  if (m) return { path: m[1], message: m[2] };
  const bare = /^([a-z_][\w.[\]]*): ([\s\S]*)$/.exec(line);
  return bare ? { path: bare[1], message: bare[2] } : null;
}

/**
 * Which input each problem belongs to: the input that wrote its path, or the nearest enclosing
 * path that one wrote. Problems with no input are returned apart.
 */
export function problemsByInput(
  lines: readonly string[],
  inputs: ReadonlyMap<string, string>,
): { byInput: Map<string, string[]>; unplaced: string[] } {
  const byInput = new Map<string, string[]>();
  const unplaced: string[] = [];
  for (const line of lines) {
    const found = problemPath(line);
    let input: string | undefined;
    if (found) {
      let path = found.path;
      while (path !== "" && input === undefined) {
        input = inputs.get(path);
        if (input !== undefined) break;
        const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
        path = cut > 0 ? path.slice(0, cut) : "";
      }
    }
    if (input === undefined || !found) {
      unplaced.push(line);
      continue;
    }
    const list = byInput.get(input) ?? [];
    list.push(found.message);
    byInput.set(input, list);
  }
  return { byInput, unplaced };
}

// --- editing the form: rows and groups added and removed ------------------------------------------

/** Finds the group a name prefix (`when.any.1.not`) points at. */
function groupAt(root: GroupForm, prefix: string): GroupForm | null {
  if (prefix === ROOT_GROUP) return root;
  if (!prefix.startsWith(`${ROOT_GROUP}.`)) return null;
  const parts = prefix.slice(ROOT_GROUP.length + 1).split(".");
  let g: GroupForm | null = root;
  for (let i = 0; i < parts.length && g; i++) {
    if (parts[i] === "not") g = g.not;
    else if (parts[i] === "any" && /^\d+$/.test(parts[i + 1] ?? "")) g = g.any[Number(parts[++i])];
    else return null;
  }
  return g ?? null;
}

/** Splits `when.any.1.r.3` into its group and the trailing `r`/`any` and number. */
function parentAndIndex(
  target: string,
  kind: "r" | "any",
): { group: string; index: number } | null {
  const m = new RegExp(`^(.+)\\.${kind}\\.(\\d+)$`).exec(target);
  return m ? { group: m[1], index: Number(m[2]) } : null;
}

/**
 * Applies one of the editor's buttons (`add-row:when.any.0`, `remove-row:when.r.2`,
 * `add-any:when`, `remove-any:when.any.1`, `add-not:when`, `remove-not:when.not`,
 * `add-schedule:when`, `remove-schedule:when`, `add-breaker`, `remove-breaker:0`) to a copy of
 * the form; null when the button names nothing there.
 */
export function applyFormEdit(form: RuleForm, edit: string): RuleForm | null {
  const copy: RuleForm = structuredClone(form);
  const [verb, target = ""] = edit.split(":", 2);
  if (verb === "add-breaker") {
    if (copy.limits.breakers.length >= MAX_ITEMS) return null;
    copy.limits.breakers.push({ scope: "recipient", max: "", within: "" });
    return copy;
  }
  if (verb === "remove-breaker") {
    const i = Number(target);
    if (!/^\d+$/.test(target) || i >= copy.limits.breakers.length) return null;
    copy.limits.breakers.splice(i, 1);
    return copy;
  }
  if (verb === "remove-row" || verb === "remove-any") {
    const where = parentAndIndex(target, verb === "remove-row" ? "r" : "any");
    const g = where ? groupAt(copy.when, where.group) : null;
    const list = g ? (verb === "remove-row" ? g.rows : g.any) : null;
    if (!where || !list || where.index >= list.length) return null;
    list.splice(where.index, 1);
    return copy;
  }
  if (verb === "remove-not") {
    const g = target.endsWith(".not") ? groupAt(copy.when, target.slice(0, -4)) : null;
    if (!g?.not) return null;
    g.not = null;
    return copy;
  }
  const g = groupAt(copy.when, target);
  if (!g) return null;
  switch (verb) {
    case "add-row":
      if (g.rows.length >= MAX_ITEMS) return null;
      g.rows.push(newConditionRow());
      return copy;
    case "add-any":
      if (g.any.length >= MAX_ITEMS) return null;
      g.any.push(newGroupForm([newConditionRow()]));
      return copy;
    case "add-not":
      if (g.not) return null;
      g.not = newGroupForm([newConditionRow()]);
      return copy;
    case "add-schedule":
      if (g.schedule) return null;
      g.schedule = newScheduleForm();
      return copy;
    case "remove-schedule":
      if (!g.schedule) return null;
      g.schedule = null;
      return copy;
    default:
      return null;
  }
}

// --- what the form can show -----------------------------------------------------------------------

/**
 * Whether the form shows `rule` exactly: the rule written back from its form is `rule` again.
 * It does not for the few shapes the form has no input for: an account name with a comma, an
 * empty HTML template or variant subject, `limits: {}`, a line break in a one-line value, a
 * carriage return in a text. Such a rule opens as JSON.
 */
export function formShows(rule: Rule): boolean {
  const form = ruleToForm(rule);
  const oneLine = (s: string) => !/[\r\n]/.test(s);
  const rowsFine = (g: GroupForm): boolean =>
    g.rows.every((r) => oneLine(r.value) && oneLine(r.arg)) && g.any.every(rowsFine) &&
    (g.not === null || rowsFine(g.not));
  const texts = [
    form.reply.text,
    form.reply.html,
    ...REPLY_LANGUAGES.flatMap((l) => [form.reply.variants[l].text, form.reply.variants[l].html]),
  ];
  if (!rowsFine(form.when) || texts.some((t) => t.includes("\r"))) return false;
  if (!oneLine(form.name) || !oneLine(form.reply.subject)) return false;
  const written = formToDefinition(form);
  if (written.problems.length > 0) return false;
  const parsed = parseRules([written.definition]);
  return parsed.ok &&
    JSON.stringify(exportRules(parsed.rules)) === JSON.stringify(exportRules([rule]));
}
