import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import nodemailer from "nodemailer";
import MailComposer from "nodemailer/lib/mail-composer";
import { isLoopbackHost } from "../domain/private_address.ts";

/** Where and how to submit replies. */
export interface SmtpConnection {
  host: string;
  port: number;
  /** TLS from the first byte (465). */
  secure: boolean;
  /**
   * Without `secure`: true requires STARTTLS (RFC 3207) before anything else, login included;
   * false is plain SMTP, allowed only to a loopback host (`createSmtpSender` refuses others).
   */
  requireTls: boolean;
  user: string | null;
  pass: string | null;
  allowInvalidCertificate?: boolean;
  /** One connection per message instead of a pool (for comparison in benchmarks). */
  pooled?: boolean;
  timeoutMs?: number;
}

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
 * automatically.
 */
export type SendResult =
  | { kind: "accepted"; response: string }
  | { kind: "temporary"; error: string }
  | { kind: "permanent"; error: string }
  | { kind: "unknown"; error: string };

export interface SmtpSender {
  send(reply: OutgoingReply): Promise<SendResult>;
  close(): void;
}

/**
 * A stored account's SMTP settings. As with IMAP, an unchecked TLS box never means plain: it
 * means STARTTLS, required. Port 465 with TLS is TLS from the first byte (RFC 8314 §3.3); any
 * other port upgrades with STARTTLS.
 */
export function storedAccountSmtp(
  endpoint: { host: string; port: number; tls: boolean; user: string | null },
  pass: string | null,
): SmtpConnection {
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.tls && endpoint.port === 465,
    requireTls: true,
    user: endpoint.user,
    pass,
  };
}

/**
 * Builds a sender over one nodemailer transport (pooled by default). Throws when asked for plain
 * SMTP (no TLS, no STARTTLS) to a host that is not loopback: what crosses a network is
 * encrypted, a password above all.
 */
export function createSmtpSender(conn: SmtpConnection): SmtpSender {
  if (!conn.secure && !conn.requireTls && !isLoopbackHost(conn.host)) {
    throw new Error(
      `SMTP ${conn.host}:${conn.port}: plain SMTP (no TLS, no STARTTLS) is allowed only to a ` +
        "loopback host; use TLS from the first byte (port 465) or STARTTLS (587)",
    );
  }
  const transport = nodemailer.createTransport({
    host: conn.host,
    port: conn.port,
    secure: conn.secure,
    // nodemailer's requireTLS stops before AUTH when STARTTLS is not offered or fails; plain
    // (loopback only, checked above) never tries STARTTLS.
    requireTLS: !conn.secure && conn.requireTls,
    ignoreTLS: !conn.secure && !conn.requireTls,
    auth: conn.user ? { user: conn.user, pass: conn.pass ?? "" } : undefined,
    pool: conn.pooled ?? true,
    maxConnections: 2,
    connectionTimeout: conn.timeoutMs ?? 30_000,
    greetingTimeout: conn.timeoutMs ?? 30_000,
    socketTimeout: conn.timeoutMs ?? 60_000,
    tls: { rejectUnauthorized: !conn.allowInvalidCertificate },
  });
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

/** Maps a nodemailer error to what it means for the reply (RFC 5321 §4.2.1 reply codes). */
export function classifyFailure(e: unknown, bodyStarted: boolean): SendResult {
  const err = e as { responseCode?: number; response?: string; message?: string; code?: string };
  const text = [err.code, err.response ?? err.message].filter(Boolean).join(": ") || String(e);
  const code = err.responseCode;
  if (typeof code === "number" && code >= 500 && code < 600) {
    return { kind: "permanent", error: text };
  }
  if (typeof code === "number" && code >= 400 && code < 500) {
    return { kind: "temporary", error: text };
  }
  if (bodyStarted) return { kind: "unknown", error: text };
  return { kind: "temporary", error: text };
}
