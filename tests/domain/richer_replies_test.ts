/**
 * Richer replies, pure: copies and Reply-To in the rules file, variants by language, the
 * language found in a message, and the composed reply carrying copies and attachments.
 */
import assert from "node:assert/strict";
import { buildEmail, type Draft } from "../support/email_draft.ts";
import type { Classification, ParsedEmail } from "../../src/domain/email.ts";
import { type AccountContext, decideReply } from "../../src/domain/decide_reply.ts";
import { exportRules, parseRules, type Rule } from "../../src/domain/rules.ts";
import { composeReply, copyRecipients } from "../../src/domain/reply_composer.ts";
import { detectLanguage, languageSample } from "../../src/domain/reply_language.ts";
import { chooseReplyVariant } from "../../src/domain/reply_variant.ts";
import { templateValues } from "../../src/domain/template.ts";

const DIRECT: Classification = { kind: "direct", original: null, confidence: 1, evidence: [] };
const ACCOUNT: AccountContext = {
  id: 7,
  name: "Suporte",
  addresses: ["suporte@empresa.test"],
  connectedAt: new Date("2026-01-01T00:00:00Z"),
  messageIdDomain: "carteiro.empresa.test",
  timeZone: "America/Sao_Paulo",
};
const SHA = "cd".repeat(32);

function email(draft: Draft = {}): ParsedEmail {
  return buildEmail(draft, { headers: { "return-path": ["<ana@cliente.test>"] } });
}

const RULE_JSON = {
  name: "ack",
  when: { kind: "direct" },
  reply: {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "Recebemos em {{received_local}}.",
    cc: ["equipe@empresa.test"],
    bcc: "arquivo@empresa.test",
    reply_to: "Atendimento@Empresa.test",
    variants: {
      en: { subject: "Re: {{subject}} (received)", text: "Received on {{received_local}}." },
      es: { text: "Recibido el {{received_local}}.", locale: "es-MX" },
    },
  },
};

function rules(json: unknown[] = [RULE_JSON]): Rule[] {
  const parsed = parseRules(json);
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  return parsed.rules;
}

const ENGLISH = "Hello, I ordered a blue jacket last week and it has not arrived yet. " +
  "Could you please tell me when it will be delivered? Thank you very much.";
const SPANISH = "Hola, pedí una chaqueta azul la semana pasada y todavía no ha llegado. " +
  "¿Podrían decirme cuándo la van a entregar? Muchas gracias.";
const PORTUGUESE = "Olá, comprei uma jaqueta azul na semana passada e ela ainda não chegou. " +
  "Vocês podem me dizer quando ela será entregue? Muito obrigada.";

Deno.test("cc, bcc and reply_to are parsed, lower-cased and exported back unchanged", () => {
  const [rule] = rules();
  assert.equal(rule.action.type, "reply");
  if (rule.action.type !== "reply") return;
  assert.deepEqual(rule.action.cc, ["equipe@empresa.test"]);
  assert.deepEqual(rule.action.bcc, ["arquivo@empresa.test"]);
  assert.equal(rule.action.replyTo, "atendimento@empresa.test");
  assert.equal(rule.action.variants?.en?.subject, "Re: {{subject}} (received)");
  // A variant without a subject takes the main one.
  assert.equal(rule.action.variants?.es?.subject, "Re: {{subject}}");
  assert.equal(rule.action.variants?.es?.locale, "es-MX");
  assert.deepEqual(rules(exportRules(rules())), rules());
});

Deno.test("bad copies, Reply-To, locales and variants are refused with their paths", () => {
  const parsed = parseRules([{
    name: "x",
    when: {},
    reply: {
      to: "sender",
      text: "Oi",
      cc: ["equipe@empresa.test", "not an address", "a@b.test, c@d.test"],
      bcc: ["x@y.test", "X@y.test"],
      reply_to: ["a@b.test"],
      locale: "not a locale!",
      variants: {
        fr: { text: "Bonjour" },
        en: { text: "Hi {{nope}}", extra: 1 },
        es: "hola",
      },
    },
  }]);
  assert.equal(parsed.ok, false);
  if (parsed.ok) return;
  const expected = [
    'rule 1 "x": reply.cc[1]: "not an address" is not one plain e-mail address',
    'rule 1 "x": reply.cc[2]: "a@b.test, c@d.test" is not one plain e-mail address',
    'rule 1 "x": reply.bcc[1]: "X@y.test" is listed twice',
    'rule 1 "x": reply.reply_to: ["a@b.test"] is not one plain e-mail address',
    'rule 1 "x": reply.locale: "not a locale!" is not a locale such as "pt-BR", "en-US" or "es"',
    'rule 1 "x": reply.variants.fr: unknown language (known: pt, en, es)',
    'rule 1 "x": reply.variants.en.extra: unknown field (known: subject, text, html, locale)',
    'rule 1 "x": reply.variants.es: must be an object with subject, text and html',
  ];
  for (const line of expected) assert.ok(parsed.errors.includes(line), parsed.errors.join("\n"));
  assert.ok(
    parsed.errors.some((e) => e.startsWith('rule 1 "x": reply.variants.en.text: uses unknown')),
    parsed.errors.join("\n"),
  );
  const many = parseRules([{
    name: "y",
    reply: { to: "sender", text: "Oi", cc: Array.from({ length: 11 }, (_, i) => `a${i}@b.test`) },
  }]);
  assert.deepEqual(many.ok ? [] : many.errors, [
    'rule 1 "y": reply.cc: has 11 addresses; the limit is 10',
  ]);
});

