import assert from "node:assert/strict";
import { buildEmail, type Draft } from "../support/email_draft.ts";
import type { Classification, ParsedEmail } from "../../src/domain/email.ts";
import {
  exportRules,
  MAX_BODY_MATCH_CHARS,
  parseRules,
  type Rule,
  type RuleContext,
} from "../../src/domain/rules.ts";
import { decideRule, matchRule } from "../../src/domain/rule_match.ts";
import { addressMatches, globMatch } from "../../src/domain/address_glob.ts";
import { compileRuleRegex, MAX_REGEX_PROGRAM } from "../../src/domain/rule_regex.ts";

function email(draft: Draft = {}): ParsedEmail {
  return buildEmail(draft, {
    from: [{ name: "Ana", address: "ana@cliente.test" }],
    subject: "Pedido 123 atrasado",
    text: "Olá, meu pedido 123 não chegou.\nCPF: 123.456.789-00",
  });
}

const DIRECT: Classification = { kind: "direct", original: null, confidence: 1, evidence: [] };
const FORWARDED: Classification = {
  kind: "forwarded",
  original: {
    fromAddress: "bruno@parceiro.test",
    fromName: "Bruno",
    subject: "Cotação",
    date: null,
    dateIso: null,
  },
  confidence: 0.9,
  evidence: [],
};

function context(message = email(), classification = DIRECT): RuleContext {
  return {
    email: message,
    classification,
    account: { name: "Suporte", addresses: ["suporte@empresa.test", "contato@empresa.test"] },
  };
}

function rules(json: unknown): Rule[] {
  const parsed = parseRules(json);
  assert.ok(parsed.ok, `expected rules to parse: ${JSON.stringify(parsed)}`);
  return parsed.rules;
}

function errors(json: unknown): string[] {
  const parsed = parseRules(json);
  assert.equal(parsed.ok, false, "expected the rules to be refused");
  return parsed.ok ? [] : parsed.errors;
}

function rule(when: Record<string, unknown>, name = "r"): Rule {
  return rules([{ name, when, ignore: true }])[0];
}

const ACCEPTANCE = [
  {
    name: "ack-direct",
    enabled: true,
    when: { kind: "direct" },
    reply: {
      to: "sender",
      subject: "Re: {{subject}}",
      text: "Recebemos sua mensagem.",
      html: "<p>Recebemos sua mensagem.</p>",
    },
  },
  {
    name: "ack-forwarded",
    enabled: true,
    when: { kind: "forwarded" },
    reply: {
      to: "original_sender",
      subject: "Re: {{original_subject}}",
      text: "Olá {{original_from_name}}, recebemos sua mensagem.",
      html: "<p>Olá {{original_from_name}}, recebemos sua mensagem.</p>",
    },
  },
];

Deno.test("the acceptance shape parses into reply rules", () => {
  const [direct, fwd] = rules(ACCEPTANCE);
  assert.deepEqual(direct, {
    name: "ack-direct",
    enabled: true,
    priority: 0,
    when: { kind: "direct" },
    action: {
      type: "reply",
      to: "sender",
      subject: "Re: {{subject}}",
      text: "Recebemos sua mensagem.",
      html: "<p>Recebemos sua mensagem.</p>",
    },
  });
  assert.equal(fwd.action.type === "reply" && fwd.action.to, "original_sender");
});

const FULL = [
  {
    name: "vip",
    priority: 10,
    when: {
      kind: "direct",
      account: ["Suporte", "vendas@empresa.test"],
      from: "*@cliente.test",
      subject_contains: "pedido",
      subject_regex: "pedido\\s+\\d+",
      body_contains: "não chegou",
      body_regex: "^CPF: \\d{3}\\.\\d{3}",
      header: { name: "X-Priority", equals: "1" },
    },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Prioridade para {{from_name}}." },
  },
  {
    name: "partners",
    enabled: false,
    when: {
      kind: "forwarded",
      from: ["empresa.test", "*.empresa.test"],
      original_from: "*@parceiro.test",
      header: [{ name: "X-Mailer" }, { name: "Importance", contains: "high" }],
    },
    reply: { to: "original_sender", text: "Obrigado, {{original_from_name}}.", html: null },
  },
  { name: "newsletters", when: { header: { name: "X-Campaign" } }, action: "ignore" },
];

