/**
 * The never-answer list's patterns: an address (`ana@x.test`), an address glob (`*@x.test`) or a
 * domain (`x.test`, `*.x.test`), matched by `addressMatches` (address_glob.ts) against a reply's
 * recipient and the message's sender.
 */

/** The longest pattern: an address is at most 320 characters (RFC 3696 errata 1690). */
export const MAX_NEVER_ANSWER_LENGTH = 320;

// The same characters a rule's `from` glob refuses (rule_conditions.ts): whitespace, controls and
// the punctuation that separates addresses in a header.
// deno-lint-ignore no-control-regex -- refusing control characters is the point
const NOT_IN_GLOB = /[\s\u0000-\u001f"<>,;()\\]/;

/** A pattern as stored (trimmed, lower-cased), or the sentence that says what is wrong with it. */
export function readNeverAnswerPattern(
  raw: unknown,
): { ok: true; pattern: string } | { ok: false; error: string } {
  if (typeof raw !== "string") return { ok: false, error: "pattern: must be text" };
  const pattern = raw.trim().toLowerCase();
  if (pattern === "") {
    return { ok: false, error: 'pattern: is empty (e.g. "ana@empresa.test" or "empresa.test")' };
  }
  if (pattern.length > MAX_NEVER_ANSWER_LENGTH) {
    return {
      ok: false,
      error: `pattern: is longer than ${MAX_NEVER_ANSWER_LENGTH} characters`,
    };
  }
  if (NOT_IN_GLOB.test(pattern)) {
    return {
      ok: false,
      error: "pattern: is not an address glob: no spaces, quotes, <>, commas, ; or () " +
        '(use * and ? on an address or a domain, e.g. "*@empresa.test" or "empresa.test")',
    };
  }
  if (pattern.indexOf("@") !== pattern.lastIndexOf("@")) {
    return { ok: false, error: "pattern: has more than one @" };
  }
  if (pattern.endsWith("@")) {
    return { ok: false, error: 'pattern: has nothing after @ (e.g. "ana@empresa.test")' };
  }
  return { ok: true, pattern };
}
