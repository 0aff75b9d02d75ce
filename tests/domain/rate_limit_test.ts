import assert from "node:assert/strict";
import {
  breakerOpenUntil,
  type BreakerState,
  countRequests,
  decideRate,
  DEFAULT_RATE_LIMIT_POLICY,
  exportRateLimitOverrides,
  isBreakerOpen,
  parseRateLimitOverrides,
  parseRateLimitPolicy,
  type RateCounts,
  type RateDecision,
  type RateLimitPolicy,
  recipientKey,
  resolveRateLimitPolicy,
  WINDOW_LIMITS,
} from "../../src/domain/rate_limit.ts";

const NOW = new Date("2026-03-01T12:00:00Z");
const CLOSED: BreakerState = { recipientTrippedAt: null, accountTrippedAt: null };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function counts(
  policy: RateLimitPolicy,
  values: Partial<Record<"rule_recipient" | "recipient" | "account", number>> = {},
): Record<string, number> {
  return Object.fromEntries(countRequests(policy).map((r) => [r.key, values[r.scope] ?? 0]));
}

Deno.test("defaults: a 7-day window, four breakers, closed again after an hour", () => {
  assert.equal(DEFAULT_RATE_LIMIT_POLICY.windowSeconds, 7 * 86_400);
  assert.equal(DEFAULT_RATE_LIMIT_POLICY.coolDownSeconds, 3_600);
  assert.deepEqual(countRequests(DEFAULT_RATE_LIMIT_POLICY), [
    { key: "rule_recipient:604800", scope: "rule_recipient", withinSeconds: 604_800 },
    { key: "recipient:3600", scope: "recipient", withinSeconds: 3_600 },
    { key: "recipient:86400", scope: "recipient", withinSeconds: 86_400 },
    { key: "account:600", scope: "account", withinSeconds: 600 },
    { key: "account:3600", scope: "account", withinSeconds: 3_600 },
  ]);
});

Deno.test("allow when nothing was sent; rate_limited after one reply in the window", () => {
  const p = DEFAULT_RATE_LIMIT_POLICY;
  assert.deepEqual(decideRate(p, counts(p), CLOSED, NOW), { action: "allow" });
  const again = decideRate(p, counts(p, { rule_recipient: 1 }), CLOSED, NOW);
  assert.equal(again.action, "suppress");
  assert.equal(again.action === "suppress" && again.reason, "rate_limited");
  assert.match((again as { detail: string }).detail, /1 reply .* last 7 days/);
});

Deno.test("each breaker threshold trips its own scope and records why (C-05)", () => {
  const p = DEFAULT_RATE_LIMIT_POLICY;
  const recipient = decideRate(p, counts(p, { recipient: 5 }), CLOSED, NOW);
  assert.deepEqual(
    { action: recipient.action, scope: (recipient as { scope: string }).scope },
    { action: "trip", scope: "recipient" },
  );
  const burst = decideRate(p, { ...counts(p), "account:600": 120 }, CLOSED, NOW);
  assert.equal(burst.action, "trip");
  if (burst.action === "trip") {
    assert.equal(burst.reason, "loop_suspected");
    assert.deepEqual(burst.threshold, { scope: "account", max: 120, withinSeconds: 600 });
    assert.match(burst.detail, /120 replies from this account in the last 10 min \(limit 120\)/);
  }
  const hourly = decideRate(p, { ...counts(p), "account:3600": 600 }, CLOSED, NOW);
  assert.equal(hourly.action === "trip" && hourly.threshold.max, 600);
  // Below every threshold: allowed.
  const below = decideRate(p, { ...counts(p, { recipient: 4 }), "account:600": 119 }, CLOSED, NOW);
  const daily = decideRate(
    p,
    { ...counts(p, { recipient: 4 }), "recipient:86400": 10 },
    CLOSED,
    NOW,
  );
  assert.equal(daily.action === "trip" && daily.threshold.withinSeconds, 86_400);
  assert.deepEqual(below, { action: "allow" });
});

Deno.test("an open breaker suppresses (loop_suspected) until reset or cooled down", () => {
  const p: RateLimitPolicy = { ...DEFAULT_RATE_LIMIT_POLICY, coolDownSeconds: null };
  const tripped = new Date(NOW.getTime() - 30 * DAY);
  const open = decideRate(p, counts(p), { ...CLOSED, recipientTrippedAt: tripped }, NOW);
  assert.equal(open.action === "suppress" && open.reason, "loop_suspected");
  assert.equal((open as { scope: string }).scope, "recipient");
  const account = decideRate(p, counts(p), { ...CLOSED, accountTrippedAt: tripped }, NOW);
  assert.equal((account as { scope: string }).scope, "account");

  const coolDown: RateLimitPolicy = { ...p, coolDownSeconds: 3_600 };
  const recent = new Date(NOW.getTime() - HOUR + 1);
  assert.equal(isBreakerOpen(recent, NOW, coolDown), true);
  assert.equal(isBreakerOpen(new Date(NOW.getTime() - HOUR), NOW, coolDown), false);
  assert.equal(isBreakerOpen(null, NOW, p), false);
  assert.deepEqual(
    decideRate(coolDown, counts(coolDown), { ...CLOSED, recipientTrippedAt: tripped }, NOW),
    { action: "allow" },
  );
});

