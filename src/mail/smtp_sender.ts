import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import nodemailer from "nodemailer";
import MailComposer from "nodemailer/lib/mail-composer";
import { type SmtpConnection, smtpTransportOptions } from "./account_access.ts";
import { classifySmtpAnswer } from "../domain/smtp_answer.ts";

/** A file attached to a reply. */
export interface OutgoingAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

/**
 * A reply as handed to SMTP: one `To` recipient and the rule's copies, all in one transaction;
 * our headers as given. Bcc addresses go to the envelope only, never into a header.
 */
export interface OutgoingReply {
  from: { name: string; address: string };
  to: { name: string; address: string };
  cc?: string[];
  bcc?: string[];
  replyTo?: string | null;
  attachments?: OutgoingAttachment[];
  subject: string;
  text: string;
  html: string | null;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
}

/**
 * What became of one send. `unknown` means the message may have been accepted: the connection
 * failed after its body started to go out, with no final answer. It must never be retried
 * automatically. `quota`: the account sent too much for now (the reply waits); `auth`: the server
 * refused the account's login (see src/domain/smtp_answer.ts).
 */
export type SendResult =
  | {
    kind: "accepted";
    response: string;
    /** The exact bytes the server took (for the copy in the Sent mailbox). */
    raw?: Uint8Array;
  }
  | { kind: "quota"; error: string }
  | { kind: "auth"; error: string }
  | { kind: "temporary"; error: string }
  | { kind: "permanent"; error: string }
  | { kind: "unknown"; error: string };

export interface SmtpSender {
  send(reply: OutgoingReply): Promise<SendResult>;
  close(): void;
}

/**
 * Builds a sender over one nodemailer transport (pooled by default). Throws when asked for plain
 * SMTP (no TLS, no STARTTLS) to a host that is not loopback: what crosses a network is
 * encrypted, a password above all.
 */
export function createSmtpSender(conn: SmtpConnection): SmtpSender {
  const transport = nodemailer.createTransport(smtpTransportOptions(conn));
  // Until the server has taken one reply, sends go one at a time: a refused login or a quota
  // answer is then met once, and the sends already waiting get the same answer without logging
  // in again (providers lock accounts after repeated failed logins). Later sends try anew.
  let proven = false;
  let turn: Promise<unknown> = Promise.resolve();
  let issued = 0;
  let refusal: { result: SendResult; upTo: number } | null = null;
  const firstSends = (reply: OutgoingReply): Promise<SendResult> => {
    const ticket = ++issued;
    const mine = turn.then(async () => {
      if (proven) return await sendNow(reply);
      if (refusal && ticket <= refusal.upTo) return refusal.result;
      const result = await sendNow(reply);
      if (result.kind === "accepted") proven = true;
      if (result.kind === "auth" || result.kind === "quota") refusal = { result, upTo: issued };
      return result;
    });
    turn = mine.catch(() => {});
    return mine;
  };
  const sendNow = async (reply: OutgoingReply): Promise<SendResult> => {
    const raw = await compose(reply);
    let bodyStarted = false;
    // The body is handed over as a stream so that we know whether DATA began: a failure
    // before that point sent nothing; after it, the server may have the message.
    const body = new Readable({
      read() {
        bodyStarted = true;
        this.push(raw);
        this.push(null);
      },
    });
    try {
      const info = await transport.sendMail({
        envelope: { from: reply.from.address, to: envelopeRecipients(reply) },
        raw: body,
        dsn: deliveryStatusRequest(reply),
      });
      return { kind: "accepted", response: String(info.response ?? ""), raw };
    } catch (e) {
      return classifyFailure(e, bodyStarted);
    }
  };
  return {
    send: (reply) => proven ? sendNow(reply) : firstSends(reply),
    close() {
      transport.close();
    },
  };
}

/**
 * What a bounce of this reply should carry (RFC 3461), asked for only where the server offers
 * DSN: the reply's Message-ID as the envelope id (ENVID), so that a notification that returns
 * no headers is still tied to its outbox row; the returned headers only, never the whole reply;
 * a notification on failure or delay, none on success.
 */
export function deliveryStatusRequest(reply: OutgoingReply) {
  return {
    id: reply.messageId.replace(/^<|>$/g, ""),
    return: "headers",
    notify: ["FAILURE", "DELAY"],
  };
}

/** Every recipient of the one SMTP transaction: To, Cc, then Bcc (RFC 5321 §3.3 RCPT TO). */
export function envelopeRecipients(reply: OutgoingReply): string[] {
  return [reply.to.address, ...(reply.cc ?? []), ...(reply.bcc ?? [])];
}

/** The message as written: Bcc is left out here, so no recipient sees the hidden copies. */
export async function compose(reply: OutgoingReply): Promise<Buffer> {
  const composer = new MailComposer({
    from: reply.from,
    to: reply.to,
    cc: reply.cc && reply.cc.length > 0 ? reply.cc : undefined,
    replyTo: reply.replyTo ?? undefined,
    attachments: reply.attachments?.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength),
    })),
    subject: reply.subject,
    text: reply.text,
    html: reply.html ?? undefined,
    messageId: reply.messageId,
    inReplyTo: reply.inReplyTo ?? undefined,
    references: reply.references.length > 0 ? reply.references : undefined,
    headers: reply.headers,
    textEncoding: "quoted-printable",
  });
  return await new Promise<Buffer>((resolve, reject) =>
    composer.compile().build((err: Error | null, message: Buffer) =>
      err ? reject(err) : resolve(message)
    )
  );
}

/**
 * Maps a nodemailer error to what it means for the reply (RFC 5321 §4.2.1 reply codes, read
 * with their enhanced codes by src/domain/smtp_answer.ts).
 */
export function classifyFailure(e: unknown, bodyStarted: boolean): SendResult {
  const err = e as {
    responseCode?: number;
    response?: string;
    message?: string;
    code?: string;
    command?: string;
  };
  const text = [err.code, err.response ?? err.message].filter(Boolean).join(": ") || String(e);
  const code = typeof err.responseCode === "number" ? err.responseCode : null;
  const atAuth = err.code === "EAUTH" || /^AUTH\b/i.test(err.command ?? "");
  const kind = classifySmtpAnswer(
    code,
    err.response ?? err.message ?? "",
    atAuth ? "auth" : "other",
  );
  if (kind === "quota" || kind === "auth" || kind === "permanent") return { kind, error: text };
  if (kind === "temporary") return { kind: "temporary", error: text };
  if (bodyStarted) return { kind: "unknown", error: text };
  return { kind: "temporary", error: text };
}
