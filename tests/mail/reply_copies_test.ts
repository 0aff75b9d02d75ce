/**
 * The message the SMTP edge writes for a reply with copies and files: Cc and Reply-To in the
 * headers, Bcc only among the envelope's recipients, the files as attachments byte for byte.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { compose, envelopeRecipients, type OutgoingReply } from "../../src/mail/smtp_sender.ts";

const FILE = Uint8Array.from({ length: 600 }, (_, i) => (i * 7) % 256);

const REPLY: OutgoingReply = {
  from: { name: "Atendimento", address: "box@example.test" },
  to: { name: "Ana", address: "ana@example.test" },
  cc: ["equipe@example.test"],
  bcc: ["arquivo@example.test", "auditoria@example.test"],
  replyTo: "atendimento@example.test",
  attachments: [{ filename: "Horários.pdf", contentType: "application/pdf", content: FILE }],
  subject: "Re: Pedido",
  text: "Recebemos.",
  html: "<p>Recebemos.</p>",
  messageId: "<carteiro.abc@example.test>",
  inReplyTo: "<m1@example.test>",
  references: ["<m1@example.test>"],
  headers: { "Auto-Submitted": "auto-replied" },
};

Deno.test("a reply's copies: Cc and Reply-To written, Bcc only on the envelope, files attached", async () => {
  assert.deepEqual(envelopeRecipients(REPLY), [
    "ana@example.test",
    "equipe@example.test",
    "arquivo@example.test",
    "auditoria@example.test",
  ]);
  const raw = await compose(REPLY);
  const head = raw.toString("latin1").split(/\r\n\r\n/)[0];
  assert.doesNotMatch(head, /^bcc:/im);
  assert.equal(raw.toString("latin1").includes("arquivo@example.test"), false);
  const parsed = await simpleParser(Buffer.from(raw));
  assert.equal(parsed.headers.get("auto-submitted"), "auto-replied");
  assert.deepEqual(
    [parsed.cc, parsed.replyTo].map((a) => (Array.isArray(a) ? a[0] : a)?.value[0].address),
    ["equipe@example.test", "atendimento@example.test"],
  );
  assert.equal(parsed.attachments.length, 1);
  assert.equal(parsed.attachments[0].filename, "Horários.pdf");
  assert.equal(parsed.attachments[0].contentType, "application/pdf");
  assert.deepEqual([...new Uint8Array(parsed.attachments[0].content)], [...FILE]);
});

Deno.test("a reply without copies writes no Cc or Reply-To and sends to one recipient", async () => {
  const plain = { ...REPLY, cc: [], bcc: [], replyTo: null, attachments: [] };
  assert.deepEqual(envelopeRecipients(plain), ["ana@example.test"]);
  const head = (await compose(plain)).toString("latin1").split(/\r\n\r\n/)[0];
  assert.doesNotMatch(head, /^(cc|reply-to|bcc):/im);
  assert.doesNotMatch(head, /multipart\/mixed/i);
});
