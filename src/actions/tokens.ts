/**
 * API tokens, from the tokens page or `deno task cli token create NAME`: creating and revoking
 * one, each with its audit event in the same transaction.
 */
import { createApiToken, revokeApiToken } from "../store/api_tokens.ts";
import { recordEvent } from "../store/audit.ts";
import { newSecret, secretHash } from "../auth/tokens.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** What a token name may be. */
export const TOKEN_NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;

/**
 * Creates a token called `name`; the value (`crt_` + 256 random bits) is stored only as a hash
 * and cannot be shown again. A taken name is a `conflict`.
 */
export function createToken(
  deps: ActionDeps,
  name: string,
  by: string,
): Promise<Result<{ name: string; token: string }>> {
  if (!TOKEN_NAME.test(name)) {
    const message = "name: 1–64 letters, digits, . _ or -, starting with a letter or digit";
    return Promise.resolve(problem("invalid", message, [message]));
  }
  return transact(deps.db, async (tx) => {
    const token = `crt_${newSecret()}`;
    const at = deps.now();
    await createApiToken(tx, name, await secretHash(token), at);
    await recordEvent(tx, { event: "token_created", at, detail: { name, by } });
    return done({ name, token });
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
