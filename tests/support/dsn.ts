/**
 * Delivery status notifications (RFC 3464) written by hand for tests, in the shape the loopback
 * Postfix writes them (`Undelivered Mail Returned to Sender`: a text part, the
 * message/delivery-status part, the returned message) with the returned message, status and
 * diagnostic given. Another server's shape is the same MIME with other field blocks.
 */

export interface DsnDraft {
  /** The envelope sender the notification goes back to (the account's address). */
  to: string;
  /** The recipient the report is about (Final-Recipient). */
  recipient: string;
  /** The returned message: whole, or only its header block with `returnedAs` text/rfc822-headers. */
  returned: string;
  returnedAs?: "message/rfc822" | "text/rfc822-headers";
  action?: "failed" | "delayed";
  status?: string;
  diagnostic?: string;
  /** Extra header lines of the notification itself (In-Reply-To, …), CRLF-terminated. */
  extraHeaders?: string;
  date?: Date;
}

/** A Postfix-shaped notification's bytes. */
export function postfixDsn(d: DsnDraft): Uint8Array {
  const queueId = crypto.randomUUID().replaceAll("-", "").slice(0, 11).toUpperCase();
  const boundary = `${queueId}.1796542498/mailstack.example.test`;
  const action = d.action ?? "failed";
  const status = d.status ?? "5.1.1";
  const diagnostic = d.diagnostic ??
    `smtp; 550 5.1.1 <${d.recipient}>: Recipient address rejected: User unknown in virtual\r\n` +
      "    mailbox table";
  const date = (d.date ?? new Date()).toUTCString().replace("GMT", "+0000 (UTC)");
  const returned = d.returned.replace(/\r?\n/g, "\r\n");
  const lines = [
    "Return-Path: <>",
    `Delivered-To: ${d.to}`,
    `Date: ${date}`,
    "From: Mail Delivery System <MAILER-DAEMON@mailstack.example.test>",
    action === "failed"
      ? "Subject: Undelivered Mail Returned to Sender"
      : "Subject: Delayed Mail (still being retried)",
    `To: ${d.to}`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    "Content-Type: multipart/report; report-type=delivery-status;",
    `\tboundary="${boundary}"`,
    `Message-Id: <${queueId}@mailstack.example.test>`,
  ].join("\r\n");
  return new TextEncoder().encode(
    `${lines}\r\n${d.extraHeaders ?? ""}\r\n` +
      "This is a MIME-encapsulated message.\r\n\r\n" +
      `--${boundary}\r\n` +
      "Content-Description: Notification\r\n" +
      "Content-Type: text/plain; charset=us-ascii\r\n\r\n" +
      "This is the mail system at host mailstack.example.test.\r\n\r\n" +
      "I'm sorry to have to inform you that your message could not\r\n" +
      "be delivered to one or more recipients. It's attached below.\r\n\r\n" +
      "                   The mail system\r\n\r\n" +
      `<${d.recipient}>: host mx.example.test said: 550 5.1.1 User unknown\r\n\r\n` +
      `--${boundary}\r\n` +
      "Content-Description: Delivery report\r\n" +
      "Content-Type: message/delivery-status\r\n\r\n" +
      "Reporting-MTA: dns; mailstack.example.test\r\n" +
      `X-Postfix-Queue-ID: ${queueId}\r\n` +
      `X-Postfix-Sender: rfc822; ${d.to}\r\n` +
      `Arrival-Date: ${date}\r\n\r\n` +
      `Final-Recipient: rfc822; ${d.recipient}\r\n` +
      `Original-Recipient: rfc822;${d.recipient}\r\n` +
      `Action: ${action}\r\n` +
      `Status: ${status}\r\n` +
      "Remote-MTA: dns; mx.example.test\r\n" +
      `Diagnostic-Code: ${diagnostic}\r\n\r\n` +
      `--${boundary}\r\n` +
      "Content-Description: Undelivered Message\r\n" +
      `Content-Type: ${d.returnedAs ?? "message/rfc822"}\r\n\r\n` +
      `${returned}\r\n\r\n` +
      `--${boundary}--\r\n`,
  );
}
