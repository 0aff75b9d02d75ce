/**
 * Password hashing with PBKDF2-HMAC-SHA256 from WebCrypto: no native code, so it runs wherever
 * Deno runs (Deno Deploy included). 600,000 iterations and a 16-byte random salt follow the
 * OWASP Password Storage Cheat Sheet for PBKDF2-SHA256. The stored form names its parameters,
 * so the iteration count can rise later without invalidating existing hashes.
 */

/** Iterations for new hashes (OWASP, 2023: ≥ 600,000 for PBKDF2-HMAC-SHA256). */
export const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const PREFIX = "pbkdf2-sha256";

/** Hashes a password for storage: `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`. */
export async function hashPassword(
  password: string,
  iterations: number = PBKDF2_ITERATIONS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${salt.toBase64()}$${hash.toBase64()}`;
}

/**
 * Checks a password against a stored hash in constant time. A malformed stored value is a
 * mismatch, never an exception.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== PREFIX) return false;
  const iterations = Number(parts[1]);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000) return false;
  let salt: Uint8Array, expected: Uint8Array;
  try {
    salt = Uint8Array.fromBase64(parts[2]);
    expected = Uint8Array.fromBase64(parts[3]);
  } catch {
    return false;
  }
  const actual = await derive(password, salt, iterations);
  return constantTimeEqual(actual, expected);
}

/**
 * A hash of no one's password, checked when the e-mail is unknown so that a wrong e-mail and a
 * wrong password take the same time (no account enumeration by timing).
 */
export const DUMMY_PASSWORD_HASH =
  `${PREFIX}$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`;

/** Compares two byte strings without stopping at the first difference (lengths are public). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

async function derive(password: string, salt: Uint8Array, iterations: number) {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password.normalize("NFC")),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    HASH_BITS,
  );
  return new Uint8Array(bits);
}
