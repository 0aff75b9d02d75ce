/**
 * What an API token may do, and until when. A token holds one or more scopes, and an optional expiry:
 * - `read`: the GET (and HEAD) endpoints of `/api/v1`;
 * - `write`: every `/api/v1` endpoint that changes something, and the reads as well;
 * - `metrics`: `/metrics` only, so a scraper's token cannot read mail or change rules.
 */
export const TOKEN_SCOPES = ["read", "write", "metrics"] as const;

export type TokenScope = typeof TOKEN_SCOPES[number];

/** The scopes of a token created without naming any: everything, as tokens had before scopes. */
export const DEFAULT_TOKEN_SCOPES: readonly TokenScope[] = TOKEN_SCOPES;

function isScope(s: string): s is TokenScope {
  return (TOKEN_SCOPES as readonly string[]).includes(s);
}

/**
 * Reads scopes written as a list or as one string separated by commas or spaces
 * (`"read,metrics"`). Each is named once, in the canonical order; an unknown name or an empty
 * list is an error that names the allowed ones.
 */
export function parseTokenScopes(
  input: string | readonly string[],
): { ok: true; scopes: TokenScope[] } | { ok: false; error: string } {
  const words = (typeof input === "string" ? input.split(/[\s,]+/) : [...input])
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w !== "");
  const unknown = words.filter((w) => !isScope(w));
  if (unknown.length > 0) {
    return {
      ok: false,
      error: `scopes: unknown ${unknown.map((u) => `"${u}"`).join(", ")}; use ${
        TOKEN_SCOPES.join(", ")
      }`,
    };
  }
  if (words.length === 0) {
    return { ok: false, error: `scopes: name at least one of ${TOKEN_SCOPES.join(", ")}` };
  }
  return { ok: true, scopes: TOKEN_SCOPES.filter((s) => words.includes(s)) };
}

/**
 * The expiry a person wrote: `YYYY-MM-DD` means the end of that day (UTC), an ISO instant is
 * taken as it is. It must be in the future.
 */
export function parseTokenExpiry(text: string, now: Date): { ok: true; at: Date } | { ok: false } {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const at = day
    ? new Date(Date.UTC(+day[1], +day[2] - 1, +day[3] + 1) - 1)
    : /^\d{4}-\d{2}-\d{2}T/.test(text)
    ? new Date(text)
    : new Date(NaN);
  if (day && at.toISOString().slice(0, 10) !== text) return { ok: false };
  if (Number.isNaN(at.getTime()) || at.getTime() <= now.getTime()) return { ok: false };
  return { ok: true, at };
}

/** The scope a request needs: `/metrics` needs `metrics`; the API's reads `read`, the rest `write`. */
export function scopeNeeded(method: string, path: string): TokenScope {
  if (path === "/metrics" || path.startsWith("/metrics/")) return "metrics";
  return method === "GET" || method === "HEAD" ? "read" : "write";
}

/** Whether a token with `scopes` may make a request that needs `needed` (`write` includes `read`). */
export function scopeAllows(scopes: readonly TokenScope[], needed: TokenScope): boolean {
  return scopes.includes(needed) || (needed === "read" && scopes.includes("write"));
}

/**
 * Why a token is not accepted at `now`, or null when it is live: revoked, or past its expiry
 * (the expiry instant itself is already past).
 */
export function tokenRefusal(
  token: { revokedAt: Date | null; expiresAt: Date | null },
  now: Date,
): "revoked" | "expired" | null {
  if (token.revokedAt) return "revoked";
  if (token.expiresAt && token.expiresAt.getTime() <= now.getTime()) return "expired";
  return null;
}
