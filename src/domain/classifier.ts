/**
 * Tells forwarded mail from direct mail and, for a forward, who wrote the original. Every signal
 * is weighed here: the subject prefix, forward separators in the body (email-forward-parser's and
 * our own), Outlook header blocks and attribution lines, and attached message/rfc822 parts. Pure:
 * the same ParsedEmail always gets the same Classification.
 */
import EmailForwardParser from "email-forward-parser";

// Building the library's regexes costs more than a reading; its reader keeps no state between
// readings (string match/split/replace only), so one is shared.
const FORWARD_PARSER = new EmailForwardParser();
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
  looksLikeAddress,
  normalizeBody,
  readAttribution,
  readFieldLine,
  readMailbox,
  readSubject,
  type SubjectReading,
  unquote,
} from "./forward_markers.ts";

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
  const result = FORWARD_PARSER.read(text);
  if (!result.forwarded) return;
  const message = result.message ?? "";
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
  const slice = libraryText(lines.slice(marker.line));
  // A forward-prefixed subject turns on the library's reading by "From:" line; "Fwd:" alone
  // (empty rest) keeps the original's subject in its answer instead of ours.
  const lib = FORWARD_PARSER.read(slice, "Fwd:");
  const libAddress = looksLikeAddress(lib.email.from.address)
    ? lib.email.from.address.toLowerCase()
    : null;
  const libName = lib.email.from.name ?? null;

  const own = ownReading(marker);
  // The mark's own lines: its header block or attribution, or the dozen lines under a separator
  // whose fields our reader did not find.
  const regionEnd = marker.block || marker.kind === "attribution"
    ? marker.end + 2
    : marker.line + 12;
  const region = lines.slice(marker.line, regionEnd).join("\n").toLowerCase();
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
    subject = marker.kind === "attribution" ? own.subject : (lib.email.subject || own.subject);
    // The library stops a subject at the line's end; a subject wrapped onto the next line is
    // whole in our own reading.
    if (subject && own.subject && own.subject.startsWith(subject)) subject = own.subject;
    date = marker.kind === "attribution"
      ? (own.date ?? lib.email.date ?? null)
      : (lib.email.date ?? own.date);
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

// ---------------------------------------------------------------------------------------------
// HTML to text.

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  ensp: " ",
  emsp: " ",
  thinsp: " ",
  ndash: "–",
  mdash: "—",
  lsquo: "‘",
  rsquo: "’",
  sbquo: "‚",
  ldquo: "“",
  rdquo: "”",
  bdquo: "„",
  laquo: "«",
  raquo: "»",
  hellip: "…",
  bull: "•",
  middot: "·",
  euro: "€",
  pound: "£",
  yen: "¥",
  cent: "¢",
  copy: "©",
  reg: "®",
  trade: "™",
  deg: "°",
  para: "¶",
  sect: "§",
  times: "×",
  divide: "÷",
  zwnj: "",
  zwj: "",
  lrm: "",
  rlm: "",
  shy: "",
};

// HTML 4's Latin-1 names, in code-point order from U+00C0 (À) to U+00FF (ÿ).
const LATIN1_NAMES = (
  "Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute " +
  "Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml " +
  "Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc " +
  "euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave " +
  "uacute ucirc uuml yacute thorn yuml"
).split(" ");

function decodeEntity(entity: string, body: string): string {
  if (body.startsWith("#")) {
    const code = body[1] === "x" || body[1] === "X"
      ? parseInt(body.slice(2), 16)
      : parseInt(body.slice(1), 10);
    if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff) return entity;
    if (code >= 0xe000 && code <= 0xf8ff) return ""; // private use: meaningless, and our markers
    return String.fromCodePoint(code);
  }
  const named = NAMED_ENTITIES[body] ?? NAMED_ENTITIES[body.toLowerCase()];
  if (named !== undefined) return named;
  const i = LATIN1_NAMES.indexOf(body);
  return i >= 0 ? String.fromCharCode(0xc0 + i) : entity;
}

/**
 * A plain-text rendering of an HTML body, good enough to find forward marks: tags stripped,
 * entities decoded, line breaks kept for <br>, <p>, <div> and other blocks, "> " before lines of
 * a <blockquote>, and a line of underscores for <hr> (as Outlook's own text part writes it).
 */