Deno.test("the language: Content-Language first, then the text; unknown when too short", () => {
  assert.deepEqual(detectLanguage(email({ text: ENGLISH, subject: "Order" })), {
    language: "en",
    source: "text",
  });
  assert.equal(detectLanguage(email({ text: SPANISH, subject: "Pedido" })).language, "es");
  assert.equal(detectLanguage(email({ text: PORTUGUESE, subject: "Pedido" })).language, "pt");
  assert.deepEqual(
    detectLanguage(email({ text: PORTUGUESE, headers: [["Content-Language", "fr, en-GB"]] })),
    { language: "en", source: "content-language" },
  );
  assert.deepEqual(detectLanguage(email({ text: "Oi", subject: "ok" })), {
    language: null,
    source: "none",
  });
  // Quoted lines are someone else's words.
  const quoted =
    `Sim, obrigada, vocês podem enviar amanhã mesmo, não tem problema nenhum.\n> ${ENGLISH}\n> ${ENGLISH}`;
  assert.equal(languageSample("Re: Order", quoted).includes("Hello"), false);
  assert.equal(detectLanguage(email({ text: quoted, subject: "Re: Order" })).language, "pt");
});

Deno.test("variant choice: the language's variant, else the main texts, with the reason", () => {
  const [rule] = rules();
  if (rule.action.type !== "reply") throw new Error("a reply rule");
  const en = chooseReplyVariant(rule.action, { language: "en", source: "text" });
  assert.equal(en.variant, "en");
  assert.equal(en.locale, "en-US");
  assert.equal(en.why, "message language en (detected in the text); reply texts: variant en");
  const es = chooseReplyVariant(rule.action, { language: "es", source: "content-language" });
  assert.equal(es.locale, "es-MX");
  const pt = chooseReplyVariant(rule.action, { language: "pt", source: "text" });
  assert.equal(pt.variant, "default");
  assert.equal(pt.locale, "pt-BR");
  assert.equal(pt.template.text, "Recebemos em {{received_local}}.");
  const unknown = chooseReplyVariant(rule.action, { language: null, source: "none" });
  assert.equal(unknown.variant, "default");
  assert.equal(unknown.why, "message language unknown; reply texts: the main ones");
});

Deno.test("decideReply: an English message gets the English texts, dates in its locale", () => {
  const d = decideReply({
    email: email({ text: ENGLISH, subject: "Order 77" }),
    classification: DIRECT,
    account: ACCOUNT,
    receivedAt: new Date("2026-07-07T12:30:00Z"),
    rawSha256: SHA,
    rules: rules(),
    attachments: new Map([["ack", [{
      id: 5,
      filename: "horarios.pdf",
      contentType: "application/pdf",
      size: 10,
    }]]]),
  });
  assert.equal(d.outcome, "reply", JSON.stringify(d));
  if (d.outcome !== "reply") return;
  assert.equal(d.reply.subject, "Re: Order 77 (received)");
  // 12:30 UTC is 09:30 in São Paulo, written the American way.
  assert.equal(d.reply.text, "Received on July 7, 2026 at 9:30 AM.");
  assert.deepEqual(d.reply.cc, ["equipe@empresa.test"]);
  assert.deepEqual(d.reply.bcc, ["arquivo@empresa.test"]);
  assert.equal(d.reply.replyTo, "atendimento@empresa.test");
  assert.deepEqual(d.reply.attachments.map((a) => a.id), [5]);
  assert.deepEqual(d.trail.at(-1), {
    rule: "ack",
    hit: true,
    why: "message language en (detected in the text); reply texts: variant en",
  });
  // The RFC 3834 headers stay.
  assert.equal(d.reply.headers["Auto-Submitted"], "auto-replied");

  const pt = decideReply({
    email: email({ text: PORTUGUESE }),
    classification: DIRECT,
    account: ACCOUNT,
    receivedAt: new Date("2026-07-07T12:30:00Z"),
    rawSha256: SHA,
    rules: rules(),
  });
  if (pt.outcome !== "reply") throw new Error(JSON.stringify(pt));
  assert.equal(pt.reply.text, "Recebemos em 7 de julho de 2026 às 09:30.");
  assert.deepEqual(pt.reply.attachments, []);
});

Deno.test("composeReply: copies never repeat the recipient or each other", () => {
  assert.deepEqual(
    copyRecipients("ana@cliente.test", ["ANA@cliente.test", "eq@e.test", "eq@e.test"], [
      "eq@e.test",
      "arq@e.test",
    ]),
    { cc: ["eq@e.test"], bcc: ["arq@e.test"] },
  );
  const values = templateValues({
    email: email(),
    classification: DIRECT,
    recipient: { name: "Ana", address: "ana@cliente.test" },
    accountName: "Suporte",
    accountAddress: "suporte@empresa.test",
    receivedAt: new Date("2026-01-01T00:00:00Z"),
  });
  const base = {
    parent: email(),
    from: { name: "", address: "suporte@empresa.test" },
    to: { name: "Ana", address: "ana@cliente.test" },
    template: { subject: "Re: {{subject}}", text: "Oi", html: null },
    values,
    dedupKey: "k",
    messageIdDomain: "carteiro.empresa.test",
  };
  const plain = composeReply(base);
  assert.ok(plain.ok);
  if (!plain.ok) return;
  assert.deepEqual([plain.reply.cc, plain.reply.bcc, plain.reply.replyTo], [[], [], null]);
  const bad = composeReply({ ...base, bcc: ["x@y.test>, z@w.test"] });
  assert.deepEqual(bad.ok ? [] : bad.errors, [
    'copy "x@y.test>, z@w.test" is not one plain address',
  ]);
});
