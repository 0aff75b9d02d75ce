import assert from "node:assert/strict";
import { classify } from "../../src/domain/classifier.ts";
import type { AttachedMessage, Classification, ParsedEmail } from "../../src/domain/email.ts";
import { findBodyMarkers, readAttribution } from "../../src/domain/forward_markers.ts";
import { htmlToText } from "../../src/domain/html_text.ts";
import { readSubject } from "../../src/domain/subject_prefixes.ts";
import { parseWrittenDate } from "../../src/domain/written_date.ts";
import { readMailbox } from "../../src/domain/written_mailbox.ts";

/** A ParsedEmail with only what a test sets; the rest empty. */
function email(p: Partial<ParsedEmail> = {}): ParsedEmail {
  return {
    messageId: "<m1@example.test>",
    from: [{ name: "Ana Lima", address: "ana@empresa.test" }],
    sender: null,
    replyTo: [],
    to: [{ name: "", address: "caixa@carteiro.test" }],
    cc: [],
    subject: "Hello",
    date: null,
    inReplyTo: null,
    references: [],
    headers: { date: ["Fri, 01 Mar 2024 10:00:00 -0300"] },
    text: "",
    html: null,
    attachments: [],
    attachedMessages: [],
    ...p,
  };
}

function lines(...l: string[]): string {
  return l.join("\n");
}

function explain(c: Classification): string {
  return `${c.kind} ${c.original?.fromAddress ?? "-"} (${c.confidence}): ${c.evidence.join(" | ")}`;
}

// A forwarded block under Outlook's underscore line, English labels.
const OUTLOOK_BLOCK = lines(
  "See below.",
  "",
  "________________________________",
  "From: Bruno Costa <bruno.costa@fornecedor.test>",
  "Sent: Wednesday, October 27, 2021 15:14",
  "To: Ana Lima <ana@empresa.test>",
  "Subject: Budget 2022",
  "",
  "Here is the budget.",
);

// ---------------------------------------------------------------------------------------------
// Subject prefixes.

Deno.test("every forward prefix family reads as a forward, in any case", () => {
  const subjects = [
    "Fwd: x",
    "FWD: x",
    "fwd: x",
    "FW: x",
    "Fw: x",
    "Enc: x",
    "ENC: x",
    "TR: x",
    "WG: x",
    "RV: x",
    "I: x",
    "VB: x",
    "VL: x",
    "PD: x",
    "Doorst: x",
    "Wtr: x",
    "Redir.: x",
    "Videresend: x",
    "İLT: x",
    "Fwd[2]: x",
    "Fwd(3): x",
    "Fwd : x",
    "转发：x",
    "転送: x",
    "[Fwd: x]",
  ];
  for (const s of subjects) {
    assert.equal(readSubject(s).prefixes[0]?.kind, "forward", s);
    const c = classify(email({ subject: s, text: "Olhe isto." }));
    assert.equal(c.kind, "forwarded", `${s}: ${explain(c)}`);
    assert.equal(c.original?.subject, "x", s);
  }
});

Deno.test("reply prefixes read as replies and keep the message direct", () => {
  for (
    const s of ["Re: x", "RE: x", "RES: x", "AW: x", "SV: x", "Antw: x", "Odp: x", "R: x", "YNT: x"]
  ) {
    assert.equal(readSubject(s).prefixes[0]?.kind, "reply", s);
    assert.equal(classify(email({ subject: s, text: "Obrigado." })).kind, "direct", s);
  }
});

Deno.test("the outermost prefix decides when reply and forward prefixes are mixed", () => {
  const r = readSubject("RE: FW: Budget");
  assert.deepEqual(r.prefixes.map((p) => p.kind), ["reply", "forward"]);
  assert.equal(r.base, "Budget");
  assert.equal(classify(email({ subject: "RE: FW: Budget", text: OUTLOOK_BLOCK })).kind, "direct");
  assert.equal(
    classify(email({ subject: "FW: RE: Budget", text: OUTLOOK_BLOCK })).kind,
    "forwarded",
  );
  assert.deepEqual(readSubject("Fwd:Re:FW:x").prefixes.map((p) => p.kind), [
    "forward",
    "reply",
    "forward",
  ]);
  assert.equal(readSubject("AW: WG: Angebot").prefixes[0].kind, "reply");
});