export function htmlToText(html: string): string {
  // Private-use code points mark quote openings, closings and block edges below; the input's own
  // are dropped so that no message can forge them.
  let s = html
    .replace(/[\uE001-\uE003]/g, "")
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<(script|style|head|title|xml)\b[\s\S]*?<\/\1\s*>/gi, "")
    .replace(/\s+/g, " ")
    // A <br> that ends a block (Apple Mail: "<span>…<br></span></div>") adds no line of its own.
    .replace(
      /<br\s*\/?>((?:\s*<\/(?:span|b|strong|em|i|u|font|a)\s*>)*\s*<\/(?:p|div|li|h[1-6]|td|blockquote)\b)/gi,
      "$1",
    )
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<hr\b[^>]*>/gi, `\n${"_".repeat(32)}\n`)
    .replace(/<blockquote\b[^>]*>/gi, "\n\uE001\n")
    .replace(/<\/blockquote\s*>/gi, "\n\uE002\n")
    // Paragraphs and headings are set apart by a blank line; the edges of divs, rows and list
    // items only break the line, however many of them meet ("</div><div>").
    .replace(/<\/?(?:p|h[1-6]|table|pre|address|center)\b[^>]*>/gi, "\n")
    .replace(
      /<\/?(?:div|tr|li|ul|ol|dl|dt|dd|tbody|thead|section|article|header|footer)\b[^>]*>/gi,
      "\uE003",
    )
    .replace(/<\/?t[dh]\b[^>]*>/gi, " ")
    .replace(/<[^>]*>/g, "")
    .replace(/[ \t]*(?:\uE003[ \t]*)+/g, "\n")
    .replace(/&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});/g, decodeEntity);
  let depth = 0;
  const out: string[] = [];
  const isBlank = (l: string | undefined) => l === undefined || /^(?:>\s?)*$/.test(l);
  for (const raw of s.split("\n")) {
    const line = raw.replace(/[ \t]+/g, " ").trim();
    if (line === "\uE001") {
      depth++;
      continue;
    }
    if (line === "\uE002") {
      while (out.length > 0 && out[out.length - 1] !== "" && isBlank(out[out.length - 1])) {
        out.pop();
      }
      depth = Math.max(0, depth - 1);
      out.push(depth > 0 ? ">".repeat(depth) : "");
      continue;
    }
    if (line === "") {
      // One blank line at most, written ">" inside a quote, none right after a quote opens.
      if (!isBlank(out[out.length - 1])) out.push(depth > 0 ? ">".repeat(depth) : "");
      continue;
    }
    out.push(depth > 0 ? `${"> ".repeat(depth)}${line}` : line);
  }
  s = out.join("\n").replace(/\n{3,}/g, "\n\n").trim();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Dates as written in a forwarded block.

/** What helps read a written date: the block's label languages, the message's own UTC offset. */
export interface DateHints {
  /** Most likely first; they settle month names shared by languages ("listopad"). */
  languages?: readonly string[];
  /** Used when the written date names no zone: clients write the quoted date in local time. */
  zoneMinutes?: number | null;
}

