/**
 * When a temporarily failed send (SMTP 4xx, connection refused) is tried again: exponential
 * backoff from one minute, capped at one hour, as data the outbox row carries.
 */
export function retryDelayMs(attempt: number, baseMs = 60_000, capMs = 3_600_000): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(capMs, baseMs * 2 ** exponent);
}

/** The next attempt's time, or null when it would fall past the row's deadline (then it fails). */
export function nextAttempt(
  at: Date,
  attempt: number,
  deadline: Date,
  baseMs?: number,
): Date | null {
  const next = new Date(at.getTime() + retryDelayMs(attempt, baseMs));
  return next > deadline ? null : next;
}
