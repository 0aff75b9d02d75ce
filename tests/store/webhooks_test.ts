import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import { recordEvent } from "../../src/store/audit.ts";
import { recordSyncOutcome, upsertEnvAccount } from "../../src/store/accounts.ts";
import {
  claimWebhookDeliveries,
  expireWebhookLeases,
  forgetOldDeliveries,
  insertWebhookEndpoint,
  listWebhookDeliveries,
  resendWebhookDelivery,
  settleWebhookDelivery,
  updateWebhookEndpoint,
} from "../../src/store/webhooks.ts";
import type { Db } from "../../src/store/db.ts";
import type { WebhookEventType } from "../../src/domain/webhooks.ts";

const T = new Date("2026-03-01T12:00:00Z");
const at = (ms: number) => new Date(T.getTime() + ms);

function endpoint(
  db: Db,
  events: WebhookEventType[],
  accountId: number | null = null,
  enabled = true,
) {
  return insertWebhookEndpoint(db, {
    accountId,
    url: "https://hooks.example.com/in",
    secret: "whsec_test",
    events,
    enabled,
    description: "",
  }, T);
}

async function sent(db: Db, accountId: number, outboxId: number, when = T) {
  await recordEvent(db, {
    event: "sent",
    at: when,
    accountId,
    messageId: null,
    detail: { outbox_id: outboxId, recipient: "ana@example.test", attempt: 1, result: "accepted" },
  });
}

storeTest(
  "an audited change enqueues one delivery per enabled endpoint that wants it",
  async (db) => {
    const { id: box } = await seedBoxAccount(db);
    const { id: other } = await upsertEnvAccount(db, {
      name: "other",
      address: "other@empresa.test",
      imapHost: "127.0.0.1",
      imapPort: 993,
      imapTls: "tls",
      imapUser: "other",
      mailboxes: ["INBOX"],
    });
    const all = await endpoint(db, ["reply.sent"]);
    const onlyOther = await endpoint(db, ["reply.sent", "message.stored"], other);
    await endpoint(db, ["reply.sent"], null, false);
    await endpoint(db, ["message.classified"]);
    await sent(db, box, 1);
    await sent(db, other, 2);
    await recordEvent(db, { event: "logout", at: T, detail: { email: "x@y.test" } });
    const rows = (await listWebhookDeliveries(db)).reverse();
    assert.deepEqual(
      rows.map((r) => [r.endpointId, r.accountId, r.eventType, r.status]),
      [
        [all, box, "reply.sent", "pending"],
        [all, other, "reply.sent", "pending"],
        [onlyOther, other, "reply.sent", "pending"],
      ],
    );
    // The same event to two endpoints carries one id.
    assert.equal(rows[1].eventId, rows[2].eventId);
    assert.notEqual(rows[0].eventId, rows[1].eventId);
  },
);

storeTest("a change rolled back enqueues nothing", async (db) => {
  const { id: box } = await seedBoxAccount(db);
  await endpoint(db, ["reply.sent"]);
  await assert.rejects(db.transaction(async (tx) => {
    await sent(tx as Db, box, 1);
    throw new Error("rolled back");
  }));
  assert.deepEqual(await listWebhookDeliveries(db), []);
});

storeTest(
  "deliveries of one endpoint and account are claimed one at a time, in order",
  async (db) => {
    const { id: box } = await seedBoxAccount(db);
    const ep = await endpoint(db, ["reply.sent"]);
    for (const n of [1, 2, 3]) await sent(db, box, n);
    const ids = (await listWebhookDeliveries(db)).map((r) => r.id).reverse();

    const first = await claimWebhookDeliveries(db, at(1000), 30_000, "a", 10);
    assert.deepEqual(first.map((d) => d.id), [ids[0]], "only the first is due");
    assert.equal(first[0].url, "https://hooks.example.com/in");
    assert.equal(first[0].attempts, 1);
    assert.deepEqual(JSON.parse(first[0].body).data.outbox_id, 1);
    assert.deepEqual(await claimWebhookDeliveries(db, at(1000), 30_000, "b", 10), [], "one held");

    // A retry later holds the next ones back until it is delivered.
    assert.ok(
      await settleWebhookDelivery(db, ids[0], "a", {
        status: "retry",
        httpStatus: 500,
        error: "HTTP 500",
        nextAttemptAt: at(60_000),
      }, at(2000)),
    );
    assert.deepEqual(await claimWebhookDeliveries(db, at(3000), 30_000, "c", 10), []);
    const again = await claimWebhookDeliveries(db, at(60_000), 30_000, "d", 10);
    assert.deepEqual(again.map((d) => [d.id, d.attempts]), [[ids[0], 2]]);
    assert.equal(
      await settleWebhookDelivery(db, ids[0], "c", { status: "delivered", httpStatus: 200 }, T),
      false,
      "another claim's token changes nothing",
    );
    assert.ok(
      await settleWebhookDelivery(db, ids[0], "d", { status: "delivered", httpStatus: 204 }, T),
    );
    const second = await claimWebhookDeliveries(db, at(61_000), 30_000, "e", 10);
    assert.deepEqual(second.map((d) => d.id), [ids[1]]);
    // Given up, it lets the next go.
    await settleWebhookDelivery(db, ids[1], "e", {
      status: "failed",
      httpStatus: null,
      error: "gave up",
    }, T);
    const third = await claimWebhookDeliveries(db, at(62_000), 30_000, "f", 10);
    assert.deepEqual(third.map((d) => d.id), [ids[2]]);
    const byId = new Map((await listWebhookDeliveries(db)).map((r) => [r.id, r]));
    assert.equal(byId.get(ids[0])?.status, "delivered");
    assert.equal(byId.get(ids[0])?.lastStatus, 204);
    assert.equal(byId.get(ids[1])?.status, "failed");
    assert.equal(byId.get(ids[2])?.status, "sending");
    assert.equal(ep > 0, true);
  },
);

