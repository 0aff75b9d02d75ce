/**
 * Retention and erasure, the pure part: how long things are kept (a number of days, or for
 * ever), the moment before which they go, the address an erasure names, and the keys that stay —
 * as SHA-256 only — of a message that was answered and then removed, so that a copy delivered
 * again is never answered a second time (exactly-once outlives the message).
 */
import { sha256Hex } from "./sha256.ts";

/** The longest retention a setting takes: a hundred years. */
export const MAX_KEEP_DAYS = 36_500;

const DAY_MS = 86_400_000;

/**
 * Reads a number of days to keep something: null, "" or absent is for ever; otherwise a whole
 * number from 1 to 36,500. Problems are pushed as `key: …`.
 */
export function readKeepDays(value: unknown, key: string, errors: string[]): number | null {
  if (value === null || value === "" || value === undefined) return null;
  const n = typeof value === "string" && /^\s*[0-9]+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_KEEP_DAYS) {
    errors.push(
      `${key}: must be a whole number of days from 1 to ${MAX_KEEP_DAYS}, or null to keep for ever`,
    );
    return null;
  }
  return n;
}

/** What arrived before this moment is older than `days` at `now`. */
export function keepCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

/** The kinds of key kept for a message that was answered and then removed. */
export type ForgottenKind = "dedup" | "content" | "message_id";

/** One key kept for a removed message: only its SHA-256 is stored. */
export interface ForgottenKey {
  kind: ForgottenKind;
  sha256: string;
}

/**
 * The keys of an answered message that is removed: the SHA-256 of each of its replies' dedup keys,
 * of its content (the account and the raw SHA-256: the same bytes again) and of its Message-ID for
 * the account (the same message delivered again with other trace headers).
 */
export function forgottenKeys(m: {
  accountId: number;
  rawSha256: string;
  messageIdHeader: string | null;
  dedupKeys: readonly string[];
}): ForgottenKey[] {
  const keys: ForgottenKey[] = m.dedupKeys.map((k) => ({ kind: "dedup", sha256: sha256Hex(k) }));
  keys.push({ kind: "content", sha256: contentKey(m.accountId, m.rawSha256) });
  const id = messageIdKey(m.accountId, m.messageIdHeader);
  if (id) keys.push({ kind: "message_id", sha256: id });
  return keys;
}

/** The content key of a message of `accountId` whose raw bytes hash to `rawSha256`. */
export function contentKey(accountId: number, rawSha256: string): string {
  return sha256Hex(`content/v1/${accountId}/${rawSha256.trim().toLowerCase()}`);
}

/** The Message-ID key of a message of `accountId`; null when it has no Message-ID. */
export function messageIdKey(accountId: number, messageId: string | null): string | null {
  const id = messageId?.trim().replace(/^<(.*)>$/, "$1") ?? "";
  return id === "" ? null : sha256Hex(`message-id/v1/${accountId}/${id}`);
}

/** The longest address an erasure takes (RFC 5321 §4.5.3.1: 64 + 1 + 255). */
const MAX_ADDRESS = 320;

/**
 * Reads the address an erasure names: trimmed, lower-cased, one `@` with something either side,
 * no space. Returns the address or a problem line.
 */
export function readErasureAddress(input: unknown): { ok: true; address: string } | {
  ok: false;
  error: string;
} {
  const a = typeof input === "string" ? input.trim().toLowerCase() : "";
  const at = a.lastIndexOf("@");
  if (a.length > MAX_ADDRESS || at < 1 || at === a.length - 1 || /[\s<>"',;]/.test(a)) {
    return { ok: false, error: "address: must be one e-mail address, like ana@example.com" };
  }
  return { ok: true, address: a };
}

/** How an erased address is named in the audit log: its SHA-256, never the address. */
export function addressHash(address: string): string {
  return sha256Hex(address.trim().toLowerCase());
}
