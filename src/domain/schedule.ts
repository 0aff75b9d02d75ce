/**
 * Opening hours as a rule condition (`when.schedule`): weekly hours per weekday in an IANA time
 * zone, closed on holidays (explicit dates and/or a country or state calendar), and `outside`
 * for "out of hours". Local time is read with `Intl.DateTimeFormat`, so daylight-saving changes
 * follow the zone's own rules; holiday calendars come from `date-holidays`.
 *
 * JSON:
 * ```json
 * { "timezone": "America/Sao_Paulo",
 *   "hours": { "mon-fri": "09:00-18:00", "sat": ["09:00-12:00"] },
 *   "holidays": ["BR-SP", "2026-12-24"],
 *   "outside": true }
 * ```
 */
import Holidays from "date-holidays";

/** Weekdays as `Date#getUTCDay` numbers them: 0 is Sunday. */
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const SCHEDULE_KEYS = new Set(["timezone", "hours", "holidays", "outside"]);
const MAX_RANGES_PER_DAY = 8;
const MAX_HOLIDAY_ENTRIES = 400;

/** A validated schedule. Ranges are minutes after local midnight, start included, end not. */
export interface Schedule {
  /** IANA zone; null: the account's zone, else the server's. */
  timeZone: string | null;
  /** Seven lists, Sunday first; a day without ranges is closed. */
  hours: Array<Array<[number, number]>>;
  /** Local dates (`YYYY-MM-DD`) closed all day. */
  holidayDates: string[];
  /** Country or country-state codes (`BR`, `BR-SP`) whose public holidays are closed. */
  holidayCalendars: string[];
  /** True: the condition holds outside opening hours (and on holidays) instead of inside. */
  outside: boolean;
}

/** Public holidays of a calendar in a year, as local dates (`YYYY-MM-DD`). */
export type HolidayCalendar = (calendar: string, year: number) => ReadonlySet<string>;

/** A message's instant read on a zone's wall clock. */
export interface LocalTime {
  date: string;
  year: number;
  /** 0 is Sunday. */
  weekday: number;
  /** Minutes after local midnight. */
  minutes: number;
}

/** Reads `instant` on the wall clock of `timeZone` (an IANA name). */
export function localTime(instant: Date, timeZone: string): LocalTime {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const year = Number(part("year"));
  return {
    date: `${part("year")}-${part("month")}-${part("day")}`,
    year,
    weekday: WEEKDAYS.indexOf(part("weekday").toLowerCase() as typeof WEEKDAYS[number]),
    minutes: Number(part("hour")) * 60 + Number(part("minute")),
  };
}

/** Whether `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The public holidays of `BR` or `BR-SP` in `year`, from `date-holidays`. */
export function publicHolidays(calendar: string, year: number): ReadonlySet<string> {
  const [country, state] = calendar.split("-");
  const found = new Holidays(country, state).getHolidays(year) || [];
  return new Set(found.filter((h) => h.type === "public").map((h) => h.date.slice(0, 10)));
}

/**
 * `publicHolidays` remembering each calendar's years: a calendar costs a few milliseconds to
 * compute, and every message that meets a schedule asks for it. Made once by the composition.
 */
export function rememberedHolidays(): HolidayCalendar {
  const known = new Map<string, ReadonlySet<string>>();
  return (calendar, year) => {
    const key = `${calendar}/${year}`;
    let dates = known.get(key);
    if (!dates) {
      dates = publicHolidays(calendar, year);
      known.set(key, dates);
    }
    return dates;
  };
}

/** Whether `BR` or `BR-SP` names a calendar `date-holidays` has. */
function isCalendar(code: string): boolean {
  const [country, state, ...rest] = code.split("-");
  if (rest.length > 0 || !/^[A-Z]{2}$/.test(country)) return false;
  const holidays = new Holidays();
  if (!holidays.getCountries()?.[country]) return false;
  return state === undefined || Boolean(holidays.getStates(country)?.[state]);
}

/**
 * Validates `when.schedule`; every problem goes to `errors` with its path (`at`). Returns null
 * when there was one.
 */
export function parseSchedule(raw: unknown, at: string, errors: string[]): Schedule | null {
  const before = errors.length;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    errors.push(`${at}: must be an object with hours (and optionally timezone, holidays, outside)`);
    return null;
  }
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!SCHEDULE_KEYS.has(key)) {
      errors.push(`${at}.${key}: unknown field (known: ${[...SCHEDULE_KEYS].join(", ")})`);
    }
  }
  let timeZone: string | null = null;
  if (r.timezone !== undefined) {
    if (typeof r.timezone !== "string" || !isTimeZone(r.timezone)) {
      errors.push(
        `${at}.timezone: ${JSON.stringify(r.timezone)} is not an IANA time zone ` +
          `(e.g. "America/Sao_Paulo")`,
      );
    } else {
      timeZone = r.timezone;
    }
  }
  const hours = parseHours(r.hours, `${at}.hours`, errors);
  const holidayDates: string[] = [];
  const holidayCalendars: string[] = [];
  if (r.holidays !== undefined) {
    const list = typeof r.holidays === "string" ? [r.holidays] : r.holidays;
    if (!Array.isArray(list) || list.length > MAX_HOLIDAY_ENTRIES) {
      errors.push(
        `${at}.holidays: must be a list of dates (YYYY-MM-DD) and calendars (BR, BR-SP), ` +
          `at most ${MAX_HOLIDAY_ENTRIES}`,
      );
    } else {
      list.forEach((entry, i) => {
        const where = `${at}.holidays[${i}]`;
        if (typeof entry === "string" && isDate(entry)) holidayDates.push(entry);
        else if (typeof entry === "string" && isCalendar(entry.toUpperCase())) {
          holidayCalendars.push(entry.toUpperCase());
        } else {
          errors.push(
            `${where}: ${JSON.stringify(entry)} is neither a date (YYYY-MM-DD) nor a known ` +
              `holiday calendar (a country, BR, or a country and state, BR-SP)`,
          );
        }
      });
    }
  }
  let outside = false;
  if (r.outside !== undefined) {
    if (typeof r.outside !== "boolean") errors.push(`${at}.outside: must be true or false`);
    else outside = r.outside;
  }
  if (errors.length > before || !hours) return null;
  return { timeZone, hours, holidayDates, holidayCalendars, outside };
}