storeTest("other accounts and endpoints are not held back by one", async (db) => {
  const { id: box } = await seedBoxAccount(db);
  const { id: other } = await upsertEnvAccount(db, {
    name: "other",
    address: "other@empresa.test",
    imapHost: "127.0.0.1",
    imapPort: 993,
    imapTls: "tls",
    imapUser: "other",
    mailboxes: ["INBOX"],
  });
  await endpoint(db, ["reply.sent"]);
  await endpoint(db, ["reply.sent"]);
  await sent(db, box, 1);
  await sent(db, box, 2);
  await sent(db, other, 3);
  const claimed = await claimWebhookDeliveries(db, at(1000), 30_000, "a", 10);
  assert.deepEqual(
    claimed.map((d) => [d.endpointId, d.accountId, JSON.parse(d.body).data.outbox_id]).sort(),
    [[1, box, 1], [1, other, 3], [2, box, 1], [2, other, 3]].sort(),
  );
});

storeTest("a delivery whose lease ran out is due again; a disabled endpoint's wait", async (db) => {
  const { id: box } = await seedBoxAccount(db);
  const ep = await endpoint(db, ["reply.sent"]);
  await sent(db, box, 1);
  const [d] = await claimWebhookDeliveries(db, at(0), 10_000, "a", 10);
  assert.deepEqual(await expireWebhookLeases(db, at(5_000)), [], "the lease still holds");
  assert.deepEqual(await expireWebhookLeases(db, at(11_000)), [d.id]);
  assert.equal(
    await settleWebhookDelivery(db, d.id, "a", { status: "delivered", httpStatus: 200 }, T),
    false,
    "the dead drain's claim is gone",
  );
  await updateWebhookEndpoint(db, ep, {
    accountId: null,
    url: "https://hooks.example.com/in",
    events: ["reply.sent"],
    enabled: false,
    description: "",
  }, T);
  assert.deepEqual(await claimWebhookDeliveries(db, at(12_000), 10_000, "b", 10), []);
  await updateWebhookEndpoint(db, ep, {
    accountId: null,
    url: "https://hooks.example.com/in",
    events: ["reply.sent"],
    enabled: true,
    description: "",
  }, T);
  const [again] = await claimWebhookDeliveries(db, at(12_000), 10_000, "c", 10);
  assert.equal(again.id, d.id);
  assert.equal(again.attempts, 2);
});

storeTest("a resend makes any delivery but one being sent due now, with its body", async (db) => {
  const { id: box } = await seedBoxAccount(db);
  await endpoint(db, ["reply.sent"]);
  await sent(db, box, 1);
  const [d] = await claimWebhookDeliveries(db, at(0), 10_000, "a", 10);
  assert.equal(await resendWebhookDelivery(db, d.id, at(1000)), null, "being sent");
  await settleWebhookDelivery(db, d.id, "a", { status: "delivered", httpStatus: 200 }, at(1000));
  assert.deepEqual(await resendWebhookDelivery(db, d.id, at(2000)), {
    from: "delivered",
    endpointId: d.endpointId,
  });
  const [again] = await claimWebhookDeliveries(db, at(2000), 10_000, "b", 10);
  assert.equal(again.body, d.body);
  assert.equal(again.attempts, 1);
});

storeTest("a collection's outcome returns the failures in a row before it", async (db) => {
  const { id } = await seedBoxAccount(db);
  assert.equal(await recordSyncOutcome(db, id, T, "down"), 0);
  assert.equal(await recordSyncOutcome(db, id, T, "down"), 1);
  assert.equal(await recordSyncOutcome(db, id, T, null), 2);
  assert.equal(await recordSyncOutcome(db, id, T, null), 0);
  assert.equal(await recordSyncOutcome(db, 9999, T, null), 0);
});

storeTest(
  "deliveries delivered or given up long ago are forgotten, open ones never",
  async (db) => {
    const { id: box } = await seedBoxAccount(db);
    await endpoint(db, ["reply.sent"]);
    await sent(db, box, 1);
    await sent(db, box, 2);
    const [d] = await claimWebhookDeliveries(db, at(0), 10_000, "a", 10);
    await settleWebhookDelivery(db, d.id, "a", { status: "delivered", httpStatus: 200 }, at(0));
    assert.equal(await forgetOldDeliveries(db, at(-1000)), 0, "not old yet");
    assert.equal(await forgetOldDeliveries(db, at(86_400_000)), 1);
    const left = await listWebhookDeliveries(db);
    assert.deepEqual(left.map((r) => r.status), ["pending"]);
  },
);
