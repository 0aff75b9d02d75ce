/**
 * Dates and times as the viewer reads them: in their language (pt-BR `06/12/2026 10:53`, en
 * `6 Dec 2026, 10:53`) and in their time zone. The zone is the `carteiro_tz` cookie, which
 * `static/time_zone.js` sets from the browser's own zone; without it (no JavaScript, first
 * page), the server's zone (TZ). Durations go through `Intl.RelativeTimeFormat`.
 */
import type { Dict, Lang } from "./i18n.ts";

export const TIME_ZONE_COOKIE = "carteiro_tz";

/** The zone to show dates in: the cookie's when it names a zone Intl knows, else `fallback`. */
export function pickTimeZone(cookie: string | undefined, fallback: string): string {
  if (cookie && cookie.length <= 64 && /^[A-Za-z0-9_+\-/]+$/.test(cookie)) {
    try {
      return new Intl.DateTimeFormat("en", { timeZone: cookie }).resolvedOptions().timeZone;
    } catch {
      // Not a zone this runtime knows: the fallback.
    }
  }
  return fallback;
}

function formatter(lang: Lang, zone: string): Intl.DateTimeFormat {
  return lang === "pt-BR"
    ? new Intl.DateTimeFormat("pt-BR", {
      day: "2-digit",
      month: "2-digit",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZone: zone,
    })
    : new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: zone });
}

/** A moment to the minute, in the viewer's zone and language; "—" when there is none. */
export function fmtDate(d: Date | null | undefined, t: Pick<Dict, "lang" | "zone">): string {
  if (!d || Number.isNaN(d.getTime())) return "—";
  const text = formatter(t.lang, t.zone).format(d);
  // pt-BR writes "06/12/2026, 10:53"; the Brazilian habit is without the comma.
  return t.lang === "pt-BR" ? text.replace(", ", " ") : text;
}

/** A duration in seconds as "2 minutes ago" / "há 2 minutos" (seconds, minutes or hours). */
export function fmtAgo(seconds: number, t: Pick<Dict, "lang">): string {
  const [n, unit]: [number, Intl.RelativeTimeFormatUnit] = seconds < 120
    ? [seconds, "second"]
    : seconds < 7200
    ? [Math.round(seconds / 60), "minute"]
    : [Math.round(seconds / 3600), "hour"];
  return new Intl.RelativeTimeFormat(t.lang, { numeric: "always" }).format(-n, unit);
}