Deno.test("the whole when vocabulary parses, and export round-trips what import accepts", () => {
  const parsed = rules(FULL);
  assert.deepEqual(parsed[0].when, {
    kind: "direct",
    account: ["Suporte", "vendas@empresa.test"],
    from: ["*@cliente.test"],
    subject_contains: "pedido",
    subject_regex: "pedido\\s+\\d+",
    body_contains: "não chegou",
    body_regex: "^CPF: \\d{3}\\.\\d{3}",
    header: [{ name: "X-Priority", equals: "1" }],
  });
  assert.equal(parsed[1].action.type === "reply" && parsed[1].action.subject, "Re: {{subject}}");
  assert.deepEqual(parsed[2].action, { type: "ignore" });

  const exported = exportRules(parsed);
  assert.deepEqual(rules(exported), parsed, "parse(export(rules)) is the same rules");
  assert.deepEqual(exportRules(rules(exported)), exported, "export is stable");
  assert.deepEqual(JSON.parse(JSON.stringify(exported)), exported, "export is plain JSON");
  assert.deepEqual(exported[2], {
    name: "newsletters",
    enabled: true,
    priority: 0,
    when: { header: { name: "X-Campaign" } },
    ignore: true,
  });
});

Deno.test("ignore is accepted as ignore: true or action: ignore", () => {
  const [a, b] = rules([
    { name: "a", ignore: true },
    { name: "b", action: "ignore", when: { kind: "direct" } },
  ]);
  assert.deepEqual(a.action, { type: "ignore" });
  assert.deepEqual(a.when, {});
  assert.deepEqual(b.action, { type: "ignore" });
});

Deno.test("every problem is reported at once, naming the rule and the field", () => {
  const found = errors([
    { name: "ack", when: { kind: "dirct" }, reply: { to: "sender", text: "Oi {{nome}}" } },
    { name: "ack", ignore: true },
    {
      when: { subject_contain: "x", from: "a b@x" },
      reply: { to: "everyone", subject: "Re:\n{{subject}}", text: "x" },
    },
    { name: "loop", reply: { to: "sender", text: "x" }, ignore: true },
    { name: "re", when: { subject_regex: "(a)\\1", body_regex: "(?=x)" }, ignore: true },
    {
      name: "hdr",
      when: { header: { name: "Bad Name:", equals: "x", contains: "y" } },
      ignore: true,
    },
    "not a rule",
    { name: "both", action: "reply", ignore: true },
  ]);
  const expect = [
    /^rule 1 "ack": when\.kind: must be "forwarded" or "direct", got "dirct"$/,
    /^rule 1 "ack": reply\.text: uses unknown variable \{\{nome\}\}/,
    /^rule 2 "ack": name: "ack" is already used by rule 1$/,
    /^rule 3 \(no name\): name: is required/,
    /^rule 3 \(no name\): when\.subject_contain: unknown condition/,
    /^rule 3 \(no name\): when\.from: "a b@x" is not an address glob/,
    /^rule 3 \(no name\): reply\.to: must be "sender" or "original_sender", got "everyone"$/,
    /^rule 3 \(no name\): reply\.subject: contains a line break/,
    /^rule 4 "loop": reply: a rule that ignores a message cannot also reply/,
    /^rule 5 "re": when\.subject_regex: backreferences \(\\1\) are not supported$/,
    /^rule 5 "re": when\.body_regex: lookaround/,
    /^rule 6 "hdr": when\.header\.name: must be a header field name/,
    /^rule 6 "hdr": when\.header: use either equals or contains, not both$/,
    /^rule 7 \(no name\): must be an object$/,
    /^rule 8 "both": action: "reply" contradicts "ignore": true/,
  ];
  for (const pattern of expect) {
    assert.ok(found.some((e) => pattern.test(e)), `missing ${pattern}\n${found.join("\n")}`);
  }
  assert.equal(found.length, expect.length, found.join("\n"));
  assert.deepEqual(errors({ name: "x" }), ["the rules file must be a JSON array of rules"]);
});

