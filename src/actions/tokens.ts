/**
 * API tokens, from the tokens page or `deno task cli token create NAME`: creating one (with its
 * scopes and expiry) and revoking one, each with its audit event in the same transaction.
 */
import { createApiToken, revokeApiToken } from "../store/api_tokens.ts";
import { recordEvent } from "../store/audit.ts";
import { newSecret, secretHash } from "../auth/tokens.ts";
import {
  DEFAULT_TOKEN_SCOPES,
  parseTokenExpiry,
  parseTokenScopes,
  type TokenScope,
} from "../domain/token_access.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** What a token name may be. */
export const TOKEN_NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;

/** What a person asks for: scopes as a list or `"read,metrics"`, an expiry as `YYYY-MM-DD`. */
export interface TokenRequest {
  name: string;
  /** Omitted: every scope (`read`, `write`, `metrics`). */
  scopes?: string | readonly string[];
  /** A date (the token works until that day's end, UTC) or an instant; omitted or "": never. */
  expires?: string | null;
}

/** What a created token is: its value is in this answer only. */
export interface IssuedToken {
  name: string;
  token: string;
  scopes: TokenScope[];
  expires_at: string | null;
}

/**
 * Creates a token called `name` with its scopes and optional expiry; the value (`crt_` + 256
 * random bits) is stored only as a hash and cannot be shown again. Every problem with the input
 * is listed; a taken name is a `conflict`.
 */
export function createToken(
  deps: ActionDeps,
  request: TokenRequest,
  by: string,
): Promise<Result<IssuedToken>> {
  const errors: string[] = [];
  const name = request.name;
  if (!TOKEN_NAME.test(name)) {
    errors.push("name: 1–64 letters, digits, . _ or -, starting with a letter or digit");
  }
  const scopes = request.scopes === undefined
    ? { ok: true as const, scopes: [...DEFAULT_TOKEN_SCOPES] }
    : parseTokenScopes(request.scopes);
  if (!scopes.ok) errors.push(scopes.error);
  const expiresText = (request.expires ?? "").trim();
  let expiresAt: Date | null = null;
  if (expiresText !== "") {
    const parsed = parseTokenExpiry(expiresText, deps.now());
    if (parsed.ok) expiresAt = parsed.at;
    else errors.push("expires: a future date as YYYY-MM-DD (or an ISO 8601 instant)");
  }
  if (errors.length > 0 || !scopes.ok) {
    return Promise.resolve(problem("invalid", errors.join("; "), errors));
  }
  return transact(deps.db, async (tx) => {
    const token = `crt_${newSecret()}`;
    const at = deps.now();
    await createApiToken(tx, {
      name,
      tokenHash: await secretHash(token),
      scopes: scopes.scopes,
      expiresAt,
    }, at);
    const expires_at = expiresAt?.toISOString() ?? null;
    await recordEvent(tx, {
      event: "token_created",
      at,
      detail: { name, by, scopes: scopes.scopes, expires_at },
    });
    return done({ name, token, scopes: scopes.scopes, expires_at });
  }, `name: a token called "${name}" already exists`);
}

/** Revokes token `id`; a token that does not exist or is already revoked is `not_found`. */
export function revokeToken(deps: ActionDeps, id: number, by: string): Promise<Result<number>> {
  return transact(deps.db, async (tx) => {
    const at = deps.now();
    if (!await revokeApiToken(tx, id, at)) return problem("not_found", "no such live token");
    await recordEvent(tx, { event: "token_revoked", at, detail: { id, by } });
    return done(id);
  }, "the token changed meanwhile");
}
