/**
 * Incoming mail as the world sends it: raw messages handed to the loopback Postfix over SMTP,
 * which delivers them to Dovecot (with a Received header) and so wakes IMAP IDLE as real mail
 * does. `deliverRaw` in mailstack.ts, by contrast, imports byte for byte without SMTP.
 */
import { Buffer } from "node:buffer";
import nodemailer from "nodemailer";
import { SMTP } from "./mailstack.ts";

export interface Submitter {
  /** Submits `raw` unchanged with this envelope; resolves with Postfix's final reply. */
  submit(envelope: { from: string; to: string }, raw: Uint8Array): Promise<string>;
  close(): void;
}

/** One pooled SMTP connection to Postfix (plain, no AUTH), reused for every submission. */
export function smtpSubmitter(server: { host: string; port: number } = SMTP): Submitter {
  const transport = nodemailer.createTransport({
    host: server.host,
    port: server.port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 1,
  });
  return {
    submit: async (envelope, raw) => {
      const info = await transport.sendMail({
        envelope: { from: envelope.from, to: [envelope.to] },
        raw: Buffer.from(raw),
      });
      if (info.rejected.length > 0) {
        throw new Error(`Postfix refused ${envelope.to}: ${info.response}`);
      }
      return info.response;
    },
    close: () => transport.close(),
  };
}
