/**
 * Rule regexes on RE2 (`re2js`, a JavaScript port of Google's RE2): matching takes time linear in
 * the text, bounded by the compiled program's size times the characters read, whatever the
 * pattern — `(a+)+$` cannot hang the collector as it would JavaScript's backtracking RegExp.
 * Patterns are written in the JavaScript dialect rules always used; the few escapes RE2 spells
 * differently are translated here, and what RE2 cannot run (backreferences, lookaround) is refused
 * with a reason. Pure: no I/O.
 */

import { RE2JS } from "re2js";

/** Longest regex pattern, in characters. */
export const MAX_REGEX_LENGTH = 500;
/** Most instructions a regex may compile to (repetitions expanded): the cost per character. */
export const MAX_REGEX_PROGRAM = 1_000;

const FLAGS = RE2JS.CASE_INSENSITIVE | RE2JS.MULTILINE;

/**
 * JavaScript's `\s` (ECMAScript WhiteSpace and LineTerminator), which RE2 limits to ASCII: the
 * no-break space (U+00A0) is common in mail text and must still count as a space.
 */
const JS_SPACE = "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" +
  "\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

/** A compiled rule regex. */
export class RuleRegex {
  #re: RE2JS;
  /** The pattern as written in the rule. */
  readonly source: string;
  /** Instructions in the compiled program: the steps per character a search may take. */
  readonly size: number;

  constructor(source: string, re: RE2JS) {
    this.source = source;
    this.#re = re;
    this.size = re.programSize();
  }

  /** Whether the pattern matches anywhere in `text` (case-insensitive, `^ $` per line). */
  test(text: string): boolean {
    return this.#re.test(text);
  }

  /** The most steps a search of `text` can take: program size × (characters + 1). */
  cost(text: string): number {
    return this.size * (text.length + 1);
  }
}

/** A compiled regex, or why the pattern is refused. */
export type RegexCompile = { ok: true; regex: RuleRegex } | { ok: false; error: string };

/** Compiles a rule's pattern, refusing what RE2 cannot run and programs over the size limit. */
export function compileRuleRegex(pattern: string): RegexCompile {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return { ok: false, error: `the pattern is longer than ${MAX_REGEX_LENGTH} characters` };
  }
  const translated = toRe2Syntax(pattern);
  if (!translated.ok) return translated;
  let re: RE2JS;
  try {
    re = RE2JS.compile(translated.pattern, FLAGS);
  } catch (e) {
    return { ok: false, error: re2Problem(e) };
  }
  const regex = new RuleRegex(pattern, re);
  if (regex.size > MAX_REGEX_PROGRAM) {
    return {
      ok: false,
      error: `the pattern is too large: it compiles to ${regex.size} instructions once ` +
        `repetitions are expanded; the limit is ${MAX_REGEX_PROGRAM}`,
    };
  }
  return { ok: true, regex };
}

/**
 * The JavaScript spellings RE2 lacks: `\uHHHH` and `\u{…}` become `\x{…}`, and `\s`/`\S` get
 * JavaScript's Unicode set. Backreferences and lookaround are refused here so that the reason
 * names them (RE2's own message would say "invalid escape" or "invalid named capture").
 */
function toRe2Syntax(p: string): { ok: true; pattern: string } | { ok: false; error: string } {
  let out = "";
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") {
      const e = p[i + 1];
      if (e === undefined) return { ok: false, error: "the pattern ends with a lone backslash" };
      i++;
      if (e === "u") {
        const m = /^\{([0-9a-fA-F]{1,6})\}|^([0-9a-fA-F]{4})/.exec(p.slice(i + 1));
        if (!m || parseInt(m[1] ?? m[2], 16) > 0x10ffff) {
          return {
            ok: false,
            error: `bad \\u escape at position ${i - 1} (use \\uHHHH or \\u{H…})`,
          };
        }
        out += `\\x{${m[1] ?? m[2]}}`;
        i += m[0].length;
      } else if (/[1-9]/.test(e) && !inClass) {
        return { ok: false, error: `backreferences (\\${e}) are not supported` };
      } else if (e === "k" && p[i + 1] === "<") {
        return { ok: false, error: "named backreferences (\\k) are not supported" };
      } else if (e === "s") {
        out += inClass ? JS_SPACE : `[${JS_SPACE}]`;
      } else if (e === "S" && !inClass) {
        out += `[^${JS_SPACE}]`;
      } else {
        out += c + e;
      }
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
      // A `]` right after `[` or `[^` is a literal in RE2; JavaScript reads it the same way
      // only for `[^]`, which no rule needs: copy as is.
    } else if (c === "(" && p[i + 1] === "?") {
      const kind = p.slice(i + 2, i + 4);
      if (kind[0] === "=" || kind[0] === "!" || kind === "<=" || kind === "<!") {
        return {
          ok: false,
          error: `lookaround (?=, (?!, (?<=, (?<! at position ${i} is not supported`,
        };
      }
    }
    out += c;
  }
  return { ok: true, pattern: out };
}

/** RE2's syntax error without its prefix: "invalid repeat count: `{1001}`". */
function re2Problem(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const why = message.replace(/^error parsing regexp: /, "");
  return /repeat count/.test(why)
    ? `${why} (a count is at most 1000, nested counts at most 1000 in all)`
    : why;
}
