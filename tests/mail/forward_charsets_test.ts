/**
 * Forwarded blocks written in the charsets and transfer encodings clients use: the separator and
 * the forwarded headers must come out decoded, so that the original sender and subject are right.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseMessage } from "../../src/mail/parse_message.ts";
import { classify } from "../../src/domain/classifier.ts";

const BLOCK = "Segue abaixo.\r\n\r\n-----Mensagem original-----\r\n" +
  "De: João Araújo <joao@cliente.example.test>\r\nEnviada em: terça-feira, 3 de novembro de 2026 10:00\r\n" +
  "Para: Atendimento <atendimento@example.test>\r\nAssunto: Formação de preços – verão\r\n\r\n" +
  "Olá, segue a dúvida.\r\n";

function windows1252(text: string): Uint8Array {
  // Every character of BLOCK is in Latin-1 except the en dash, which windows-1252 has at 0x96.
  return Uint8Array.from(text, (c) => (c === "–" ? 0x96 : c.charCodeAt(0)));
}

function qp(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    out += b === 0x0d || b === 0x0a || (b >= 0x20 && b < 0x7f && b !== 0x3d)
      ? String.fromCharCode(b)
      : "=" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function message(charset: string, cte: string, body: string | Uint8Array): Uint8Array {
  const head = "From: Paulo <paulo@example.test>\r\nTo: atendimento@example.test\r\n" +
    "Subject: ENC: Formacao de precos\r\nMIME-Version: 1.0\r\n" +
    `Content-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n`;
  const h = new TextEncoder().encode(head);
  const b = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const out = new Uint8Array(h.length + b.length);
  out.set(h);
  out.set(b, h.length);
  return out;
}

const utf8 = new TextEncoder().encode(BLOCK);
const cases: Array<[string, Uint8Array]> = [
  ["windows-1252, 8bit", message("windows-1252", "8bit", windows1252(BLOCK))],
  [
    "ISO-8859-1, quoted-printable",
    message("iso-8859-1", "quoted-printable", qp(windows1252(BLOCK.replace("–", "-")))),
  ],
  ["UTF-8 with BOM, 8bit", message("utf-8", "8bit", new Uint8Array([0xef, 0xbb, 0xbf, ...utf8]))],
  ["UTF-8, quoted-printable", message("utf-8", "quoted-printable", qp(utf8))],
  [
    "UTF-8, base64",
    message("utf-8", "base64", Buffer.from(utf8).toString("base64").replace(/.{76}/g, "$&\r\n")),
  ],
];

for (const [name, raw] of cases) {
  Deno.test(`a forwarded block in ${name} gives the decoded original sender and subject`, async () => {
    const parsed = await parseMessage(raw);
    assert.ok(parsed.ok);
    const c = classify(parsed.email);
    assert.equal(c.kind, "forwarded", c.evidence.join("; "));
    assert.equal(c.original?.fromAddress, "joao@cliente.example.test");
    assert.equal(c.original?.fromName, "João Araújo");
    assert.match(c.original?.subject ?? "", /^Formação de preços . verão$/);
  });
}
