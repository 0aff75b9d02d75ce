import assert from "node:assert/strict";
import type { Classification } from "../../src/domain/email.ts";
import {
  escapeHtml,
  MAX_SUBJECT_CODE_POINTS,
  parseTemplate,
  renderHeader,
  renderHtml,
  renderText,
  type Template,
  TEMPLATE_VARIABLES,
  type TemplateValues,
  templateValues,
  templateVariablesUsed,
  truncateCodePoints,
} from "../../src/domain/template.ts";

function values(overrides: Partial<Record<keyof TemplateValues, string>> = {}): TemplateValues {
  const base = Object.fromEntries(TEMPLATE_VARIABLES.map((v) => [v, ""])) as Record<
    keyof TemplateValues,
    string
  >;
  return { ...base, ...overrides };
}

function compile(source: string, singleLine = false): Template {
  const parsed = parseTemplate(source, { singleLine });
  assert.ok(parsed.ok, `expected ${JSON.stringify(source)} to parse: ${JSON.stringify(parsed)}`);
  return parsed.template;
}

function errorsOf(source: string, singleLine = false): string[] {
  const parsed = parseTemplate(source, { singleLine });
  assert.equal(parsed.ok, false, `expected ${JSON.stringify(source)} to be refused`);
  return parsed.ok ? [] : parsed.errors;
}

Deno.test("variables are substituted, with or without inner spaces", () => {
  const t = compile("Olá {{from_name}}, recebemos {{ subject }} em {{account}}.");
  assert.deepEqual(templateVariablesUsed(t), ["from_name", "subject", "account"]);
  assert.equal(
    renderText(t, values({ from_name: "Ana", subject: "Pedido 123", account: "Suporte" })),
    "Olá Ana, recebemos Pedido 123 em Suporte.",
  );
});

Deno.test("unknown variables are refused at validation, naming the variable", () => {
  const errors = errorsOf("Olá {{nome}} e {{from_name}} e {{rule_secret}}");
  assert.equal(errors.length, 2);
  assert.match(errors[0], /unknown variable \{\{nome\}\}/);
  assert.match(errors[1], /unknown variable \{\{rule_secret\}\}/);
  assert.match(errors[0], /from_address/, "the error lists the known variables");
});

Deno.test("expressions and template-engine payloads are refused, not evaluated (J-02)", () => {
  for (
    const payload of [
      "{{constructor.constructor('return process')()}}",
      "{{7*7}}",
      "{{ ''.__class__.__mro__ }}",
      "{{ x|attr('format') }}",
      "{{{subject}}}",
      "{{subject.length}}",
      "{{#each x}}",
      "{{}}",
    ]
  ) {
    const errors = errorsOf(`a ${payload} b`);
    assert.ok(
      errors.length > 0 && errors.some((e) => /not a variable|unknown variable/.test(e)),
      payload,
    );
  }
  // Other engines' syntax is plain text: shown as written, never computed.
  const literal = compile("${7*7} %{subject} #{1+1}");
  assert.equal(renderText(literal, values({ subject: "x" })), "${7*7} %{subject} #{1+1}");
});

Deno.test("an unclosed {{ is refused with its position", () => {
  const errors = errorsOf("Olá {{from_name");
  assert.deepEqual(errors, ['has an unclosed "{{" at position 4']);
});

Deno.test("values are data: a subject holding {{…}} is inserted once, never re-rendered", () => {
  const t = compile("Re: {{subject}} / {{from_name}}");
  const out = renderText(
    t,
    values({ subject: "{{ rule.secret }} {{from_name}}", from_name: "Ana" }),
  );
  assert.equal(out, "Re: {{ rule.secret }} {{from_name}} / Ana");
});

Deno.test("a subject template may not contain a line break or control character", () => {
  assert.match(errorsOf("Re: x\r\nBcc: v@x.test", true)[0], /line break/);
  assert.match(errorsOf("Re:\u0000x", true)[0], /control character/);
  assert.match(errorsOf("Re:\u2028x", true)[0], /control character/);
  // A body keeps its own line breaks and tabs, but refuses other controls.
  assert.equal(renderText(compile("a\r\n\tb\rc"), values()), "a\n\tb\nc");
  assert.match(errorsOf("a\u0007b")[0], /control character/);
});

Deno.test("no value can add a header: CR, LF, NEL and separators become spaces (J-01)", () => {
  const subject = compile("Re: {{subject}}", true);
  for (
    const hostile of [
      "Oi\r\nBcc: victim@x.test",
      "Oi\nBcc: victim@x.test",
      "Oi\rBcc: victim@x.test",
      "Oi\u0085Bcc: victim@x.test",
      "Oi\u2028Bcc: victim@x.test",
      "Oi\r\n\r\nBcc: victim@x.test",
    ]
  ) {
    const out = renderHeader(subject, values({ subject: hostile }));
    assert.equal(out, "Re: Oi Bcc: victim@x.test", JSON.stringify(hostile));
    assert.ok(!/[\r\n\u0085\u2028\u2029]/.test(out));
  }
  // Percent-encoded line breaks are text, not line breaks.
  assert.equal(
    renderHeader(subject, values({ subject: "Oi%0d%0aBcc: v@x.test" })),
    "Re: Oi%0d%0aBcc: v@x.test",
  );
  // The same holds in the text part: a value stays on its line.
  const text = renderText(compile("Nome: {{from_name}}\nFim"), values({ from_name: "A\r\nB" }));
  assert.equal(text, "Nome: A B\nFim");
});

