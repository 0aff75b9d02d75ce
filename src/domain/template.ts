/**
 * Reply templates: a logic-less `{{variable}}` substitution over a fixed list of variables.
 *
 * Nothing in a template is ever evaluated: `{{name}}` is looked up in a record of strings and the
 * value is inserted once, as data, so a subject that itself contains `{{…}}` stays literal text
 * (no double rendering). Any other use of `{{` is refused when the template is saved. Every value
 * is made single-line before it is inserted, so no value can add a header or a recipient; in the
 * HTML part values are HTML-escaped as well.
 */

import type { Address, Classification, ParsedEmail } from "./email.ts";

/** Every variable a template may use. Anything else between `{{ }}` is refused at validation. */
export const TEMPLATE_VARIABLES = [
  "from_name",
  "from_address",
  "recipient_name",
  "recipient_address",
  "subject",
  "original_from_name",
  "original_from_address",
  "original_subject",
  "original_date",
  "received_at",
  "account",
  "account_address",
  "received_local",
] as const;

/** One of `TEMPLATE_VARIABLES`. */
export type TemplateVariable = typeof TEMPLATE_VARIABLES[number];

/** The value of every variable for one message (empty string when the message has none). */
export type TemplateValues = Readonly<Record<TemplateVariable, string>>;

/** A piece of a parsed template: literal text, or a variable to substitute. */
export type TemplateSegment =
  | { kind: "text"; text: string }
  | { kind: "variable"; name: TemplateVariable; fallback?: string };

/** A template checked by `parseTemplate`: its source and its pieces. */
export interface Template {
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
}

/** What `parseTemplate` made of a source: a template, or every problem found in it. */
export type TemplateParse =
  | { ok: true; template: Template }
  | { ok: false; errors: string[] };

/** Options for `parseTemplate`. */
export interface TemplateOptions {
  /** A header template (the subject): CR and LF are refused. */
  singleLine?: boolean;
  /** Longest accepted source, in UTF-16 code units. */
  maxLength?: number;
}

/** Longest body template (text or HTML) accepted, in UTF-16 code units. */
export const MAX_BODY_TEMPLATE_LENGTH = 65_536;
/** Longest subject template accepted. */
export const MAX_SUBJECT_TEMPLATE_LENGTH = 1_000;
/** Longest value inserted for one variable, in code points; longer values are cut with "…". */
export const MAX_VALUE_CODE_POINTS = 1_000;
/**
 * Longest rendered subject, in code points. Pigeonhole's SIEVE_MAX_SUBJECT_HEADER_CODEPOINTS is
 * 256 too (RFC 5230 §5.3 leaves the length open).
 */
export const MAX_SUBJECT_CODE_POINTS = 256;

const VARIABLE_SET: ReadonlySet<string> = new Set(TEMPLATE_VARIABLES);
// deno-lint-ignore no-control-regex -- finding control characters is the point
const HEADER_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// deno-lint-ignore no-control-regex -- finding control characters is the point
const BODY_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** Longest fallback text in `{{name|fallback}}`. */
const MAX_FALLBACK = 200;

/**
 * Parses and validates a template source. Refuses unknown variables, any `{{…}}` that is not a
 * plain variable name (`{{7*7}}`, `{{a.b}}`, `{{{x}}}`), an unclosed `{{`, control characters,
 * and, for a single-line template, CR/LF. All problems are reported at once.
 */
export function parseTemplate(source: string, options: TemplateOptions = {}): TemplateParse {
  const errors: string[] = [];
  const maxLength = options.maxLength ??
    (options.singleLine ? MAX_SUBJECT_TEMPLATE_LENGTH : MAX_BODY_TEMPLATE_LENGTH);
  if (typeof source !== "string") return { ok: false, errors: ["must be a string"] };
  if (source.length > maxLength) {
    return {
      ok: false,
      errors: [`is ${source.length} characters long; the limit is ${maxLength}`],
    };
  }
  // A header template may hold no line break at all; a body keeps tab, CR and LF.
  const control = options.singleLine ? HEADER_CONTROL : BODY_CONTROL;
  const bad = control.exec(source);
  if (bad) {
    const what = bad[0] === "\n" || bad[0] === "\r" ? "a line break" : "a control character";
    errors.push(`contains ${what} (U+${codeHex(bad[0])}) at position ${bad.index}`);
  }
  const segments: TemplateSegment[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf("{{", at);
    if (open < 0) {
      segments.push({ kind: "text", text: source.slice(at) });
      break;
    }
    if (open > at) segments.push({ kind: "text", text: source.slice(at, open) });
    const close = source.indexOf("}}", open + 2);
    if (close < 0) {
      errors.push(`has an unclosed "{{" at position ${open}`);
      break;
    }
    const body = source.slice(open + 2, close);
    const bar = body.indexOf("|");
    const inner = (bar < 0 ? body : body.slice(0, bar)).trim();
    const fallback = bar < 0 ? undefined : body.slice(bar + 1).trim();
    if (fallback !== undefined && (fallback.includes("{{") || fallback.length > MAX_FALLBACK)) {
      errors.push(
        `has a fallback at position ${open} that holds "{{" or is longer than ${MAX_FALLBACK} ` +
          `characters: write {{name|plain text}}`,
      );
    } else if (!IDENTIFIER.test(inner)) {
      errors.push(
        `has ${
          show(source.slice(open, close + 2))
        } at position ${open}, which is not a variable: ` +
          `only {{name}} with a-z, 0-9 and _ is allowed, with no expressions`,
      );
    } else if (!VARIABLE_SET.has(inner)) {
      errors.push(
        `uses unknown variable {{${inner}}}; known variables: ${TEMPLATE_VARIABLES.join(", ")}`,
      );
    } else {
      const segment: TemplateSegment = { kind: "variable", name: inner as TemplateVariable };
      if (fallback) segment.fallback = fallback;
      segments.push(segment);
    }
    at = close + 2;
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, template: { source, segments } };
}