Deno.test("rules run by priority (highest first), then file order; disabled are skipped", () => {
  const set = rules([
    { name: "low", when: { kind: "direct" }, ignore: true },
    { name: "off", enabled: false, priority: 100, ignore: true },
    { name: "high-miss", priority: 5, when: { kind: "forwarded" }, ignore: true },
    { name: "high-hit", priority: 5, when: { subject_contains: "PEDIDO" }, ignore: true },
    { name: "never", priority: 5, ignore: true },
  ]);
  const { matched, trail } = decideRule(set, context());
  assert.equal(matched?.name, "high-hit");
  assert.deepEqual(trail, [
    { rule: "off", hit: false, why: "disabled" },
    { rule: "high-miss", hit: false, why: "kind is direct, the rule wants forwarded" },
    { rule: "high-hit", hit: true, why: 'subject contains "PEDIDO"' },
  ]);
  const none = decideRule(set.filter((r) => r.name === "high-miss"), context());
  assert.equal(none.matched, null);
  assert.equal(none.trail.length, 1);
});

Deno.test("kind, account and from/original_from globs", () => {
  const ctx = context();
  assert.equal(matchRule(rule({ kind: "direct" }), ctx).hit, true);
  assert.equal(matchRule(rule({ kind: "forwarded" }), ctx).hit, false);
  assert.equal(matchRule(rule({ account: "suporte" }), ctx).hit, true, "account name, any case");
  assert.equal(matchRule(rule({ account: "CONTATO@empresa.test" }), ctx).hit, true, "alias");
  assert.equal(matchRule(rule({ account: "vendas" }), ctx).hit, false);
  assert.equal(matchRule(rule({ from: "*@cliente.test" }), ctx).hit, true);
  assert.equal(matchRule(rule({ from: "cliente.test" }), ctx).hit, true, "bare domain");
  assert.equal(matchRule(rule({ from: "*.cliente.test" }), ctx).hit, false, "subdomains only");
  assert.equal(matchRule(rule({ from: "ANA@*" }), ctx).hit, true);
  assert.equal(matchRule(rule({ from: ["x.test", "a?a@cliente.test"] }), ctx).hit, true);
  const fwd = context(email(), FORWARDED);
  assert.equal(matchRule(rule({ original_from: "parceiro.test" }), fwd).hit, true);
  assert.equal(
    matchRule(rule({ original_from: "parceiro.test" }), ctx).hit,
    false,
    "not a forward",
  );
  assert.match(
    matchRule(rule({ from: "*@x.test" }), ctx).why,
    /from "ana@cliente\.test" matches none/,
  );
});

Deno.test("subject and body: contains is case-insensitive, regexes search per line", () => {
  const ctx = context();
  assert.equal(matchRule(rule({ subject_contains: "ATRASADO" }), ctx).hit, true);
  assert.equal(matchRule(rule({ subject_regex: "^pedido \\d+" }), ctx).hit, true);
  assert.equal(matchRule(rule({ subject_regex: "^\\d+" }), ctx).hit, false);
  assert.equal(matchRule(rule({ body_contains: "NÃO CHEGOU" }), ctx).hit, true);
  assert.equal(matchRule(rule({ body_regex: "^cpf: [\\d.]+-\\d{2}$" }), ctx).hit, true);
  // HTML-only messages are searched without their tags.
  const html = context(email({ text: null, html: "<p>Meu <b>pedido</b> &amp; nota</p>" }));
  assert.equal(matchRule(rule({ body_contains: "pedido & nota" }), html).hit, true);
  assert.equal(matchRule(rule({ body_contains: "<b>" }), html).hit, false);
});

Deno.test("header conditions: present, equals, contains; name in any case", () => {
  const ctx = context(email({ headers: [["X-Priority", " 1 "], ["Importance", "High"]] }));
  assert.equal(matchRule(rule({ header: { name: "x-priority" } }), ctx).hit, true);
  assert.equal(matchRule(rule({ header: { name: "X-PRIORITY", equals: "1" } }), ctx).hit, true);
  assert.equal(matchRule(rule({ header: { name: "Importance", equals: "high" } }), ctx).hit, true);
  assert.equal(matchRule(rule({ header: { name: "Importance", contains: "IG" } }), ctx).hit, true);
  assert.equal(matchRule(rule({ header: { name: "X-Other" } }), ctx).hit, false);
  const both = rule({ header: [{ name: "X-Priority" }, { name: "X-Missing" }] });
  assert.deepEqual(matchRule(both, ctx), { hit: false, why: "header X-Missing is absent" });
});

