import assert from "node:assert/strict";
import type { ParsedEmail } from "../../src/domain/email.ts";
import {
  boundReferences,
  collapseReplyPrefixes,
  type ComposedReply,
  composeReply,
  type ComposeReplyInput,
  dedupKey,
  extractMessageIds,
  isOurReply,
  isOurReplyId,
  replyFrom,
  replyMessageId,
  replySubject,
  threadingHeaders,
} from "../../src/domain/reply_composer.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { TEMPLATE_VARIABLES, type TemplateValues } from "../../src/domain/template.ts";

const DOMAIN = "carteiro.empresa.test";
const SHA = "0123456789abcdef".repeat(4);

type Parent = Pick<ParsedEmail, "messageId" | "inReplyTo" | "references">;

function parent(overrides: Partial<Parent> = {}): Parent {
  return { messageId: "<432df324@example.org>", inReplyTo: null, references: [], ...overrides };
}

function values(overrides: Partial<Record<keyof TemplateValues, string>> = {}): TemplateValues {
  const base = Object.fromEntries(TEMPLATE_VARIABLES.map((v) => [v, ""])) as Record<
    keyof TemplateValues,
    string
  >;
  return { ...base, subject: "Pedido 123", from_name: "Ana", ...overrides };
}

function compose(overrides: Partial<ComposeReplyInput> = {}): ComposedReply {
  const result = composeReply({
    parent: parent(),
    from: { name: "Suporte Empresa", address: "suporte@empresa.test" },
    to: { name: "Ana Souza", address: "ana@cliente.test" },
    template: {
      subject: "Re: {{subject}}",
      text: "Olá {{from_name}},\nRecebemos sua mensagem.",
      html: "<p>Olá {{from_name}}, recebemos sua mensagem.</p>",
    },
    values: values(),
    dedupKey: dedupKey({ accountId: 7, rawSha256: SHA, ruleName: "ack-direct" }),
    messageIdDomain: DOMAIN,
    ...overrides,
  });
  assert.ok(result.ok, JSON.stringify(result));
  return result.reply;
}

async function webSha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256Hex matches the FIPS vectors and WebCrypto on awkward lengths", async () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  for (const s of ["a".repeat(55), "a".repeat(56), "a".repeat(64), "ação 🎉".repeat(99)]) {
    assert.equal(sha256Hex(s), await webSha256(s), `length ${s.length}`);
    assert.equal(sha256Hex(new TextEncoder().encode(s)), sha256Hex(s), "bytes as their string");
  }
});

Deno.test("the dedup key names account, raw digest and rule; it is stable and validated", () => {
  const key = dedupKey({ accountId: 7, rawSha256: SHA.toUpperCase(), ruleName: "ack direct/1" });
  assert.equal(key, `v1/7/${SHA}/ack%20direct%2F1`);
  assert.equal(dedupKey({ accountId: 7, rawSha256: SHA, ruleName: "ack direct/1" }), key);
  assert.notEqual(dedupKey({ accountId: 8, rawSha256: SHA, ruleName: "ack direct/1" }), key);
  assert.notEqual(dedupKey({ accountId: 7, rawSha256: SHA, ruleName: "other" }), key);
  assert.throws(
    () => dedupKey({ accountId: 7, rawSha256: "not-a-digest", ruleName: "r" }),
    RangeError,
  );
});

Deno.test("the reply Message-ID derives from the dedup key and is recognised as ours", () => {
  const key = dedupKey({ accountId: 7, rawSha256: SHA, ruleName: "ack" });
  const id = replyMessageId(key, "Carteiro.Empresa.TEST");
  assert.match(id, /^<carteiro\.[0-9a-f]{32}@carteiro\.empresa\.test>$/);
  assert.equal(id, `<carteiro.${sha256Hex(key).slice(0, 32)}@${DOMAIN}>`);
  assert.equal(replyMessageId(key, DOMAIN), id, "same key, same id: every retry carries it");
  assert.notEqual(replyMessageId(key + "x", DOMAIN), id);
  assert.equal(isOurReplyId(id, DOMAIN), true);
  assert.equal(isOurReplyId(id.slice(1, -1).toUpperCase(), DOMAIN), true);
  assert.equal(isOurReplyId(id, "other.test"), false);
  assert.equal(isOurReplyId(`<carteiro.xyz@${DOMAIN}>`, DOMAIN), false);
  assert.equal(isOurReplyId(`<432df324@${DOMAIN}>`, DOMAIN), false);
  assert.throws(() => replyMessageId(key, "bad domain\r\nX: y"), RangeError);
});

Deno.test("isOurReply tells our reply, a reply to it, and unrelated mail apart", () => {
  const ours = replyMessageId("k", DOMAIN);
  const base = { messageId: "<x@cliente.test>", inReplyTo: null, references: [], headers: {} };
  assert.equal(isOurReply(base, DOMAIN), null);
  assert.equal(isOurReply({ ...base, messageId: ours }, DOMAIN)?.kind, "own_reply");
  assert.equal(
    isOurReply({ ...base, headers: { "x-carteiro-loop": [DOMAIN] } }, DOMAIN)?.kind,
    "own_reply",
  );
  assert.equal(isOurReply({ ...base, inReplyTo: ours }, DOMAIN)?.kind, "reply_to_own_reply");
  assert.equal(
    isOurReply({ ...base, references: ["<a@b.test>", ours] }, DOMAIN)?.kind,
    "reply_to_own_reply",
  );
});

