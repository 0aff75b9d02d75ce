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
  settleSends,
  tripBreaker,
} from "../../src/store/outbox.ts";
import { saveDecision, saveDecisions } from "../../src/store/decisions.ts";
import { insertWebhookEndpoint } from "../../src/store/webhooks.ts";

const T0 = new Date("2026-03-01T12:00:00Z");

/** Whether each ended send took (its claim held). */
async function settled(db: Db, sends: Parameters<typeof settleSends>[1]): Promise<boolean[]> {
  return (await settleSends(db, sends, T0)).settled;
}
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
    await settled(db, [{
      id: r.id,
      token: "someone-else",
      outcome: { status: "sent", response: "250" },
      at: T0,
    }]),
    [false],
  );
  assert.deepEqual(
    await settled(db, [{
      id: r.id,
      token: r.claimToken,
      outcome: { status: "sent", response: "250 ok" },
      at: T0,
    }]),
    [true],
  );
  assert.deepEqual(
    await settled(db, [{
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
      await settled(db, [{
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
  await settled(db, [{
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

storeTest(
  "a settlement writes the row, the copy owed, the audit event and its webhook in one go; a lost claim is audited as such",
  async (db) => {
    const ids = await seed(db);
    await db.query("UPDATE accounts SET copy_to_sent = true WHERE id = $1", [ids.accountId]);
    await insertWebhookEndpoint(db, {
      accountId: null,
      url: "https://hooks.example.com/in",
      secret: "whsec_test",
      events: ["reply.sent"],
      enabled: true,
      description: "",
    }, T0);
    for (const k of ["a", "b"]) await enqueueReply(db, row(ids, k), T0);
    const [a, b] = await claimDue(db, T0, 60_000, "t", 10);
    const audit = (id: number) => ({
      event: "sent" as const,
      at: later(1),
      accountId: ids.accountId,
      messageId: ids.messageId,
      detail: { outbox_id: id, recipient: "ana@example.test", attempt: 1, result: "accepted" },
    });
    const sent = { status: "sent" as const, response: "250 ok" };
    const raw = new TextEncoder().encode("Subject: Re: x\r\n\r\nok");
    const result = await settleSends(db, [
      { id: a.id, token: a.claimToken, outcome: sent, at: later(1), raw, audit: audit(a.id) },
      { id: b.id, token: "not-ours", outcome: sent, at: later(1), raw, audit: audit(b.id) },
    ], later(1));
    assert.deepEqual(result, { settled: [true, false], authFailing: [] });
    const copies = await db.query<{ outbox_id: number; raw: Uint8Array }>(
      "SELECT outbox_id, raw FROM sent_copies",
    );
    assert.deepEqual(copies.map((c) => Number(c.outbox_id)), [a.id], "a copy owed for a only");
    assert.equal(new TextDecoder().decode(copies[0].raw), "Subject: Re: x\r\n\r\nok");
    const events = await db.query<{ event: string; outbox_id: string }>(
      "SELECT event, detail->>'outbox_id' AS outbox_id FROM audit_events ORDER BY id",
    );
    assert.deepEqual(
      events.map((e) => [e.event, Number(e.outbox_id)]),
      [["sent", a.id], ["claim_lost", b.id]],
    );
    const hooks = await db.query<{ event_type: string; body: string }>(
      "SELECT event_type, body FROM webhook_deliveries",
    );
    assert.deepEqual(hooks.map((h) => h.event_type), ["reply.sent"]);
    assert.equal(JSON.parse(hooks[0].body).data.outbox_id, a.id);

    // An accepted send of an account whose SMTP login failure is on record names the account.
    await enqueueReply(db, row(ids, "c"), T0);
    const [c] = await claimDue(db, T0, 60_000, "t2", 10);
    await db.query("UPDATE accounts SET smtp_auth_failure = 'x' WHERE id = $1", [ids.accountId]);
    assert.deepEqual(
      await settleSends(db, [{ id: c.id, token: c.claimToken, outcome: sent, at: later(2) }], T0),
      { settled: [true], authFailing: [ids.accountId] },
    );
  },
);