Deno.test("gateway tags like [EXT] are skipped before the prefix", () => {
  for (const s of ["[EXT] FW: Budget", "[External] Fwd: Budget", "*EXTERNAL* Fwd: Budget"]) {
    const c = classify(email({ subject: s, text: OUTLOOK_BLOCK }));
    assert.equal(c.kind, "forwarded", `${s}: ${explain(c)}`);
    assert.ok(c.evidence.some((e) => e.startsWith("subject tag")), s);
  }
  assert.equal(readSubject("EXTERNAL: Fwd: Budget").prefixes[0].kind, "forward");
  assert.equal(
    classify(email({ subject: "[EXT] RE: Budget", text: OUTLOOK_BLOCK })).kind,
    "direct",
  );
  // A word tag without a prefix after it is just the subject.
  assert.deepEqual(readSubject("Warning: disk almost full").tags, []);
  assert.equal(readSubject("I: x").prefixes.length, 1);
  assert.equal(readSubject("Invoice: x").prefixes.length, 0);
});

// ---------------------------------------------------------------------------------------------
// Outlook header blocks: the same block under a forward and a reply.

Deno.test("an Outlook block under a forward prefix gives the original sender", () => {
  const c = classify(email({ subject: "FW: Budget 2022", text: OUTLOOK_BLOCK }));
  assert.equal(c.kind, "forwarded", explain(c));
  assert.deepEqual(c.original, {
    fromAddress: "bruno.costa@fornecedor.test",
    fromName: "Bruno Costa",
    subject: "Budget 2022",
    date: "Wednesday, October 27, 2021 15:14",
    // The block names no zone: the message's own Date header offset (-0300) is used.
    dateIso: "2021-10-27T15:14:00-03:00",
  });
});

Deno.test("the same Outlook block under a reply prefix, or no prefix, stays direct", () => {
  const reply = classify(email({ subject: "RE: Budget 2022", text: OUTLOOK_BLOCK }));
  assert.equal(reply.kind, "direct", explain(reply));
  assert.equal(reply.original, null);
  const bare = classify(email({ subject: "Budget 2022", text: OUTLOOK_BLOCK }));
  assert.equal(bare.kind, "direct", explain(bare));
  assert.ok(bare.confidence < reply.confidence, "no prefix is less sure than a reply prefix");
});

Deno.test("'-----Mensagem original-----' forwards with ENC: and replies with RES:", () => {
  const body = lines(
    "Segue abaixo.",
    "",
    "-----Mensagem original-----",
    "De: Carla Dias <carla@cliente.test>",
    "Enviada em: quinta-feira, 28 de outubro de 2021 12:46",
    "Para: Ana Lima <ana@empresa.test>",
    "Assunto: Pedido 123",
    "",
    "Bom dia.",
  );
  const fwd = classify(email({ subject: "ENC: Pedido 123", text: body }));
  assert.equal(fwd.kind, "forwarded", explain(fwd));
  assert.equal(fwd.original?.fromAddress, "carla@cliente.test");
  assert.equal(fwd.original?.subject, "Pedido 123");
  assert.equal(fwd.original?.dateIso, "2021-10-28T12:46:00-03:00");
  assert.equal(classify(email({ subject: "RES: Pedido 123", text: body })).kind, "direct");
});

Deno.test("'-----Ursprüngliche Nachricht-----' and underscore blocks in German", () => {
  const body = lines(
    "-----Ursprüngliche Nachricht-----",
    "Von: Max Mustermann <max@beispiel.test>",
    "Gesendet: Dienstag, 2. November 2021 09:26",
    "An: Erika <erika@beispiel.test>",
    "Betreff: Angebot",
  );
  const c = classify(email({ subject: "WG: Angebot", text: body }));
  assert.equal(c.original?.fromAddress, "max@beispiel.test", explain(c));
  assert.equal(c.original?.dateIso, "2021-11-02T09:26:00-03:00");
  assert.equal(classify(email({ subject: "AW: Angebot", text: body })).kind, "direct");
});