// Month names and the abbreviations clients write, per language; month number first.
const MONTH_NAMES: ReadonlyArray<readonly [number, string, string]> = [
  [1, "en nl de da no sv et hu", "january jan januari januar jänner jän jaanuar jaan"],
  [2, "en nl de da no sv et hu", "february feb februari februar veebruar veebr febr"],
  [3, "en nl de da no sv et", "march mar maart mrt märz mär maerz marts mars märts"],
  [4, "en nl de da no sv et", "april apr aprill"],
  [5, "en nl de da no sv et", "may mei mai maj"],
  [6, "en nl de da no sv et", "june jun juni juuni"],
  [7, "en nl de da no sv et", "july jul juli juuli"],
  [8, "en nl de da no sv et", "august aug augustus augusti"],
  [9, "en nl de da no sv et", "september sep sept"],
  [10, "en nl de da no sv et", "october oct oktober okt oktoober"],
  [11, "en nl de da no sv et", "november nov"],
  [12, "en nl de da no sv et", "december dec dezember dez desember des detsember dets"],
  [1, "pt es fr it ro", "janeiro enero ene janvier janv gennaio gen ianuarie ian"],
  [2, "pt es fr it ro", "fevereiro fev febrero février fevrier févr fevr febbraio februarie"],
  [3, "pt es fr it ro", "março marco marzo martie"],
  [4, "pt es fr it ro", "abril abr avril avr aprile aprilie"],
  [5, "pt es fr it ro", "maio mayo maggio mag"],
  [6, "pt es fr it ro", "junho junio juin giugno giu iunie iun"],
  [7, "pt es fr it ro", "julho julio juillet juil luglio lug iulie iul"],
  [8, "pt es fr it ro", "agosto ago août aout"],
  [9, "pt es fr it ro", "setembro set septiembre setiembre septembre settembre septembrie"],
  [10, "pt es fr it ro", "outubro out octubre octobre ottobre ott octombrie"],
  [11, "pt es fr it ro", "novembro noviembre novembre noiembrie noi"],
  [12, "pt es fr it ro", "dezembro diciembre dic décembre decembre déc dicembre decembrie"],
  [1, "pl cs sk hu", "styczeń stycznia sty leden ledna led január januára"],
  [2, "pl cs sk hu", "luty lutego lut únor února úno február februára"],
  [3, "pl cs sk hu", "marzec marca březen března bře marec március márc"],
  [4, "pl cs sk hu", "kwiecień kwietnia kwi duben dubna dub apríl apríla április ápr"],
  [5, "pl cs sk hu", "maja květen května kvě máj mája május"],
  [6, "pl cs sk hu", "czerwiec czerwca cze červen června čer jún júna június"],
  [7, "pl cs sk hu", "lipiec lipca červenec července črc júl júla július"],
  [8, "pl cs sk hu", "sierpień sierpnia sie srpen srpna augusta augusztus"],
  [9, "pl cs sk hu", "wrzesień września wrz září zář septembra szeptember szept"],
  [10, "pl cs sk hu", "październik października paź říjen října říj október októbra"],
  [11, "pl cs sk", "listopad listopada listopadu lis novembra"],
  [12, "pl cs sk", "grudzień grudnia gru prosinec prosince pro decembra"],
  [7, "pl", "lip"],
  [8, "cs", "srp"],
  [1, "hr", "siječanj siječnja sij"],
  [2, "hr", "veljača veljače velj"],
  [3, "hr", "ožujak ožujka ožu"],
  [4, "hr", "travanj travnja tra"],
  [5, "hr", "svibanj svibnja svi"],
  [6, "hr", "lipanj lipnja lip"],
  [7, "hr", "srpanj srpnja srp"],
  [8, "hr", "kolovoz kolovoza kol"],
  [9, "hr", "rujan rujna ruj"],
  [10, "hr", "listopad listopada lis"],
  [11, "hr", "studeni studenoga studenog stu"],
  [12, "hr", "prosinac prosinca pro"],
  [1, "tr ru uk", "ocak oca январь января янв січень січня січ"],
  [2, "tr ru uk", "şubat şub февраль февраля фев февр лютий лютого лют"],
  [3, "tr ru uk", "mart март марта мар березень березня бер"],
  [4, "tr ru uk", "nisan nis апрель апреля апр квітень квітня кві квіт"],
  [5, "tr ru uk", "mayıs май мая травень травня тра трав"],
  [6, "tr ru uk", "haziran haz июнь июня июн червень червня чер черв"],
  [7, "tr ru uk", "temmuz tem июль июля июл липень липня лип"],
  [8, "tr ru uk", "ağustos ağu август августа авг серпень серпня сер серп"],
  [9, "tr ru uk", "eylül eyl сентябрь сентября сен сент вересень вересня вер"],
  [10, "tr ru uk", "ekim eki октябрь октября окт жовтень жовтня жов жовт"],
  [11, "tr ru uk", "kasım kas ноябрь ноября ноя нояб листопад листопада лис лист"],
  [12, "tr ru uk", "aralık ara декабрь декабря дек грудень грудня гру груд"],
];

const FINNISH_MONTHS = [
  "tammi",
  "helmi",
  "maalis",
  "huhti",
  "touko",
  "kesä",
  "heinä",
  "elo",
  "syys",
  "loka",
  "marras",
  "joulu",
];

