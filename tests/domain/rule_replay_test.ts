/** The replay's confirmation token and counts: what changes the token and what does not. */
import assert from "node:assert/strict";
import { type ReplayPlan, replayReport, replayToken } from "../../src/domain/rule_replay.ts";

const base: ReplayPlan = {
  ruleId: 3,
  rule: "ack",
  ruleUpdatedAt: new Date("2026-03-01T00:00:00Z"),
  since: new Date("2026-03-01T00:00:00Z"),
  filters: { since: "2026-03-01", kind: "direct" },
  capped: false,
  items: [
    {
      messageId: 1,
      receivedAt: new Date("2026-03-02T00:00:00Z"),
      subject: "a",
      from: "ana@x.test",
      result: {
        outcome: "reply",
        recipient: "ana@x.test",
        subject: "Re: a",
        dedupKey: "v1/1/aa/ack",
      },
    },
    {
      messageId: 2,
      receivedAt: new Date("2026-03-03T00:00:00Z"),
      subject: "b",
      from: "robo@x.test",
      result: { outcome: "skipped", reason: "auto_submitted", detail: "Auto-Submitted" },
    },
    {
      messageId: 3,
      receivedAt: new Date("2026-03-04T00:00:00Z"),
      subject: "c",
      from: "ana@x.test",
      result: { outcome: "skipped", reason: "rate_limited", detail: "window" },
    },
  ],
};

Deno.test("replay report: counts by outcome and reason", () => {
  const r = replayReport(base);
  assert.deepEqual([r.replies, r.skipped], [1, 2]);
  assert.deepEqual(r.reasons, { auto_submitted: 1, rate_limited: 1 });
  assert.match(r.token, /^[0-9a-f]{64}$/);
});

Deno.test("replay token: the replies, the rule, the date and the filters make it", () => {
  const token = replayToken(base);
  // Not what was skipped or why, nor the order the filters were typed in, nor an outbox id.
  assert.equal(
    replayToken({
      ...base,
      filters: { kind: "direct", since: "2026-03-01", q: "" },
      items: base.items.map((i) =>
        i.result.outcome === "reply" ? { ...i, result: { ...i.result, outboxId: 9 } } : {
          ...i,
          result: { outcome: "skipped", reason: "no_match", detail: "other" },
        }
      ),
    }),
    token,
  );
  const changed: Partial<ReplayPlan>[] = [
    { ruleUpdatedAt: new Date("2026-03-02T00:00:00Z") },
    { ruleId: 4 },
    { since: new Date("2026-03-02T00:00:00Z") },
    { filters: { since: "2026-03-01", kind: "forwarded" } },
    { items: base.items.slice(1) },
    {
      items: [{
        ...base.items[0],
        result: { outcome: "reply", recipient: "bia@x.test", subject: "Re: a", dedupKey: "k" },
      }],
    },
  ];
  for (const c of changed) {
    assert.notEqual(replayToken({ ...base, ...c }), token, JSON.stringify(c));
  }
});
