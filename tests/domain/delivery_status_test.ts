/**
 * The RFC 3464 field parser and what a report says of our reply, on reports written here in the
 * shapes Postfix, Exim, Gmail and Exchange Online write them (addresses and hosts invented).
 */
import assert from "node:assert/strict";
import { buildEmail } from "../support/email_draft.ts";
import {
  normalizeMessageId,
  parseDeliveryStatus,
  readDeliveryReport,
  replyBounce,
} from "../../src/domain/delivery_status.ts";

const crlf = (lines: string[]) => lines.join("\r\n") + "\r\n";

// Postfix: X-Postfix fields in the per-message block, Original-Recipient without a space after
// the semicolon, a folded Diagnostic-Code.
const POSTFIX = crlf([
  "Reporting-MTA: dns; mail.empresa.test",
  "X-Postfix-Queue-ID: 4F1A2B3C4D",
  "X-Postfix-Sender: rfc822; suporte@empresa.test",
  "Arrival-Date: Mon,  1 Jun 2026 10:00:01 -0300 (-03)",
  "",
  "Final-Recipient: rfc822; ninguem@cliente.test",
  "Original-Recipient: rfc822;Ninguem@Cliente.test",
  "Action: failed",
  "Status: 5.1.1",
  "Remote-MTA: dns; mx.cliente.test",
  "Diagnostic-Code: smtp; 550 5.1.1 <ninguem@cliente.test>: Recipient address rejected:",
  "    User unknown in virtual mailbox table",
  "",
]);

// Exim: Action before Final-Recipient, a generic 5.0.0 status, X-Exim fields, LF line ends.
const EXIM = [
  "Reporting-MTA: dns; smtp.hospedagem.test",
  "",
  "Action: failed",
  "Final-Recipient: rfc822;contato@loja.test",
  "Status: 5.0.0",
  "Remote-MTA: dns; mx1.loja.test",
  "Diagnostic-Code: smtp; 550 No such user here",
  "X-Exim-Diagnostic: X-str; 550 No such user here",
  "",
].join("\n");

// Gmail: X-Original-Message-ID in the per-message block, a multi-line 550-5.1.1 diagnostic with
// the remote's continuation text folded in, a Remote-MTA with a comment.
const GMAIL = crlf([
  "Reporting-MTA: dns; googlemail.com",
  "Received-From-MTA: dns; suporte@empresa.test",
  "Arrival-Date: Mon, 01 Jun 2026 06:00:01 -0700 (PDT)",
  "X-Original-Message-ID: <reply-abc@empresa.test>",
  "",
  "Final-Recipient: rfc822; naoexiste@gmail.test",
  "Action: failed",
  "Status: 5.1.1",
  "Remote-MTA: dns; gmail-smtp-in.l.google.test. (192.0.2.27, the server for the domain",
  " gmail.test.)",
  "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.",
  " Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1",
  " unnecessary spaces. 550 5.1.1 https://support.google.test/mail/?p=NoSuchUser x1si - gsmtp",
  "Last-Attempt-Date: Mon, 01 Jun 2026 06:00:02 -0700 (PDT)",
  "",
]);

// Exchange Online: no space after the semicolons, a five-character status detail (5.1.10),
// semicolons inside the diagnostic, X-Display-Name.
const EXCHANGE = crlf([
  "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.test",
  "Received-From-MTA: dns;AM0PR01MB5678.eurprd01.prod.exchangelabs.test",
  "Arrival-Date: Mon, 1 Jun 2026 13:00:01 +0000",
  "",
  "Final-Recipient: rfc822;saiu@contoso.test",
  "Action: failed",
  "Status: 5.1.10",
  "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient saiu@contoso.test " +
  "not found by SMTP address lookup",
  "Remote-MTA: dns;DB8PR01MB0001.eurprd01.prod.exchangelabs.test",
  "X-Display-Name: Saiu da Empresa",
  "",
]);

Deno.test("Postfix: the recipient's block with its folded diagnostic", () => {
  const s = parseDeliveryStatus(POSTFIX);
  assert.equal(s.reportingMta, "mail.empresa.test");
  assert.equal(s.envelopeId, null);
  assert.deepEqual(s.recipients, [{
    finalRecipient: "ninguem@cliente.test",
    originalRecipient: "ninguem@cliente.test",
    action: "failed",
    status: "5.1.1",
    diagnosticCode: "550 5.1.1 <ninguem@cliente.test>: Recipient address rejected: " +
      "User unknown in virtual mailbox table",
    remoteMta: "mx.cliente.test",
  }]);
});

