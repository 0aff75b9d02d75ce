import { Buffer } from "node:buffer";
import {
  type AddressObject,
  type AttachmentStream,
  type EmailAddress,
  type HeaderLines,
  type Headers,
  MailParser,
  type MessageText,
} from "mailparser";
import libmime from "libmime";
import type {
  Address,
  AttachedMessage,
  AttachmentMeta,
  DeliveryReportParts,
  ParsedEmail,
} from "../domain/email.ts";

/** The parser's verdict: an `Email`, or the reason it could not make one (the raw stays stored). */
export type ParseOutcome = { ok: true; email: ParsedEmail } | { ok: false; error: string };

const PARSER_OPTIONS = {
  // message/rfc822 parts stay attachments and are parsed on their own below, so that a forward
  // sent as an attachment never mixes its text into the forwarder's note.
  ignoreEmbedded: true,
  keepDeliveryStatus: true,
  keepCidLinks: true,
  skipImageLinks: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  checksumAlgo: false as const,
};

const MAX_EMBEDDED_DEPTH = 5;

/**
 * Parses a message's raw bytes with mailparser. Never throws: a message that cannot be parsed
 * yields `{ ok: false, error }`, and its raw bytes are kept by the caller.
 */
export async function parseMessage(raw: Uint8Array): Promise<ParseOutcome> {
  try {
    return { ok: true, email: await parseToEmail(raw, 0) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

async function parseToEmail(raw: Uint8Array, depth: number): Promise<ParsedEmail> {
  const parsed = await streamParse(repairHeaderCharset(raw), depth);
  const headers = collectHeaders(parsed.headerLines);
  const attachments: AttachmentMeta[] = [];
  const attachedMessages: AttachedMessage[] = [];
  const deliveryReport = depth === 0 ? reportParts(parsed.attachments) : null;
  for (const a of parsed.attachments) {
    attachments.push({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.size,
      contentId: a.contentId ?? null,
      disposition: a.contentDisposition ?? null,
    });
    if (a.contentType === "message/rfc822" && depth < MAX_EMBEDDED_DEPTH && a.content) {
      try {
        const inner = await parseToEmail(new Uint8Array(a.content), depth + 1);
        attachedMessages.push({
          from: inner.from,
          subject: inner.subject,
          date: inner.headers["date"]?.[0] ?? null,
          text: inner.text,
          attachedMessages: inner.attachedMessages,
        });
      } catch {
        // An unreadable attached message is still listed in `attachments`.
      }
    }
  }
  // mailparser puts the time of parsing where the Date header is missing or unreadable; a
  // message's age matters (old mail is never answered), so only a readable header counts.
  const dateHeader = headers["date"]?.[0];
  const dateMs = dateHeader ? Date.parse(dateHeader.replace(/\s*\([^)]*\)\s*$/, "")) : NaN;
  const date = Number.isNaN(dateMs) ? null : new Date(dateMs);
  return {
    messageId: stringHeader(parsed.headers, "message-id"),
    from: addresses(parsed.headers.get("from") as AddressObject | undefined),
    sender: addresses(parsed.headers.get("sender") as AddressObject | undefined)[0] ?? null,
    replyTo: addresses(parsed.headers.get("reply-to") as AddressObject | undefined),
    to: addresses(parsed.headers.get("to") as AddressObject | AddressObject[] | undefined),
    cc: addresses(parsed.headers.get("cc") as AddressObject | AddressObject[] | undefined),
    subject: stringHeader(parsed.headers, "subject"),
    date,
    inReplyTo: stringHeader(parsed.headers, "in-reply-to"),
    references: referencesOf(parsed.headers.get("references")),
    headers,
    text: parsed.text ?? null,
    html: typeof parsed.html === "string" ? parsed.html : null,
    attachments,
    attachedMessages,
    deliveryReport,
  };
}

/** What the streaming parse keeps of a message: its headers, texts, and attachments' facts. */
interface StreamParsed {
  headers: Headers;
  headerLines: HeaderLines;
  text?: string;
  html?: string | false;
  attachments: Array<{
    filename?: string;
    contentType: string;
    size: number;
    contentId?: string;
    contentDisposition?: string;
    /** Only for the part types read below (see `keepsContent`); the others are counted. */
    content?: Uint8Array;
  }>;
}

/** Bytes handed to the parser at a time: its base64 and charset decoders work a chunk at once. */
const FEED_CHUNK = 64 * 1024;

/**
 * The content of these attachments is read (an attached message is parsed on its own, a delivery
 * report's fields are read); every other attachment is only counted as it streams by, so a
 * 30 MB PDF costs the parser no memory (what simpleParser would buffer whole, decoded).
 */
function keepsContent(contentType: string, depth: number): boolean {
  if (contentType === "message/rfc822") return depth < MAX_EMBEDDED_DEPTH;
  return depth === 0 && (STATUS_TYPES.has(contentType) || RETURNED_TYPES.has(contentType));
}

/**
 * mailparser's streaming parser, fed `raw` a chunk at a time (`simpleParser` is the same loop
 * but buffers every attachment's content and feeds the message in one piece, which makes its
 * decoders hold whole-part strings: ~5× a large message's size).
 */
function streamParse(raw: Uint8Array, depth: number): Promise<StreamParsed> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser(PARSER_OPTIONS);
    let settled = false;
    const settle = (e: unknown, mail?: StreamParsed) => {
      if (settled) return;
      settled = true;
      if (e) reject(e);
      else resolve(mail!);
    };
    const mail: StreamParsed = {
      headers: new Map(),
      headerLines: [],
      attachments: [],
    };
    parser.on("error", (e: unknown) => settle(e));
    parser.on("headers", (headers: Headers) => {
      mail.headers = headers;
      mail.headerLines = parser.headerLines || [];
    });
    let reading = false;
    const reader = () => {
      reading = true;
      const data = parser.read() as MessageText | AttachmentStream | null;
      if (data === null) {
        reading = false;
        return;
      }
      if (data.type === "text") {
        if (data.text !== undefined) mail.text = data.text;
        if (data.html !== undefined) mail.html = data.html;
        reader();
        return;
      }
      const kept: Uint8Array[] | null = keepsContent(data.contentType, depth) ? [] : null;
      let size = 0;
      data.content.on("data", (chunk: Uint8Array) => {
        size += chunk.length;
        kept?.push(chunk);
      });
      data.content.on("end", () => {
        mail.attachments.push({
          filename: data.filename,
          contentType: data.contentType,
          size,
          contentId: data.contentId,
          contentDisposition: data.contentDisposition,
          content: kept ? Buffer.concat(kept, size) : undefined,
        });
        data.release?.();
        reader();
      });
    };
    parser.on("readable", () => {
      if (!reading) reader();
    });
    parser.on("end", () => settle(null, mail));
    // Written with backpressure: the parser holds a chunk or two of the message at a time.
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let at = 0;
    const feed = () => {
      while (at < bytes.length) {
        const chunk = bytes.subarray(at, at + FEED_CHUNK);
        at += chunk.length;
        if (!parser.write(chunk)) {
          parser.once("drain", feed);
          return;
        }
      }
      parser.end();
    };
    feed();
  });
}