const ZONES: Readonly<Record<string, number>> = {
  gmt: 0,
  utc: 0,
  ut: 0,
  wet: 0,
  west: 60,
  bst: 60,
  cet: 60,
  cest: 120,
  met: 60,
  mest: 120,
  mez: 60,
  mesz: 120,
  "seč": 60,
  "selč": 120,
  eet: 120,
  eest: 180,
  oez: 120,
  oesz: 180,
  msk: 180,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  akst: -540,
  akdt: -480,
  hst: -600,
  ast: -240,
  adt: -180,
  brt: -180,
  brst: -120,
  art: -180,
  jst: 540,
  kst: 540,
  hkt: 480,
  sgt: 480,
  awst: 480,
  aest: 600,
  aedt: 660,
  nzst: 720,
  nzdt: 780,
};

interface MonthHit {
  month: number;
  languages: string[];
}

/** Every month name of MONTH_NAMES, to the months (and their languages) it can mean. */
const MONTH_BY_NAME: ReadonlyMap<string, readonly MonthHit[]> = (() => {
  const map = new Map<string, MonthHit[]>();
  for (const [month, langs, names] of MONTH_NAMES) {
    for (const name of names.split(" ")) {
      const hits = map.get(name) ?? [];
      hits.push({ month, languages: langs.split(" ") });
      map.set(name, hits);
    }
  }
  return map;
})();

function monthOf(token: string): MonthHit[] {
  const t = token.toLowerCase().replace(/\.$/, "");
  const hits: MonthHit[] = (MONTH_BY_NAME.get(t) ?? []).map((h) => ({
    month: h.month,
    languages: [...h.languages],
  }));
  // Finnish: "lokakuuta" (inflected), "lokak." (Gmail's abbreviation).
  const fi = FINNISH_MONTHS.findIndex((stem) => t.startsWith(`${stem}kuu`) || t === `${stem}k`);
  if (fi >= 0) hits.push({ month: fi + 1, languages: ["fi"] });
  return hits;
}

/**
 * Reads a date as a client wrote it in a forwarded block ("26 de outubro de 2021, 14:25:08 EEST",
 * "Wed, Oct 27, 2021 at 9:31 AM", "28/10/21, 12:46") and gives it as ISO 8601, with the offset
 * when one is known; null when it cannot be read. No clock: a date without a year is not guessed.
 */
