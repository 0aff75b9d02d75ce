/**
 * A rule's active period in the admin's words: "active now", "ends in 3 days", "expired on …",
 * "starts on …" (src/domain/active_period.ts says which), dates in the viewer's language.
 */
import { type ActivePeriodState, activePeriodState } from "../src/domain/active_period.ts";
import { type Dict, fill, type Lang } from "./i18n.ts";

/** A `YYYY-MM-DD` date as the language writes it (06/12/2026, Dec 6, 2026). */
export function localDate(date: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" })
    .format(new Date(`${date}T12:00:00Z`));
}

/** The words for a state. */
export function describePeriod(state: ActivePeriodState, t: Dict, lang: Lang): string {
  switch (state.kind) {
    case "always":
      return t.periodAlways;
    case "starts":
      return fill(t.periodStarts, { date: localDate(state.on, lang) });
    case "expired":
      return fill(t.periodExpired, { date: localDate(state.on, lang) });
    case "active":
      if (state.endsInDays === null) return t.periodActive;
      if (state.endsInDays === 1) return t.periodEndsToday;
      if (state.endsInDays <= 7) return fill(t.periodEndsIn, { n: state.endsInDays });
      return `${t.periodActive} · ${fill(t.periodEndsOn, { date: localDate(state.until!, lang) })}`;
  }
}

/** The words for a stored rule's definition (`active_from` / `active_until`) at `now` in `zone`. */
export function rulePeriod(
  definition: Record<string, unknown>,
  now: Date,
  zone: string,
  t: Dict,
  lang: Lang,
): { kind: ActivePeriodState["kind"]; text: string } {
  const date = (v: unknown) => (typeof v === "string" ? v : null);
  const state = activePeriodState(
    { from: date(definition.active_from), until: date(definition.active_until) },
    now,
    zone,
  );
  return { kind: state.kind, text: describePeriod(state, t, lang) };
}