function stringHeader(headers: Headers, name: string): string | null {
  const v = headers.get(name);
  return typeof v === "string" ? v : null;
}

function referencesOf(v: unknown): string[] {
  if (typeof v === "string") return [v];
  return Array.isArray(v) ? v.filter((r): r is string => typeof r === "string") : [];
}

/** Part types of a delivery report (RFC 3464 §2, RFC 6533 §6 for the internationalized ones). */
const STATUS_TYPES = new Set(["message/delivery-status", "message/global-delivery-status"]);
/**
 * Where a report returns our message (RFC 6522 §3: the whole message or its headers);
 * message/rfc822-headers is not registered but some servers write it.
 */
const RETURNED_TYPES = new Set([
  "message/rfc822",
  "message/global",
  "text/rfc822-headers",
  "message/rfc822-headers",
  "message/global-headers",
]);
/** Bytes of a report part read: its fields are a few hundred bytes per recipient. */
const MAX_REPORT_PART = 256 * 1024;

/**
 * The delivery-status part's text and the returned message's header block, when the message has
 * a delivery-status part (mailparser keeps it as an attachment, `keepDeliveryStatus`).
 */
function reportParts(
  parts: ReadonlyArray<{ contentType: string; content?: Uint8Array }>,
): DeliveryReportParts | null {
  const status = parts.find((a) => STATUS_TYPES.has(a.contentType) && a.content);
  if (!status?.content) return null;
  const text = (bytes: Uint8Array) =>
    new TextDecoder("utf-8").decode(bytes.subarray(0, MAX_REPORT_PART));
  const returned = parts.find((a) => RETURNED_TYPES.has(a.contentType) && a.content);
  let returnedHeaders: string | null = null;
  if (returned?.content) {
    const all = text(returned.content);
    const end = /\r?\n\r?\n/.exec(all);
    returnedHeaders = end ? all.slice(0, end.index) : all;
  }
  return { fields: text(status.content), returnedHeaders };
}

