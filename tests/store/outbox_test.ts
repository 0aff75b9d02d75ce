import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { upsertEnvAccount } from "../../src/store/accounts.ts";
import { storeArrival } from "../../src/store/messages.ts";
import {
  breakerState,
  claimDue,
  enqueueReply,
  expireLeases,
  type NewOutboxRow,
  outboxCounts,
  reserveReplyLimit,
  settleClaims,
  tripBreaker,
} from "../../src/store/outbox.ts";
import { saveDecision, saveDecisions } from "../../src/store/decisions.ts";

const T0 = new Date("2026-03-01T12:00:00Z");
const later = (ms: number) => new Date(T0.getTime() + ms);
const DAY = 86_400_000;

async function seed(db: Db): Promise<{ accountId: number; messageId: number }> {
  const a = await upsertEnvAccount(db, {
    name: "box",
    address: "box@example.test",
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: "starttls",
    imapUser: "box",
    mailboxes: ["INBOX"],
  });
  const m = await storeArrival(
    db,
    a.id,
    "INBOX",
    1,
    {
      uid: 1,
      raw: new TextEncoder().encode("Subject: x\r\n\r\nx"),
      sha256: "abc",
      internalDate: null,
    },
    false,
    T0,
  );
  return { accountId: a.id, messageId: m.id };
}

function row(ids: { accountId: number; messageId: number }, key = "k1"): NewOutboxRow {
  return {
    dedupKey: key,
    messageId: ids.messageId,
    accountId: ids.accountId,
    ruleName: "ack",
    recipient: "ana@example.test",
    recipientName: "Ana",
    fromAddress: "box@example.test",
    fromName: "",
    subject: "Re: x",
    text: "ok",
    html: "<p>ok</p>",
    messageIdHeader: `<carteiro.${key}@example.test>`,
    inReplyTo: "<m1@example.test>",
    references: ["<m1@example.test>"],
    headers: { "Auto-Submitted": "auto-replied" },
    deadlineAt: later(DAY),
  };
}

storeTest("a reply is enqueued once per dedup key", async (db) => {
  const ids = await seed(db);
  const first = await enqueueReply(db, row(ids), T0);
  const again = await enqueueReply(db, row(ids), later(1000));
  assert.deepEqual(first.enqueued, true);
  assert.deepEqual(again, { enqueued: false, id: first.id });
  assert.equal((await outboxCounts(db)).pending, 1);
});

storeTest("two claimers never take the same row; settling needs the claim", async (db) => {
  const ids = await seed(db);
  for (const k of ["a", "b", "c"]) await enqueueReply(db, row(ids, k), T0);
  const [one, two] = await Promise.all([
    claimDue(db, later(1), 60_000, "token-1", 2),
    claimDue(db, later(1), 60_000, "token-2", 2),
  ]);
  const taken = [...one, ...two].map((r) => r.dedupKey).sort();
  assert.deepEqual(taken, ["a", "b", "c"]);
  const r = one[0];
  assert.equal(r.attempts, 1);
  assert.deepEqual(
    await settleClaims(db, [{
      id: r.id,
      token: "someone-else",
      outcome: { status: "sent", response: "250" },
      at: T0,
    }]),
    [false],
  );
  assert.deepEqual(
    await settleClaims(db, [{
      id: r.id,
      token: r.claimToken,
      outcome: { status: "sent", response: "250 ok" },
      at: T0,
    }]),
    [true],
  );
  assert.deepEqual(
    await settleClaims(db, [{
      id: r.id,
      token: r.claimToken,
      outcome: { status: "failed", error: "x" },
      at: T0,
    }]),
    [false],
  );
  const counts = await outboxCounts(db);
  assert.deepEqual([counts.sent, counts.sending], [1, 2]);
});

storeTest(
  "an expired lease makes the row unknown, and its late settlement is refused",
  async (db) => {
    const ids = await seed(db);
    await enqueueReply(db, row(ids), T0);
    const [r] = await claimDue(db, T0, 60_000, "t", 10);
    assert.deepEqual(await expireLeases(db, later(30_000)), []);
    const expired = await expireLeases(db, later(61_000));
    assert.deepEqual(expired.map((e) => e.id), [r.id]);
    assert.deepEqual(
      await settleClaims(db, [{
        id: r.id,
        token: "t",
        outcome: { status: "sent", response: "250" },
        at: later(62_000),
      }]),
      [false],
    );
    // Never claimed again.
    assert.deepEqual(await claimDue(db, later(DAY), 60_000, "t2", 10), []);
    assert.equal((await outboxCounts(db)).unknown, 1);
  },
);

