import assert from "node:assert/strict";
import {
  activeOn,
  localTime,
  parseSchedule,
  publicHolidays,
  rememberedHolidays,
  type Schedule,
  scheduleHolds,
} from "../../src/domain/schedule.ts";
import { exportRules, parseRules, type Rule, type RuleContext } from "../../src/domain/rules.ts";
import { decideRule } from "../../src/domain/rule_match.ts";
import { buildEmail } from "../support/email_draft.ts";

function schedule(raw: unknown): Schedule {
  const errors: string[] = [];
  const s = parseSchedule(raw, "when.schedule", errors);
  assert.deepEqual(errors, []);
  assert.ok(s);
  return s;
}

const office = (zone: string, extra: Record<string, unknown> = {}) =>
  schedule({ timezone: zone, hours: { "mon-fri": "09:00-18:00" }, ...extra });
const at = (iso: string) => new Date(iso);
const holds = (s: Schedule, iso: string) => scheduleHolds(s, at(iso), "UTC", publicHolidays).hit;

Deno.test("local time follows the zone's daylight-saving changes", () => {
  // New York: EST (UTC-5) until 2026-03-08 02:00, then EDT (UTC-4); back on 2026-11-01.
  assert.equal(localTime(at("2026-03-07T14:00:00Z"), "America/New_York").minutes, 9 * 60);
  assert.equal(localTime(at("2026-03-09T13:00:00Z"), "America/New_York").minutes, 9 * 60);
  assert.equal(localTime(at("2026-11-02T14:00:00Z"), "America/New_York").minutes, 9 * 60);
  // Lisbon: WET (UTC+0) until 2026-03-29 01:00 UTC, then WEST (UTC+1) until 2026-10-25.
  assert.equal(localTime(at("2026-03-27T09:00:00Z"), "Europe/Lisbon").minutes, 9 * 60);
  assert.equal(localTime(at("2026-03-30T08:00:00Z"), "Europe/Lisbon").minutes, 9 * 60);
  assert.equal(localTime(at("2026-10-26T09:00:00Z"), "Europe/Lisbon").minutes, 9 * 60);
  // São Paulo has kept UTC-3 all year since 2019.
  assert.equal(localTime(at("2026-01-15T12:00:00Z"), "America/Sao_Paulo").minutes, 9 * 60);
  assert.equal(localTime(at("2026-07-15T12:00:00Z"), "America/Sao_Paulo").minutes, 9 * 60);
});

Deno.test("opening hours hold at 09:00 local on both sides of a DST change, not at 08:59", () => {
  const ny = office("America/New_York");
  assert.equal(holds(ny, "2026-03-06T14:00:00Z"), true, "Friday 09:00 EST");
  assert.equal(holds(ny, "2026-03-06T13:59:00Z"), false, "Friday 08:59 EST");
  assert.equal(holds(ny, "2026-03-09T13:00:00Z"), true, "Monday 09:00 EDT");
  assert.equal(holds(ny, "2026-03-09T12:59:00Z"), false, "Monday 08:59 EDT");
  assert.equal(holds(ny, "2026-03-09T21:59:00Z"), true, "Monday 17:59 EDT");
  assert.equal(holds(ny, "2026-03-09T22:00:00Z"), false, "Monday 18:00 EDT: the end is excluded");
  const lisbon = office("Europe/Lisbon");
  assert.equal(holds(lisbon, "2026-10-23T16:30:00Z"), true, "Friday 17:30 WEST");
  assert.equal(holds(lisbon, "2026-10-23T17:30:00Z"), false, "Friday 18:30 WEST");
  assert.equal(holds(lisbon, "2026-10-26T17:30:00Z"), true, "Monday 17:30 WET");
  assert.equal(holds(lisbon, "2026-10-26T18:00:00Z"), false, "Monday 18:00 WET");
});