function addresses(field: AddressObject | AddressObject[] | undefined): Address[] {
  if (!field) return [];
  const out: Address[] = [];
  const walk = (list: EmailAddress[]) => {
    for (const a of list) {
      if (a.group) walk(a.group);
      else if (a.address) out.push({ name: a.name ?? "", address: a.address.toLowerCase() });
    }
  };
  for (const f of Array.isArray(field) ? field : [field]) walk(f.value ?? []);
  return out;
}

/** Header lines as lower-cased name → unfolded, RFC 2047-decoded values. */
function collectHeaders(lines: ReadonlyArray<{ key: string; line: string }>) {
  const out: Record<string, string[]> = {};
  for (const { key, line } of lines) {
    const colon = line.indexOf(":");
    const rawValue = colon < 0 ? "" : line.slice(colon + 1);
    // RFC 5322 §2.2.3: unfolding removes each CRLF that is followed by white space.
    const unfolded = (rawValue.includes("\n") ? rawValue.replace(/\r?\n(?=[ \t])/g, "") : rawValue)
      .trim();
    let value = unfolded;
    // decodeWords changes only encoded words ("=?…") and its own joining mark; most header
    // values have neither, and its five passes over each were a quarter of this function's time.
    if (unfolded.includes("=?") || unfolded.includes("\x00JOIN\x00")) {
      try {
        value = libmime.decodeWords(unfolded);
      } catch {
        // Keep the undecoded text rather than lose the header.
      }
    }
    (out[key.toLowerCase()] ??= []).push(value);
  }
  return out;
}

/**
 * Raw 8-bit header lines that are not UTF-8 (RFC 6532 allows only UTF-8 there) come, in practice,
 * from clients writing the message's own charset, mostly windows-1252 / ISO-8859-1. mailparser
 * would read them as UTF-8 and turn "Formação" into "Forma��o"; re-encoding those lines as UTF-8
 * first keeps the text. The charset is the first one the message declares, else windows-1252.
 * Raw bytes inside a Q encoded-word (RFC 2047 §4.2) are escaped instead, so that the word's own
 * charset decodes them. Only the top-level header block is touched; body bytes pass through.
 */
export function repairHeaderCharset(raw: Uint8Array): Uint8Array {
  const end = headerEnd(raw);
  if (!raw.subarray(0, end).some((b) => b >= 0x80)) return raw;
  const strict = new TextDecoder("utf-8", { fatal: true });
  const fallback = declaredCharsetDecoder(raw);
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let changed = false;
  let start = 0;
  while (start < end) {
    let nl = raw.indexOf(0x0a, start);
    if (nl < 0 || nl >= end) nl = end - 1;
    const line = raw.subarray(start, nl + 1);
    start = nl + 1;
    if (!line.some((b) => b >= 0x80) || isUtf8(strict, line)) {
      parts.push(line);
      continue;
    }
    const escaped = escapeEncodedWords(line);
    parts.push(encoder.encode(fallback.decode(escaped)));
    changed = true;
  }
  if (!changed) return raw;
  parts.push(raw.subarray(end));
  return concat(parts);
}

function isUtf8(decoder: TextDecoder, bytes: Uint8Array): boolean {
  try {
    decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Replaces raw 8-bit bytes inside `=?charset?Q?…?=` words with `=HH`. */
function escapeEncodedWords(line: Uint8Array): Uint8Array {
  const binary = Array.from(line, (b) => String.fromCharCode(b)).join("");
  const fixed = binary.replace(
    /=\?[^?\s]+\?[Qq]\?[^?\s]*\?=/g,
    (word) => word.replace(/[\x80-\xff]/g, (c) => "=" + c.charCodeAt(0).toString(16).toUpperCase()),
  );
  return Uint8Array.from(fixed, (c) => c.charCodeAt(0));
}

/** A decoder for the first charset the message declares, or windows-1252. */
function declaredCharsetDecoder(raw: Uint8Array): TextDecoder {
  const head = new TextDecoder("latin1").decode(raw.subarray(0, 65536));
  const match = /charset\s*=\s*"?([A-Za-z0-9_.:-]+)/i.exec(head);
  const label = match?.[1]?.toLowerCase();
  if (label && label !== "utf-8" && label !== "utf8" && label !== "us-ascii") {
    try {
      return new TextDecoder(label);
    } catch {
      // An unknown label: fall through to the common case.
    }
  }
  return new TextDecoder("windows-1252");
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Index just past the blank line that ends the header block (or the whole length). */
function headerEnd(raw: Uint8Array): number {
  for (let i = 0; i < raw.length - 1; i++) {
    if (raw[i] !== 0x0a) continue;
    if (raw[i + 1] === 0x0a) return i + 2;
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return i + 3;
  }
  return raw.length;
}
