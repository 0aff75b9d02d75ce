/**
 * A message as the parser gives it, for pure tests: raw header lines are unfolded and keyed by
 * lower-cased name exactly as src/mail/parse_message.ts does, so tests can be written with
 * folded, repeated and odd-case fields.
 */
import type { ParsedEmail } from "../../src/domain/email.ts";

export type Draft = Partial<Omit<ParsedEmail, "headers">> & { headers?: Array<[string, string]> };

/** Builds a ParsedEmail from `draft` over `base` (each test file's usual message). */
export function buildEmail(draft: Draft, base: Partial<ParsedEmail> = {}): ParsedEmail {
  const { headers: lines = [], ...fields } = draft;
  const headers: Record<string, string[]> = { ...base.headers };
  for (const [name, value] of lines) {
    (headers[name.toLowerCase()] ??= []).push(value.replace(/\r?\n(?=[ \t])/g, "").trim());
  }
  return {
    messageId: "<m1@cliente.test>",
    from: [{ name: "Ana Souza", address: "ana@cliente.test" }],
    sender: null,
    replyTo: [],
    to: [{ name: "", address: "suporte@empresa.test" }],
    cc: [],
    subject: "Pedido 123",
    date: null,
    inReplyTo: null,
    references: [],
    text: "Olá",
    html: null,
    attachments: [],
    attachedMessages: [],
    ...base,
    headers,
    ...fields,
  };
}
