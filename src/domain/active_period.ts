/**
 * Where a rule stands in its active period (`active_from` / `active_until`, local dates, both
 * included) on a given day, for the rules page: "active now", "ends in 3 days", "expired",
 * "starts on …". The words are the admin's (routes/i18n.ts); this says which, and the numbers.
 */
import { localTime } from "./schedule.ts";

/** A rule's standing on `today`. */
export type ActivePeriodState =
  /** No period: the rule answers whenever its conditions hold. */
  | { kind: "always" }
  /** Before `from`: it starts answering on that date, `inDays` days from today. */
  | { kind: "starts"; on: string; inDays: number }
  /**
   * Within the period. `until` null: no end; else its last day, and `endsInDays` the days until
   * the first day it no longer answers (1: today is its last day).
   */
  | { kind: "active"; until: string | null; endsInDays: number | null }
  /** After `until`: it answered for the last time on that date. */
  | { kind: "expired"; on: string };

/** The standing of a rule with `period` at `instant`, read on the wall clock of `zone`. */
export function activePeriodState(
  period: { from?: string | null; until?: string | null },
  instant: Date,
  zone: string,
): ActivePeriodState {
  const from = period.from ?? null;
  const until = period.until ?? null;
  if (from === null && until === null) return { kind: "always" };
  const today = localTime(instant, zone).date;
  if (from !== null && today < from) {
    return { kind: "starts", on: from, inDays: daysFrom(today, from) };
  }
  if (until !== null && today > until) return { kind: "expired", on: until };
  return {
    kind: "active",
    until,
    endsInDays: until === null ? null : daysFrom(today, until) + 1,
  };
}

/** Whole days from one `YYYY-MM-DD` date to another (calendar days: no zone, no DST). */
function daysFrom(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}
