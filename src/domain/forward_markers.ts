/**
 * The marks that forwarding and replying leave on a message, in the clients and languages
 * Carteiro meets: subject prefixes, separator lines, quoted header blocks and attribution lines
 * ("On …, Name <addr> wrote:"). Pure functions over strings; the classifier weighs them.
 */

/** What a subject prefix says: `forward-or-reply` is a prefix two languages read differently. */
export type PrefixKind = "forward" | "reply" | "forward-or-reply";

/** One prefix as written ("FW:", "Fwd[2]:", "回复：") and what it means. */
export interface SubjectPrefix {
  token: string;
  kind: PrefixKind;
}

/** A subject taken apart: gateway tags, prefixes outermost first, and what follows them. */
export interface SubjectReading {
  tags: string[];
  prefixes: SubjectPrefix[];
  base: string;
}

// Prefix words, lower-cased. Sources: the prefixes Outlook, Gmail, Apple Mail, Thunderbird and
// Yahoo write in each UI language (Outlook localises them, the others mostly write Fwd:/Re:).
const FORWARD_PREFIXES: ReadonlySet<string> = new Set([
  "fwd", // Gmail, Thunderbird, Apple Mail, most clients
  "fw", // Outlook (en, pt, nl, cs, ru…), Yahoo
  "fwrd",
  "enc", // Outlook pt-BR (encaminhar)
  "tr", // Outlook fr (transférer)
  "transf",
  "wg", // Outlook de (weitergeleitet)
  "wtr", // nl
  "doorst", // Outlook nl (doorsturen)
  "rv", // Outlook es (reenviar)
  "reenv",
  "i", // Outlook it (inoltra)
  "vb", // Outlook sv (vidarebefordra)
  "vl", // Outlook fi (välitä)
  "pd", // Outlook pl (prześlij dalej)
  "redir", // Outlook ro (redirecționare)
  "videresend", // Outlook no
  "ilt", // Outlook tr (iletilen)
  "fs", // Outlook is (framsent)
  "továbbítás", // hu
  "πρθ", // el
  "转发", // zh-CN
  "轉寄", // zh-TW
  "轉發",
  "転送", // ja
  "전달", // ko
  "пересл", // ru
  "edasta", // et
]);

const REPLY_PREFIXES: ReadonlySet<string> = new Set([
  "re",
  "res", // Outlook pt-BR (responder)
  "aw", // Outlook de (Antwort)
  "sv", // Outlook sv, da, no, is (svar)
  "antw", // nl
  "odp", // pl, cs
  "odg", // hr
  "r", // Outlook it (risposta)
  "rif", // it
  "ref",
  "réf",
  "rép",
  "atb", // lv
  "ats", // lt
  "vá", // hu
  "válasz",
  "ynt", // Outlook tr (yanıt)
  "απ", // el
  "σχετ",
  "回复", // zh-CN
  "回覆", // zh-TW
  "答复",
  "返信", // ja
  "회신", // ko
  "답장",
  "отв", // ru
  "ответ",
  "відп", // uk
]);

// "VS:" is Outlook's forward prefix in Danish and Norwegian (videresend) and its reply prefix in
// Finnish and Estonian (vastaus, vastus): the body or the headers have to decide.
const FORWARD_OR_REPLY_PREFIXES: ReadonlySet<string> = new Set(["vs"]);

// Gateway tags before the prefixes: "[EXT]", "[External]", "(EXT)", "*EXTERNAL*", "EXTERNAL:".
const TAG =
  /^(?:\[[^\]\n]{1,60}\]|\((?:ext|external|extern|externe|externo|externa)\)|\*{1,3}[^*\n]{1,30}\*{1,3})\s*/iu;
