/** The rule editor's form ⇄ the rules file's JSON: both ways, problems by input, edits. */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  applyFormEdit,
  formShows,
  formToDefinition,
  type GroupForm,
  newRuleForm,
  problemPath,
  problemsByInput,
  readRuleForm,
  type RuleForm,
  ruleFormFields,
  ruleToForm,
} from "../../src/admin/rule_form.ts";
import { exportRules, parseRules, type Rule } from "../../src/domain/rules.ts";
import { readRuleInput } from "../../src/admin/rule_input.ts";

function rule(json: unknown): Rule {
  const parsed = parseRules([json]);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.rules[0];
}

/** A rule through the form and a post of its fields, back to a rule. */
function throughForm(r: Rule): { rule: Rule | null; problems: string[] } {
  const posted = Object.fromEntries(ruleFormFields(ruleToForm(r)));
  const written = formToDefinition(readRuleForm(posted));
  const parsed = parseRules([written.definition]);
  return {
    rule: parsed.ok ? parsed.rules[0] : null,
    problems: [...written.problems.map((p) => p.message), ...(parsed.ok ? [] : parsed.errors)],
  };
}

const FULL = {
  name: "fora do horário",
  enabled: false,
  priority: 7,
  active_from: "2026-12-20",
  active_until: "2027-01-06",
  limits: {
    window_seconds: 172800,
    breakers: [{ scope: "recipient", max: 3, within_seconds: 3600 }],
    cool_down_seconds: null,
  },
  when: {
    kind: "direct",
    account: ["atendimento", "vendas@empresa.test"],
    from: ["*@cliente.test", "parceiro.test"],
    subject_contains: " pedido ",
    body_regex: "n[uú]mero \\d+",
    header: [{ name: "X-Priority", equals: "1" }, { name: "X-Campaign" }],
    schedule: {
      timezone: "America/Sao_Paulo",
      hours: { "mon-fri": ["09:00-12:00", "13:00-18:00"], sat: "09:00-12:00" },
      holidays: ["BR-SP", "2026-12-24"],
      outside: true,
    },
    any: [{ from: "*@vip.test" }, { subject_regex: "urgente", not: { kind: "forwarded" } }, {}],
    not: { header: { name: "List-Id", contains: "loja" } },
  },
  reply: {
    to: "original_sender",
    subject: "Re: {{subject}}",
    text: "Olá {{from_name|cliente}},\n\nrecebemos.\n",
    html: "<p>Olá</p>",
    force: true,
    cc: ["equipe@empresa.test"],
    bcc: "arquivo@empresa.test",
    reply_to: "atendimento@empresa.test",
    locale: "pt-BR",
    variants: {
      en: { subject: "Re: {{subject}}", text: "Hello", locale: "en-GB" },
      es: { text: "Hola\nmundo" },
    },
  },
};

Deno.test("a rule with every field goes through the form and its post unchanged", () => {
  const r = rule(FULL);
  const back = throughForm(r);
  assert.deepEqual(back.problems, []);
  assert.deepEqual(back.rule, r);
  assert.deepEqual(exportRules([back.rule!]), exportRules([r]));
  assert.ok(formShows(r));
});

Deno.test("an ignore rule keeps its conditions and writes ignore", () => {
  const r = rule({ name: "newsletters", when: { header: { name: "List-Id" } }, ignore: true });
  assert.deepEqual(throughForm(r).rule, r);
  assert.equal(formToDefinition(ruleToForm(r)).definition.ignore, true);
});

Deno.test("textareas posted with CRLF come back with LF; blank rows are skipped", () => {
  const form = newRuleForm();
  const fields = Object.fromEntries(ruleFormFields({
    ...form,
    name: "crlf",
    reply: { ...form.reply, text: "x" },
  }));
  fields["reply.text"] = "linha 1\r\nlinha 2";
  const written = formToDefinition(readRuleForm(fields));
  assert.deepEqual(written.problems, []);
  assert.deepEqual(written.definition.when, {});
  assert.equal((written.definition.reply as { text: string }).text, "linha 1\nlinha 2");
});