// ---------------------------------------------------------------------------------------------
// Outlook for Mac: forwards that look like replies.

Deno.test("Outlook for Mac forwards ('Em …, Nome <…> escreveu:') are read with the prefix", () => {
  const quotedName = lines(
    'Em 28/10/21, 12:46, "Maria Souza" <maria@exemplo.test> escreveu:',
    "",
    "    Prezados, segue a proposta.",
  );
  const c = classify(email({ subject: "ENC: Proposta", text: quotedName }));
  assert.equal(c.kind, "forwarded", explain(c));
  assert.equal(c.original?.fromAddress, "maria@exemplo.test");
  assert.equal(c.original?.fromName, "Maria Souza");
  assert.equal(c.original?.date, "28/10/21, 12:46");
  assert.equal(c.original?.dateIso, "2021-10-28T12:46:00-03:00");

  const plainName = lines(
    "Em 28 de outubro de 2021 12:46, Maria Souza <maria@exemplo.test> escreveu:",
    "",
    "Prezados, segue a proposta.",
  );
  const d = classify(email({ subject: "FW: Proposta", text: plainName }));
  assert.equal(d.original?.fromAddress, "maria@exemplo.test", explain(d));
  assert.equal(d.original?.fromName, "Maria Souza");
  assert.equal(d.original?.subject, "Proposta", "subject falls back to the forward's own");

  // The same body without a forward prefix is a quoted reply.
  assert.equal(classify(email({ subject: "Proposta", text: quotedName })).kind, "direct");
});

// ---------------------------------------------------------------------------------------------
// Quoted replies.

Deno.test("a quoted reply stays direct, with or without Re:", () => {
  const body = lines(
    "Combinado, até amanhã.",
    "",
    "On Mon, Apr 2, 2012 at 6:26 PM, Megan One <megan@example.test> wrote:",
    "",
    "> Can we meet tomorrow?",
  );
  for (const subject of ["Re: Meeting", "Meeting"]) {
    const c = classify(email({ subject, text: body }));
    assert.equal(c.kind, "direct", explain(c));
  }
});

