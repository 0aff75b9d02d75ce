/**
 * The parser hands a delivery status notification's parts to the domain: the delivery-status
 * text and the returned message's header block, whichever way the server returned it.
 */
import assert from "node:assert/strict";
import { parseMessage } from "../../src/mail/parse_message.ts";
import { readDeliveryReport, replyBounce } from "../../src/domain/delivery_status.ts";
import { postfixDsn } from "../support/dsn.ts";

const REPLY = "From: Suporte <suporte@empresa.test>\r\nTo: ninguem@cliente.test\r\n" +
  "Subject: Re: Pedido\r\nMessage-ID: <reply-1@empresa.test>\r\nAuto-Submitted: auto-replied\r\n" +
  "\r\nRecebemos sua mensagem.\r\n";

async function parsed(raw: Uint8Array) {
  const outcome = await parseMessage(raw);
  assert.ok(outcome.ok, outcome.ok ? "" : outcome.error);
  return outcome.email;
}

for (const returnedAs of ["message/rfc822", "text/rfc822-headers"] as const) {
  Deno.test(`a Postfix notification returning ${returnedAs} names our reply and its status`, async () => {
    const email = await parsed(postfixDsn({
      to: "suporte@empresa.test",
      recipient: "ninguem@cliente.test",
      returned: returnedAs === "message/rfc822" ? REPLY : REPLY.split("\r\n\r\n")[0],
      returnedAs,
    }));
    assert.ok(email.deliveryReport);
    assert.doesNotMatch(email.deliveryReport.returnedHeaders ?? "", /Recebemos/);
    const report = readDeliveryReport(email);
    assert.ok(report);
    assert.deepEqual(report.candidates[0], {
      messageId: "<reply-1@empresa.test>",
      by: "returned_message",
    });
    assert.deepEqual(replyBounce(report.status, "ninguem@cliente.test"), {
      outcome: "bounced",
      hard: true,
      action: "failed",
      status: "5.1.1",
      diagnostic: "550 5.1.1 <ninguem@cliente.test>: Recipient address rejected: User unknown " +
        "in virtual mailbox table",
      reportedRecipient: "ninguem@cliente.test",
    });
  });
}

Deno.test("an Exchange-shaped report with quoted-printable fields and In-Reply-To", async () => {
  const raw = [
    "From: Microsoft Outlook <postmaster@contoso.test>",
    "To: <suporte@empresa.test>",
    "Subject: Undeliverable: Re: Pedido",
    "In-Reply-To: <reply-2@empresa.test>",
    "References: <reply-2@empresa.test>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="_b_"',
    "",
    "--_b_",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "Delivery has failed to these recipients or groups:",
    "",
    "--_b_",
    "Content-Type: message/delivery-status",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.test",
    "",
    "Final-Recipient: rfc822;saiu@contoso.test",
    "Action: failed",
    "Status: 5.1.10",
    "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient saiu@contoso.t=",
    "est not found by SMTP address lookup",
    "",
    "--_b_",
    "Content-Type: text/rfc822-headers",
    "",
    "From: Suporte <suporte@empresa.test>",
    "To: <saiu@contoso.test>",
    "Subject: Re: Pedido",
    "",
    "--_b_--",
    "",
  ].join("\r\n");
  const report = readDeliveryReport(await parsed(new TextEncoder().encode(raw)));
  assert.ok(report);
  // The returned headers lost the Message-ID (Exchange trims them): In-Reply-To ties it.
  assert.deepEqual(report.candidates.map((c) => c.by), ["in_reply_to"]);
  assert.equal(report.candidates[0].messageId, "<reply-2@empresa.test>");
  const bounce = replyBounce(report.status, "saiu@contoso.test");
  assert.equal(bounce?.status, "5.1.10");
  assert.match(bounce?.diagnostic ?? "", /saiu@contoso\.test not found by SMTP address lookup$/);
});

Deno.test("a message with no delivery-status part carries no report", async () => {
  const forward = [
    "From: ana@cliente.test",
    "To: suporte@empresa.test",
    "Subject: Fwd: Pedido",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="x"',
    "",
    "--x",
    "Content-Type: text/plain",
    "",
    "Veja abaixo.",
    "--x",
    "Content-Type: message/rfc822",
    "",
    REPLY,
    "--x--",
    "",
  ].join("\r\n");
  const email = await parsed(new TextEncoder().encode(forward));
  assert.equal(email.deliveryReport, null);
  assert.equal(readDeliveryReport(email), null);
});