Deno.test("a missing or broken count fails closed with an error, never an allow", () => {
  const p = DEFAULT_RATE_LIMIT_POLICY;
  const partial: RateCounts = { "rule_recipient:604800": 0 };
  assert.throws(() => decideRate(p, partial, CLOSED, NOW), RangeError);
  assert.throws(() => decideRate(p, { ...counts(p), "account:600": -1 }, CLOSED, NOW), RangeError);
  assert.throws(() => decideRate(p, { ...counts(p), "account:600": NaN }, CLOSED, NOW), RangeError);
});

Deno.test("recipients are counted case-folded: A@X.TEST and a@x.test are one sender (C-01)", () => {
  assert.equal(recipientKey(" A@X.TEST "), recipientKey("a@x.test"));
});

Deno.test("a 24 h rogue responder ping-pong stays bounded (A-10, C-01)", () => {
  // A fake store: the replies reserved so far, counted exactly as the SQL would.
  const policy = DEFAULT_RATE_LIMIT_POLICY;
  const sent: Array<{ at: number; rule: string; to: string }> = [];
  let recipientTrip: Date | null = null;
  const countFor = (rule: string, to: string, now: number): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const r of countRequests(policy)) {
      const since = now - r.withinSeconds * 1000;
      out[r.key] = sent.filter((s) =>
        s.at >= since &&
        (r.scope === "account" || s.to === to) &&
        (r.scope !== "rule_recipient" || s.rule === rule)
      ).length;
    }
    return out;
  };
  // The rogue answers every minute; each answer matches one of eight different rules (the
  // worst case for a per-rule window), so only the breaker bounds the total.
  const start = NOW.getTime();
  const decisions: RateDecision[] = [];
  for (let minute = 0; minute < 24 * 60; minute++) {
    const now = start + minute * 60_000;
    const rule = `rule-${minute % 8}`;
    const to = recipientKey("Rogue@Responder.TEST");
    const d = decideRate(policy, countFor(rule, to, now), {
      recipientTrippedAt: recipientTrip,
      accountTrippedAt: null,
    }, new Date(now));
    decisions.push(d);
    if (d.action === "allow") sent.push({ at: now, rule, to });
    if (d.action === "trip" && d.scope === "recipient") recipientTrip = new Date(now);
  }
  // 5 replies, then the recipient breaker trips; an hour later it closes and the three rules
  // not yet used answer once each; after that each rule's 7-day window holds: 8 in 24 hours.
  assert.deepEqual(sent.map((s) => (s.at - start) / 60_000), [0, 1, 2, 3, 4, 69, 70, 71]);
  assert.equal(decisions.filter((d) => d.action === "trip").length, 1);
  assert.ok(
    decisions.slice(-10).every((d) => d.action === "suppress" && d.reason === "rate_limited"),
  );
});

Deno.test("one reply per window per rule and recipient; another after the window (C-01)", () => {
  const policy = DEFAULT_RATE_LIMIT_POLICY;
  const sentAt: number[] = [];
  const decide = (at: number) => {
    const since = at - policy.windowSeconds * 1000;
    // Inclusive bounds, as CountRequest documents for the SQL.
    const inWindow = sentAt.filter((t) => t >= since).length;
    const recent = sentAt.filter((t) => t >= at - HOUR).length;
    const d = decideRate(
      policy,
      {
        ...counts(policy, { rule_recipient: inWindow, recipient: recent, account: recent }),
      },
      CLOSED,
      new Date(at),
    );
    if (d.action === "allow") sentAt.push(at);
    return d.action;
  };
  const t0 = NOW.getTime();
  assert.deepEqual([decide(t0), decide(t0 + 20 * 60_000), decide(t0 + 50 * 60_000)], [
    "allow",
    "suppress",
    "suppress",
  ]);
  assert.equal(decide(t0 + 7 * DAY), "suppress", "exactly 7 days later is still inside");
  assert.equal(decide(t0 + 7 * DAY + 1_000), "allow", "7 days + 1 s opens the window again");
});