Deno.test("every reply carries Auto-Submitted and the loop-breaking headers (B-01)", () => {
  const reply = compose();
  assert.deepEqual(reply.headers, {
    "Auto-Submitted": "auto-replied",
    "Precedence": "bulk",
    "X-Auto-Response-Suppress": "All",
    "X-Carteiro-Loop": DOMAIN,
  });
  assert.equal(
    reply.messageId,
    replyMessageId(dedupKey({ accountId: 7, rawSha256: SHA, ruleName: "ack-direct" }), DOMAIN),
  );
});

Deno.test("In-Reply-To and References follow RFC 5322 §3.6.4 (Pigeonhole fixture)", () => {
  const refs = [
    "<a7e5d9f1@example.org>",
    "<b3d8@example.com>",
    "<0123456789abcdefghijklmnopqrstuvwxyz.0123456789abcdefghijklmnopqrstuvwxyz@long.example.net>",
    "<c4@example.org>",
    "<d5@example.org>",
  ];
  const reply = compose({ parent: parent({ references: refs }) });
  assert.equal(reply.inReplyTo, "<432df324@example.org>");
  assert.deepEqual(reply.references, [...refs, "<432df324@example.org>"]);

  // No Message-ID on the original: no In-Reply-To, References copied unchanged.
  const orphan = compose({ parent: parent({ messageId: null, references: refs }) });
  assert.equal(orphan.inReplyTo, null);
  assert.deepEqual(orphan.references, refs);

  // No References but a single-id In-Reply-To: that id, then the parent's.
  assert.deepEqual(threadingHeaders(parent({ inReplyTo: "<up@x.test>" })).references, [
    "<up@x.test>",
    "<432df324@example.org>",
  ]);
  // In-Reply-To with two ids is ambiguous and not used.
  assert.deepEqual(threadingHeaders(parent({ inReplyTo: "<a@x.test> <b@x.test>" })).references, [
    "<432df324@example.org>",
  ]);
});

Deno.test("References stay bounded: root + newest ids within the size cap (B-07)", () => {
  const ids = Array.from({ length: 2_000 }, (_, i) => `<id-${i}-${"z".repeat(25)}@example.org>`);
  assert.ok(ids.join(" ").length > 80_000);
  const t = threadingHeaders(parent({ references: ids }));
  assert.equal(t.references[0], ids[0], "the thread root is kept");
  assert.equal(t.references.at(-1), "<432df324@example.org>", "the parent is last");
  assert.equal(t.references.at(-2), ids.at(-1), "the nearest ancestor is kept");
  assert.ok(t.references.length <= 20);
  assert.ok(t.references.join(" ").length <= 2_000);
  const tight = boundReferences(ids, { maxIds: 50, maxChars: 300 });
  assert.ok(tight.join(" ").length <= 300);
  assert.equal(tight[0], ids[0]);
  assert.equal(tight.at(-1), ids.at(-1));
});

Deno.test("ids that could break a header are dropped from threading", () => {
  assert.deepEqual(
    extractMessageIds("<ok@x.test> <bad id@x.test> <e\r\nvil@x.test> <ç@x.test> <two@x.test>"),
    ["<ok@x.test>", "<two@x.test>"],
  );
  assert.deepEqual(extractMessageIds("bare@x.test"), ["<bare@x.test>"]);
  assert.deepEqual(extractMessageIds("no id here"), []);
  const t = threadingHeaders(parent({ messageId: "<a\r\nBcc: v@x.test>" }));
  assert.equal(t.inReplyTo, null);
});

Deno.test("reply prefixes collapse into one Re:, Fwd: after them is kept (B-02)", () => {
  const cases: Array<[string, string]> = [
    ["Pedido 123", "Pedido 123"],
    ["Re: Pedido", "Re: Pedido"],
    ["RE: Re: re: Pedido", "Re: Pedido"],
    ["Res: RES: Pedido", "Re: Pedido"],
    ["AW: SV: VS: Antw: Pedido", "Re: Pedido"],
    ["Re[2]: Re(3): Pedido", "Re: Pedido"],
    ["RE : Pedido", "Re: Pedido"],
    ["Re: Fwd: Re: Pedido", "Re: Fwd: Re: Pedido"],
    ["Re: RE: Fwd: Pedido", "Re: Fwd: Pedido"],
    ["Fwd: Re: Pedido", "Fwd: Re: Pedido"],
    ["Resposta automática: Re: x", "Resposta automática: Re: x"],
    ["Regarding: x", "Regarding: x"],
  ];
  for (const [input, want] of cases) assert.equal(collapseReplyPrefixes(input), want, input);
  assert.equal(
    compose({ values: values({ subject: "RE: AW: Re: Pedido" }) }).subject,
    "Re: Pedido",
  );
  assert.equal(replySubject("Re: "), "Resposta automática");
  assert.equal(replySubject("Re: Re:", "Automatic reply"), "Automatic reply");
  assert.equal(
    compose({ values: values({ subject: "" }), defaultSubject: "Sem assunto" }).subject,
    "Sem assunto",
  );
  assert.equal(
    compose({ template: { subject: "Tulips", text: "x", html: null } }).subject,
    "Tulips",
  );
  const long = compose({ values: values({ subject: "Lorem ipsum ".repeat(60) }) }).subject;
  assert.equal(Array.from(long).length, 256);
  assert.ok(long.startsWith("Re: Lorem ipsum") && long.endsWith("…"));
});

