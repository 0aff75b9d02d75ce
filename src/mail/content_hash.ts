/**
 * SHA-256 of a message's exact bytes, lower-case hex: the content half of its identity. The
 * domain's implementation (node:crypto), kept importable here for the mail edge's callers.
 */
export { sha256Hex } from "../domain/sha256.ts";