Deno.test("midnight and week boundaries are read on the zone's clock", () => {
  const sp = office("America/Sao_Paulo");
  // Friday 23:59 in São Paulo is Saturday 02:59 UTC: the zone's day counts, not UTC's.
  const night = schedule({ timezone: "America/Sao_Paulo", hours: { fri: "22:00-24:00" } });
  assert.equal(holds(night, "2026-12-05T02:59:00Z"), true, "Friday 23:59 local");
  assert.equal(holds(night, "2026-12-05T03:00:00Z"), false, "Saturday 00:00 local");
  assert.equal(holds(sp, "2026-12-07T11:59:00Z"), false, "Monday 08:59 local");
  assert.equal(holds(sp, "2026-12-07T12:00:00Z"), true, "Monday 09:00 local");
  assert.equal(holds(sp, "2026-12-06T15:00:00Z"), false, "Sunday is closed");
  const weekend = schedule({ timezone: "UTC", hours: { "fri-mon": "10:00-11:00" } });
  assert.equal(holds(weekend, "2026-12-06T10:30:00Z"), true, "fri-mon wraps over Sunday");
  assert.equal(holds(weekend, "2026-12-08T10:30:00Z"), false, "Tuesday is not in fri-mon");
});

Deno.test("outside: true holds out of hours, at weekends and on holidays", () => {
  const closed = office("America/Sao_Paulo", { outside: true, holidays: ["BR-SP", "2026-12-24"] });
  assert.equal(holds(closed, "2026-12-07T12:00:00Z"), false, "Monday 09:00 is open");
  assert.equal(holds(closed, "2026-12-07T23:00:00Z"), true, "Monday 20:00 is closed");
  assert.equal(holds(closed, "2026-12-24T15:00:00Z"), true, "a listed date");
  assert.equal(holds(closed, "2026-12-25T15:00:00Z"), true, "Christmas, a national holiday");
  assert.equal(holds(closed, "2026-07-09T15:00:00Z"), true, "9 July, a São Paulo state holiday");
  const why = scheduleHolds(closed, at("2026-07-09T15:00:00Z"), "UTC", publicHolidays).why;
  assert.match(why, /thu 2026-07-09 12:00 America\/Sao_Paulo is a holiday \(BR-SP\)/);
  const rio = office("America/Sao_Paulo", { outside: true, holidays: ["BR-RJ"] });
  assert.equal(holds(rio, "2026-07-09T15:00:00Z"), false, "9 July is a working day in Rio");
});

Deno.test("holiday calendars come from date-holidays and are computed once per year", () => {
  const br = publicHolidays("BR", 2026);
  assert.ok(br.has("2026-01-01") && br.has("2026-04-21") && br.has("2026-11-15"));
  assert.ok(!br.has("2026-07-09"));
  let calls = 0;
  const remembered = rememberedHolidays();
  const counting = (c: string, y: number) => {
    calls++;
    return remembered(c, y);
  };
  const s = office("America/Sao_Paulo", { holidays: ["BR"] });
  for (const day of ["2026-12-07", "2026-12-08", "2026-12-09"]) {
    scheduleHolds(s, at(`${day}T15:00:00Z`), "UTC", counting);
  }
  assert.equal(calls, 3);
  assert.equal(remembered("BR", 2026), remembered("BR", 2026), "the same set, not a new one");
});

Deno.test("a schedule without a zone uses the context's zone", () => {
  const s = schedule({ hours: { "mon-fri": "09:00-18:00" } });
  const monday9sp = at("2026-12-07T12:00:00Z");
  assert.equal(scheduleHolds(s, monday9sp, "America/Sao_Paulo", publicHolidays).hit, true);
  assert.equal(scheduleHolds(s, monday9sp, "Asia/Tokyo", publicHolidays).hit, false);
});

Deno.test("every problem in a schedule is reported with its path", () => {
  const errors: string[] = [];
  const s = parseSchedule(
    {
      timezone: "America/Sao_Paolo",
      hours: { "mon-fry": "09:00-18:00", sat: ["18:00-09:00", "9-12"], sun: 5 },
      holidays: ["XX-YY", "2026-02-30", 7],
      outside: "yes",
      extra: 1,
    },
    'rule 1 "x": when.schedule',
    errors,
  );
  assert.equal(s, null);
  const paths = errors.map((e) => e.slice(0, e.indexOf(":", e.indexOf("when.schedule"))));
  assert.deepEqual(paths, [
    'rule 1 "x": when.schedule.extra',
    'rule 1 "x": when.schedule.timezone',
    'rule 1 "x": when.schedule.hours.mon-fry',
    'rule 1 "x": when.schedule.hours.sat',
    'rule 1 "x": when.schedule.hours.sat',
    'rule 1 "x": when.schedule.hours.sun',
    'rule 1 "x": when.schedule.holidays[0]',
    'rule 1 "x": when.schedule.holidays[1]',
    'rule 1 "x": when.schedule.holidays[2]',
    'rule 1 "x": when.schedule.outside',
  ]);
  assert.match(errors.join("\n"), /split a night shift at midnight/);
  const missing: string[] = [];
  assert.equal(parseSchedule({ timezone: "UTC" }, "when.schedule", missing), null);
  assert.match(missing[0], /^when\.schedule\.hours: is required/);
});