Deno.test("a hostile subject or name cannot add a header or a recipient (J-01)", () => {
  const reply = compose({
    to: { name: "Ana\r\nBcc: victim@x.test", address: "ana@cliente.test" },
    values: values({ subject: "Oi\r\nBcc: victim@x.test", from_name: "A\nB" }),
  });
  assert.equal(reply.subject, "Re: Oi Bcc: victim@x.test");
  assert.deepEqual(reply.to, { name: "Ana Bcc: victim@x.test", address: "ana@cliente.test" });
  const all = JSON.stringify([
    reply.subject,
    reply.to,
    reply.from,
    reply.headers,
    reply.references,
  ]);
  assert.ok(!/\\r|\\n/.test(all), all);
  for (
    const address of [
      "a@x.test, b@y.test",
      "a@x.test\r\nBcc: v@x.test",
      "<a@x.test>",
      "g: a@x.test;",
    ]
  ) {
    const bad = composeReply({
      parent: parent(),
      from: { name: "", address: "suporte@empresa.test" },
      to: { name: "", address },
      template: { subject: "Re", text: "x", html: null },
      values: values(),
      dedupKey: "k",
      messageIdDomain: DOMAIN,
    });
    assert.equal(bad.ok, false, address);
  }
});

Deno.test("text and HTML parts render; HTML values are escaped; HTML can come from text", () => {
  const reply = compose({ values: values({ from_name: "<b>Zé</b> & Cia 🎉" }) });
  assert.equal(reply.text, "Olá <b>Zé</b> & Cia 🎉,\nRecebemos sua mensagem.");
  assert.equal(
    reply.html,
    "<p>Olá &lt;b&gt;Zé&lt;/b&gt; &amp; Cia 🎉, recebemos sua mensagem.</p>",
  );
  const derived = compose({
    template: { subject: "Re: {{subject}}", text: "Olá <{{from_name}}>\n\nObrigado", html: null },
  });
  assert.equal(derived.html, "<p>Olá &#60;Ana&#62;</p>\n<p>Obrigado</p>");
});

Deno.test("a template that fails validation is reported, not sent", () => {
  const result = composeReply({
    parent: parent(),
    from: { name: "", address: "suporte@empresa.test" },
    to: { name: "", address: "ana@cliente.test" },
    template: { subject: "Re: {{assunto}}", text: "{{7*7}}", html: null },
    values: values(),
    dedupKey: "k",
    messageIdDomain: DOMAIN,
  });
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.errors.length, 2);
    assert.match(result.errors[0], /^subject uses unknown variable \{\{assunto\}\}/);
    assert.match(result.errors[1], /^text has "\{\{7\*7\}\}"/);
  }
});

Deno.test("From is the account address the mail was sent to (RFC 5230 §5.4, B-04)", () => {
  const mine = ["suporte@empresa.test", "contato@empresa.test", "vendas@empresa.test"];
  const msg = (o: Partial<Pick<ParsedEmail, "to" | "cc" | "headers">>) => ({
    to: [],
    cc: [],
    headers: {},
    ...o,
  });
  const one = (address: string) => [{ name: "", address }];
  assert.equal(
    replyFrom(msg({ to: one("suporte@empresa.test") }), mine).address,
    "suporte@empresa.test",
  );
  assert.equal(
    replyFrom(msg({ to: one("Contato@Empresa.TEST") }), mine).address,
    "contato@empresa.test",
  );
  assert.equal(
    replyFrom(msg({ to: one("tss@x.test"), cc: one("vendas@empresa.test") }), mine).address,
    "vendas@empresa.test",
  );
  assert.equal(
    replyFrom(
      msg({
        to: one("contato@empresa.test"),
        headers: { "delivered-to": ["vendas@empresa.test"] },
      }),
      mine,
    ).address,
    "vendas@empresa.test",
    "the envelope recipient wins",
  );
  const fallback = replyFrom(msg({ to: one("all@empresa.test") }), mine, "Günther M. Karotte");
  assert.deepEqual(fallback, { name: "Günther M. Karotte", address: "suporte@empresa.test" });
});

Deno.test("composition is pure: the same input gives the same reply", () => {
  assert.deepEqual(compose(), compose());
});