Deno.test("HTML parts escape every value; the template's own markup is kept", () => {
  const t = compile('<p title="{{from_name}}">Olá {{from_name}}</p>');
  const out = renderHtml(t, values({ from_name: `<script>alert('x')</script> & "Co"` }));
  assert.equal(
    out,
    '<p title="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;">' +
      "Olá &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;</p>",
  );
  assert.equal(escapeHtml(`<>&"'`), "&lt;&gt;&amp;&quot;&#39;");
});

Deno.test("header values are cut at 256 code points with …, never inside a character", () => {
  const t = compile("Re: {{subject}}", true);
  const long = "😀".repeat(400);
  const out = renderHeader(t, values({ subject: long }));
  assert.equal(Array.from(out).length, MAX_SUBJECT_CODE_POINTS);
  assert.ok(out.endsWith("…"));
  assert.ok(!/[\uD800-\uDBFF]…$/.test(out), "no lone high surrogate before the ellipsis");
  assert.equal(truncateCodePoints("abc", 3), "abc");
  assert.equal(truncateCodePoints("abcd", 3), "ab…");
});

Deno.test("templateValues fills every variable from the message, forward and account", () => {
  const forwarded: Classification = {
    kind: "forwarded",
    original: {
      fromAddress: "Bruno@Cliente.TEST",
      fromName: "Bruno Lima",
      subject: "Dúvida sobre boleto",
      date: "ter., 3 de mar. de 2026 10:00",
      dateIso: "2026-03-03T13:00:00.000Z",
    },
    confidence: 0.95,
    evidence: [],
  };
  const v = templateValues({
    email: { from: [{ name: "Carla", address: "carla@empresa.test" }], subject: "Fwd: Dúvida" },
    classification: forwarded,
    recipient: { name: "Bruno Lima", address: "bruno@cliente.test" },
    accountName: "Suporte",
    accountAddress: "suporte@empresa.test",
    receivedAt: new Date("2026-03-03T13:05:06.789Z"),
  });
  assert.deepEqual(v, {
    from_name: "Carla",
    from_address: "carla@empresa.test",
    recipient_name: "Bruno Lima",
    recipient_address: "bruno@cliente.test",
    subject: "Fwd: Dúvida",
    original_from_name: "Bruno Lima",
    original_from_address: "bruno@cliente.test",
    original_subject: "Dúvida sobre boleto",
    original_date: "ter., 3 de mar. de 2026 10:00",
    received_at: "2026-03-03T13:05:06Z",
    account: "Suporte",
    account_address: "suporte@empresa.test",
    received_local: "3 de março de 2026 às 13:05",
  });
  const direct = templateValues({
    email: { from: [], subject: null },
    classification: { kind: "direct", original: null },
    recipient: { name: "", address: "x@y.test" },
    accountName: "A",
    accountAddress: "a@b.test",
    receivedAt: new Date("2026-01-01T00:00:00Z"),
  });
  assert.equal(direct.original_from_address, "");
  assert.equal(direct.from_name, "");
  assert.equal(direct.subject, "");
  const local = templateValues({
    email: { from: [], subject: null },
    classification: null,
    recipient: { name: "", address: "x@y.test" },
    accountName: "A",
    accountAddress: "a@b.test",
    receivedAt: new Date("2026-03-03T13:05:06.789Z"),
    timeZone: "America/Sao_Paulo",
    locale: "en-US",
  });
  assert.equal(local.received_local, "March 3, 2026 at 10:05 AM");
});

Deno.test("{{name|fallback}} stands in for an empty value, as plain text", () => {
  const parsed = parseTemplate("Olá, {{from_name|cliente}}! <b>{{ subject | sem assunto }}</b>");
  assert.ok(parsed.ok);
  const values = (from_name: string, subject: string) =>
    ({
      ...Object.fromEntries(TEMPLATE_VARIABLES.map((v) => [v, ""])),
      from_name,
      subject,
    }) as TemplateValues;
  assert.equal(renderText(parsed.template, values("Ana", "Pedido")), "Olá, Ana! <b>Pedido</b>");
  assert.equal(renderText(parsed.template, values("", "")), "Olá, cliente! <b>sem assunto</b>");
  const html = parseTemplate("{{from_name|<Cliente & cia>}}");
  assert.ok(html.ok);
  assert.equal(renderHtml(html.template, values("", "")), "&lt;Cliente &amp; cia&gt;");
  assert.match(errorsOf("{{from_name|a{{b}}")[0], /fallback .* holds "\{\{"/);
  assert.match(errorsOf(`{{from_name|${"x".repeat(201)}}}`)[0], /longer than 200/);
  assert.match(errorsOf("{{nome|x}}")[0], /unknown variable \{\{nome\}\}/);
});

Deno.test("oversized templates are refused", () => {
  assert.match(errorsOf("x".repeat(1_001), true)[0], /limit is 1000/);
  assert.match(errorsOf("x".repeat(70_000))[0], /limit is 65536/);
});