Deno.test("the form's own problems: a field twice in a group, an operator the field lacks", () => {
  const form: RuleForm = newRuleForm();
  form.name = "x";
  form.reply.text = "ok";
  form.when.rows = [
    { field: "subject", op: "contains", arg: "", value: "a" },
    { field: "subject", op: "contains", arg: "", value: "b" },
    { field: "kind", op: "regex", arg: "", value: "direct" },
  ];
  const written = formToDefinition(form);
  assert.deepEqual(written.problems.map((p) => p.field), ["when.r.1.field", "when.r.2.op"]);
  assert.match(written.problems[0].message, /already in this group/);
});

Deno.test("the validator's problems land on the inputs that wrote their paths", () => {
  const form = newRuleForm();
  form.name = "x";
  form.reply.text = "ok";
  form.reply.cc = "equipe";
  form.when.rows = [{ field: "header", op: "equals", arg: "X Bad", value: "1" }];
  form.when.any = [
    {
      rows: [{ field: "kind", op: "is", arg: "", value: "x" }],
      schedule: null,
      any: [],
      not: null,
    },
    {
      rows: [{ field: "from", op: "", arg: "", value: "a b" }],
      schedule: {
        timezone: "Mars/Olympus",
        hours: ["", "9-5", "", "", "", "", ""],
        calendars: "BR-SP, XX",
        dates: "2026-02-30",
        outside: false,
      },
      any: [],
      not: null,
    },
  ];
  const written = formToDefinition(form);
  const input = readRuleInput(written.definition, []);
  assert.ok(!input.ok);
  const { byInput, unplaced } = problemsByInput(input.errors, written.inputs);
  assert.deepEqual(unplaced, []);
  assert.deepEqual([...byInput.keys()].sort(), [
    "reply.cc",
    "when.any.0.r.0.value",
    "when.any.1.r.0.value",
    "when.any.1.s.calendars",
    "when.any.1.s.dates",
    "when.any.1.s.hours.mon",
    "when.any.1.s.timezone",
    "when.r.0.arg",
  ]);
});

Deno.test("problemPath reads a validator line with or without the rule's label", () => {
  assert.deepEqual(problemPath('"a \\" b": when.any[1].from: bad'), {
    path: "when.any[1].from",
    message: "bad",
  });
  assert.deepEqual(problemPath("rule 1 (no name): name: is required"), {
    path: "name",
    message: "is required",
  });
  assert.equal(problemPath("not valid JSON: Unexpected end"), null);
});

Deno.test("edits add and remove rows, groups, schedules and breakers", () => {
  let form = newRuleForm();
  form = applyFormEdit(form, "add-any:when")!;
  form = applyFormEdit(form, "add-row:when.any.0")!;
  form = applyFormEdit(form, "add-not:when.any.0")!;
  form = applyFormEdit(form, "add-schedule:when.any.0.not")!;
  form = applyFormEdit(form, "add-breaker")!;
  assert.equal(form.when.any[0].rows.length, 2);
  assert.ok(form.when.any[0].not?.schedule);
  assert.equal(form.limits.breakers.length, 1);
  form = applyFormEdit(form, "remove-row:when.any.0.r.0")!;
  assert.equal(form.when.any[0].rows.length, 1);
  form = applyFormEdit(form, "remove-schedule:when.any.0.not")!;
  assert.equal(form.when.any[0].not?.schedule, null);
  form = applyFormEdit(form, "remove-not:when.any.0.not")!;
  assert.equal(form.when.any[0].not, null);
  form = applyFormEdit(form, "remove-any:when.any.0")!;
  assert.deepEqual(form.when.any, []);
  form = applyFormEdit(form, "remove-breaker:0")!;
  assert.deepEqual(form.limits.breakers, []);
  assert.equal(applyFormEdit(form, "remove-row:when.r.9"), null);
  assert.equal(applyFormEdit(form, "add-row:when.any.3"), null);
  assert.equal(applyFormEdit(form, "explode:when"), null);
});