Deno.test("the regex engine agrees with JavaScript RegExp (flags im) on ordinary patterns", () => {
  const patterns = [
    "pedido\\s+\\d+",
    "^re:",
    "fatura|boleto",
    "n[ãa]o\\s+chegou",
    "\\bcpf\\b",
    "colou?r",
    "[^a-z]{3}",
    "(?:ab)+c",
    "(?<n>x)y",
    "a{2,3}$",
    "\\x41\\u0042",
    "\\u{43}\\s\\S",
    "[\\s,]+fim",
    "\\.",
    "[\\w.+-]+@[\\w-]+\\.\\w+",
    "^$",
  ];
  const inputs = [
    "Pedido  123",
    "RE: teste",
    "seu BOLETO",
    "nao chegou",
    "Não  chegou",
    "CPF: 1",
    "color colour",
    "abc123!!!",
    "ABABC",
    "xy",
    "caaa",
    "AB",
    "a.b",
    "mail ana.s+1@cli-ente.test ok",
    "",
    "linha1\n\nlinha3",
    "abc\u00a0d",
    "até\u00a0o fim",
  ];
  for (const p of patterns) {
    const compiled = compileRuleRegex(p);
    assert.ok(compiled.ok, `${p}: ${JSON.stringify(compiled)}`);
    const js = new RegExp(p, p.includes("\\u{") ? "imu" : "im");
    for (const s of inputs) {
      assert.equal(compiled.regex.test(s), js.test(s), `/${p}/ on ${JSON.stringify(s)}`);
    }
  }
});

Deno.test("catastrophic patterns compile and cost at most program size × characters", () => {
  // RE2 searches in time linear in the text; the cost is counted, never timed (speed is measured
  // in bench/).
  const attack = "a".repeat(MAX_BODY_MATCH_CHARS) + "!";
  for (
    const p of ["(a+)+$", "(a|aa)*b", "(.*a){20}x", ".*a.*a.*b", "(\\w+\\s?)+$", "^(a?){25}a{25}$"]
  ) {
    const compiled = compileRuleRegex(p);
    assert.ok(compiled.ok, p);
    assert.equal(compiled.regex.test(attack), false, p);
    const short = "a".repeat(12) + "b";
    assert.equal(compiled.regex.test(short), new RegExp(p, "im").test(short), p);
    assert.ok(compiled.regex.size <= MAX_REGEX_PROGRAM, p);
    assert.equal(compiled.regex.cost(attack), compiled.regex.size * (attack.length + 1));
  }
  // A rule's body condition never looks past the cap.
  const late = context(email({ text: "x".repeat(MAX_BODY_MATCH_CHARS) + " segredo" }));
  assert.equal(matchRule(rule({ body_contains: "segredo" }), late).hit, false);
});

Deno.test("unsupported or oversized regexes are refused at import with a reason", () => {
  const cases: Array<[string, RegExp]> = [
    ["(a)\\1", /backreferences \(\\1\) are not supported/],
    ["(?<n>a)\\k<n>", /named backreferences/],
    ["(?=a)", /lookaround/],
    ["(?<!a)b", /lookaround/],
    ["a{1001}", /invalid repeat count/],
    ["(?:a{1,100}){1,100}", /invalid repeat count/],
    ["\\w{600}\\d{600}", /too large: it compiles to \d+ instructions/],
    ["(abc", /missing closing \)/],
    ["abc)", /unexpected \)/],
    ["[abc", /missing closing \]/],
    ["*a", /missing argument to repetition operator/],
    ["a**", /invalid nested repetition operator/],
    ["\\uZZ", /bad \\u escape/],
    ["[z-a]", /invalid character class range/],
    ["abc\\", /lone backslash/],
    ["x".repeat(501), /longer than 500/],
  ];
  for (const [p, why] of cases) {
    const compiled = compileRuleRegex(p);
    assert.equal(compiled.ok, false, p);
    if (!compiled.ok) assert.match(compiled.error, why, p);
  }
});

Deno.test("globs: * and ? only, case-insensitive, domain form without @", () => {
  assert.equal(globMatch("*@*.test", "a@b.test"), true);
  assert.equal(globMatch("a?c", "abc"), true);
  assert.equal(globMatch("a?c", "ac"), false);
  assert.equal(globMatch("*a*a*a*b", "a".repeat(5_000)), false);
  assert.equal(addressMatches("Cliente.TEST", "ana@cliente.test"), true);
  assert.equal(addressMatches("cliente.test", "ana@sub.cliente.test"), false);
  assert.equal(addressMatches("*cliente.test", "ana@sub.cliente.test"), true);
  assert.equal(addressMatches("*@cliente.test", ""), false);
});