/** The variables a template uses, in order of first use. */
export function templateVariablesUsed(template: Template): TemplateVariable[] {
  const out: TemplateVariable[] = [];
  for (const s of template.segments) {
    if (s.kind === "variable" && !out.includes(s.name)) out.push(s.name);
  }
  return out;
}

/** Renders a text part: the template's own line breaks stay, values are single-line text. */
export function renderText(template: Template, values: TemplateValues): string {
  return render(template, values, (v) => v).replace(/\r\n?/g, "\n");
}

/** Renders an HTML part: the template is the user's HTML, every value is HTML-escaped. */
export function renderHtml(template: Template, values: TemplateValues): string {
  return render(template, values, escapeHtml).replace(/\r\n?/g, "\n");
}

/**
 * Renders a header value (the subject): one line, no control characters, whitespace collapsed,
 * at most `maxCodePoints` code points ending with "…" when cut. RFC 5322 §2.2 forbids CR and LF
 * in an unfolded field body; removing them here means no value can start a new header.
 */
export function renderHeader(
  template: Template,
  values: TemplateValues,
  maxCodePoints = MAX_SUBJECT_CODE_POINTS,
): string {
  return truncateCodePoints(singleLine(render(template, values, (v) => v)), maxCodePoints);
}

function render(template: Template, values: TemplateValues, encode: (v: string) => string) {
  let out = "";
  for (const s of template.segments) {
    if (s.kind === "text") {
      out += s.text;
      continue;
    }
    // `{{from_name|cliente}}`: the fallback stands in for an empty value, and is plain text.
    const value = safeValue(values[s.name] ?? "");
    out += encode(value === "" && s.fallback ? safeValue(s.fallback) : value);
  }
  return out;
}

/**
 * Makes a value safe to insert anywhere: every line break, control character and line/paragraph
 * separator becomes a space, runs of white space collapse, and the result is capped.
 */
export function safeValue(value: string): string {
  return truncateCodePoints(singleLine(value), MAX_VALUE_CODE_POINTS);
}

/** One line of text: CR, LF, NEL, U+2028/9 and other control characters become single spaces. */
export function singleLine(value: string): string {
  // A literal (not a shared /g object) so that no lastIndex state lives at module level.
  // deno-lint-ignore no-control-regex -- removing control characters is the point
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]+/g, " ").trim();
}

/** Escapes the five characters that matter in HTML text and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Cuts a string to `max` code points, ending with "…" when cut; never splits a surrogate pair. */
export function truncateCodePoints(value: string, max: number): string {
  if (value.length <= max) return value;
  const points = Array.from(value);
  if (points.length <= max) return value;
  return points.slice(0, Math.max(0, max - 1)).join("").trimEnd() + "…";
}

/** What `templateValues` reads to fill the variables. */
export interface TemplateValuesInput {
  email: Pick<ParsedEmail, "from" | "subject">;
  classification: Pick<Classification, "kind" | "original"> | null;
  /** Where the reply goes (the guard's recipient). */
  recipient: Address;
  /** The account's name, as shown in the admin. */
  accountName: string;
  /** The account address the message was sent to, which the reply comes from. */
  accountAddress: string;
  /** When the message reached the mailbox (IMAP INTERNALDATE), rendered as UTC ISO-8601. */
  receivedAt: Date;
  /** IANA zone of `received_local` (the account's, else the server's); default UTC. */
  timeZone?: string;
  /** BCP 47 locale of `received_local`; default pt-BR. */
  locale?: string;
}

/** Fills every template variable for one message; absent data gives "". */
export function templateValues(input: TemplateValuesInput): TemplateValues {
  const from = input.email.from[0] ?? null;
  const original = input.classification?.kind === "forwarded"
    ? input.classification.original
    : null;
  return {
    from_name: from?.name ?? "",
    from_address: from?.address ?? "",
    recipient_name: input.recipient.name,
    recipient_address: input.recipient.address,
    subject: input.email.subject ?? "",
    original_from_name: original?.fromName ?? "",
    original_from_address: original?.fromAddress?.toLowerCase() ?? "",
    original_subject: original?.subject ?? "",
    original_date: original?.date ?? "",
    received_at: isoSeconds(input.receivedAt),
    account: input.accountName,
    account_address: input.accountAddress,
    received_local: localDateTime(input.receivedAt, input.locale ?? "pt-BR", input.timeZone),
  };
}

/** "7 de dezembro de 2026 09:00" in the zone and locale; "" for an invalid date or zone. */
function localDateTime(date: Date, locale: string, timeZone = "UTC"): string {
  if (Number.isNaN(date.getTime())) return "";
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: "long", timeStyle: "short", timeZone })
      .format(date);
  } catch {
    return "";
  }
}

function isoSeconds(date: Date): string {
  return Number.isNaN(date.getTime()) ? "" : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function codeHex(c: string): string {
  return (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
}

function show(text: string): string {
  return JSON.stringify(truncateCodePoints(text, 40));
}