Deno.test("shapes the form has no input for open as JSON", () => {
  assert.ok(!formShows(rule({ ...FULL, limits: {} })));
  assert.ok(!formShows(rule({ ...FULL, when: { account: "Vendas, SP" } })));
  assert.ok(!formShows(rule({ ...FULL, when: { subject_contains: "a\nb" } })));
  assert.ok(!formShows(rule({ ...FULL, reply: { ...FULL.reply, html: "" } })));
});

// --- any valid rule → form → fields → rule is unchanged ------------------------------------------

const word = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);
const glob = fc.oneof(
  word.map((w) => `*@${w}.test`),
  word.map((w) => `${w}.test`),
  fc.tuple(word, word).map(([a, b]) => `${a}?@*.${b}.test`),
);
const address = fc.tuple(word, word).map(([a, b]) => `${a}@${b}.test`);
const oneLine = fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 })
  .filter((s) => !/[\r\n]/.test(s));
const text = fc.array(
  fc.oneof(fc.constantFrom("{{from_name}}", "{{subject}}", "{{from_name|cliente}}", "\n"), word),
  { minLength: 1, maxLength: 8 },
).map((parts) => parts.join(" ")).filter((s) => s.trim() !== "");
const subject = fc.oneof(fc.constant("Re: {{subject}}"), word.map((w) => `Re: ${w}`));
const time = fc.integer({ min: 0, max: 47 }).map((h) =>
  `${String(Math.floor(h / 2)).padStart(2, "0")}:${h % 2 ? "30" : "00"}`
);
const range = fc.tuple(time, time).filter(([a, b]) => a < b).map(([a, b]) => `${a}-${b}`);
const day = fc.constantFrom("mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri", "fri-mon");
const date = fc.date({
  min: new Date("2025-01-01"),
  max: new Date("2030-12-31"),
  noInvalidDate: true,
})
  .map((d) => d.toISOString().slice(0, 10));