Deno.test("Exim: fields in its own order, LF line ends", () => {
  const s = parseDeliveryStatus(EXIM);
  assert.equal(s.reportingMta, "smtp.hospedagem.test");
  assert.equal(s.recipients.length, 1);
  const [r] = s.recipients;
  assert.equal(r.finalRecipient, "contato@loja.test");
  assert.equal(r.action, "failed");
  assert.equal(r.status, "5.0.0");
  assert.equal(r.diagnosticCode, "550 No such user here");
});

Deno.test("Gmail: the multi-line SMTP answer reads as one diagnostic", () => {
  const s = parseDeliveryStatus(GMAIL);
  const [r] = s.recipients;
  assert.equal(r.finalRecipient, "naoexiste@gmail.test");
  assert.equal(r.status, "5.1.1");
  assert.match(r.diagnosticCode ?? "", /^550-5\.1\.1 The email account .* - gsmtp$/);
  assert.match(
    r.remoteMta ?? "",
    /^gmail-smtp-in\.l\.google\.test\. \(192\.0\.2\.27, .* gmail\.test\.\)$/,
  );
});

Deno.test("Exchange: 5.1.10 and a diagnostic with semicolons of its own", () => {
  const s = parseDeliveryStatus(EXCHANGE);
  assert.equal(s.reportingMta, "AM0PR01MB1234.eurprd01.prod.exchangelabs.test");
  const [r] = s.recipients;
  assert.equal(r.finalRecipient, "saiu@contoso.test");
  assert.equal(r.status, "5.1.10");
  assert.equal(
    r.diagnosticCode,
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient saiu@contoso.test not found by SMTP " +
      "address lookup",
  );
});

Deno.test("a delay with a commented status, an envelope id, and several recipients", () => {
  const s = parseDeliveryStatus(crlf([
    "Original-Envelope-Id: reply-77.empresa.test",
    "Reporting-MTA: dns; relay.empresa.test",
    // No blank line before the first recipient, as some servers write it.
    "Final-Recipient: rfc822; lotado@cliente.test",
    "Action: delayed",
    "Status: 4.2.2 (Persistent transient failure - mailbox: mailbox full)",
    "Will-Retry-Until: Fri, 5 Jun 2026 10:00:00 -0300",
    "",
    "Final-Recipient: rfc822; <Outro@Cliente.test>",
    "Action: delivered",
    "Status: 2.0.0",
  ]));
  assert.equal(s.envelopeId, "reply-77.empresa.test");
  assert.equal(s.reportingMta, "relay.empresa.test");
  assert.deepEqual(
    s.recipients.map((r) => [r.finalRecipient, r.action, r.status]),
    [["lotado@cliente.test", "delayed", "4.2.2"], ["outro@cliente.test", "delivered", "2.0.0"]],
  );
});

Deno.test("text that is no report gives no recipients and never throws", () => {
  for (
    const text of ["", "\r\n\r\n", "hello world", ":::\n\tfolded\n", "Status: banana", "hello\n\n"]
  ) {
    assert.deepEqual(parseDeliveryStatus(text), {
      envelopeId: null,
      reportingMta: null,
      recipients: [],
    }, JSON.stringify(text));
  }
});

Deno.test("an overlong diagnostic is cut, the rest of the report still read", () => {
  const s = parseDeliveryStatus(crlf([
    "Reporting-MTA: dns; mx.cliente.test",
    "",
    "Final-Recipient: rfc822; ana@cliente.test",
    "Action: failed",
    "Status: 5.0.0",
    `Diagnostic-Code: smtp; 550 ${"x".repeat(10_000)}`,
  ]));
  const [r] = s.recipients;
  assert.equal(r.diagnosticCode?.length, 2001);
  assert.ok(r.diagnosticCode?.endsWith("x…"));
  assert.equal(r.status, "5.0.0");
});

