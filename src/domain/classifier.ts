/**
 * Tells forwarded mail from direct mail and, for a forward, who wrote the original. Every signal
 * is weighed here: the subject prefix, forward separators in the body (email-forward-parser's and
 * our own), Outlook header blocks and attribution lines, and attached message/rfc822 parts. Pure:
 * the same ParsedEmail always gets the same Classification.
 */
import {
  type AttachedMessage,
  type Classification,
  headerValue,
  type OriginalMessage,
  type ParsedEmail,
} from "./email.ts";
import {
  type BodyMarker,
  findBodyMarkers,
  type HeaderBlock,
  isForwardMarker,
  isOriginalMessageLine,
  isUnderscoreLine,
  normalizeBody,
  readAttribution,
  readFieldLine,
  unquote,
} from "./forward_markers.ts";
import { libraryOriginal, librarySplit } from "./forward_library.ts";
import { readSubject, type SubjectReading } from "./subject_prefixes.ts";
import { htmlToText } from "./html_text.ts";
import { parseWrittenDate } from "./written_date.ts";
import { looksLikeAddress, readMailbox } from "./written_mailbox.ts";

// Limits that keep a hostile body from costing more than a few milliseconds: the library's
// regular expressions backtrack on very long lines.
const MAX_BODY_CHARS = 200_000;
const MAX_LIBRARY_CHARS = 100_000;
const MAX_LIBRARY_LINE = 1_000;
const MAX_NESTING = 8;

interface Found extends BodyMarker {
  /** Set when email-forward-parser recognised a separator our own markers did not. */
  byLibrary?: boolean;
}

interface Extracted {
  original: OriginalMessage;
  source: string;
  marker: Found;
}

/** Classifies a parsed message as forwarded or direct, with evidence and a confidence in [0, 1]. */
export function classify(email: ParsedEmail): Classification {
  const evidence: string[] = [];
  const subject = readSubject(email.subject);
  noteSubject(subject, evidence);
  const zone = headerZoneMinutes(headerValue(email, "date"));

  if (email.attachedMessages.length > 0) {
    if (isReport(email)) {
      evidence.push("delivery report or bounce: its attached message is not a forward");
    } else {
      return fromAttachment(email, subject, zone, evidence);
    }
  }

  const lines = bodyLines(email, evidence);
  const markers: Found[] = findBodyMarkers(lines);
  addLibrarySeparator(lines, markers);
  for (const m of markers.slice(0, 6)) evidence.push(describeMarker(m));
  if (markers.length > 6) evidence.push(`${markers.length - 6} more marks further down`);
  if (email.inReplyTo) evidence.push("In-Reply-To header present");

  const lead = subject.prefixes[0]?.kind ?? null;
  const settled = lead === "forward-or-reply"
    ? settleCollision(subject, markers, email, evidence)
    : null;
  const reading = settled ? settled.reading : lead as "forward" | "reply" | null;
  const strongFirst = markers.length > 0 && isForwardMarker(markers[0].kind);

  if (reading === "forward") {
    const confidence = markers.some((m) => isForwardMarker(m.kind))
      ? 0.99
      : markers.length > 0
      ? 0.95
      : 0.8;
    // "VS:" read as a forward is less sure, the more so when no label language decided it.
    const scale = settled ? (settled.byLabels ? 0.92 : 0.75) : 1;
    return forwarded(lines, markers, subject, zone, confidence * scale, evidence);
  }
  if (strongFirst) {
    // A separator that says "forwarded" at the top of the body, under a neutral subject (or,
    // rarely, a reply prefix the forwarder kept): the body's own words win.
    if (reading === "reply") evidence.push("reply prefix overruled by a forward separator on top");
    return forwarded(lines, markers, subject, zone, reading === "reply" ? 0.6 : 0.93, evidence);
  }
  return direct(markers, reading, evidence);
}

function direct(
  markers: Found[],
  reading: "forward" | "reply" | null,
  evidence: string[],
): Classification {
  let confidence: number;
  if (reading === "reply") {
    confidence = 0.97;
  } else if (markers.length === 0) {
    confidence = 0.95;
    evidence.push("no forward marker");
  } else if (markers[0].kind === "attribution") {
    confidence = 0.9;
    evidence.push("quoted reply: an attribution line comes first");
  } else {
    // Outlook writes the same header block under a reply and a forward; without a forward
    // prefix the message is read as a reply, but a forward with an edited subject looks alike.
    confidence = 0.7;
    evidence.push("header block without a forward prefix: read as a reply");
  }
  if (markers.some((m) => isForwardMarker(m.kind))) {
    evidence.push("forward separator only inside quoted text");
  }
  return { kind: "direct", original: null, confidence, evidence };
}