Deno.test("policy validation: 0 and non-numbers refused; windows clamped (C-02)", () => {
  for (const bad of [0, -5, "7d", 1.5, null]) {
    const r = parseRateLimitPolicy({ window_seconds: bad });
    assert.equal(r.ok, false, JSON.stringify(bad));
    if (!r.ok) assert.match(r.errors[0], /^window_seconds: must be a whole number/);
  }
  const low = parseRateLimitPolicy({ window_seconds: 60 });
  assert.ok(low.ok);
  assert.equal(low.policy.windowSeconds, WINDOW_LIMITS.minSeconds);
  assert.match(low.notes[0], /below the minimum/);
  const high = parseRateLimitPolicy({ window_seconds: 365 * 86_400 });
  assert.ok(high.ok);
  assert.equal(high.policy.windowSeconds, 60 * 86_400);
  const defaults = parseRateLimitPolicy({});
  assert.ok(defaults.ok);
  assert.deepEqual(defaults.policy, {
    ...DEFAULT_RATE_LIMIT_POLICY,
    breakers: [...DEFAULT_RATE_LIMIT_POLICY.breakers],
  });
  const custom = parseRateLimitPolicy({
    breakers: [{ scope: "recipient", max: 11, within_seconds: 600 }],
    cool_down_seconds: 7_200,
  });
  assert.ok(custom.ok);
  assert.deepEqual(custom.policy.breakers, [{ scope: "recipient", max: 11, withinSeconds: 600 }]);
  assert.equal(custom.policy.coolDownSeconds, 7_200);
  const broken = parseRateLimitPolicy({
    breakers: [{ scope: "thread", max: 0, within_seconds: 999_999, every: 1 }],
    extra: true,
  });
  assert.equal(broken.ok, false);
  if (!broken.ok) {
    assert.deepEqual(broken.errors, [
      "extra: unknown setting (known: window_seconds, breakers, cool_down_seconds)",
      "breakers[0].every: unknown field (known: scope, max, within_seconds)",
      'breakers[0].scope: must be "recipient" or "account"',
      "breakers[0].max: must be a whole number above 0",
      "breakers[0].within_seconds: must be a whole number of seconds from 1 to 86400",
    ]);
  }
  assert.equal(parseRateLimitPolicy({ breakers: [] }).ok, false, "breakers cannot be removed");
  assert.equal(parseRateLimitPolicy({ cool_down_seconds: 0 }).ok, false);
  const never = parseRateLimitPolicy({ cool_down_seconds: null });
  assert.equal(never.ok && never.policy.coolDownSeconds, null);
});

Deno.test("overrides: errors carry the caller's path; a rule's settings beat the account's", () => {
  const bad = parseRateLimitOverrides({ breakers: [{ scope: "account", max: "9" }] }, "limits");
  assert.deepEqual(bad.ok ? [] : bad.errors, [
    "limits.breakers[0].max: must be a whole number above 0",
    "limits.breakers[0].within_seconds: must be a whole number of seconds from 1 to 86400",
  ]);
  assert.deepEqual(parseRateLimitOverrides([], "limits"), {
    ok: false,
    errors: ["limits: must be an object"],
  });
  const account = parseRateLimitOverrides({ window_seconds: 2 * 86_400, cool_down_seconds: null });
  const rule = parseRateLimitOverrides({ cool_down_seconds: 60 }, "limits");
  assert.ok(account.ok && rule.ok);
  const policy = resolveRateLimitPolicy(
    DEFAULT_RATE_LIMIT_POLICY,
    account.overrides,
    rule.overrides,
  );
  assert.deepEqual(policy, {
    windowSeconds: 2 * 86_400,
    breakers: [...DEFAULT_RATE_LIMIT_POLICY.breakers],
    coolDownSeconds: 60,
  });
  // No rule settings: the account's null (reset by a person) stands.
  assert.equal(
    resolveRateLimitPolicy(DEFAULT_RATE_LIMIT_POLICY, account.overrides, null).coolDownSeconds,
    null,
  );
  // The JSON form reads back the same.
  const json = exportRateLimitOverrides({
    windowSeconds: 86_400,
    breakers: [{ scope: "recipient", max: 2, withinSeconds: 60 }],
    coolDownSeconds: null,
  });
  assert.deepEqual(json, {
    window_seconds: 86_400,
    breakers: [{ scope: "recipient", max: 2, within_seconds: 60 }],
    cool_down_seconds: null,
  });
  const back = parseRateLimitOverrides(json);
  assert.ok(back.ok);
  assert.deepEqual(exportRateLimitOverrides(back.overrides), json);
});

Deno.test("a stored open-until decides over the policy's cool-down; a trip says when it closes", () => {
  const p = DEFAULT_RATE_LIMIT_POLICY;
  const tripped = new Date(NOW.getTime() - 10 * 60_000);
  // Tripped under a 5-minute cool-down: closed now, whatever this policy's hour says.
  const closed = decideRate(p, counts(p), {
    ...CLOSED,
    recipientTrippedAt: tripped,
    recipientOpenUntil: new Date(tripped.getTime() + 5 * 60_000),
  }, NOW);
  assert.deepEqual(closed, { action: "allow" });
  // Tripped with no cool-down: open a month later.
  const held = decideRate(p, counts(p), {
    ...CLOSED,
    accountTrippedAt: new Date(NOW.getTime() - 30 * DAY),
    accountOpenUntil: null,
  }, NOW);
  assert.equal(held.action === "suppress" && held.reason, "loop_suspected");
  const trip = decideRate(p, counts(p, { recipient: 5 }), CLOSED, NOW);
  assert.equal(trip.action, "trip");
  if (trip.action === "trip") assert.deepEqual(trip.openUntil, new Date(NOW.getTime() + HOUR));
  assert.deepEqual(breakerOpenUntil(NOW, { coolDownSeconds: null }), null);
});