Deno.test("a reply quoting a forward stays direct", () => {
  const body = lines(
    "Thanks, I'll handle it.",
    "",
    "On Tue, Nov 2, 2021 at 10:00 AM, Ana Lima <ana@empresa.test> wrote:",
    "> FYI",
    ">",
    "> ---------- Forwarded message ---------",
    "> From: Bruno Costa <bruno.costa@fornecedor.test>",
    "> Date: Mon, Nov 1, 2021 at 9:00 AM",
    "> Subject: Budget",
  );
  for (const subject of ["Re: Fwd: Budget", "Budget"]) {
    const c = classify(email({ subject, text: body }));
    assert.equal(c.kind, "direct", `${subject}: ${explain(c)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Body separators without a subject prefix.

Deno.test("Gmail, Apple Mail, Thunderbird and Yahoo separators forward on their own", () => {
  const bodies: Array<[string, string]> = [
    [
      "gmail",
      lines(
        "FYI",
        "",
        "---------- Forwarded message ---------",
        "De: Bruno Costa <bruno.costa@fornecedor.test>",
        "Date: qua., 27 de out. de 2021 às 09:31",
        "Subject: Budget",
        "To: <ana@empresa.test>",
      ),
    ],
    [
      "apple mail",
      lines(
        "> Início da mensagem encaminhada:",
        ">",
        "> De: Bruno Costa <bruno.costa@fornecedor.test>",
        "> Assunto: Budget",
        "> Data: 26 de outubro de 2021, 14:25:08 BRT",
        "> Para: ana@empresa.test",
      ),
    ],
    [
      "thunderbird",
      lines(
        "-------- Weitergeleitete Nachricht --------",
        "Betreff: \tBudget",
        "Datum: \tWed, 3 Nov 2021 15:51:30 +0100",
        "Von: \tBruno Costa <bruno.costa@fornecedor.test>",
        "An: \tana@empresa.test",
      ),
    ],
    [
      "yahoo",
      "  ----- Forwarded Message ----- From: Bruno Costa <bruno.costa@fornecedor.test>To: " +
      '"ana@empresa.test" <ana@empresa.test>Sent: Tuesday, November 2, 2021, 09:26:50 AM ' +
      "GMT+1Subject: Budget",
    ],
  ];
  for (const [name, text] of bodies) {
    const c = classify(email({ subject: "Budget", text }));
    assert.equal(c.kind, "forwarded", `${name}: ${explain(c)}`);
    assert.equal(c.original?.fromAddress, "bruno.costa@fornecedor.test", name);
    assert.equal(c.original?.fromName, "Bruno Costa", name);
    assert.equal(c.original?.subject, "Budget", name);
    assert.ok(c.original?.dateIso, `${name}: ${c.original?.date}`);
  }
});

Deno.test("a subject wrapped onto a second line is read whole", () => {
  const body = lines(
    "FYI",
    "",
    "---------- Forwarded message ----------",
    "From: bob@example.test",
    "Date: Tue, Sep 4, 2012 at 1:35 PM",
    "Subject: Two",
    "line subject",
    "To: rob@example.test",
    "",
    "Text",
  );
  const c = classify(email({ subject: "Holdout", text: body }));
  assert.equal(c.original?.fromAddress, "bob@example.test", explain(c));
  assert.equal(c.original?.fromName, null);
  assert.equal(c.original?.subject, "Two line subject");
});

Deno.test("nested inline forwards give the innermost original", () => {
  const body = lines(
    "---------- Forwarded message ---------",
    "From: Carla <carla@cliente.test>",
    "Date: Tue, Nov 2, 2021 at 10:00 AM",
    "Subject: Fwd: Budget",
    "To: <ana@empresa.test>",
    "",
    "Carla's note.",
    "",
    "---------- Forwarded message ---------",
    "From: Bruno Costa <bruno.costa@fornecedor.test>",
    "Date: Mon, Nov 1, 2021 at 9:00 AM",
    "Subject: Budget",
    "To: <carla@cliente.test>",
  );
  const c = classify(email({ subject: "Fwd: Fwd: Budget", text: body }));
  assert.equal(c.original?.fromAddress, "bruno.costa@fornecedor.test", explain(c));
  assert.ok(c.evidence.some((e) => e.startsWith("nested forward")));
  // A thread quoted inside a forward is not a nested forward: the first block is the original.
  const thread = body.replace("Subject: Fwd: Budget", "Subject: Budget");
  assert.equal(
    classify(email({ subject: "Fwd: Budget", text: thread })).original?.fromAddress,
    "carla@cliente.test",
  );
});

Deno.test("prose that mentions a forwarded message is not a separator", () => {
  for (
    const text of [
      "Please see the forwarded message:\n\n- item one\n- item two",
      "-------- Forward looking statements --------\nThis is not advice.",
    ]
  ) {
    assert.equal(classify(email({ subject: "Note", text })).kind, "direct", text);
  }
});

// ---------------------------------------------------------------------------------------------
// VS: is a forward in Danish/Norwegian and a reply in Finnish.

Deno.test("VS: is settled by the block's labels, Content-Language, then In-Reply-To", () => {
  const danish = lines(
    "Fra: Bruno Costa <bruno.costa@fornecedor.test>",
    "Sendt: 27. oktober 2021 15:14",
    "Til: ana@empresa.test",
    "Emne: Tilbud",
  );
  const finnish = lines(
    "Lähettäjä: Bruno Costa <bruno.costa@fornecedor.test>",
    "Lähetetty: 27. lokakuuta 2021 15.14",
    "Vastaanottaja: ana@empresa.test",
    "Aihe: Tarjous",
  );
  const english = OUTLOOK_BLOCK;
  const fwd = classify(email({ subject: "VS: Tilbud", text: danish }));
  assert.equal(fwd.kind, "forwarded", explain(fwd));
  assert.equal(fwd.original?.fromAddress, "bruno.costa@fornecedor.test");
  assert.equal(classify(email({ subject: "VS: Tarjous", text: finnish })).kind, "direct");
  assert.equal(
    classify(email({ subject: "VS: Budget", text: english, inReplyTo: "<p@x.test>" })).kind,
    "direct",
  );
  assert.equal(classify(email({ subject: "Vs: Budget", text: english })).kind, "forwarded");
  const fi = email({
    subject: "VS: Budget",
    text: english,
    headers: { "content-language": ["fi-FI"] },
  });
  assert.equal(classify(fi).kind, "direct");
  const collision = classify(email({ subject: "VS: Budget", text: english }));
  assert.ok(collision.confidence < 0.9, "a guess by headers is less sure than by labels");
  assert.ok(collision.evidence.some((e) => e.includes("read as a forward")));
});

// ---------------------------------------------------------------------------------------------
// Forward as attachment.

function attached(p: Partial<AttachedMessage>): AttachedMessage {
  return { from: [], subject: null, date: null, text: null, attachedMessages: [], ...p };
}

Deno.test("a message/rfc822 attachment is a forward, whatever the subject", () => {
  const c = classify(email({
    subject: "testing",
    text: "This is the first part.",
    attachedMessages: [attached({
      from: [{ name: "Test Tester", address: "tester@example.test" }],
      subject: "Another PDF",
      date: "Tue, 10 May 2005 11:26:39 -0600",
    })],
  }));
  assert.equal(c.kind, "forwarded", explain(c));
  assert.equal(c.confidence, 0.99);
  assert.deepEqual(c.original, {
    fromAddress: "tester@example.test",
    fromName: "Test Tester",
    subject: "Another PDF",
    date: "Tue, 10 May 2005 11:26:39 -0600",
    dateIso: "2005-05-10T11:26:39-06:00",
  });
});

Deno.test("nested attached messages give the innermost original", () => {
  const inner = attached({
    from: [{ name: "Origin", address: "origin@example.test" }],
    subject: "First",
    date: "Mon, 1 Nov 2021 09:00:00 +0000",
  });
  const middle = attached({
    from: [{ name: "Middle", address: "middle@example.test" }],
    subject: "Fwd: First",
    attachedMessages: [inner],
  });
  const c = classify(email({ subject: "Fwd: Fwd: First", attachedMessages: [middle] }));
  assert.equal(c.original?.fromAddress, "origin@example.test", explain(c));
  assert.equal(c.original?.dateIso, "2021-11-01T09:00:00Z");
  assert.ok(c.evidence.some((e) => e.includes("nested 2 deep")));
});

Deno.test("an empty attached message is still a forward, with nothing to name", () => {
  const c = classify(email({ subject: "Fwd: fotos", attachedMessages: [attached({})] }));
  assert.equal(c.kind, "forwarded");
  assert.deepEqual(c.original, {
    fromAddress: null,
    fromName: null,
    subject: null,
    date: null,
    dateIso: null,
  });
});

Deno.test("a delivery report's attached message is not a forward", () => {
  const bounced = attached({ from: [{ name: "", address: "ana@empresa.test" }], subject: "Hi" });
  const report = email({
    from: [{ name: "Mail Delivery System", address: "mailer-daemon@mx.test" }],
    subject: "Undelivered Mail Returned to Sender",
    headers: { "content-type": ["multipart/report; report-type=delivery-status"] },
    attachedMessages: [bounced],
  });
  assert.equal(classify(report).kind, "direct");
  const oldStyle = email({
    from: [{ name: "Mail Delivery Subsystem", address: "daemon@mx.test" }],
    subject: "Returned mail",
    attachedMessages: [bounced],
  });
  assert.equal(classify(oldStyle).kind, "direct");
});

// ---------------------------------------------------------------------------------------------
// HTML only.

Deno.test("an HTML-only forward is read through its text rendering", () => {
  const html = `<html><head><style>p{margin:0}</style></head><body>
    <p>Veja abaixo.</p>
    <hr style="display:inline-block;width:98%">
    <div id="divRplyFwdMsg"><b>From:</b> Bruno Costa &lt;bruno.costa@fornecedor.test&gt;<br>
    <b>Sent:</b> Wednesday, October 27, 2021 15:14<br>
    <b>To:</b> Ana Lima &lt;ana@empresa.test&gt;<br>
    <b>Subject:</b> Or&ccedil;amento&nbsp;2022</div>
    <div>Segue o or&#231;amento.</div></body></html>`;
  const c = classify(email({ subject: "FW: Orçamento 2022", text: null, html }));
  assert.equal(c.kind, "forwarded", explain(c));
  assert.equal(c.original?.fromAddress, "bruno.costa@fornecedor.test");
  assert.equal(c.original?.subject, "Orçamento 2022");
  assert.ok(c.evidence.includes("body read from the HTML part"));
});

Deno.test("HTML-only Gmail and Apple Mail forwards are found without a subject prefix", () => {
  const gmail = '<div dir="ltr">Veja<br><br><div class="gmail_quote"><div class="gmail_attr">' +
    "---------- Forwarded message ---------<br>De: <strong>Bruno Costa</strong> <span>&lt;" +
    '<a href="mailto:bruno@fornecedor.test">bruno@fornecedor.test</a>&gt;</span><br>' +
    "Date: qua., 27 de out. de 2021 às 09:31<br>Subject: Orçamento<br>To: &lt;ana@empresa.test" +
    "&gt;<br></div><br><div>Segue.</div></div></div>";
  const apple = '<div>Sent from my iPhone</div><blockquote type="cite">Begin forwarded message:' +
    '<br><br></blockquote><blockquote type="cite"><div><b>From:</b> <span>Bruno Costa ' +
    "&lt;bruno@fornecedor.test&gt;<br></span></div><div><b>Date:</b> <span>27 October 2021 " +
    "at 09:31:00 BRT<br></span></div><div><b>Subject:</b> <span><b>Orçamento</b><br></span>" +
    "</div></blockquote>";
  for (const html of [gmail, apple]) {
    const c = classify(email({ subject: "Orçamento", text: null, html }));
    assert.equal(c.kind, "forwarded", explain(c));
    assert.equal(c.original?.fromAddress, "bruno@fornecedor.test");
    assert.equal(c.original?.subject, "Orçamento");
  }
  assert.equal(
    htmlToText(apple),
    "Sent from my iPhone\n\n> Begin forwarded message:\n\n> From: Bruno Costa " +
      "<bruno@fornecedor.test>\n> Date: 27 October 2021 at 09:31:00 BRT\n> Subject: Orçamento",
  );
});

Deno.test("htmlToText keeps line breaks, quotes blockquotes and decodes entities", () => {
  const text = htmlToText(
    "<p>Ol&aacute;&nbsp;mundo</p><div>a<br/>b</div><blockquote><p>citado &amp; &#x263A;</p>" +
      "</blockquote><script>x()</script><!-- c -->fim",
  );
  assert.equal(text, "Olá mundo\n\na\nb\n\n> citado & ☺\n\nfim");
});

Deno.test("htmlToText reads hostile nesting only down to its depth limit, without throwing", () => {
  const html = "<div>From: Ana &lt;ana@x.test&gt;</div>" + "<a>".repeat(200_000) + "deep";
  const started = performance.now();
  assert.equal(htmlToText(html), "From: Ana <ana@x.test>");
  assert.ok(performance.now() - started < 5_000, "a deep tree is not parsed whole");
});

// ---------------------------------------------------------------------------------------------
// Dates.

Deno.test("written dates in many languages come out as ISO 8601", () => {
  const cases: Array<[string, string | null, string[]?]> = [
    ["26 de outubro de 2021, 14:25:08 EEST", "2021-10-26T14:25:08+03:00"],
    ["Wed, Oct 27, 2021 at 9:31 AM", "2021-10-27T09:31:00"],
    ["Tuesday, November 2, 2021, 09:26:50 PM GMT+1", "2021-11-02T21:26:50+01:00"],
    ["Dienstag, 2. November 2021, 09:26:50 MEZ", "2021-11-02T09:26:50+01:00"],
    ["jeudi, 28 octobre 2021 à 12:06", "2021-10-28T12:06:00"],
    ["mié, 27 oct 2021 a las 9:31", "2021-10-27T09:31:00"],
    ["mar., 26 oct. 2021 14:00", "2021-10-26T14:00:00"], // "mar." is Tuesday here, not March
    ["26. oktober 2021 kl. 14.25.08 EEST", "2021-10-26T14:25:08+03:00"],
    ["maanantai 19. syyskuuta 2022 klo 17.55.44 -0400", "2022-09-19T17:55:44-04:00"],
    ["четверг, 28 октября 2021 г. в 12:46", "2021-10-28T12:46:00"],
    ["2021. okt. 27., Sze, 9:31", "2021-10-27T09:31:00"],
    ["28/10/21, 12:46", "2021-10-28T12:46:00"],
    ["02/10/2023 4:52 PM EST", "2023-02-10T16:52:00-05:00"], // 12-hour clock: month first
    ["st 27. 10. 2021 o 9:31", "2021-10-27T09:31:00"],
    ["2022年9月19日 17:55:44", "2022-09-19T17:55:44"],
    ["Tue, 10 May 2005 11:26:39 -0600 (MDT)", "2005-05-10T11:26:39-06:00"],
    ["26. listopada 2021. u 14:25:08", "2021-10-26T14:25:08", ["hr"]], // Croatian October
    ["26 listopada 2021 14:25", "2021-11-26T14:25:00", ["pl"]], // Polish November
    ["27 October 2021", "2021-10-27"],
    ["31/02/2021 10:00", null],
    ["27 October", null],
    ["sometime last week", null],
  ];
  for (const [written, iso, languages] of cases) {
    assert.equal(parseWrittenDate(written, { languages }), iso, written);
  }
  assert.equal(
    parseWrittenDate("Wed, Oct 27, 2021 at 9:31 AM", { zoneMinutes: -180 }),
    "2021-10-27T09:31:00-03:00",
  );
  assert.equal(parseWrittenDate(null), null);
});

// ---------------------------------------------------------------------------------------------
// Pieces.

Deno.test("mailboxes and attribution lines are read in their usual shapes", () => {
  assert.deepEqual(readMailbox('"Doe, John" <John.Doe@Acme.test>'), {
    name: "Doe, John",
    address: "john.doe@acme.test",
  });
  assert.deepEqual(readMailbox("Foo [mailto:foo@bar.test] On Behalf Of baz@bar.test"), {
    name: "Foo",
    address: "foo@bar.test",
  });
  assert.deepEqual(readMailbox("Bob <bob@x.test<mailto:bob@x.test>>"), {
    name: "Bob",
    address: "bob@x.test",
  });
  assert.deepEqual(readMailbox("Valéry"), { name: "Valéry", address: null });
  assert.deepEqual(
    readAttribution("Am 28.10.2021 um 12:46 schrieb Max Mustermann <max@beispiel.test>:"),
    { name: "Max Mustermann", address: "max@beispiel.test", date: "28.10.2021 um 12:46" },
  );
  assert.deepEqual(
    readAttribution("John Doe <john@acme.test> kirjoitti 28/10/2021 12.46:"),
    { name: "John Doe", address: "john@acme.test", date: "28/10/2021 12.46" },
  );
  const markers = findBodyMarkers(["Hello", "", "On Mon, Bob <b@x.test> wrote:", "> hi"]);
  assert.deepEqual(markers.map((m) => [m.kind, m.line]), [["attribution", 2]]);
});

Deno.test("confidence stays in [0, 1] and evidence is never empty", () => {
  const samples = [
    email(),
    email({ subject: null, text: null }),
    email({ subject: "FW: x", text: OUTLOOK_BLOCK }),
    email({ subject: "RE: x", text: OUTLOOK_BLOCK }),
    email({ subject: "x", text: OUTLOOK_BLOCK }),
    email({ subject: "VS: x", text: OUTLOOK_BLOCK }),
    email({
      subject: "Re: x",
      text: "---------- Forwarded message ---------\nFrom: a@b.test\nTo: c@d.test",
    }),
    email({ attachedMessages: [attached({})] }),
    email({ text: "<".repeat(50_000) + " wrote:" }),
  ];
  for (const s of samples) {
    const c = classify(s);
    assert.ok(c.confidence >= 0 && c.confidence <= 1, explain(c));
    assert.ok(c.evidence.length > 0, explain(c));
  }
});

Deno.test("the same message always gets the same verdict", () => {
  const m = email({ subject: "FW: Budget 2022", text: OUTLOOK_BLOCK });
  assert.deepEqual(classify(m), classify(structuredClone(m)));
});