const WORD_TAG = /^(?:ext|external|extern|externe|externo|caution|spam|suspicious)\s*:\s*/iu;
const PREFIX =
  /^([^\s:：\[\]()*<>"]{1,12}?)\s*(?:\[\d{1,3}\]|\(\d{1,3}\)|\^\d{1,3})?\s*\.?\s*[:：]\s*/u;

/** Reads tags and reply/forward prefixes off the front of a subject, outermost first. */
export function readSubject(subject: string | null): SubjectReading {
  const tags: string[] = [];
  const prefixes: SubjectPrefix[] = [];
  let rest = (subject ?? "").trim();
  for (let guard = 0; guard < 20 && rest.length > 0; guard++) {
    const tag = TAG.exec(rest);
    if (tag) {
      const token = tag[0].trim();
      rest = rest.slice(tag[0].length);
      // "[Fwd: Budget]" (old Mozilla, some webmails) wraps the whole subject in brackets: its
      // inside is read like a subject; any other bracket is a tag.
      const inner = token.startsWith("[") ? PREFIX.exec(token.slice(1, -1)) : null;
      if (inner && prefixKind(inner[1])) {
        rest = `${token.slice(1 + inner[0].length, -1)} ${rest}`.trim();
        prefixes.push({ token: `[${inner[0].trim()}`, kind: prefixKind(inner[1])! });
      } else {
        tags.push(token);
      }
      continue;
    }
    // A word tag ("EXTERNAL: Fwd: …") is only a tag when a prefix follows it.
    const word = WORD_TAG.exec(rest);
    if (word && readSubject(rest.slice(word[0].length)).prefixes.length > 0) {
      tags.push(word[0].trim());
      rest = rest.slice(word[0].length);
      continue;
    }
    const m = PREFIX.exec(rest);
    const kind = m ? prefixKind(m[1]) : null;
    if (!m || !kind) break;
    prefixes.push({ token: m[0].trim(), kind });
    rest = rest.slice(m[0].length);
  }
  return { tags, prefixes, base: rest.trim() };
}

function prefixKind(word: string): PrefixKind | null {
  // "İLT" lower-cases to "i̇lt" (with a combining dot); "PŘ" and "Vá" are compared without marks.
  const w = word.replace(/İ/g, "I").toLowerCase().replace(/\s+/g, "");
  const plain = w.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  for (const candidate of [w, plain]) {
    if (FORWARD_PREFIXES.has(candidate)) return "forward";
    if (REPLY_PREFIXES.has(candidate)) return "reply";
    if (FORWARD_OR_REPLY_PREFIXES.has(candidate)) return "forward-or-reply";
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Header fields of a quoted message ("From: …", "De : …", "Von: …"), with the languages they
// belong to; the languages settle prefixes and month names that mean different things.

/** A field of a quoted header block. */
export type HeaderField = "from" | "date" | "to" | "cc" | "subject" | "replyTo";

type LabelTable = Readonly<Record<HeaderField, ReadonlyArray<readonly [string, string]>>>;

const FIELD_LABELS: LabelTable = {
  from: [
    ["From", "en"],
    ["De", "pt es fr ro"],
    ["De la", "ro"],
    ["Remetente", "pt"],
    ["Remitente", "es"],
    ["Expéditeur", "fr"],
    ["Von", "de"],
    ["Absender", "de"],
    ["Van", "nl"],
    ["Afzender", "nl"],
    ["Da", "it"],
    ["Mittente", "it"],
    ["Fra", "da no"],
    ["Från", "sv"],
    ["Frá", "is"],
    ["Lähettäjä", "fi"],
    ["Saatja", "et"],
    ["Od", "pl cs sk hr"],
    ["Nadawca", "pl"],
    ["Šalje", "hr"],
    ["Pošiljatelj", "hr"],
    ["Feladó", "hu"],
    ["От", "ru"],
    ["Отправитель", "ru"],
    ["Від", "uk"],
    ["Від кого", "uk"],
    ["Kimden", "tr"],
    ["Gönderen", "tr"],
    ["Expeditorul", "ro"],
    ["Από", "el"],
    ["Αποστολέας", "el"],
    ["差出人", "ja"],
    ["送信元", "ja"],
    ["发件人", "zh"],
    ["寄件者", "zh"],
    ["寄件人", "zh"],
    ["보낸 사람", "ko"],
  ],
  date: [
    ["Date", "en fr"],
    ["Sent", "en"],
    ["Data", "pt it pl ro"],
    ["Enviado", "pt es"],
    ["Enviada", "pt"],
    ["Enviado em", "pt"],
    ["Enviada em", "pt"],
    ["Enviado el", "es"],
    ["Fecha", "es"],
    ["Envoyé", "fr"],
    ["Envoyé le", "fr"],
    ["Datum", "de nl sv cs hr"],
    ["Gesendet", "de"],
    ["Gesendet am", "de"],
    ["Verzonden", "nl"],
    ["Verzonden op", "nl"],
    ["Inviato", "it"],
    ["Inviato il", "it"],
    ["Dato", "da no"],
    ["Sendt", "da no"],
    ["Skickat", "sv"],
    ["Skickades", "sv"],
    ["Päivämäärä", "fi"],
    ["Päiväys", "fi"],
    ["Lähetetty", "fi"],
    ["Kuupäev", "et"],
    ["Saadetud", "et"],
    ["Wysłano", "pl"],
    ["Wysłane", "pl"],
    ["Odesláno", "cs"],
    ["Odoslané", "sk"],
    ["Dátum", "sk hu"],
    ["Poslano", "hr"],
    ["Elküldve", "hu"],
    ["Küldve", "hu"],
    ["Дата", "ru uk"],
    ["Отправлено", "ru"],
    ["Надіслано", "uk"],
    ["Відправлено", "uk"],
    ["Tarih", "tr"],
    ["Gönderilen", "tr"],
    ["Gönderildi", "tr"],
    ["Dată", "ro"],
    ["Trimis", "ro"],
    ["Dagsetning", "is"],
    ["Ημερομηνία", "el"],
    ["Στάλθηκε", "el"],
    ["日付", "ja"],
    ["送信日時", "ja"],
    ["日期", "zh"],
    ["发送时间", "zh"],
    ["傳送時間", "zh"],
    ["時間", "zh"],
    ["날짜", "ko"],
    ["보낸 날짜", "ko"],
  ],
  to: [
    ["To", "en"],
    ["Para", "pt es"],
    ["Destinatário", "pt"],
    ["Destinatario", "es it"],
    ["À", "fr"],
    ["A", "fr it es"],
    ["Pour", "fr"],
    ["An", "de"],
    ["Aan", "nl"],
    ["Til", "da no"],
    ["Till", "sv"],
    ["Vastaanottaja", "fi"],
    ["Saaja", "et"],
    ["Do", "pl"],
    ["Adresat", "pl"],
    ["Komu", "cs sk"],
    ["Pre", "sk"],
    ["Prima", "hr"],
    ["Za", "hr"],
    ["Címzett", "hu"],
    ["Кому", "ru uk"],
    ["Kime", "tr"],
    ["Alıcı", "tr"],
    ["Către", "ro"],
    ["Destinatarul", "ro"],
    ["Προς", "el"],
    ["宛先", "ja"],
    ["送信先", "ja"],
    ["收件人", "zh"],
    ["收件者", "zh"],
    ["받는 사람", "ko"],
  ],
  cc: [
    ["Cc", "en pt es fr it nl da no de"],
    ["Kopie", "de cs nl"],
    ["Kopie (CC)", "de"],
    ["Kopia", "sv pl"],
    ["Kopi", "no da"],
    ["Kopio", "fi"],
    ["Koopia", "et"],
    ["Copie à", "fr"],
    ["Copie", "fr"],
    ["Copia", "es it"],
    ["Cópia", "pt"],
    ["Com cópia", "pt"],
    ["Másolat", "hu"],
    ["Másolatot kap", "hu"],
    ["Dw", "pl"],
    ["Копия", "ru"],
    ["Копія", "uk"],
    ["Bilgi", "tr"],
    ["Kópia", "sk"],
    ["Κοιν", "el"],
    ["抄送", "zh"],
    ["副本", "zh"],
    ["참조", "ko"],
  ],
  subject: [
    ["Subject", "en"],
    ["Assunto", "pt"],
    ["Asunto", "es"],
    ["Objet", "fr"],
    ["Sujet", "fr"],
    ["Betreff", "de"],
    ["Oggetto", "it"],
    ["Onderwerp", "nl"],
    ["Emne", "da no"],
    ["Ämne", "sv"],
    ["Efni", "is"],
    ["Aihe", "fi"],
    ["Teema", "et"],
    ["Temat", "pl"],
    ["Předmět", "cs"],
    ["Predmet", "sk hr"],
    ["Naslov", "hr"],
    ["Tárgy", "hu"],
    ["Тема", "ru uk"],
    ["Konu", "tr"],
    ["Subiect", "ro"],
    ["Subiectul", "ro"],
    ["Θέμα", "el"],
    ["件名", "ja"],
    ["主题", "zh"],
    ["主旨", "zh"],
    ["제목", "ko"],
  ],
  replyTo: [
    ["Reply-To", "en"],
    ["Responder a", "pt es"],
    ["Antwort an", "de"],
    ["Répondre à", "fr"],
    ["Rispondi a", "it"],
    ["Antwoord aan", "nl"],
    ["Svar til", "da no"],
    ["Svara till", "sv"],
  ],
};

const FIELD_ORDER: readonly HeaderField[] = ["from", "date", "to", "cc", "subject", "replyTo"];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

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
// Mailboxes.

/** A mailbox as written in a quoted header or attribution. */
export interface WrittenMailbox {
  name: string | null;
  address: string | null;
}

const EMAIL = /^[^\s@<>\[\]()"',;:]+@[^\s@<>\[\]()"',;:]+\.[^\s@<>\[\]()"',;:]+$/u;

/** True when `s` has the shape of an e-mail address. */
export function looksLikeAddress(s: string | null | undefined): s is string {
  return typeof s === "string" && EMAIL.test(s.trim());
}

function findAddress(
  s: string,
): { address: string; bracketStart: number; end: number } | null {
  // "Name <a@b<mailto:a@b>>", "Name [mailto:a@b]", "Name <a@b [a@b]>": the first complete
  // bracketed address wins; the name is what stands before the first bracket.
  const bracketed = /[<\[(]\s*(?:mailto:)?([^\s<>\[\]()"',;]+@[^\s<>\[\]()"',;]+?)\s*[>\])]/iu
    .exec(s);
  if (bracketed && looksLikeAddress(bracketed[1])) {
    // "Bob <bob@x [bob@x]>", "Name <a@b<mailto:a@b>>": an opening bracket with only the address
    // between it and the matched one starts the mailbox too.
    const open = /[<\[(]\s*(?:mailto:)?[^\s<>\[\]()]*\s*$/u.exec(s.slice(0, bracketed.index));
    return {
      address: bracketed[1].toLowerCase(),
      bracketStart: open ? open.index : bracketed.index,
      end: bracketed.index + bracketed[0].length,
    };
  }
  const bare =
    /(?:mailto:)?([^\s<>\[\]()"',;:]+@[^\s<>\[\]()"',;:]+\.[A-Za-z]{2,}[^\s<>\[\]()"',;:]*)/u
      .exec(s);
  if (bare && looksLikeAddress(bare[1])) {
    return {
      address: bare[1].toLowerCase(),
      bracketStart: bare.index,
      end: bare.index + bare[0].length,
    };
  }
  return null;
}

/** Reads the first mailbox of a header value ("Name <a@b>", "a@b", "Name [mailto:a@b]", "Name"). */
export function readMailbox(value: string): WrittenMailbox {
  const v = value.trim();
  if (v.length === 0) return { name: null, address: null };
  const addr = findAddress(v);
  const rawName = addr ? v.slice(0, addr.bracketStart) : v;
  let name = rawName.trim().replace(/^\*+|\*+$/g, "").trim();
  // Quotes of several kinds, sometimes nested: "'Walter Sheltan'" <…>.
  for (let k = 0; k < 3; k++) name = name.replace(/^["'„“«](.*)["'”»]$/u, "$1").trim();
  if (addr && name.toLowerCase() === addr.address) name = "";
  if (!addr && /[;,]/.test(name)) name = name.split(/[;,]/)[0].trim();
  return { name: name || null, address: addr ? addr.address : null };
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
    if (kind) {
      // Yahoo writes the fields on the separator's own line; others on the lines below.
      const block = readHeaderBlock(lines, i + 1, 3) ?? glued(s, i);
      markers.push({
        kind,
        line: i,
        end: block ? block.end : i,
        text: s,
        quoteDepth: depth,
        block,
      });
      i = (block ? block.end : i) + 1;
      continue;
    }
    const block = readHeaderBlock(lines, i);
    if (block) {
      markers.push({
        kind: "header-block",
        line: i,
        end: block.end,
        text: s,
        quoteDepth: depth,
        block,
      });
      i = block.end + 1;
      continue;
    }
    const attribution = findAttributionAt(lines, i);
    if (attribution) {
      markers.push({
        kind: "attribution",
        line: i,
        end: attribution.end,
        text: attribution.text,
        quoteDepth: depth,
        block: null,
      });
      i = attribution.end + 1;
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