export function parseWrittenDate(written: string | null, hints: DateHints = {}): string | null {
  if (!written) return null;
  let s = written.normalize("NFC").replace(/[\u200B-\u200F\u202A-\u202E\u2060]/g, "")
    .replace(/[\u00A0\u202F]/g, " ").replace(/−/g, "-").toLowerCase().trim();
  if (s.length === 0 || s.length > 200) return null;

  // Zone: "+0100", "GMT+1", "UTC+01:00", or an abbreviation.
  let offset: number | null = null;
  const gmt = /(?:gmt|utc|ut)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?(?!\d)/u.exec(s);
  const numeric = /(?:^|[\s(])([+-])(\d{2}):?(\d{2})(?=$|[\s)])/u.exec(s);
  const zm = gmt ?? numeric;
  if (zm) {
    offset = (zm[1] === "-" ? -1 : 1) * (Number(zm[2]) * 60 + Number(zm[3] ?? 0));
    s = s.replace(zm[0], " ");
  } else {
    for (const m of s.matchAll(/\p{L}+/gu)) {
      if (ZONES[m[0]] !== undefined) {
        offset = ZONES[m[0]];
        s = `${s.slice(0, m.index)} ${s.slice(m.index + m[0].length)}`;
        break;
      }
    }
  }
  s = s.replace(/\([^)]*\)/g, " ");

  // Month by name, if any (the first token is skipped when another qualifies: "mar" is a
  // Spanish and Italian Tuesday as well as March).
  const candidates: Array<{ index: number; length: number; hits: MonthHit[] }> = [];
  for (const m of s.matchAll(/\p{L}+\.?/gu)) {
    const hits = monthOf(m[0]);
    if (hits.length > 0) candidates.push({ index: m.index, length: m[0].length, hits });
  }
  const chosen = candidates.length > 1 ? candidates.slice(1).at(-1)! : candidates[0];
  let month: number | null = null;
  let day: number | null = null;
  let year: number | null = null;
  if (chosen) {
    month = resolveMonth(chosen.hits, hints.languages ?? [], s);
    s = `${s.slice(0, chosen.index)} ${s.slice(chosen.index + chosen.length)}`;
  } else {
    // Numbers only: Y-M-D, or D/M/Y and M/D/Y told apart by which part exceeds 12, else by a
    // 12-hour clock (the United States writes both M/D/Y and AM/PM).
    // "2022年9月19日" (ja, zh) and "2022년 9월 19일" (ko) read as Y-M-D too.
    const ymd = /(?<!\d)(\d{4})\s*(?:[-/.]|年|년)\s*(\d{1,2})\s*(?:[-/.]|月|월)\s*(\d{1,2})(?!\d)/u
      .exec(s);
    const dmy = /(?<!\d)(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})(?![\d:])/u.exec(s);
    if (ymd) {
      [year, month, day] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
      s = s.replace(ymd[0], " ");
    } else if (dmy) {
      const a = Number(dmy[1]);
      const b = Number(dmy[3]);
      const twelveHour = /\d\s*[ap]\.?\s?m\b/u.test(s);
      const monthFirst = b > 12 || (a <= 12 && twelveHour);
      [month, day] = monthFirst ? [a, b] : [b, a];
      year = Number(dmy[4]);
      if (year < 100) year += year < 70 ? 2000 : 1900;
      s = s.replace(dmy[0], " ");
    }
  }

  // Time: "14:25:08", "14.25", "9:31 am", "17h30".
  let hour = 0;
  let minute = 0;
  let second = 0;
  let hasTime = false;
  const tm = /(?<![\d.:])(\d{1,2})[:.h](\d{2})(?:[:.](\d{2}))?(?!\d)(?:\s*([ap])\.?\s?m\b\.?)?/u
    .exec(
      s,
    );
  if (tm) {
    hour = Number(tm[1]);
    minute = Number(tm[2]);
    second = Number(tm[3] ?? 0);
    if (tm[4] === "p" && hour < 12) hour += 12;
    if (tm[4] === "a" && hour === 12) hour = 0;
    hasTime = true;
    s = s.replace(tm[0], " ");
  }

  if (month !== null && day === null) {
    const numbers = [...s.matchAll(/(?<!\d)\d{1,4}(?!\d)/gu)].map((m) => m[0]);
    const y = numbers.find((n) => n.length === 4);
    const small = numbers.filter((n) => n.length <= 2);
    if (y) year = Number(y);
    else if (small.length >= 2) year = 2000 + Number(small[1]);
    if (small.length > 0) day = Number(small[0]);
  }
  if (year === null || month === null || day === null) return null;
  if (year < 1970 || year > 2100 || month < 1 || month > 12 || day < 1) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  const check = new Date(Date.UTC(year, month - 1, day));
  if (check.getUTCDate() !== day) return null;

  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const datePart = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (!hasTime) return datePart;
  const zone = offset ?? hints.zoneMinutes ?? null;
  const timePart = `${pad(hour)}:${pad(minute)}:${pad(Math.min(second, 59))}`;
  if (zone === null) return `${datePart}T${timePart}`;
  const sign = zone < 0 ? "-" : "+";
  const abs = Math.abs(zone);
  return `${datePart}T${timePart}${
    zone === 0 ? "Z" : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  }`;
}

function resolveMonth(hits: MonthHit[], hints: readonly string[], s: string): number {
  if (hits.length === 1) return hits[0].month;
  for (const lang of hints) {
    const byHint = hits.find((h) => h.languages.includes(lang));
    if (byHint) return byHint.month;
  }
  // Croatian writes a full stop after the year ("26. listopada 2021. u 14:25"); Polish and
  // Czech, whose "listopad" is November, do not.
  if (/(?<!\d)\d{4}\.(?:\s|$)/u.test(s)) {
    const hr = hits.find((h) => h.languages.includes("hr"));
    if (hr) return hr.month;
  }
  return hits[0].month;
}
