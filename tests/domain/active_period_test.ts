import assert from "node:assert/strict";
import { activePeriodState } from "../../src/domain/active_period.ts";

const SP = "America/Sao_Paulo";

Deno.test("a rule without a period is always active", () => {
  assert.deepEqual(activePeriodState({}, new Date("2026-07-01T12:00:00Z"), SP), {
    kind: "always",
  });
});

Deno.test("before, during and after a vacation rule's period, on the zone's calendar", () => {
  const period = { from: "2026-07-10", until: "2026-07-20" };
  assert.deepEqual(activePeriodState(period, new Date("2026-07-07T15:00:00Z"), SP), {
    kind: "starts",
    on: "2026-07-10",
    inDays: 3,
  });
  // 02:00 UTC on the 10th is still the 9th in São Paulo (UTC−3).
  assert.equal(activePeriodState(period, new Date("2026-07-10T02:00:00Z"), SP).kind, "starts");
  assert.deepEqual(activePeriodState(period, new Date("2026-07-17T15:00:00Z"), SP), {
    kind: "active",
    until: "2026-07-20",
    endsInDays: 4,
  });
  // The last day: it ends today (in 1 day it no longer answers).
  assert.deepEqual(activePeriodState(period, new Date("2026-07-21T02:59:00Z"), SP), {
    kind: "active",
    until: "2026-07-20",
    endsInDays: 1,
  });
  assert.deepEqual(activePeriodState(period, new Date("2026-07-21T03:00:00Z"), SP), {
    kind: "expired",
    on: "2026-07-20",
  });
});

Deno.test("an open-ended period: active with no end once started", () => {
  assert.deepEqual(
    activePeriodState({ from: "2026-01-01" }, new Date("2026-07-01T12:00:00Z"), "UTC"),
    { kind: "active", until: null, endsInDays: null },
  );
  assert.deepEqual(
    activePeriodState({ until: "2026-03-31" }, new Date("2026-03-29T12:00:00Z"), "UTC"),
    { kind: "active", until: "2026-03-31", endsInDays: 3 },
  );
});