function forwarded(
  lines: readonly string[],
  markers: Found[],
  subject: SubjectReading,
  zone: number | null,
  confidence: number,
  evidence: string[],
): Classification {
  let found: Extracted | null = null;
  for (const m of markers) {
    const e = extractAt(lines, m, zone);
    if (e && (e.original.fromAddress || e.original.fromName)) {
      found = e;
      break;
    }
  }
  if (!found) {
    evidence.push("original sender not found in the body");
    const original = subject.base
      ? { fromAddress: null, fromName: null, subject: subject.base, date: null, dateIso: null }
      : null;
    return { kind: "forwarded", original, confidence: clamp(confidence), evidence };
  }
  // A forward of a forward: follow the chain while the quoted message is itself a forward.
  let depth = 1;
  for (; depth < MAX_NESTING; depth++) {
    const inner = readSubject(found.original.subject);
    if (inner.prefixes[0]?.kind !== "forward") break;
    const next = markers.find((m) => m.line > found!.marker.end);
    const e = next ? extractAt(lines, next, zone) : null;
    if (!e || !e.original.fromAddress) break;
    found = e;
  }
  if (depth > 1) evidence.push(`nested forward: original taken from quoted block ${depth}`);
  evidence.push(`original sender from ${found.source}`);
  const original = { ...found.original };
  if (!original.subject && subject.base) {
    original.subject = subject.base;
    evidence.push("original subject taken from the forward's own subject");
  }
  if (!original.fromAddress) evidence.push("original sender has a name but no address");
  return { kind: "forwarded", original, confidence: clamp(confidence), evidence };
}

// ---------------------------------------------------------------------------------------------
// Forward as attachment.

function fromAttachment(
  email: ParsedEmail,
  subject: SubjectReading,
  zone: number | null,
  evidence: string[],
): Classification {
  let msg: AttachedMessage = email.attachedMessages[0];
  let depth = 1;
  if (email.attachedMessages.length > 1) {
    evidence.push(`${email.attachedMessages.length} attached messages: the first is read`);
  }
  while (msg.attachedMessages.length > 0 && depth < MAX_NESTING) {
    msg = msg.attachedMessages[0];
    depth++;
  }
  evidence.push(
    depth > 1
      ? `attached message/rfc822, nested ${depth} deep: the innermost is the original`
      : "attached message/rfc822",
  );
  const from = msg.from[0] ?? null;
  let original: OriginalMessage = {
    fromAddress: from?.address ? from.address.toLowerCase() : null,
    fromName: from?.name ? from.name : null,
    subject: msg.subject,
    date: msg.date,
    dateIso: parseWrittenDate(msg.date, { zoneMinutes: zone }),
  };
  // The innermost attached message may itself be an inline forward ("Fwd:" with a separator).
  const inner = readSubject(msg.subject);
  if (inner.prefixes[0]?.kind === "forward" && msg.text) {
    const lines = normalizeBody(msg.text.slice(0, MAX_BODY_CHARS)).split("\n");
    const markers: Found[] = findBodyMarkers(lines);
    for (const m of markers) {
      const e = extractAt(lines, m, zone);
      if (e?.original.fromAddress) {
        original = e.original;
        evidence.push(`the attached message is an inline forward: original from ${e.source}`);
        break;
      }
    }
  }
  if (!original.fromAddress && !original.fromName) {
    evidence.push("the attached message names no sender");
  }
  if (subject.prefixes[0]?.kind === "forward") evidence.push("forward prefix agrees");
  return { kind: "forwarded", original, confidence: 0.99, evidence };
}

function isReport(email: ParsedEmail): boolean {
  // RFC 6522 multipart/report (delivery status, RFC 5965 abuse feedback) attaches the message
  // it reports on; so do older bounces sent as multipart/mixed from the mailer daemon, with the
  // null reverse-path of RFC 5321 §4.5.5. None of them is a person's forward.
  if (/^\s*multipart\/report\b/i.test(headerValue(email, "content-type") ?? "")) return true;
  if ((headerValue(email, "return-path") ?? "").replace(/\s/g, "") === "<>") return true;
  const sender = email.sender ?? email.from[0] ?? null;
  // Sendmail and Gmail sign "Mail Delivery Subsystem", Exim "Mail Delivery System".
  return /^(?:mailer-daemon|postmaster)@/i.test(sender?.address ?? "") ||
    /^(?:mail delivery (?:sub)?system|mailer-daemon|postmaster)\b/i.test(sender?.name ?? "");
}

// ---------------------------------------------------------------------------------------------
// Subject.

