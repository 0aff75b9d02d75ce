/**
 * The marks that forwarding and replying leave on a message, in the clients and languages
 * Carteiro meets in a body: separator lines, quoted header blocks and attribution lines
 * ("On …, Name <addr> wrote:"). Subject prefixes are read in subject_prefixes.ts. Pure functions
 * over strings; the classifier weighs them.
 */
import { FIELD_LABELS, type HeaderField } from "./forward_labels.ts";
import { findAddress } from "./written_mailbox.ts";
import { escapeRegExp } from "./regexp_escape.ts";

// ---------------------------------------------------------------------------------------------
// Header fields of a quoted message; the labels and their languages are in forward_labels.ts.

const FIELD_ORDER: readonly HeaderField[] = ["from", "date", "to", "cc", "subject", "replyTo"];

function fieldPattern(field: HeaderField): RegExp {
  const alternatives = FIELD_LABELS[field]
    .map(([label]) => label)
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join("|");
  // "*From:*" (bold in text renderings), "De :" (French spacing), "件名：" (full-width colon).
  return new RegExp(
    `^\\*{0,2}\\s*(${alternatives})\\s*\\*{0,2}\\s*[:：]\\s*\\*{0,2}[ \\t]*(.*)$`,
    "iu",
  );
}

const FIELD_PATTERNS: ReadonlyArray<readonly [HeaderField, RegExp]> = FIELD_ORDER.map((
  f,
) => [f, fieldPattern(f)] as const);

/** A field line of a quoted header block. */
export interface FieldLine {
  field: HeaderField;
  label: string;
  value: string;
  languages: string[];
}

