/**
 * The pure part of the second factor at login: how a recovery code is written and read back, what
 * a typed TOTP code looks like, and which time-step may still be accepted (RFC 6238 §5.2: a
 * verifier must not accept the same code twice, so a step at or before the last accepted one is
 * refused).
 */

/** Letters and digits that are not easily confused when read off paper (no 0/o, 1/l/i). */
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

/** How many recovery codes a person gets when the second factor is turned on. */
export const RECOVERY_CODE_COUNT = 10;

/**
 * Characters of a recovery code (one random byte each): about 79 bits, so that the plain SHA-256
 * kept of it cannot be searched back from a copy of the database.
 */
export const RECOVERY_CODE_LENGTH = 16;

/**
 * A recovery code from random bytes, as shown: groups of four (`abcd-efgh-jkmn-pqrs`). Each byte
 * picks one character; the slight bias of `% 31` costs well under a bit of the code's strength.
 */
export function recoveryCodeFrom(bytes: Uint8Array): string {
  const chars = [...bytes].map((b) => ALPHABET[b % ALPHABET.length]).join("");
  return chars.match(/.{1,4}/g)?.join("-") ?? "";
}

/** A typed recovery code as it is hashed: lower case, without spaces or dashes. */
export function normalRecoveryCode(typed: string): string {
  return typed.toLowerCase().replace(/[\s-]/g, "");
}

/** Whether the typed text is a TOTP code (six digits, spaces allowed) rather than a recovery code. */
export function isTotpCode(typed: string): boolean {
  return /^\d{6}$/.test(typed.replace(/\s/g, ""));
}

/** Whether the typed text could be a recovery code at all (checked before any lookup). */
export function isRecoveryCodeShape(typed: string): boolean {
  const n = normalRecoveryCode(typed);
  return n.length === RECOVERY_CODE_LENGTH && [...n].every((ch) => ALPHABET.includes(ch));
}

/** Whether a code of time-step `step` may be accepted after `lastStep` was (never twice, never older). */
export function stepAccepted(step: number, lastStep: number): boolean {
  return step > lastStep;
}
