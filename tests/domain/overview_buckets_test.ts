import assert from "node:assert/strict";
import {
  dailyBuckets,
  hourlyBuckets,
  overviewWindows,
  periodCounts,
} from "../../src/domain/overview_buckets.ts";

const H = 3_600_000;
const hourOf = (iso: string) => Math.floor(new Date(iso).getTime() / H);

Deno.test("windows are whole UTC days and hours, counting today", () => {
  const w = overviewWindows(new Date("2026-03-10T00:00:00Z"));
  assert.equal(w.today.toISOString(), "2026-03-10T00:00:00.000Z");
  assert.equal(w.week.toISOString(), "2026-03-04T00:00:00.000Z");
  assert.equal(w.month.toISOString(), "2026-02-09T00:00:00.000Z");
  assert.equal(w.hours.toISOString(), "2026-03-08T01:00:00.000Z");
});

Deno.test("hourly counts sum into periods and buckets; earlier hours are left out", () => {
  const w = overviewWindows(new Date("2026-03-10T12:34:00Z"));
  const rows = [
    { hour: hourOf("2026-03-10T00:00:00Z"), n: 2 }, // first hour of today
    { hour: hourOf("2026-03-09T23:00:00Z"), n: 3 }, // last hour of yesterday
    { hour: hourOf("2026-03-04T00:00:00Z"), n: 5 }, // first hour of the 7 days
    { hour: hourOf("2026-03-03T23:00:00Z"), n: 7 }, // just before them
    { hour: hourOf("2026-02-08T23:00:00Z"), n: 11 }, // before the 30 days
  ];
  assert.deepEqual(periodCounts(rows, w), { today: 2, days7: 10, days30: 17 });
  const hourly = hourlyBuckets(rows, w);
  assert.equal(hourly.length, 48);
  assert.equal(hourly[0].start.toISOString(), "2026-03-08T13:00:00.000Z");
  assert.equal(hourly[47].start.toISOString(), "2026-03-10T12:00:00.000Z");
  assert.equal(hourly.reduce((a, b) => a + b.n, 0), 5);
  assert.equal(hourly[35].n, 2);
  const daily = dailyBuckets(rows, w);
  assert.equal(daily.length, 30);
  assert.deepEqual(daily.map((b) => b.n).filter((n) => n > 0), [7, 5, 3, 2]);
});
