/**
 * How long a login past its limit waits: free attempts first, then a delay that doubles with each
 * further failure and stops growing at a ceiling. A password guesser is slowed to about one guess
 * per ceiling, while the person whose password it is waits that long at most — never the whole
 * window (the escalating wait of Keycloak's brute-force detection, rather than a lockout that an
 * attacker can keep closed).
 */

/** The limit and the ceiling of one login counter (per e-mail, or per client address). */
export interface LoginLimit {
  /** Failures in the window checked without waiting. */
  free: number;
  /** The longest wait, in milliseconds. */
  maxDelayMs: number;
}

/** Exponent ceiling: 2^20 s is far past any sensible `maxDelayMs`, and keeps the SQL in range. */
export const MAX_DOUBLINGS = 20;

/**
 * The wait before the next attempt is checked, after `failures` checked failures: 0 below the
 * limit, then min(2^(failures − free) s, maxDelayMs). The same formula is the `WHERE` of
 * `takeLoginCheck` (src/store/login_attempts.ts), where it decides atomically.
 */
export function loginDelayMs(failures: number, limit: LoginLimit): number {
  if (failures < limit.free) return 0;
  const doublings = Math.min(failures - limit.free, MAX_DOUBLINGS);
  return Math.min(2 ** doublings * 1000, limit.maxDelayMs);
}
