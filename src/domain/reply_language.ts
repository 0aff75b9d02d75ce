/**
 * The language of a message, for choosing a reply variant (pt, en or es). The sender's own
 * `Content-Language` (RFC 3282) decides when it names one of them; otherwise `franc-min` reads
 * the subject and the first characters of the text, restricted to the three languages. Trigram
 * scoring over three languages takes well under a millisecond for the 2,000 characters read, and
 * it runs once per reply decision, not per message.
 */

import { franc } from "franc-min";
import type { ParsedEmail } from "./email.ts";

/** The languages a reply can have a variant in. */
export const REPLY_LANGUAGES = ["pt", "en", "es"] as const;

/** One of `REPLY_LANGUAGES`. */
export type ReplyLanguage = typeof REPLY_LANGUAGES[number];

/** The language found, and where it was found. */
export interface LanguageFinding {
  /** null: too little text, or not pt/en/es. */
  language: ReplyLanguage | null;
  source: "content-language" | "text" | "none";
}

/** Characters of subject and text read by the detector. */
export const LANGUAGE_SAMPLE_CHARS = 2_000;
/** Fewer letters than this and the language is "unknown": a guess on "Oi" is noise. */
const MIN_LETTERS = 12;

const FRANC_CODES: Record<string, ReplyLanguage> = { por: "pt", eng: "en", spa: "es" };

/** Whether `s` is one of `REPLY_LANGUAGES`. */
export function isReplyLanguage(s: unknown): s is ReplyLanguage {
  return typeof s === "string" && (REPLY_LANGUAGES as readonly string[]).includes(s);
}

/**
 * The language of a message: its `Content-Language` header when that names pt, en or es (the
 * first such tag), else what the detector makes of the subject and the text with quoted lines
 * (`> …`) left out — those are usually our own or someone else's words.
 */
export function detectLanguage(
  email: Pick<ParsedEmail, "subject" | "text" | "headers">,
): LanguageFinding {
  for (const value of email.headers["content-language"] ?? []) {
    for (const tag of value.split(",")) {
      const primary = tag.trim().toLowerCase().split("-")[0];
      if (isReplyLanguage(primary)) return { language: primary, source: "content-language" };
    }
  }
  const sample = languageSample(email.subject ?? "", email.text ?? "");
  if ((sample.match(/\p{L}/gu)?.length ?? 0) < MIN_LETTERS) {
    return { language: null, source: "none" };
  }
  const code = franc(sample, { only: Object.keys(FRANC_CODES), minLength: MIN_LETTERS });
  const language = FRANC_CODES[code] ?? null;
  return { language, source: language ? "text" : "none" };
}

/** Subject and unquoted text, cut to `LANGUAGE_SAMPLE_CHARS`. */
export function languageSample(subject: string, text: string): string {
  const unquoted = text.slice(0, LANGUAGE_SAMPLE_CHARS * 2).split(/\r?\n/)
    .filter((line) => !line.trimStart().startsWith(">")).join("\n");
  const subjectWords = subject.replace(/^(?:\s*(?:re|res|fwd?|enc|rv)\s*:)+/i, "");
  return `${subjectWords}\n${unquoted}`.slice(0, LANGUAGE_SAMPLE_CHARS);
}
