/**
 * What the account's own receiving server said about a message: SPF and DMARC results in
 * `Authentication-Results` (RFC 8601) and spam verdicts (SpamAssassin's `X-Spam-Flag` and
 * `X-Spam-Status`, Microsoft's `X-MS-Exchange-Organization-SCL`). A reply to a forged sender is
 * backscatter: it lands on an innocent address. Only results stamped with one of the account's
 * authserv-ids are read; any hop, the sender included, can add such a header with another id.
 */
import type { ParsedEmail } from "./email.ts";

/** One `method=result` of an Authentication-Results field. */
export interface AuthResult {
  method: string;
  result: string;
}

/** An Authentication-Results field: who stamped it, and its results (none for `none`). */
export interface AuthenticationResults {
  authservId: string;
  results: AuthResult[];
}

/** Which checks run; an account can switch each off. */
export interface VerdictPolicy {
  /** The authserv-ids of the account's own receiving servers (e.g. `mx.google.com`). */
  authservIds: readonly string[];
  /** SPF `fail` or DMARC `fail` from one of those servers suppresses the reply. */
  checkAuth: boolean;
  /** A spam verdict suppresses the reply. */
  checkSpam: boolean;
}

/** Microsoft's spam confidence level from which a message is junk (Exchange Online's default). */
export const SCL_JUNK = 5;

/** Removes RFC 5322 comments (nested parentheses, with quoted pairs), keeping quoted strings. */
function withoutComments(value: string): string {
  let out = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && (quoted || depth > 0)) {
      if (depth === 0) out += value.slice(i, i + 2);
      i++;
    } else if (quoted) {
      out += c;
      if (c === '"') quoted = false;
    } else if (c === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (depth === 0) {
      if (c === '"') quoted = true;
      out += c;
    }
  }
  return out;
}

/** Splits on `;` outside quoted strings. */
function clauses(value: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && quoted) {
      current += value.slice(i, i + 2);
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ";" && !quoted) {
      parts.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

/**
 * Parses one Authentication-Results field value (RFC 8601 §2.2). Returns null when there is no
 * authserv-id. Methods and results are lower-cased; a method's version (`dkim/1`) is dropped.
 */
export function parseAuthenticationResults(value: string): AuthenticationResults | null {
  const [head, ...rest] = clauses(withoutComments(value).replace(/\r?\n[ \t]/g, " "));
  const authservId = head.split(/\s+/)[0]?.replace(/^"|"$/g, "").toLowerCase() ?? "";
  if (authservId === "") return null;
  const results: AuthResult[] = [];
  for (const clause of rest) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*(?:\/\s*\d+\s*)?=\s*([A-Za-z0-9_-]+)/.exec(clause);
    if (m) results.push({ method: m[1].toLowerCase(), result: m[2].toLowerCase() });
  }
  return { authservId, results };
}

/**
 * Why a reply must not be sent because of what the receiving server said, or null. `auth_failed`:
 * SPF or DMARC `fail` stamped by one of the account's servers; `spam`: a spam verdict.
 */
export function senderVerdict(
  email: ParsedEmail,
  policy: VerdictPolicy,
): { reason: "auth_failed" | "spam"; detail: string } | null {
  const h = email.headers;
  if (policy.checkAuth && policy.authservIds.length > 0) {
    const ours = new Set(policy.authservIds.map((id) => id.trim().toLowerCase()));
    for (const value of h["authentication-results"] ?? []) {
      const parsed = parseAuthenticationResults(value);
      if (!parsed || !ours.has(parsed.authservId)) continue;
      const failed = parsed.results.find((r) =>
        (r.method === "spf" || r.method === "dmarc") && r.result === "fail"
      );
      if (failed) {
        return {
          reason: "auth_failed",
          detail: `${parsed.authservId}: ${failed.method}=${failed.result}`,
        };
      }
    }
  }
  if (policy.checkSpam) {
    for (const value of h["x-spam-flag"] ?? []) {
      if (value.trim().toLowerCase() === "yes") {
        return { reason: "spam", detail: "X-Spam-Flag: YES" };
      }
    }
    for (const value of h["x-spam-status"] ?? []) {
      if (/^\s*yes\b/i.test(value)) {
        return { reason: "spam", detail: `X-Spam-Status: ${value.trim().slice(0, 80)}` };
      }
    }
    for (const value of h["x-ms-exchange-organization-scl"] ?? []) {
      const scl = Number(value.trim());
      if (Number.isInteger(scl) && scl >= SCL_JUNK) {
        return { reason: "spam", detail: `X-MS-Exchange-Organization-SCL: ${scl}` };
      }
    }
  }
  return null;
}
