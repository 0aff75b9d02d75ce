/**
 * Rule regexes cost at most (program size × characters): they run on RE2 (re2js), a pattern RE2
 * cannot run in linear time is refused at import naming the rule and field, each message's
 * evaluation has a budget of regex steps (a rule past it misses, with the reason in the trail),
 * and a dry-run stops at its time budget and says how far it got. No assertion here is on speed.
 */
import assert from "node:assert/strict";
import { buildEmail } from "../support/email_draft.ts";
import type { Classification } from "../../src/domain/email.ts";
import {
  MAX_BODY_MATCH_CHARS,
  parseRules,
  type Rule,
  type RuleContext,
} from "../../src/domain/rules.ts";
import { decideRule } from "../../src/domain/rule_match.ts";
import { compileRuleRegex, MAX_REGEX_PROGRAM } from "../../src/domain/rule_regex.ts";
import { dryRunRule } from "../../src/admin/rule_simulation.ts";
import type { StoredEmail } from "../../src/store/message_detail.ts";
import { eml, harness, seedMessage } from "../routes/support.ts";

const DIRECT: Classification = { kind: "direct", original: null, confidence: 1, evidence: [] };
const ATTACK = "(\\w+\\s?){1,100}#";
/** 10 KB of words and spaces with no `#`: the worst input for the pattern above. */
const BODY = "palavra ".repeat(1_250).slice(0, MAX_BODY_MATCH_CHARS);

function context(text: string): RuleContext {
  return {
    email: buildEmail({ text }, { from: [{ name: "Ana", address: "ana@cliente.test" }] }),
    classification: DIRECT,
    account: { name: "Suporte", addresses: ["suporte@empresa.test"] },
  };
}

function parse(json: unknown): Rule[] {
  const parsed = parseRules(json);
  assert.ok(parsed.ok, `expected the rules to parse: ${JSON.stringify(parsed)}`);
  return parsed.rules;
}

Deno.test("(\\w+\\s?){1,100}# on a 10 KB body is accepted and costs program size × characters", () => {
  const compiled = compileRuleRegex(ATTACK);
  assert.ok(compiled.ok, JSON.stringify(compiled));
  const size = compiled.regex.size;
  assert.ok(size <= MAX_REGEX_PROGRAM, `program of ${size} instructions`);

  const rules = parse([
    { name: "attack", when: { body_regex: ATTACK }, ignore: true },
    { name: "fallback", ignore: true },
  ]);
  const d = decideRule(rules, context(BODY));
  assert.equal(d.matched?.name, "fallback");
  assert.match(d.trail[0].why, /body does not match/);
  // Linear: the work is bounded by the program size times the characters read, and doubling
  // the text (within the cap) doubles the bound.
  assert.equal(d.steps, size * (BODY.length + 1));
  const half = decideRule(rules, context(BODY.slice(0, BODY.length / 2)));
  assert.equal(half.steps, size * (BODY.length / 2 + 1));
});

Deno.test("a rule past the message's regex budget misses, with the reason in the trail", () => {
  const rules = parse([
    { name: "cheap", when: { body_regex: "urgente" }, ignore: true },
    { name: "attack", when: { body_regex: ATTACK }, ignore: true },
    { name: "other", when: { from: "*@outro.test" }, ignore: true },
    { name: "last", ignore: true },
  ]);
  const cheap = compileRuleRegex("urgente");
  assert.ok(cheap.ok);
  const cheapCost = cheap.regex.size * (BODY.length + 1);
  // Enough for the cheap regex, not for the expensive one.
  const d = decideRule(rules, context(BODY), { steps: cheapCost + 1_000 });
  assert.deepEqual(d.trail.map((t) => [t.rule, t.hit]), [
    ["cheap", false],
    ["attack", false],
    ["other", false],
    ["last", true],
  ]);
  assert.match(d.trail[0].why, /body does not match/);
  assert.match(
    d.trail[1].why,
    /^body_regex not evaluated: it would take [\d,]+ steps and [\d,]+ of this message's budget of [\d,]+ remain; treated as no match$/,
  );
  assert.equal(d.matched?.name, "last");
  assert.equal(d.steps, cheapCost);
  // A budget of nothing: every regex rule misses, and nothing throws.
  const none = decideRule(rules, context(BODY), { steps: 0 });
  assert.equal(none.matched?.name, "last");
  assert.equal(none.steps, 0);
});