/** Reads one line (quote marks already removed) as a header field, or null. */
export function readFieldLine(line: string): FieldLine | null {
  const s = line.trim();
  if (s.length === 0 || s.length > 2000) return null;
  for (const [field, pattern] of FIELD_PATTERNS) {
    const m = pattern.exec(s);
    if (!m) continue;
    const label = m[1];
    const entry = FIELD_LABELS[field].find(([l]) => l.toLowerCase() === label.toLowerCase());
    return { field, label, value: m[2].trim(), languages: entry ? entry[1].split(" ") : [] };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Lines of a body.

/** Line endings, byte-order marks, zero-width and bidi marks, and no-break spaces, normalised. */
export function normalizeBody(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .replace(/[\uFEFF\u200B-\u200F\u202A-\u202E\u2060-\u2064]/g, "")
    .replace(/\u00A0/g, " ");
}

/** A line without its leading "> " quote marks, and how many there were. */
export function unquote(line: string): { depth: number; text: string } {
  const m = /^((?:[ \t]*>)+)[ \t]?/.exec(line);
  if (!m) return { depth: 0, text: line };
  return { depth: (m[1].match(/>/g) ?? []).length, text: line.slice(m[0].length) };
}

/** The kinds of marks a body can carry, from the plainest forward to the reply-looking ones. */
export type MarkerKind =
  /** Words that say "forwarded": Gmail, Apple Mail, Thunderbird, Yahoo, Open-Xchange separators. */
  | "forward-separator"
  /** Outlook's "-----Original Message-----" line: replies and forwards alike. */
  | "original-message"
  /** Outlook's underscore line over a header block: replies and forwards alike. */
  | "outlook-separator"
  /** A quoted header block (From/Sent/To/Subject) with no line above it. */
  | "header-block"
  /** "On …, Name <addr> wrote:": replies, and Outlook for Mac forwards. */
  | "attribution";

/** One mark found in a body; `line` and `end` index the normalised body's lines. */
export interface BodyMarker {
  kind: MarkerKind;
  line: number;
  end: number;
  text: string;
  quoteDepth: number;
  block: HeaderBlock | null;
}

/** True for the kinds that say "forwarded" by themselves. */
export function isForwardMarker(kind: MarkerKind): boolean {
  return kind === "forward-separator";
}

const FORWARD_WORD =
  /forward|fwd|weitergeleitet|reenviad|reenv[ií]o|encaminhad|reencaminhad|transf[eé]r[eé]|r[eé]exp[eé]di[eé]|inoltrat|doorgestuurd|videresend|vidarebefordra|przekazan|przekazywan|przesłan|přeposlan|přeposílan|preposlan|proslijeđen|továbbított|edelleenlähetet|välitet|переадресован|пересыла|пересланн|перенаправлен|переслан|iletil|redirec[tț]ionat|転送|转发|轉寄|轉發|전달|προωθημέν/iu;
const MESSAGE_WORD =
  /message|mensagem|mensaje|nachricht|messaggio|bericht|besked|meddelelse|melding|meddelande|mejl|wiadomo|zpráv|správ|poruk|üzenet|levél|viesti|сообщени|повідомлен|лист|ileti|mesaj|e-?mail|mail|メッセージ|邮件|郵件|메시지|μήνυμα/iu;
const ORIGINAL_MESSAGE_PHRASE =
  /^(?:original message|original|mensagem original|mensaje original|message d['’]origine|message original|ursprüngliche nachricht|originalnachricht|messaggio originale|oorspronkelijk bericht|origineel bericht|oprindelig meddelelse|oprindelig besked|opprinnelig melding|originalmeddelelse|ursprungligt meddelande|originalmeddelande|alkuperäinen viesti|algne kiri|původní zpráva|pôvodná správa|wiadomość oryginalna|oryginalna wiadomość|izvorna poruka|originalna poruka|eredeti üzenet|исходное сообщение|оригинальное сообщение|вихідне повідомлення|orijinal ileti|özgün ileti|mesaj original|mesajul original|αρχικό μήνυμα|原始邮件|原始郵件|元のメッセージ|원본 메시지)$/iu;
const DASHED = /^[-–—=_*]{2,}\s*([^-–—=_*].{0,80}?)\s*[-–—=_*]{2,}/u;
const REPLY_WORD =
  /(?<!\p{L})(?:wrote|writes|escreveu|escribió|escribio|a écrit|a ecrit|schrieb|geschrieben|ha scritto|schreef|geschreven|skrev|napisał|napisała|napisał\(a\)|napsal|napsala|napsal\(a\)|napísal|napísala|kirjoitti|írta|написал|написала|написав|yazdı|a scris|je napisao|je napisala|kirjutas|έγραψε)(?!\p{L})|写道|寫道/iu;
const ADDRESS_IN_BRACKETS = /[<\[(]\s*(?:mailto:)?[^\s<>\[\]()"]+@[^\s<>\[\]()"]+\s*[>\])]/iu;

/**
 * How a line (quote marks removed) says the message was forwarded: `dashed` for a line of dashes
 * around the words ("---------- Forwarded message ---------"), `phrase` for a short line ending in
 * a colon ("Begin forwarded message:"), which only counts above a header block; else null.
 */
export function forwardSeparatorKind(line: string): "dashed" | "phrase" | null {
  const s = line.trim();
  if (s.length === 0 || s.length > 400) return null;
  const dashed = DASHED.exec(s);
  if (dashed) {
    const phrase = dashed[1].trim();
    if (namesForwardedMessage(phrase)) return "dashed";
    // Open-Xchange (IONOS, 1&1) writes "---------- Original Message ----------", ten dashes, above
    // forwards only. Outlook's "-----Original Message-----" and Samsung Email's
    // "-------- Original message --------" (eight) head replies and forwards alike.
    if (/^-{10}\s+original message\s+-{10}(?!-)/iu.test(s)) return "dashed";
    return null;
  }
  // Apple Mail and others: "Begin forwarded message:", "Início da mensagem encaminhada:".
  const colon = /^(.{3,70}?)\s*[:：]$/u.exec(s);
  if (colon && colon[1].split(/\s+/).length <= 5 && namesForwardedMessage(colon[1])) {
    return "phrase";
  }
  return null;
}

// Both a forward word and a message word: "Forwarded message", "Mensagem encaminhada", not
// "Forward-looking statements".
function namesForwardedMessage(phrase: string): boolean {
  return FORWARD_WORD.test(phrase) && MESSAGE_WORD.test(phrase) && !REPLY_WORD.test(phrase);
}

/** True when a line (quote marks removed) is a separator that says the message was forwarded. */
export function isForwardSeparatorLine(line: string): boolean {
  return forwardSeparatorKind(line) !== null;
}

/** True for Outlook's "-----Original Message-----" line and its translations. */
export function isOriginalMessageLine(line: string): boolean {
  const dashed = DASHED.exec(line.trim());
  return dashed !== null && ORIGINAL_MESSAGE_PHRASE.test(dashed[1].trim());
}

/** True for Outlook's line of underscores (32 in text renderings of its HTML). */
export function isUnderscoreLine(line: string): boolean {
  return /^_{10,}\s*$/.test(line.trim());
}

// ---------------------------------------------------------------------------------------------
// Header blocks.

/**
 * A quoted header block: fields as written, the lines it spans, and the languages its labels
 * belong to, the language most labels agree on first.
 */
export interface HeaderBlock {
  start: number;
  end: number;
  fields: Partial<Record<HeaderField, string>>;
  labels: string[];
  languages: string[];
}

/**
 * Reads a header block whose first field line is at `start` (or within `lookahead` lines after
 * it). A block needs a sender field and at least one other field; blank lines between fields and
 * a value wrapped onto the next line are tolerated.
 */
export function readHeaderBlock(
  lines: readonly string[],
  start: number,
  lookahead = 0,
): HeaderBlock | null {
  let first = -1;
  for (let i = start; i <= start + lookahead && i < lines.length; i++) {
    const t = unquote(lines[i]).text.trim();
    if (t.length === 0) continue;
    if (readFieldLine(t)) {
      first = i;
      break;
    }
    if (i > start) break;
  }
  if (first < 0) return null;
  const fields: Partial<Record<HeaderField, string>> = {};
  const labels: string[] = [];
  const votes = new Map<string, number>();
  let last: HeaderField | null = null;
  let fieldIndent = 0;
  let end = first;
  let i = first;
  while (i < lines.length && i < first + 40) {
    const t = unquote(lines[i]).text;
    const trimmed = t.trim();
    if (trimmed.length === 0) {
      // One blank line between two field lines (HTML renderings put each field in a paragraph).
      const next = i + 1 < lines.length ? unquote(lines[i + 1]).text : "";
      if (readFieldLine(next) && !fields[readFieldLine(next)!.field]) {
        i++;
        continue;
      }
      break;
    }
    const f = readFieldLine(trimmed);
    if (f && !fields[f.field]) {
      fields[f.field] = f.value;
      labels.push(f.label);
      for (const l of f.languages) votes.set(l, (votes.get(l) ?? 0) + 1);
      last = f.field;
      fieldIndent = indentOf(t);
      end = i;
      i++;
      continue;
    }
    if (f) break; // a second "From:" starts the next block
    // A value wrapped onto the next line: a line indented deeper than the fields, or one line
    // squeezed between two fields ("Subject: Two" / "line subject" / "To: …").
    const next = i + 1 < lines.length ? unquote(lines[i + 1]).text : "";
    const nextField = readFieldLine(next);
    const wrapped = last !== null && last !== "date" &&
      (indentOf(t) > fieldIndent || (nextField !== null && !fields[nextField.field]));
    if (wrapped && last) {
      fields[last] = `${fields[last] ?? ""} ${trimmed}`.trim();
      end = i;
      i++;
      continue;
    }
    break;
  }
  const count = Object.keys(fields).length;
  if (fields.from === undefined || count < 2) return null;
  // Most-voted first: "Datum" is Dutch, German, Swedish, Czech and Croatian; "Šalje" settles it.
  const languages = [...votes.entries()].sort((a, b) => b[1] - a[1]).map(([l]) => l);
  return { start: first, end, fields, labels, languages };
}

function indentOf(line: string): number {
  return (/^[ \t]*/.exec(line) ?? [""])[0].replace(/\t/g, "    ").length;
}

// ---------------------------------------------------------------------------------------------
// Attribution lines.

/** What an attribution line says about the quoted message. */
export interface Attribution {
  name: string | null;
  address: string | null;
  date: string | null;
}

const ATTRIBUTION_LEADS =
  /^(?:on|em|el|le|am|il giorno|il|op|den|dne|dnia|w dniu|d\.|el día|le jour|am\s+\S+\s+um)\s+/iu;
const NAME_VERBS =
  /^(?:.*\s)?(?:schrieb|skrev|użytkownik|heeft|schreef|пользователь|користувач|от|používateľ|uživatel)\s+/iu;

/**
 * Finds an attribution line starting at `start` ("On …, Name <addr> wrote:", possibly wrapped
 * over up to three lines). Returns the joined text and the last line it spans, or null.
 */
export function findAttributionAt(
  lines: readonly string[],
  start: number,
): { text: string; end: number } | null {
  const first = unquote(lines[start]).text.trim();
  if (first.length === 0 || readFieldLine(first)) return null;
  // Android: "---- John Smith wrote ----".
  if (/^-{2,}.{1,120}-{2,}$/u.test(first) && REPLY_WORD.test(first)) {
    return { text: first, end: start };
  }
  // An attribution's first line carries a date, an address, the verb or a lead word; "Hello"
  // above "On …, X wrote:" is not part of it.
  if (!/\d|@/.test(first) && !REPLY_WORD.test(first) && !ATTRIBUTION_LEADS.test(first)) return null;
  let text = "";
  for (let i = start; i < lines.length && i < start + 3; i++) {
    const part = unquote(lines[i]).text.trim();
    if (part.length === 0) return null;
    text = text ? `${text} ${part}` : part;
    if (text.length > 400) return null;
    if (/[:：]$/.test(text)) {
      if (REPLY_WORD.test(text)) return { text, end: i };
      // Gmail in some locales leaves the verb out: "2017-11-24 16:32 GMT+01:00 Name <addr>:".
      if (ADDRESS_IN_BRACKETS.test(text) && /\d/.test(text) && text.length <= 250) {
        return { text, end: i };
      }
      return null;
    }
  }
  return null;
}

/** Reads name, address and date from an attribution line, as far as they are there. */
export function readAttribution(text: string): Attribution {
  const s = text.trim().replace(/[:：]$/, "").replace(/^-+|-+$/g, "").trim();
  const addr = findAddress(s);
  if (!addr) return { name: null, address: null, date: null };
  const before = s.slice(0, addr.bracketStart).trimEnd();
  const after = s.slice(addr.end).trim();
  let nameStart: number;
  let name: string;
  // A quoted name right before the address; double quotes first, so "O'Brien" stays whole.
  const quoted = [
    /"([^"]{1,120})"\s*$/u,
    /[„“]([^„“”]{1,120})[”“]\s*$/u,
    /«([^«»]{1,120})»\s*$/u,
    /'([^']{1,120})'\s*$/u,
  ]
    .map((re) => re.exec(before)).find((m) => m !== null);
  if (quoted) {
    nameStart = quoted.index;
    name = quoted[1];
  } else {
    // The name follows the last comma ("On <date>, Name"), or a verb ("Am <date> schrieb Name",
    // "W dniu <date> użytkownik Name"), or the last token with a digit when a date without
    // commas comes first ("pe 20. lokakuuta 2017 klo 17.50 John Coe").
    let at = before.lastIndexOf(",") + 1;
    const verb = NAME_VERBS.exec(before.slice(at));
    if (verb) at += verb[0].length;
    const segment = before.slice(at);
    let lastDigitEnd = 0;
    for (const m of segment.matchAll(/\S*\d\S*/gu)) lastDigitEnd = m.index + m[0].length;
    if (lastDigitEnd > 0) {
      const ampm = /^\s*(?:[ap]\.?\s?m\.?|uhr|h)(?=\s|$)/iu.exec(segment.slice(lastDigitEnd));
      at += lastDigitEnd + (ampm ? ampm[0].length : 0);
    }
    nameStart = at;
    name = before.slice(at);
  }
  name = name.trim().replace(/^["'„“«]|["'”»]$/gu, "").trim();
  let date = withoutVerbs(before.slice(0, nameStart).replace(ATTRIBUTION_LEADS, ""));
  if (!/\d/.test(date)) {
    date = withoutVerbs(after.replace(/^[\])>]+/, "")).replace(/^(?:den|on)\s+/iu, "");
  }
  if (name.toLowerCase() === addr.address) name = "";
  return { name: name || null, address: addr.address, date: /\d/.test(date) ? date : null };
}

