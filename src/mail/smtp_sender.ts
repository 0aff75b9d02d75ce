import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import nodemailer from "nodemailer";
import MailComposer from "nodemailer/lib/mail-composer";
import { type SmtpConnection, smtpTransportOptions } from "./account_access.ts";
import { classifySmtpAnswer } from "../domain/smtp_answer.ts";

/** A reply as handed to SMTP: exactly one recipient, our headers as given. */
export interface OutgoingReply {
  from: { name: string; address: string };
  to: { name: string; address: string };
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
  | { kind: "accepted"; response: string }
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
  return {
    async send(reply) {
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
          envelope: { from: reply.from.address, to: [reply.to.address] },
          raw: body,
        });
        return { kind: "accepted", response: String(info.response ?? "") };
      } catch (e) {
        return classifyFailure(e, bodyStarted);
      }
    },
    close() {
      transport.close();
    },
  };
}

async function compose(reply: OutgoingReply): Promise<Buffer> {
  const composer = new MailComposer({
    from: reply.from,
    to: reply.to,
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