Deno.test("patterns RE2 refuses are validation errors naming the rule and the field", () => {
  const parsed = parseRules([
    { name: "ok", when: { subject_regex: "pedido\\s+\\d+" }, ignore: true },
    { name: "backref", when: { subject_regex: "(a)\\1" }, ignore: true },
    { name: "ahead", when: { body_regex: "foo(?=bar)" }, ignore: true },
    { name: "behind", when: { body_regex: "(?<!a)b" }, ignore: true },
    { name: "huge", when: { body_regex: "\\w{600}\\d{600}" }, ignore: true },
    { name: "count", when: { subject_regex: "(?:\\w{1,100}){1,100}" }, ignore: true },
  ]);
  assert.equal(parsed.ok, false);
  if (parsed.ok) return;
  assert.deepEqual(parsed.errors.map((e) => e.replace(/:.*/s, "")), [
    'rule 2 "backref"',
    'rule 3 "ahead"',
    'rule 4 "behind"',
    'rule 5 "huge"',
    'rule 6 "count"',
  ]);
  assert.match(
    parsed.errors[0],
    /^rule 2 "backref": when\.subject_regex: backreferences \(\\1\) are not supported$/,
  );
  assert.match(parsed.errors[1], /^rule 3 "ahead": when\.body_regex: lookaround .*not supported/);
  assert.match(parsed.errors[2], /^rule 4 "behind": when\.body_regex: lookaround .*not supported/);
  assert.match(parsed.errors[3], /^rule 5 "huge": when\.body_regex: .*too large/);
  assert.match(parsed.errors[4], /^rule 6 "count": when\.subject_regex: .*repeat count/);
});

Deno.test("a dry-run over many messages stops at its time budget and says how far it got", async () => {
  const candidate = parse([{
    name: "attack",
    when: { body_regex: ATTACK },
    reply: { to: "sender", text: "ok" },
  }])[0];
  const message = (id: number): StoredEmail => ({
    id,
    accountId: 1,
    subject: "Pedido",
    fromAddress: "ana@cliente.test",
    email: context(BODY).email,
    classification: DIRECT,
    receivedAt: new Date("2026-03-01T12:00:00Z"),
    rawSha256: id.toString(16).padStart(64, "0"),
  });
  const messages = Array.from({ length: 5_000 }, (_, i) => message(i + 1));
  // A clock that advances 100 ms each time it is read: the budget of 2 s runs out part-way.
  let ms = 0;
  const report = await dryRunRule(candidate, [], messages, {
    accountContext: () =>
      Promise.resolve({
        id: 1,
        name: "Suporte",
        addresses: ["suporte@empresa.test"],
        connectedAt: new Date("2026-01-01T00:00:00Z"),
        messageIdDomain: "empresa.test",
      }),
    ownAddresses: () => Promise.resolve(["suporte@empresa.test"]),
    clock: () => (ms += 100),
    budgetMs: 2_000,
  });
  assert.equal(report.total, 5_000);
  assert.equal(report.stoppedAtBudget, true);
  assert.ok(report.examined > 0 && report.examined < 5_000, `examined ${report.examined}`);
  assert.equal(report.unmatched, report.examined);
  assert.ok(report.elapsedMs >= 2_000, `elapsed ${report.elapsedMs}`);

  // Without pressure on the clock, it goes to the end.
  const full = await dryRunRule(candidate, [], messages.slice(0, 20), {
    accountContext: () =>
      Promise.resolve({
        id: 1,
        name: "Suporte",
        addresses: ["suporte@empresa.test"],
        connectedAt: new Date("2026-01-01T00:00:00Z"),
        messageIdDomain: "empresa.test",
      }),
    ownAddresses: () => Promise.resolve(["suporte@empresa.test"]),
    clock: () => 0,
    budgetMs: 2_000,
  });
  assert.deepEqual([full.examined, full.total, full.stoppedAtBudget], [20, 20, false]);
});

Deno.test("the dry-run page and API say how far a stopped dry-run got", async () => {
  const h = await harness();
  try {
    for (let i = 0; i < 6; i++) {
      await seedMessage(h.db, eml({ subject: `Pedido ${i}`, from: "Ana <ana@cliente.test>" }), {
        receivedAt: new Date(`2026-03-0${i + 1}T10:00:00Z`),
      });
    }
    // Each message read advances the clock 100 ms: a budget of 250 ms stops after three.
    let ms = 0;
    h.deps.dryRun = { budgetMs: 250, clock: () => (ms += 100) };
    await h.login();
    const definition = JSON.stringify({
      name: "ack",
      when: { body_regex: ATTACK },
      reply: { to: "sender", text: "ok" },
    });
    const page = await h.post("/rules/dry-run", { definition, days: "30" }, {
      "HX-Request": "true",
    });
    assert.equal(page.status, 200);
    assert.match(
      await page.text(),
      /Verificadas 2 de 6 mensagens em 0\.\d s; a simulação parou no limite de tempo/,
    );

    ms = 0;
    const token = await h.apiToken();
    const api = await h.app.request("http://localhost/api/v1/rules/dry-run", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ definition: JSON.parse(definition), days: 30 }),
    });
    assert.equal(api.status, 200);
    const data = (await api.json()).data;
    assert.deepEqual(
      [data.examined, data.total, data.stopped_at_budget],
      [2, 6, true],
      JSON.stringify(data),
    );
    assert.equal(typeof data.elapsed_ms, "number");
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});