const schedule = fc.record({
  timezone: fc.constantFrom("America/Sao_Paulo", "UTC", "Europe/Lisbon", "Asia/Kolkata"),
  hours: fc.dictionary(day, fc.oneof(range, fc.array(range, { minLength: 1, maxLength: 3 })), {
    maxKeys: 3,
  }),
  holidays: fc.array(fc.oneof(fc.constantFrom("BR", "BR-SP", "PT", "br-rj"), date), {
    maxLength: 4,
  }),
  outside: fc.boolean(),
}, { requiredKeys: ["hours"] });
const header = fc.record({
  name: fc.constantFrom("X-Priority", "List-Id", "X-Campaign"),
  equals: fc.string({ maxLength: 10 }),
  contains: fc.string({ maxLength: 10 }),
}, { requiredKeys: ["name"] }).map((h) => {
  if (h.equals !== undefined && h.contains !== undefined) delete h.contains;
  return h;
});
const leaf = {
  kind: fc.constantFrom("direct", "forwarded"),
  account: fc.array(fc.oneof(word, address, word.map((w) => `Conta ${w}`)), {
    minLength: 1,
    maxLength: 3,
  }),
  from: fc.oneof(glob, fc.array(glob, { minLength: 1, maxLength: 3 })),
  original_from: fc.array(glob, { minLength: 1, maxLength: 2 }),
  subject_contains: oneLine,
  subject_regex: fc.constantFrom("urgente", "^re:", "pedido \\d+", "(a|b)+c"),
  body_contains: oneLine,
  body_regex: fc.constantFrom("boleto", "n[uú]mero"),
  header: fc.oneof(header, fc.array(header, { minLength: 1, maxLength: 3 })),
  schedule,
};
/** Conditions nested `depth` levels of any/not deep at most. */
function conditions(depth: number): fc.Arbitrary<Record<string, unknown>> {
  if (depth === 0) return fc.record(leaf, { requiredKeys: [] });
  const inner = conditions(depth - 1);
  return fc.record({
    ...leaf,
    any: fc.array(inner, { minLength: 1, maxLength: 2 }),
    not: inner,
  }, { requiredKeys: [] });
}
const when = conditions(2);
const variant = fc.record({
  subject,
  text,
  html: fc.constant("<p>{{from_name}}</p>"),
  locale: fc.constantFrom("en-US", "es", "pt-PT"),
}, { requiredKeys: ["text"] });
const breaker = fc.record({
  scope: fc.constantFrom("recipient", "account"),
  max: fc.integer({ min: 1, max: 1000 }),
  within_seconds: fc.integer({ min: 1, max: 86400 }),
});
const limits = fc.record({
  window_seconds: fc.integer({ min: 1, max: 10_000_000 }),
  breakers: fc.array(breaker, { minLength: 1, maxLength: 3 }),
  cool_down_seconds: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 2_592_000 })),
}, { requiredKeys: [] }).filter((l) => Object.keys(l).length > 0);
const reply = fc.record({
  to: fc.constantFrom("sender", "original_sender"),
  subject,
  text,
  html: fc.oneof(fc.constant(null), fc.constant("<p>Olá {{from_name}}</p>")),
  force: fc.boolean(),
  cc: fc.uniqueArray(address, { maxLength: 3 }),
  bcc: fc.oneof(address, fc.uniqueArray(address, { maxLength: 2 })),
  reply_to: address,
  locale: fc.constantFrom("pt-BR", "en-US", "es"),
  variants: fc.record({ pt: variant, en: variant, es: variant }, { requiredKeys: [] }),
}, { requiredKeys: ["to", "text"] });
const validRule = fc.record({
  name: fc.tuple(word, fc.constantFrom("", " de férias", "-2")).map(([a, b]) => a + b),
  enabled: fc.boolean(),
  priority: fc.integer({ min: -1_000_000, max: 1_000_000 }),
  active_from: date,
  active_until: date,
  limits,
  when,
  action: fc.oneof(reply.map((r) => ({ reply: r })), fc.constant({ ignore: true })),
}, { requiredKeys: ["name", "action"] }).map(({ action, ...rest }) => {
  const out: Record<string, unknown> = { ...rest, ...action };
  if (typeof out.active_from === "string" && typeof out.active_until === "string") {
    if (out.active_until < out.active_from) delete out.active_until;
  }
  return out;
}).map((json) => parseRules([json])).filter((p) => p.ok).map((p) => (p.ok ? p.rules[0] : null!));

Deno.test("property: any valid rule → form → posted fields → rule is unchanged", () => {
  fc.assert(
    fc.property(validRule, (r) => {
      const back = throughForm(r);
      assert.deepEqual(back.problems, []);
      assert.deepEqual(back.rule, r);
      assert.equal(JSON.stringify(exportRules([back.rule!])), JSON.stringify(exportRules([r])));
      assert.ok(formShows(r));
    }),
    { numRuns: 150 },
  );
});

Deno.test("a hostile post of many groups and long names is read in time in proportion to it", () => {
  const body: Record<string, string> = {};
  for (let i = 0; i < 5_000; i++) {
    body[`when.any.${i % 60}.any.${Math.floor(i / 60)}.g`] = "1";
    body[`when.any.${i % 60}.g`] = "1";
    body[`when.any.${i % 60}.r.${i}.field`] = "subject";
  }
  body["when." + "not.".repeat(100_000) + "g"] = "1";
  const started = performance.now();
  const form = readRuleForm(body);
  // Generous: the machine may be busy; quadratic reading would take minutes.
  assert.ok(performance.now() - started < 20_000);
  // At most 200 groups and 1,000 rows in all are read: the editor that comes back stays small.
  const count = (g: GroupForm): [number, number] =>
    [...g.any, ...(g.not ? [g.not] : [])].map(count).reduce(
      ([a, b], [c, d]) => [a + c, b + d],
      [1, g.rows.length],
    );
  const [groups, rows] = count(form.when);
  assert.ok(groups <= 201 && groups > 100, `${groups} groups`);
  assert.ok(rows <= 1_000, `${rows} rows`);
  assert.ok(form.when.any.length > 0 && form.when.any.every((g) => g.any.length <= 60));
});
