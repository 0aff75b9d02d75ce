import assert from "node:assert/strict";
import { parseMessage, repairHeaderCharset } from "../../src/mail/parse_message.ts";

const enc = new TextEncoder();

/** Builds raw bytes from text pieces and byte arrays (for raw 8-bit bytes). */
function bytes(...parts: Array<string | number[]>): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p) : new Uint8Array(p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function parsed(raw: Uint8Array) {
  const r = await parseMessage(raw);
  if (!r.ok) throw new Error(`expected a parse, got ${r.error}`);
  return r.email;
}

Deno.test("raw 8-bit windows-1252 headers come out as correct Portuguese", async () => {
  // "Formação … Verão" and "João" written by a client in windows-1252, without RFC 2047 words.
  const raw = bytes(
    "From: Jo",
    [0xe3],
    "o Silva <Joao@Example.TEST>\r\nTo: caixa@example.test\r\nSubject: Forma",
    [0xe7, 0xe3],
    "o: Ver",
    [0xe3],
    "o 2026\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nol\xc3\xa1\r\n",
  );
  const e = await parsed(raw);
  assert.equal(e.subject, "Formação: Verão 2026");
  assert.deepEqual(e.from, [{ name: "João Silva", address: "joao@example.test" }]);
});

Deno.test("raw 8-bit headers follow the charset the message declares", async () => {
  const raw = bytes(
    "Subject: Na",
    [0xe7, 0xe3],
    "o\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nbody\r\n",
  );
  assert.equal((await parsed(raw)).subject, "Naçã" + "o");
});

Deno.test("a raw byte inside a Q encoded-word is read in the word's charset", async () => {
  const raw = bytes("Subject: =?iso-8859-1?Q?Die_Fr", [0xf6], "sche?=\r\n\r\nx\r\n");
  assert.equal((await parsed(raw)).subject, "Die Frösche");
});

Deno.test("valid UTF-8 headers and the body are left byte for byte", () => {
  const raw = bytes("Subject: Ol\xc3\xa1\r\n\r\n", [0xe7, 0xff], "\r\n");
  assert.equal(repairHeaderCharset(raw), raw);
});

Deno.test("folded, repeated and encoded headers are unfolded and decoded", async () => {
  const raw = bytes(
    "Subject: =?UTF-8?B?QXZpc28gZGUgZsOpcmlhcw==?=\r\n",
    "List-Id: Lista\r\n\tde teste <lista.example.test>\r\n",
    "Received: one\r\nReceived: two\r\n",
    "AUTO-SUBMITTED: auto-replied\r\n",
    "\r\nbody\r\n",
  );
  const e = await parsed(raw);
  assert.equal(e.subject, "Aviso de férias");
  assert.deepEqual(e.headers["list-id"], ["Lista\tde teste <lista.example.test>"]);
  assert.deepEqual(e.headers["received"], ["one", "two"]);
  assert.deepEqual(e.headers["auto-submitted"], ["auto-replied"]);
});

Deno.test("a forward sent as an attachment becomes an attached message, nested too", async () => {
  const inner =
    "From: Ana <ana@example.test>\r\nSubject: Inner\r\nDate: Mon, 2 Feb 2026 10:00:00 +0000\r\n\r\nInner text\r\n";
  const middle = [
    "From: Bia <bia@example.test>",
    "Subject: Middle",
    'Content-Type: multipart/mixed; boundary="m"',
    "",
    "--m",
    "Content-Type: text/plain",
    "",
    "middle note",
    "--m",
    "Content-Type: message/rfc822",
    "",
    inner,
    "--m--",
    "",
  ].join("\r\n");
  const outer = [
    "From: Caio <caio@example.test>",
    "Subject: Fwd: Middle",
    'Content-Type: multipart/mixed; boundary="o"',
    "",
    "--o",
    "Content-Type: text/plain",
    "",
    "see attached",
    "--o",
    'Content-Type: message/rfc822; name="fwd.eml"',
    "Content-Disposition: attachment",
    "",
    middle,
    "--o--",
    "",
  ].join("\r\n");
  const e = await parsed(enc.encode(outer));
  assert.match(e.text ?? "", /see attached/);
  assert.doesNotMatch(e.text ?? "", /middle note/);
  assert.equal(e.attachedMessages.length, 1);
  const m = e.attachedMessages[0];
  assert.equal(m.subject, "Middle");
  assert.deepEqual(m.from, [{ name: "Bia", address: "bia@example.test" }]);
  assert.equal(m.attachedMessages[0]?.subject, "Inner");
  assert.equal(m.attachedMessages[0]?.date, "Mon, 2 Feb 2026 10:00:00 +0000");
  assert.equal(e.attachments[0].contentType, "message/rfc822");
});

Deno.test("garbage never throws: it parses to something or reports an error", async () => {
  const inputs = [
    new Uint8Array(0),
    bytes([0, 0, 0, 0xff, 0xfe]),
    enc.encode('Content-Type: multipart/mixed; boundary="\r\n\r\n--\r\n--\r\n'),
    enc.encode("Subject: " + "=?x?Q?".repeat(2000) + "\r\n\r\n"),
  ];
  for (const raw of inputs) {
    const r = await parseMessage(raw);
    assert.ok(r.ok || (typeof r.error === "string" && r.error.length > 0));
  }
});

Deno.test("addresses are lower-cased, groups are flattened, bad dates become null", async () => {
  const e = await parsed(enc.encode(
    "From: A <A@Example.TEST>\r\nTo: Equipe: b@example.test, C <C@example.test>;\r\nDate: not a date\r\n\r\nx",
  ));
  assert.deepEqual(e.from, [{ name: "A", address: "a@example.test" }]);
  assert.deepEqual(e.to.map((a) => a.address), ["b@example.test", "c@example.test"]);
  assert.equal(e.date, null);
});
