/**
 * email-forward-parser as the classifier calls it: where the library splits a body at a forward
 * separator, and its reading of a forwarded message's sender, subject and date. Both answer as
 * `read` does, for less CPU: the separator pass ran over every body (about 0.2 ms per message),
 * mostly on bodies where none of the library's separators can match, which a test of the words
 * every separator needs now skips; and `read` went on to read fields nobody asks for (the quoted
 * message's recipients, copies and body: nearly half of a reading of a forward).
 */
import EmailForwardParser from "email-forward-parser";
import { escapeRegExp } from "./regexp_escape.ts";

// Building the library's regexes costs more than a reading; its reader keeps no state between
// readings (string match/split/replace only), so one is shared.
const FORWARD_PARSER = new EmailForwardParser();

/**
 * The text above the first forward separator email-forward-parser finds in `body` (trimmed; empty
 * when the separator is on top), or null when it finds none: `read(body)`'s `forwarded` and
 * `message`.
 */
export function librarySplit(body: string): { message: string } | null {
  if (SEPARATOR_GATE && !/[\r\uFEFF\u00A0]/.test(body) && !SEPARATOR_GATE.test(body)) return null;
  if (PARSER) {
    const split = PARSER.parseBody(body, false);
    return split.email ? { message: split.message ?? "" } : null;
  }
  const result = FORWARD_PARSER.read(body);
  return result.forwarded ? { message: result.message ?? "" } : null;
}

/** What the library reads of a forwarded message; undefined where it found no forward. */
export interface LibraryOriginal {
  address?: string | null;
  name?: string | null;
  subject?: string | null;
  date?: string | null;
}

/**
 * The forwarded message's sender, subject and date as `read(body, "Fwd:")` gives them: a
 * forward-prefixed subject turns on the library's reading by "From:" line, and "Fwd:" alone
 * (empty rest) keeps the original's subject in its answer.
 */
export function libraryOriginal(body: string): LibraryOriginal {
  if (!PARSER) {
    const { email } = FORWARD_PARSER.read(body, "Fwd:");
    const { from, subject, date } = email;
    return { address: from.address, name: from.name, subject, date };
  }
  const split = PARSER.parseBody(body, true);
  if (!split.email) return {};
  // `parseOriginalEmail`'s own preparation, then three of its six readings.
  const r = PARSER.regexes;
  const text = split.email.replace(r.byte_order_mark, "").replace(r.quote_line_break, "")
    .replace(r.quote, "").replace(r.four_spaces, "");
  const from = PARSER.parseOriginalFrom(text, split.body);
  return {
    address: from?.address,
    name: from?.name,
    subject: PARSER.parseOriginalSubject(text),
    date: PARSER.parseOriginalDate(text, split.body),
  };
}

// ---------------------------------------------------------------------------------------------
// What `read` does (email-forward-parser 1.8.3, src/index.ts and src/parser.ts): with no subject,
// `parseBody(body, false)` splits the body with each of its separator expressions; with a forward
// subject, `parseBody(body, true)` also splits at a "From:" line; when either splits,
// `parseOriginalEmail` strips quote marks and reads the quoted message's body, sender,
// recipients, copies, subject and date. The reader's `parser` is private in the library's types;
// when a release changes its shape, the functions above fall back to `read` and to no gate:
// slower, with the same answers.

interface Parser {
  parseBody(body: string, forwarded?: boolean): { body?: string; message?: string; email?: string };
  parseOriginalFrom(text: string, body?: string): { address?: string | null; name?: string | null };
  parseOriginalSubject(text: string): string | null;
  parseOriginalDate(text: string, body?: string): string | null;
  regexes: {
    byte_order_mark: RegExp;
    quote_line_break: RegExp;
    quote: RegExp;
    four_spaces: RegExp;
    separator_line: unknown;
  };
}

const PARSER: Parser | null = (() => {
  const p = (FORWARD_PARSER as unknown as { parser?: Record<string, unknown> }).parser;
  const regexes = p?.regexes as Record<string, unknown> | undefined;
  const methods = ["parseBody", "parseOriginalFrom", "parseOriginalSubject", "parseOriginalDate"];
  const patterns = ["byte_order_mark", "quote_line_break", "quote", "four_spaces"];
  return p && regexes && methods.every((m) => typeof p[m] === "function") &&
      patterns.every((k) => regexes[k] instanceof RegExp)
    ? p as unknown as Parser
    : null;
})();