const ATTRIBUTION_FILLERS =
  /(?<!\p{L})(?:skrev følgende den|følgende|tarihinde şunu|tarihinde|şunu|ezt|időpontban|keltezéssel|пользователь|користувач|от|użytkownik|schrieb|skrev|heeft|používateľ|uživatel)(?!\p{L})/giu;

function withoutVerbs(x: string): string {
  return x.replace(REPLY_WORD, " ").replace(ATTRIBUTION_FILLERS, " ").replace(/\s+/g, " ")
    .replace(/^[\s,]+|[\s,]+$/g, "");
}

// ---------------------------------------------------------------------------------------------
// Scanning a body.

/**
 * Lists the forward and reply marks of a normalised body, top to bottom. A header block right
 * under a separator belongs to that separator and is not listed again.
 */
export function findBodyMarkers(lines: readonly string[]): BodyMarker[] {
  const markers: BodyMarker[] = [];
  const limit = Math.min(lines.length, 5000);
  let i = 0;
  while (i < limit) {
    const { depth, text } = unquote(lines[i]);
    const s = text.trim();
    if (s.length === 0) {
      i++;
      continue;
    }
    let kind: MarkerKind | null = null;
    const separator = forwardSeparatorKind(s);
    if (separator === "dashed") kind = "forward-separator";
    else if (separator === "phrase" && readHeaderBlock(lines, i + 1, 3)) kind = "forward-separator";
    else if (isOriginalMessageLine(s)) kind = "original-message";
    else if (isUnderscoreLine(s) && readHeaderBlock(lines, i + 1, 2)) kind = "outlook-separator";
    // Lists a mark from this line to `end`, its last; the scan goes on after it.
    const mark = (kind: MarkerKind, end: number, text: string, block: HeaderBlock | null) => {
      markers.push({ kind, line: i, end, text, quoteDepth: depth, block });
      return end + 1;
    };
    if (kind) {
      // Yahoo writes the fields on the separator's own line; others on the lines below.
      const block = readHeaderBlock(lines, i + 1, 3) ?? glued(s, i);
      i = mark(kind, block ? block.end : i, s, block);
      continue;
    }
    const block = readHeaderBlock(lines, i);
    if (block) {
      i = mark("header-block", block.end, s, block);
      continue;
    }
    const attribution = findAttributionAt(lines, i);
    if (attribution) {
      i = mark("attribution", attribution.end, attribution.text, null);
      continue;
    }
    i++;
  }
  return markers;
}

// Yahoo Mail's text rendering: "----- Forwarded Message ----- From: A <a@b>To: …Subject: …".
function glued(line: string, at: number): HeaderBlock | null {
  const dashed = DASHED.exec(line);
  if (!dashed) return null;
  const rest = line.slice(dashed[0].length).trim();
  const f = readFieldLine(rest);
  if (!f || f.field !== "from") return null;
  return {
    start: at,
    end: at,
    fields: { from: f.value },
    labels: [f.label],
    languages: f.languages,
  };
}
