/** Creating an API token: shared by the admin page and `deno task cli token create NAME`. */
import type { Queryable } from "../store/db.ts";
import { createApiToken } from "../store/api_tokens.ts";
import { newSecret, secretHash } from "../auth/tokens.ts";

/** What a token name may be. */
export const TOKEN_NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;

/**
 * Creates a token called `name`; returns its value (`crt_` + 256 random bits), which is stored
 * only as a hash and cannot be shown again.
 */
export async function issueApiToken(
  q: Queryable,
  name: string,
  at: Date,
): Promise<{ ok: true; token: string } | { ok: false; error: string }> {
  if (!TOKEN_NAME.test(name)) {
    return {
      ok: false,
      error: "name: 1–64 letters, digits, . _ or -, starting with a letter or digit",
    };
  }
  const token = `crt_${newSecret()}`;
  try {
    await createApiToken(q, name, await secretHash(token), at);
  } catch (e) {
    if (/unique|duplicate/i.test((e as Error).message)) {
      return { ok: false, error: `name: a token called "${name}" already exists` };
    }
    throw e;
  }
  return { ok: true, token };
}
