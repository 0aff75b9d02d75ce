/**
 * The webhook actions: adding (every problem listed), changing, enabling, removing, resending,
 * each with its audit row or neither; and a change told to webhooks commits with its deliveries
 * or not at all. On PGlite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import {
  createWebhook,
  removeWebhook,
  resendDelivery,
  setWebhookEnabled,
  updateWebhook,
} from "../../src/actions/webhooks.ts";
import { listWebhookDeliveries, listWebhookEndpoints } from "../../src/store/webhooks.ts";
import { recordEvent } from "../../src/store/audit.ts";
import { auditRows, failingWithin, T } from "./support.ts";

const deps = (db: Db) => ({ db, now: () => T });

storeTest("webhooks: add, change, disable, resend, remove, each audited", async (db) => {
  const { id: box } = await seedBoxAccount(db);
  const refused = await createWebhook(
    deps(db),
    { url: "ftp://x.test/", events: "reply.lost", accountId: 99 },
    "ana",
  );
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.problem.code, "invalid");
  assert.equal(!refused.ok && refused.problem.details?.length, 3, "every problem is listed");

  const created = await createWebhook(
    deps(db),
    { url: "https://x.test/hook", events: ["reply.sent"], accountId: box },
    "ana",
  );
  assert.ok(created.ok);
  const id = created.value.id;
  assert.match(created.value.secret, /^whsec_[\w-]{43}$/);
  const changed = await updateWebhook(
    deps(db),
    id,
    { url: "https://x.test/v2", events: "*", accountId: null },
    "bia",
  );
  assert.ok(changed.ok);
  assert.equal(changed.value.secret, created.value.secret, "a change keeps the secret");
  assert.equal(changed.value.events.length, 8);
  assert.equal(
    (await updateWebhook(deps(db), 99, { url: "https://x.test/", events: "*" }, "bia")).ok,
    false,
  );
  assert.ok((await setWebhookEnabled(deps(db), id, false, "bia")).ok);
  assert.equal((await listWebhookEndpoints(db))[0].enabled, false);
  assert.ok((await setWebhookEnabled(deps(db), id, true, "bia")).ok);

  await recordEvent(db, {
    event: "sent",
    at: T,
    accountId: box,
    detail: { outbox_id: 1, recipient: "ana@x.test", attempt: 1, result: "accepted" },
  });
  const [d] = await listWebhookDeliveries(db);
  assert.ok((await resendDelivery(deps(db), d.id, "carla")).ok);
  const missing = await resendDelivery(deps(db), 999, "carla");
  assert.equal(!missing.ok && missing.problem.code, "not_found");

  assert.ok((await removeWebhook(deps(db), id, "bia")).ok);
  assert.equal((await removeWebhook(deps(db), id, "bia")).ok, false);
  assert.deepEqual(await listWebhookDeliveries(db), [], "its deliveries go with it");
  assert.deepEqual((await auditRows(db, "webhook_created"))[0], {
    id,
    url: "https://x.test/hook",
    events: ["reply.sent"],
    account_id: box,
    by: "ana",
  });
  assert.equal((await auditRows(db, "webhook_changed")).length, 3);
  assert.deepEqual(await auditRows(db, "webhook_resent"), [
    { delivery_id: d.id, endpoint_id: id, from_status: "pending", by: "carla" },
  ]);
  assert.deepEqual(await auditRows(db, "webhook_removed"), [
    { id, url: "https://x.test/v2", by: "bia" },
  ]);
});

storeTest(
  "webhooks: a change and its audit row commit with its deliveries or not at all",
  async (db) => {
    const { id: box } = await seedBoxAccount(db);
    const killedAudit = { db: failingWithin(db, /^\s*INSERT INTO audit_events/), now: () => T };
    await assert.rejects(
      createWebhook(killedAudit, { url: "https://x.test/", events: "*" }, "ana"),
      /killed before/,
    );
    assert.deepEqual(await listWebhookEndpoints(db), []);
    assert.ok((await createWebhook(deps(db), { url: "https://x.test/", events: "*" }, "ana")).ok);

    // The delivery's insert fails: the audit row written before it in the transaction goes too.
    const killedDelivery = failingWithin(db, /^\s*INSERT INTO webhook_deliveries/);
    await assert.rejects(
      killedDelivery.transaction((tx) =>
        recordEvent(tx, {
          event: "sent",
          at: T,
          accountId: box,
          detail: { outbox_id: 1, recipient: "ana@x.test", attempt: 1, result: "accepted" },
        })
      ),
      /killed before/,
    );
    assert.deepEqual(await auditRows(db, "sent"), []);
    assert.deepEqual(await listWebhookDeliveries(db), []);
  },
);
