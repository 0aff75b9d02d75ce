/** Address globs, as rules, exception lists and trusted forwarders write them. */

/**
 * Matches an address against a glob, case-insensitively. A glob with `@` is matched against the
 * whole address; one without is a domain glob matched against the part after `@`
 * (`empresa.test` is that domain only, `*.empresa.test` its subdomains). `*` is any run of
 * characters, `?` one character.
 */
export function addressMatches(glob: string, address: string): boolean {
  const a = address.trim().toLowerCase();
  const g = glob.trim().toLowerCase();
  if (a === "" || g === "") return false;
  if (g.includes("@")) return globMatch(g, a);
  const at = a.lastIndexOf("@");
  return at >= 0 && globMatch(g, a.slice(at + 1));
}

/** Wildcard match with `*` and `?`: greedy with one backtrack point, O(pattern × text). */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}
