import assert from "node:assert/strict";
import { exportRules, parseRules, type RuleContext } from "../../src/domain/rules.ts";
import { decideRule, matchRule } from "../../src/domain/rule_match.ts";
import { buildEmail } from "../support/email_draft.ts";

function context(from: string, subject: string): RuleContext {
  return {
    email: buildEmail({}, { from: [{ name: "", address: from }], subject }),
    classification: { kind: "direct", original: null, confidence: 1, evidence: [] },
    account: { name: "suporte", addresses: ["suporte@empresa.test"] },
  };
}

function rule(when: unknown) {
  const parsed = parseRules([{ name: "r", when, reply: { to: "sender", text: "ok" } }]);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.rules[0];
}

Deno.test("any holds when one of its groups holds, and says which", () => {
  const r = rule({ any: [{ from: "*@a.test" }, { subject_contains: "urgente", from: "b.test" }] });
  assert.equal(matchRule(r, context("x@a.test", "oi")).hit, true);
  assert.equal(matchRule(r, context("x@b.test", "É URGENTE")).hit, true);
  assert.equal(matchRule(r, context("x@b.test", "oi")).hit, false);
  const missed = matchRule(r, context("x@c.test", "oi"));
  assert.match(missed.why, /^none of any holds \(from "x@c.test" matches none of "\*@a.test" \| /);
  assert.match(matchRule(r, context("x@a.test", "oi")).why, /^any: from matches "\*@a.test"$/);
});

Deno.test("not holds when its group does not", () => {
  const r = rule({ subject_contains: "pedido", not: { from: "*@fornecedor.test" } });
  assert.equal(matchRule(r, context("ana@cliente.test", "Pedido 1")).hit, true);
  const no = matchRule(r, context("ze@fornecedor.test", "Pedido 1"));
  assert.deepEqual(no, { hit: false, why: 'not: from matches "*@fornecedor.test"' });
  const nested = rule({ not: { any: [{ from: "a.test" }, { from: "b.test" }] } });
  assert.equal(matchRule(nested, context("x@a.test", "")).hit, false);
  assert.equal(matchRule(nested, context("x@c.test", "")).hit, true);
  assert.equal(decideRule([nested], context("x@b.test", "")).matched, null);
});

Deno.test("problems inside any and not are reported with their paths, all at once", () => {
  const parsed = parseRules([
    { name: "ok", reply: { to: "sender", text: "x" } },
    {
      name: "x",
      when: { any: [{ from: "ok.test" }, { from: "a b" }, 3], not: { subject_regex: "(" } },
      reply: { to: "sender", text: "x" },
    },
    { name: "y", when: { any: [] }, reply: { to: "sender", text: "x" } },
    {
      name: "z",
      when: { not: { not: { not: { not: { not: { not: { kind: "direct" } } } } } } },
      reply: { to: "sender", text: "x" },
    },
  ]);
  assert.equal(parsed.ok, false);
  const errors = parsed.ok ? [] : parsed.errors;
  assert.match(errors[0], /^rule 2 "x": when\.any\[1\]\.from: "a b" is not an address glob/);
  assert.match(errors[1], /^rule 2 "x": when\.any\[2\]: must be an object of conditions/);
  assert.match(errors[2], /^rule 2 "x": when\.not\.subject_regex: /);
  assert.match(errors[3], /^rule 3 "y": when\.any: must be a list of 1 to 50 condition objects/);
  assert.match(errors[4], /^rule 4 "z": when(\.not){6}: any and not nest deeper than 5 levels/);
  assert.equal(errors.length, 5, errors.join("\n"));
});

Deno.test("any and not round-trip through the JSON export", () => {
  const source = [{
    name: "r",
    enabled: true,
    priority: 0,
    when: {
      kind: "direct",
      any: [{ from: "*@a.test" }, { header: { name: "X-Priority", equals: "1" } }],
      not: { subject_contains: "newsletter" },
    },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "ok" },
  }];
  const parsed = parseRules(source);
  assert.ok(parsed.ok);
  assert.deepEqual(exportRules(parsed.rules), source);
});