Deno.test("replyBounce: failed 5.x.x is a hard bounce, failed 4.x.x a bounce, delayed a delay", () => {
  assert.deepEqual(replyBounce(parseDeliveryStatus(POSTFIX), "Ninguem@cliente.test"), {
    outcome: "bounced",
    hard: true,
    action: "failed",
    status: "5.1.1",
    diagnostic: "550 5.1.1 <ninguem@cliente.test>: Recipient address rejected: " +
      "User unknown in virtual mailbox table",
    reportedRecipient: "ninguem@cliente.test",
  });
  const full = parseDeliveryStatus(crlf([
    "Reporting-MTA: dns; mx.cliente.test",
    "",
    "Final-Recipient: rfc822; cheio@cliente.test",
    "Action: failed",
    "Status: 4.2.2",
  ]));
  const b = replyBounce(full, "cheio@cliente.test");
  assert.deepEqual([b?.outcome, b?.hard], ["bounced", false]);
  const delay = parseDeliveryStatus(crlf([
    "Reporting-MTA: dns; mx.cliente.test",
    "",
    "Final-Recipient: rfc822; lento@cliente.test",
    "Action: delayed",
    "Status: 4.4.1",
  ]));
  assert.deepEqual(
    [replyBounce(delay, "lento@cliente.test")?.outcome, replyBounce(delay, "x@y.test")?.hard],
    ["delayed", false],
  );
});

Deno.test("replyBounce: another recipient's block is used when the reply's address is not named", () => {
  // A forwarding host reports the address it forwarded to.
  const s = parseDeliveryStatus(EXIM);
  assert.equal(replyBounce(s, "antigo@loja.test")?.reportedRecipient, "contato@loja.test");
  const delivered = parseDeliveryStatus(crlf([
    "Reporting-MTA: dns; mx.cliente.test",
    "",
    "Final-Recipient: rfc822; ana@cliente.test",
    "Action: delivered",
    "Status: 2.0.0",
  ]));
  assert.equal(replyBounce(delivered, "ana@cliente.test"), null);
  assert.equal(replyBounce(parseDeliveryStatus(""), "ana@cliente.test"), null);
});

Deno.test("readDeliveryReport: the returned message's Message-ID, and the envelope id", () => {
  const fields = crlf(["Original-Envelope-Id: env-9@empresa.test", "", ...POSTFIX.split("\r\n")]);
  const email = buildEmail({
    inReplyTo: "<parent@cliente.test>",
    references: ["<root@cliente.test>", "<reply-1@empresa.test>"],
    deliveryReport: {
      fields,
      returnedHeaders:
        "Return-Path: <suporte@empresa.test>\r\nMessage-ID:\r\n <reply-9@empresa.test>" +
        "\r\nIn-Reply-To: <reply-1@empresa.test>\r\nSubject: Re: Pedido",
    },
  });
  const report = readDeliveryReport(email);
  assert.ok(report);
  // The returned message names the message that bounced: the thread's links are not tried
  // (<reply-1> is an earlier reply the bounced message answered, not what bounced).
  assert.deepEqual(report.candidates, [
    { messageId: "<reply-9@empresa.test>", by: "returned_message" },
    { messageId: "<env-9@empresa.test>", by: "envelope_id" },
  ]);
  assert.equal(report.status.recipients[0].status, "5.1.1");
  assert.equal(readDeliveryReport(buildEmail({})), null);
  assert.equal(readDeliveryReport(buildEmail({ deliveryReport: null })), null);
});

Deno.test("readDeliveryReport: without a returned Message-ID, In-Reply-To and the newest reference", () => {
  const email = buildEmail({
    inReplyTo: "<reply-1@empresa.test>",
    references: ["<root@cliente.test>", "<mid@cliente.test>", "<reply-2@empresa.test>"],
    deliveryReport: { fields: EXCHANGE, returnedHeaders: "From: suporte@empresa.test\r\nTo: x@y" },
  });
  assert.deepEqual(readDeliveryReport(email)?.candidates, [
    { messageId: "<reply-1@empresa.test>", by: "in_reply_to" },
    { messageId: "<reply-2@empresa.test>", by: "references" },
  ]);
});

Deno.test("normalizeMessageId", () => {
  assert.equal(normalizeMessageId("<a@b>"), "<a@b>");
  assert.equal(normalizeMessageId("  a@b "), "<a@b>");
  assert.equal(normalizeMessageId("(comment) <a@b> <c@d>"), "<a@b>");
  assert.equal(normalizeMessageId("two words"), null);
  assert.equal(normalizeMessageId(""), null);
  assert.equal(normalizeMessageId(null), null);
});