function parseHours(
  raw: unknown,
  at: string,
  errors: string[],
): Array<Array<[number, number]>> | null {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    errors.push(`${at}: is required: an object of days ("mon-fri", "sat") to "09:00-18:00"`);
    return null;
  }
  const hours: Array<Array<[number, number]>> = WEEKDAYS.map(() => []);
  let ok = true;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const days = dayList(key);
    if (!days) {
      errors.push(`${at}.${key}: not a day or a range of days (mon … sun, e.g. "mon-fri")`);
      ok = false;
      continue;
    }
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || list.length > MAX_RANGES_PER_DAY) {
      errors.push(
        `${at}.${key}: must be a time range "09:00-18:00" or a list of at most ` +
          `${MAX_RANGES_PER_DAY}`,
      );
      ok = false;
      continue;
    }
    for (const item of list) {
      const range = typeof item === "string" ? timeRange(item) : null;
      if (!range) {
        errors.push(
          `${at}.${key}: ${JSON.stringify(item)} is not a range "HH:MM-HH:MM" that ends after ` +
            `it starts, within one day (split a night shift at midnight: "22:00-24:00", ` +
            `"00:00-06:00")`,
        );
        ok = false;
        continue;
      }
      for (const d of days) hours[d].push(range);
    }
  }
  return ok ? hours.map((ranges) => ranges.sort((a, b) => a[0] - b[0])) : null;
}

function dayList(key: string): number[] | null {
  const [first, last, ...rest] = key.trim().toLowerCase().split("-");
  const a = WEEKDAYS.indexOf(first as typeof WEEKDAYS[number]);
  if (rest.length > 0 || a < 0) return null;
  if (last === undefined) return [a];
  const b = WEEKDAYS.indexOf(last as typeof WEEKDAYS[number]);
  if (b < 0) return null;
  // "fri-mon" wraps over the weekend.
  const days: number[] = [];
  for (let d = a;; d = (d + 1) % 7) {
    days.push(d);
    if (d === b) return days;
  }
}

function timeRange(text: string): [number, number] | null {
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(text);
  if (!m) return null;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  if (Number(m[2]) > 59 || Number(m[4]) > 59 || start >= end || end > 24 * 60) return null;
  return [start, end];
}

function isDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** The schedule as the JSON file writes it (days with the same hours are listed one by one). */
export function exportSchedule(s: Schedule): Record<string, unknown> {
  const hours: Record<string, string[]> = {};
  s.hours.forEach((ranges, d) => {
    if (ranges.length > 0) hours[WEEKDAYS[d]] = ranges.map(([a, b]) => `${hhmm(a)}-${hhmm(b)}`);
  });
  const out: Record<string, unknown> = {};
  if (s.timeZone !== null) out.timezone = s.timeZone;
  out.hours = hours;
  const holidays = [...s.holidayCalendars, ...s.holidayDates];
  if (holidays.length > 0) out.holidays = holidays;
  if (s.outside) out.outside = true;
  return out;
}

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${
    String(minutes % 60).padStart(2, "0")
  }`;
}

/**
 * Whether the schedule's condition holds at `instant`: inside opening hours on a day that is
 * not a holiday, or — with `outside` — the opposite. `why` says which, in the zone's own time.
 */
export function scheduleHolds(
  s: Schedule,
  instant: Date,
  defaultZone: string,
  holidays: HolidayCalendar,
): { hit: boolean; why: string } {
  const zone = s.timeZone ?? defaultZone;
  const t = localTime(instant, zone);
  const when = `${WEEKDAYS[t.weekday]} ${t.date} ${hhmm(t.minutes)} ${zone}`;
  const holiday = s.holidayDates.includes(t.date)
    ? t.date
    : s.holidayCalendars.find((c) => holidays(c, t.year).has(t.date));
  const open = !holiday && s.hours[t.weekday].some(([a, b]) => t.minutes >= a && t.minutes < b);
  const state = holiday
    ? `a holiday (${holiday === t.date ? "listed" : holiday})`
    : open
    ? "within opening hours"
    : "outside opening hours";
  const hit = s.outside ? !open : open;
  return { hit, why: `${when} is ${state}` };
}

/**
 * Whether a rule's active period (`active_from` / `active_until`, local dates, both included)
 * holds at `instant` in `zone`: the day after `active_until`, the rule no longer answers.
 */
export function activeOn(
  period: { from: string | null; until: string | null },
  instant: Date,
  zone: string,
): { hit: boolean; why: string } {
  const today = localTime(instant, zone).date;
  if (period.from !== null && today < period.from) {
    return { hit: false, why: `not active before ${period.from} (today is ${today}, ${zone})` };
  }
  if (period.until !== null && today > period.until) {
    return { hit: false, why: `ended on ${period.until} (today is ${today}, ${zone})` };
  }
  return { hit: true, why: "within its active period" };
}

/** Validates a rule's `active_from` / `active_until` value: a date `YYYY-MM-DD`. */
export function parseActiveDate(raw: unknown, at: string, errors: string[]): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "string" || !isDate(raw)) {
    errors.push(`${at}: must be a date YYYY-MM-DD, got ${JSON.stringify(raw)}`);
    return null;
  }
  return raw;
}
