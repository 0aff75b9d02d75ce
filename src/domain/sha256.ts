/**
 * SHA-256, the one implementation in Carteiro: a message's content identity and the digest behind
 * a reply's Message-ID. node:crypto's createHash is synchronous (Web Crypto's digest is async) and
 * computes only, so ids derive in pure code.
 */
import { createHash } from "node:crypto";

/** SHA-256 of a string's UTF-8 bytes, or of the bytes given, as 64 lower-case hex digits. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