Deno.test("an active period ends after its last day, in the rule's zone", () => {
  const period = { from: "2026-12-20", until: "2027-01-05" };
  const zone = "America/Sao_Paulo";
  assert.equal(activeOn(period, at("2026-12-20T03:00:00Z"), zone).hit, true, "first day 00:00");
  assert.equal(activeOn(period, at("2026-12-20T02:59:00Z"), zone).hit, false, "the day before");
  assert.equal(activeOn(period, at("2027-01-06T02:59:00Z"), zone).hit, true, "last day 23:59");
  const after = activeOn(period, at("2027-01-06T03:00:00Z"), zone);
  assert.equal(after.hit, false, "the day after active_until");
  assert.equal(after.why, "ended on 2027-01-05 (today is 2027-01-06, America/Sao_Paulo)");
});

function context(iso: string): RuleContext {
  return {
    email: buildEmail({}, { from: [{ name: "Ana", address: "ana@cliente.test" }] }),
    classification: { kind: "direct", original: null, confidence: 1, evidence: [] },
    account: { name: "suporte", addresses: ["suporte@empresa.test"] },
    at: at(iso),
    timeZone: "America/Sao_Paulo",
  };
}

Deno.test("rules: the out-of-hours rule answers at night, the other by day; a vacation ends", () => {
  const parsed = parseRules([
    {
      name: "fora do horário",
      priority: 10,
      when: { schedule: { hours: { "mon-fri": "09:00-18:00" }, holidays: "BR", outside: true } },
      reply: { to: "sender", text: "Estamos fechados; respondemos no próximo dia útil." },
    },
    {
      name: "férias",
      priority: 5,
      active_from: "2026-12-20",
      active_until: "2027-01-05",
      reply: { to: "sender", text: "Em férias." },
    },
    { name: "geral", reply: { to: "sender", text: "Recebido." } },
  ]);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const rules: Rule[] = parsed.rules;
  const winner = (iso: string) => decideRule(rules, context(iso)).matched?.name;
  assert.equal(winner("2026-12-07T23:00:00Z"), "fora do horário", "Monday 20:00");
  assert.equal(winner("2026-12-07T15:00:00Z"), "geral", "Monday 12:00");
  assert.equal(winner("2026-12-22T15:00:00Z"), "férias", "Tuesday 12:00 on vacation");
  assert.equal(winner("2027-01-06T15:00:00Z"), "geral", "the day after active_until");
  const trail = decideRule(rules, context("2027-01-06T15:00:00Z")).trail;
  assert.match(trail[1].why, /ended on 2027-01-05/);
  assert.deepEqual(parseRules(exportRules(rules)), parsed, "export and import round-trip");
  const exported = exportRules(rules);
  assert.deepEqual(exported[1].active_until, "2027-01-05");
  assert.deepEqual((exported[0].when as Record<string, unknown>).schedule, {
    hours: {
      mon: ["09:00-18:00"],
      tue: ["09:00-18:00"],
      wed: ["09:00-18:00"],
      thu: ["09:00-18:00"],
      fri: ["09:00-18:00"],
    },
    holidays: ["BR"],
    outside: true,
  });
});

Deno.test("rules: a schedule without an arrival time misses, and says why", () => {
  const parsed = parseRules([{
    name: "fora",
    when: { schedule: { hours: { mon: "09:00-10:00" } } },
    reply: { to: "sender", text: "x" },
  }]);
  assert.ok(parsed.ok);
  const { at: _omitted, ...noTime } = context("2026-12-07T12:00:00Z");
  const decision = decideRule(parsed.rules, noTime);
  assert.equal(decision.matched, null);
  assert.match(decision.trail[0].why, /no arrival time/);
  const bad = parseRules([{
    name: "x",
    active_from: "2026-12-10",
    active_until: "2026-12-01",
    reply: { to: "sender", text: "x" },
  }]);
  assert.equal(bad.ok, false);
  assert.match(JSON.stringify(bad), /active_until: 2026-12-01 is before active_from 2026-12-10/);
});
