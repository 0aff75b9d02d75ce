/**
 * Random secrets (session ids, CSRF tokens, API tokens) and the hash they are stored under. The
 * secrets are 256-bit random values, so a plain SHA-256 is enough to store them: a dump of the
 * tables cannot be turned back into a working cookie or token.
 */
import { constantTimeEqual } from "./password_hash.ts";

/** A new random secret: 32 bytes, base64url without padding (43 characters). */
export function newSecret(bytes = 32): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const b of raw) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The SHA-256 of a secret, hex: what the database keeps. */
export async function secretHash(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares two strings in constant time (for a given length). */
export function sameSecret(a: string, b: string): boolean {
  const enc = new TextEncoder();
  return constantTimeEqual(enc.encode(a), enc.encode(b));
}