function noteSubject(subject: SubjectReading, evidence: string[]): void {
  for (const t of subject.tags) evidence.push(`subject tag ${quote(t)} skipped`);
  const meaning = { forward: "forward", reply: "reply", "forward-or-reply": "forward or reply" };
  for (const p of subject.prefixes.slice(0, 4)) {
    evidence.push(`subject prefix ${quote(p.token)}: ${meaning[p.kind]}`);
  }
}

/**
 * "VS:" is a forward in Danish and Norwegian and a reply in Finnish and Estonian. The header
 * block's labels say which language wrote it; else Content-Language; else In-Reply-To, which
 * Outlook sets on replies and not on forwards.
 */
function settleCollision(
  subject: SubjectReading,
  markers: Found[],
  email: ParsedEmail,
  evidence: string[],
): { reading: "forward" | "reply"; byLabels: boolean } {
  const token = subject.prefixes[0].token;
  const languages = new Set(markers.flatMap((m) => m.block?.languages ?? []));
  const attributions = markers.filter((m) => m.kind === "attribution").map((m) => m.text)
    .join(" ");
  const nordic = languages.has("da") || languages.has("no") || /\bskrev\b/i.test(attributions);
  const finnic = languages.has("fi") || languages.has("et") ||
    /\b(?:kirjoitti|kirjutas)\b/i.test(attributions);
  if (nordic !== finnic) {
    const reading = nordic ? "forward" : "reply";
    evidence.push(
      `${token} read as a ${reading}: ${nordic ? "Danish/Norwegian" : "Finnish/Estonian"} labels`,
    );
    return { reading, byLabels: true };
  }
  const lang = (headerValue(email, "content-language") ?? "").toLowerCase();
  if (/^(?:da|no|nb|nn)\b/.test(lang) || /^(?:fi|et)\b/.test(lang)) {
    const reading = /^(?:fi|et)\b/.test(lang) ? "reply" : "forward";
    evidence.push(`${token} read as a ${reading}: Content-Language ${lang}`);
    return { reading, byLabels: false };
  }
  const reading = email.inReplyTo ? "reply" : "forward";
  evidence.push(
    `${token} read as a ${reading}: ${
      email.inReplyTo ? "In-Reply-To present" : "no In-Reply-To (Outlook sets it on replies)"
    }`,
  );
  return { reading, byLabels: false };
}

// ---------------------------------------------------------------------------------------------
// Body.

function bodyLines(email: ParsedEmail, evidence: string[]): string[] {
  let text = email.text;
  if ((text === null || text.trim() === "") && email.html) {
    text = htmlToText(email.html);
    evidence.push("body read from the HTML part");
  }
  return normalizeBody((text ?? "").slice(0, MAX_BODY_CHARS)).split("\n");
}

/** The body as email-forward-parser gets it: bounded in size and line length. */
function libraryText(lines: readonly string[]): string {
  let out = "";
  for (const l of lines) {
    if (out.length > MAX_LIBRARY_CHARS) break;
    out += (l.length > MAX_LIBRARY_LINE ? l.slice(0, MAX_LIBRARY_LINE) : l) + "\n";
  }
  return out;
}

/**
 * Asks email-forward-parser where the forward starts. When it splits at a line our own markers
 * did not catch (a client-specific wording we lack), that line is added as a forward separator;
 * the lines it shares with Outlook replies (underscores, "On … wrote:") are left to our markers.
 */
function addLibrarySeparator(lines: readonly string[], markers: Found[]): void {
  const text = libraryText(lines);
  const split = librarySplit(text);
  if (!split) return;
  const message = split.message;
  let at = 0;
  if (message) {
    const pos = text.indexOf(message);
    if (pos < 0) return;
    at = text.slice(0, pos + message.length).split("\n").length; // the line after the message
  }
  while (at < lines.length && lines[at].trim() === "") at++;
  if (at >= lines.length) return;
  // An earlier line ending the message ("… wrote:" joined) may already be covered.
  if (markers.some((m) => at >= m.line && at <= m.end)) return;
  const s = unquote(lines[at]).text.trim();
  if (isUnderscoreLine(s) || isOriginalMessageLine(s) || readFieldLine(s)) return;
  const m: Found = {
    kind: "forward-separator",
    line: at,
    end: at,
    text: s,
    quoteDepth: unquote(lines[at]).depth,
    block: null,
    byLibrary: true,
  };
  // An Outlook-2019-style attribution ("On …, \"Name\" <addr> wrote:") is a reply look-alike.
  if (/[:：]\s*$/.test(s) && /[<\[].+@.+[>\]]/.test(s)) m.kind = "attribution";
  const index = markers.findIndex((x) => x.line > at);
  markers.splice(index < 0 ? markers.length : index, 0, m);
}

