/**
 * An account's health as webhooks tell it: collections of a real Dovecot mailbox with a wrong
 * password fail; the third failure in a row writes `collect_failing` and enqueues
 * `account.failing`, once; the next success writes `collect_recovered` and `account.recovered`.
 */
import assert from "node:assert/strict";
import { collectAccount, type CollectDeps } from "../../src/jobs/collect_account.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import { insertWebhookEndpoint } from "../../src/store/webhooks.ts";
import { connectImap } from "../../src/mail/imap_reader.ts";
import { createLogger } from "../../src/log.ts";
import { openTestStore } from "../support/databases.ts";
import { ensureMailstack, freshUser, imapConfig } from "../support/mailstack.ts";

Deno.test("the third failed collection in a row tells account.failing; a success, recovered", async () => {
  await ensureMailstack();
  const box = await freshUser("health");
  const imap = imapConfig(box.user, box.pass);
  const store = await openTestStore("postgres");
  const db = store.db;
  try {
    await upsertEnvAccount(db, {
      name: "caixa",
      address: box.address,
      imapHost: imap.host,
      imapPort: imap.port,
      imapTls: "plain",
      imapUser: box.user,
      mailboxes: ["INBOX"],
    });
    await insertWebhookEndpoint(db, {
      accountId: null,
      url: "https://hooks.example.com/in",
      secret: "whsec_test",
      events: ["account.failing", "account.recovered"],
      enabled: true,
      description: "",
    }, new Date());
    let pass = "wrong password";
    const deps: CollectDeps = {
      db,
      now: () => new Date(),
      log: createLogger({ quiet: true }),
      connect: () => connectImap({ ...imap, pass }),
      processPending: () => Promise.resolve({ parsed: 0, failed: 0 }),
    };
    const [account] = await listAccounts(db);
    const told = async () =>
      (await db.query<{ event_type: string; body: string }>(
        "SELECT event_type, body FROM webhook_deliveries ORDER BY id",
      )).map((r) => ({ type: r.event_type, data: JSON.parse(r.body).data }));
    const audited = async () =>
      (await db.query<{ event: string }>(
        "SELECT event FROM audit_events WHERE event LIKE 'collect_%' ORDER BY id",
      )).map((r) => r.event);

    for (let i = 0; i < 2; i++) {
      assert.equal((await collectAccount(deps, account)).status, "error");
    }
    assert.deepEqual(await told(), [], "two failures are not yet failing");
    for (let i = 0; i < 2; i++) {
      assert.equal((await collectAccount(deps, account)).status, "error");
    }
    const failing = await told();
    assert.equal(failing.length, 1, "told once, at the third failure");
    assert.equal(failing[0].type, "account.failing");
    assert.equal(failing[0].data.source, "imap");
    assert.equal(failing[0].data.failures, 3);
    assert.match(String(failing[0].data.error), /auth|login|fail/i);

    pass = box.pass;
    assert.equal((await collectAccount(deps, account)).status, "ok");
    const after = await told();
    assert.equal(after.length, 2);
    assert.deepEqual(after[1], {
      type: "account.recovered",
      data: { source: "imap", failures: 4 },
    });
    assert.deepEqual(await audited(), [
      "collect_failed",
      "collect_failed",
      "collect_failed",
      "collect_failing",
      "collect_failed",
      "collect_recovered",
    ]);
  } finally {
    await store.close();
  }
});