/**
 * The expressions `parseBody` splits a body with (the library's `separator_line`: each separator
 * inside one capturing group), or null when they are not where 1.8 keeps them.
 */
export function librarySeparators(): readonly RegExp[] | null {
  const list = PARSER?.regexes.separator_line;
  return Array.isArray(list) && list.length > 0 && list.every((r) => r instanceof RegExp)
    ? list
    : null;
}

/**
 * Text that every match of a regular expression contains: the longest run of literal characters
 * in its source, or null for what this reader does not follow (groups, alternatives, flags other
 * than g, m, s, escapes such as \u).
 * A character under `?` or `*` ends a run; under `+` or `{n,m}` its n required copies end one run
 * and start the next; `{n}` repeats it in place. Escapes of letters and digits (\s, \d, \b…),
 * character classes, `.`, `^` and `$` end a run.
 */
export function requiredText(src: string, flags: string): string | null {
  if (!/^[gms]*$/.test(flags)) return null;
  const runs: string[] = [];
  let run = "";
  const cut = (next = "") => {
    if (run) runs.push(run);
    run = next;
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    let literal: string | null = null;
    let end = i + 1;
    if (c === "\\") {
      const e = src[i + 1];
      if (e === undefined) return null;
      // \s, \d, \n… stand for other characters; \u, \x, \c, \p and backreferences are not read.
      if (/[A-Za-z0-9]/.test(e) && !/[dDwWsSbBnrtfv]/.test(e)) return null;
      literal = /[A-Za-z0-9]/.test(e) ? null : e;
      end = i + 2;
    } else if (c === "[") {
      let j = i + 1;
      if (src[j] === "^") j++;
      if (src[j] === "]") j++;
      while (j < src.length && src[j] !== "]") j += src[j] === "\\" ? 2 : 1;
      if (j >= src.length) return null;
      end = j + 1;
    } else if ("()|?*+{}".includes(c)) {
      return null;
    } else if (c !== "." && c !== "^" && c !== "$") {
      literal = c;
    }
    const q = src[end];
    if (q === "?" || q === "*") {
      cut();
      end++;
    } else if (q === "+" || q === "{") {
      let min = 1;
      let exact = false;
      if (q === "{") {
        const m = /^\{(\d+)(,\d*)?\}/.exec(src.slice(end));
        if (!m) return null;
        min = Number(m[1]);
        exact = m[2] === undefined;
        end += m[0].length;
      } else {
        end++;
      }
      if (literal === null || min === 0) cut();
      else if (exact) run += literal.repeat(min);
      else {
        run += literal.repeat(min);
        cut(literal.repeat(min));
      }
    } else if (literal === null) {
      cut();
    } else {
      run += literal;
    }
    if (src[end] === "?" && (q === "?" || q === "*" || q === "+" || q === "{")) end++;
    i = end;
  }
  cut();
  return runs.reduce<string | null>((a, b) => (a === null || b.length > a.length ? b : a), null);
}

/**
 * Matches a body that holds the required text of at least one of the library's separators; a
 * body it does not match cannot be split by any of them. Null (no gate) when a separator's
 * required text is not known. The library cleans the body first (CRLF, byte-order marks,
 * no-break spaces), which can join such a text; bodies with those characters skip the gate.
 */
const SEPARATOR_GATE: RegExp | null = (() => {
  const separators = librarySeparators();
  if (!separators) return null;
  // "(…)": the separator's own source, in the group that makes `split` keep the line.
  const texts = separators.map((re) => {
    const inner = /^\((.*)\)$/s.exec(re.source);
    return inner ? requiredText(inner[1], re.flags) : null;
  });
  if (texts.some((t) => t === null)) return null;
  return new RegExp([...new Set(texts as string[])].map(escapeRegExp).join("|"));
})();

/**
 * True when both shortcuts are on: the gate (every separator's required text is known) and the
 * direct calls of the library's parser.
 */
export function libraryShortcutsActive(): boolean {
  return SEPARATOR_GATE !== null && PARSER !== null;
}