function describeMarker(m: Found): string {
  const where = `line ${m.line + 1}`;
  const text = quote(m.text.length > 70 ? `${m.text.slice(0, 67)}…` : m.text);
  const fields = m.block ? ` (${m.block.labels.join("/")})` : "";
  switch (m.kind) {
    case "forward-separator":
      return m.byLibrary
        ? `forward separator found by email-forward-parser at ${where}: ${text}`
        : `forward separator at ${where}: ${text}${fields}`;
    case "original-message":
      return `"Original Message" line at ${where}: ${text}${fields}`;
    case "outlook-separator":
      return `Outlook separator and header block at ${where}${fields}`;
    case "header-block":
      return `header block at ${where}${fields}`;
    case "attribution":
      return `attribution line at ${where}: ${text}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Extraction.

/**
 * Reads the original's sender, subject and date at one mark. email-forward-parser reads the text
 * from the mark down; its sender is taken when it stands in the mark's own lines, else our own
 * reading of the mark's header block or attribution line (the library then read a block further
 * down, or found none).
 */
function extractAt(lines: readonly string[], marker: Found, zone: number | null): Extracted | null {
  const own = ownReading(marker);
  // The mark's own lines: its header block or attribution, or the dozen lines under a separator
  // whose fields our reader did not find.
  const regionEnd = marker.block || marker.kind === "attribution"
    ? marker.end + 2
    : marker.line + 12;
  const region = lines.slice(marker.line, regionEnd).join("\n").toLowerCase();
  // The library's reading counts only when its sender's address stands in those lines: without
  // an "@" there, it is not asked.
  const lib = region.includes("@") ? libraryOriginal(libraryText(lines.slice(marker.line))) : null;
  const libAddress = looksLikeAddress(lib?.address) ? lib.address.toLowerCase() : null;
  const libName = lib?.name ?? null;
  const libInRegion = libAddress !== null && region.includes(libAddress);

  let fromAddress: string | null;
  let fromName: string | null;
  let subject: string | null;
  let date: string | null;
  let source: string;
  if (libInRegion) {
    fromAddress = libAddress;
    fromName = libName ?? (own.fromAddress === libAddress ? own.fromName : null);
    source = "email-forward-parser";
    subject = marker.kind === "attribution" ? own.subject : (lib?.subject || own.subject);
    // The library stops a subject at the line's end; a subject wrapped onto the next line is
    // whole in our own reading.
    if (subject && own.subject && own.subject.startsWith(subject)) subject = own.subject;
    date = marker.kind === "attribution"
      ? (own.date ?? lib?.date ?? null)
      : (lib?.date ?? own.date);
  } else if (own.fromAddress || own.fromName) {
    fromAddress = own.fromAddress;
    fromName = own.fromName;
    source = marker.kind === "attribution" ? "the attribution line" : "the quoted header block";
    subject = own.subject;
    date = own.date;
  } else {
    return null;
  }
  const languages = marker.block?.languages ?? [];
  return {
    marker,
    source,
    original: {
      fromAddress,
      fromName: fromName || null,
      subject: subject?.trim() || null,
      date: date?.trim() || null,
      dateIso: parseWrittenDate(date ?? null, { languages, zoneMinutes: zone }),
    },
  };
}

function ownReading(marker: Found): {
  fromAddress: string | null;
  fromName: string | null;
  subject: string | null;
  date: string | null;
} {
  if (marker.kind === "attribution") {
    const a = readAttribution(marker.text);
    return { fromAddress: a.address, fromName: a.name, subject: null, date: a.date };
  }
  const block: HeaderBlock | null = marker.block;
  if (!block || block.fields.from === undefined) {
    return { fromAddress: null, fromName: null, subject: null, date: null };
  }
  const mailbox = readMailbox(block.fields.from);
  return {
    fromAddress: mailbox.address,
    fromName: mailbox.name,
    subject: block.fields.subject?.trim() || null,
    date: block.fields.date?.trim() || null,
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function clamp(x: number): number {
  return Math.max(0, Math.min(1, Math.round(x * 1000) / 1000));
}

function quote(s: string): string {
  return `"${s}"`;
}

/** The UTC offset, in minutes, that a Date header states ("… -0300"), or null. */
function headerZoneMinutes(value: string | null): number | null {
  const m = value ? /([+-])(\d{2})(\d{2})\s*(?:\([^)]*\))?\s*$/.exec(value.trim()) : null;
  if (!m) return null;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}
