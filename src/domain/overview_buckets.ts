/**
 * The periods and chart buckets of the overview page, in UTC: today, the last 7 and 30 days
 * (calendar days ending today), the last 48 hours and the last 30 days. Counts arrive per UTC
 * hour (hours since the Unix epoch) and are summed here, so one query serves every block.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Hours charted, and days charted (the 30-day period is the same days). */
export const CHART_HOURS = 48;
export const CHART_DAYS = 30;

/** Where each period and chart starts, as of `now`. */
export interface OverviewWindows {
  /** 00:00 UTC today. */
  today: Date;
  /** 00:00 UTC six days ago: the last 7 calendar days, today included. */
  week: Date;
  /** 00:00 UTC 29 days ago: the last 30 calendar days; also the start of the daily chart. */
  month: Date;
  /** The start of the hour 47 hours before the current one: the hourly chart. */
  hours: Date;
}

/** The windows of `now`; `month` is the earliest, the lower bound of every query. */
export function overviewWindows(now: Date): OverviewWindows {
  const day = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const hour = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  return {
    today: new Date(day),
    week: new Date(day - 6 * DAY_MS),
    month: new Date(day - (CHART_DAYS - 1) * DAY_MS),
    hours: new Date(hour - (CHART_HOURS - 1) * HOUR_MS),
  };
}

/** A count in one UTC hour (`hour`: whole hours since 1970-01-01T00:00Z). */
export interface HourCount {
  hour: number;
  n: number;
}

/** Counts since the start of today, of the last 7 days and of the last 30 days. */
export interface PeriodCounts {
  today: number;
  days7: number;
  days30: number;
}

/** Sums hourly counts into the three periods (hours before the 30 days are left out). */
export function periodCounts(rows: readonly HourCount[], w: OverviewWindows): PeriodCounts {
  const out = { today: 0, days7: 0, days30: 0 };
  for (const r of rows) {
    const at = r.hour * HOUR_MS;
    if (at >= w.today.getTime()) out.today += r.n;
    if (at >= w.week.getTime()) out.days7 += r.n;
    if (at >= w.month.getTime()) out.days30 += r.n;
  }
  return out;
}

/** One bar of a chart: where it starts and its count. */
export interface Bucket {
  start: Date;
  n: number;
}

/** The last 48 hours, oldest first, every hour present (0 where nothing happened). */
export function hourlyBuckets(rows: readonly HourCount[], w: OverviewWindows): Bucket[] {
  return buckets(rows, w.hours.getTime(), HOUR_MS, CHART_HOURS);
}

/** The last 30 days, oldest first, every day present. */
export function dailyBuckets(rows: readonly HourCount[], w: OverviewWindows): Bucket[] {
  return buckets(rows, w.month.getTime(), DAY_MS, CHART_DAYS);
}

function buckets(rows: readonly HourCount[], start: number, size: number, count: number) {
  const out = Array.from(
    { length: count },
    (_, i) => ({ start: new Date(start + i * size), n: 0 }),
  );
  for (const r of rows) {
    const i = Math.floor((r.hour * HOUR_MS - start) / size);
    if (i >= 0 && i < count) out[i].n += r.n;
  }
  return out;
}