storeTest("a retry row becomes due again only at its next attempt time", async (db) => {
  const ids = await seed(db);
  await enqueueReply(db, row(ids), T0);
  const [r] = await claimDue(db, T0, 60_000, "t", 10);
  await settleClaims(db, [{
    id: r.id,
    token: "t",
    outcome: { status: "retry", error: "451", nextAttemptAt: later(120_000) },
    at: T0,
  }]);
  assert.deepEqual(await claimDue(db, later(60_000), 60_000, "t2", 10), []);
  const [again] = await claimDue(db, later(120_000), 60_000, "t3", 10);
  assert.equal(again.attempts, 2);
});

storeTest("one reply per sender per rule per window", async (db) => {
  const { accountId } = await seed(db);
  const reserve = (at: Date, rule = "ack", to = "Ana@Example.test") =>
    reserveReplyLimit(db, accountId, rule, to, at, 7 * DAY);
  assert.equal(await reserve(T0), true);
  assert.equal(await reserve(later(DAY)), false);
  assert.equal(await reserve(later(DAY), "other-rule"), true);
  assert.equal(await reserve(later(DAY), "ack", "bia@example.test"), true);
  assert.equal(await reserve(later(7 * DAY)), true);
});

storeTest(
  "decisions of a batch are written together; a message keeps its first one",
  async (db) => {
    const { accountId, messageId } = await seed(db);
    const other = await storeArrival(
      db,
      accountId,
      "INBOX",
      1,
      {
        uid: 2,
        raw: new TextEncoder().encode("Subject: y\r\n\r\ny"),
        sha256: "def",
        internalDate: null,
      },
      false,
      T0,
    );
    const trail = [{ rule: "ack", hit: false, why: "kind is direct" }];
    await saveDecision(db, {
      messageId,
      outcome: "no_rule",
      ruleName: null,
      reason: null,
      detail: null,
      trail: [],
    }, T0);
    await saveDecisions(db, [], T0);
    await saveDecisions(db, [
      { messageId, outcome: "ignored", ruleName: "x", reason: null, detail: null, trail },
      {
        messageId: other.id,
        outcome: "suppressed",
        ruleName: "ack",
        reason: "backfill",
        detail: "mail from before the account was connected",
        trail,
      },
    ], later(1000));
    const rows = await db.query<{ message_id: number; outcome: string; reason: string | null }>(
      "SELECT message_id, outcome, reason FROM decisions ORDER BY message_id",
    );
    assert.deepEqual(rows.map((r) => [r.message_id, r.outcome, r.reason]), [
      [messageId, "no_rule", null],
      [other.id, "suppressed", "backfill"],
    ]);
  },
);

storeTest(
  "a breaker that cooled down trips again from its new time, never an older one",
  async (db) => {
    const ids = await seed(db);
    await tripBreaker(db, ids.accountId, "Ana@Example.test", T0, "first", later(3_600_000));
    assert.deepEqual(await breakerState(db, ids.accountId, "ana@example.test"), {
      accountTrippedAt: null,
      recipientTrippedAt: T0,
      accountOpenUntil: null,
      recipientOpenUntil: later(3_600_000),
    });
    // Two hours later the breaker has cooled down; the loop goes on and it trips again.
    await tripBreaker(db, ids.accountId, "ana@example.test", later(2 * 3_600_000), "again", null);
    assert.deepEqual(
      (await breakerState(db, ids.accountId, "ana@example.test")).recipientTrippedAt,
      later(2 * 3_600_000),
    );
    assert.equal(
      (await breakerState(db, ids.accountId, "ana@example.test")).recipientOpenUntil,
      null,
      "the new trip's cool-down (none: a person resets it) replaces the old one",
    );
    // A slower instance recording the first trip late does not move it back.
    await tripBreaker(db, ids.accountId, "ana@example.test", T0, "late", later(3_600_000));
    assert.deepEqual(
      (await breakerState(db, ids.accountId, "ana@example.test")).recipientTrippedAt,
      later(2 * 3_600_000),
    );
    await tripBreaker(db, ids.accountId, null, later(60_000), "account", later(120_000));
    assert.deepEqual(
      (await breakerState(db, ids.accountId, "bruno@example.test")).accountTrippedAt,
      later(60_000),
    );
  },
);
