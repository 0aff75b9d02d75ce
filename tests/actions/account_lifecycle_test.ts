/**
 * Adding, disabling and deleting an account (src/actions/accounts.ts), on both databases: a
 * deleted account's messages are erased or kept detached, and its unsent replies never go out.
 */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { auditRows, T } from "./support.ts";
import type { Db } from "../../src/store/db.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import { readAccountForm } from "../../src/admin/account_form.ts";
import { getAccountView } from "../../src/store/accounts_admin.ts";
import { getMessageDetail } from "../../src/store/message_detail.ts";
import { listMessages } from "../../src/store/message_list.ts";
import { removeAccount, saveAccount, setAccountEnabledAction } from "../../src/actions/accounts.ts";

const deps = (db: Db) => ({
  db,
  now: () => T,
  box: createSecretBox("a-very-long-secret-key-for-tests"),
});

/** A stored account "loja" with one message whose reply waits and one whose reply was sent. */
async function seedLoja(db: Db) {
  const read = readAccountForm({
    name: "loja",
    address: "loja@empresa.test",
    enabled: "true",
    imap_host: "127.0.0.1",
    imap_port: "993",
    imap_tls: "true",
    imap_user: "loja",
    mailboxes: "INBOX",
    imap_pass: "segredo",
  });
  assert.deepEqual(read.errors, []);
  const saved = await saveAccount(
    deps(db),
    null,
    { settings: read.input!, passwords: read.passwords },
    "ana",
  );
  assert.ok(saved.ok);
  const waiting = await seedMessage(db, eml({ subject: "Pedido 1" }), {
    outbox: { status: "retry" },
  });
  const sent = await seedMessage(db, eml({ subject: "Pedido 2" }), {
    decision: { outcome: "reply", ruleName: "ack", reason: null, detail: null, trail: [] },
    outbox: { status: "sent" },
  });
  return { id: saved.value, waiting, sent };
}

async function outbox(db: Db) {
  return await db.query<{ message_id: number; status: string; account_id: number | null }>(
    "SELECT message_id, status, account_id FROM outbox ORDER BY id",
  );
}

storeTest(
  "delete --keep: messages stay without an account; unsent replies are cancelled",
  async (db) => {
    const loja = await seedLoja(db);
    const removed = await removeAccount(deps(db), loja.id, "keep", "ana");
    assert.ok(removed.ok, JSON.stringify(removed));
    assert.deepEqual(removed.value, { name: "loja", messages: 2, repliesCancelled: 1 });
    assert.equal(await getAccountView(db, loja.id), null);
    const rows = await outbox(db);
    assert.deepEqual(rows.map((r) => [Number(r.message_id), r.status, r.account_id]), [
      [loja.waiting, "cancelled", null],
      [loja.sent, "sent", null],
    ]);
    const detail = await getMessageDetail(db, loja.waiting);
    assert.equal(detail?.accountName, null);
    assert.equal(detail?.accountId, null);
    const page = await listMessages(db, {}, null, 50);
    assert.deepEqual(page.rows.map((r) => r.accountName), [null, null]);
    const [audit] = (await auditRows(db, "account_changed")).filter((d) => d.action === "deleted");
    assert.deepEqual(
      [audit.name, audit.messages, audit.message_count, audit.replies_cancelled, audit.by],
      ["loja", "keep", 2, 1, "ana"],
    );
  },
);

storeTest(
  "delete --erase: the account's messages, decisions and replies go with it",
  async (db) => {
    const loja = await seedLoja(db);
    const count = async (table: string) =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0].n;
    assert.deepEqual([await count("messages"), await count("outbox")], [2, 2]);
    assert.ok(await count("decisions") > 0, "the seeded messages have decisions");
    const removed = await removeAccount(deps(db), loja.id, "erase", "ana");
    assert.ok(removed.ok, JSON.stringify(removed));
    assert.equal(removed.value.messages, 2);
    assert.deepEqual(
      [await count("messages"), await count("outbox"), await count("decisions")],
      [0, 0, 0],
    );
    assert.equal(await getAccountView(db, loja.id), null);
  },
);

storeTest("delete needs a choice; the environment's account is not deleted", async (db) => {
  const loja = await seedLoja(db);
  for (const choice of [undefined, "", "all"]) {
    const r = await removeAccount(deps(db), loja.id, choice, "ana");
    assert.ok(!r.ok && r.problem.code === "invalid", `${choice}: ${JSON.stringify(r)}`);
  }
  assert.ok(await getAccountView(db, loja.id), "still there after refused deletes");
  const env = await seedBoxAccount(db);
  const r = await removeAccount(deps(db), env.id, "erase", "ana");
  assert.ok(!r.ok && r.problem.code === "read_only");
  assert.match(r.problem.message, /environment/);
  const none = await removeAccount(deps(db), 9999, "keep", "ana");
  assert.ok(!none.ok && none.problem.code === "not_found");
});

storeTest("disable and enable: the flag changes and each is audited", async (db) => {
  const loja = await seedLoja(db);
  const off = await setAccountEnabledAction(deps(db), loja.id, false, "ana");
  assert.ok(off.ok && off.value.enabled === false);
  assert.equal((await getAccountView(db, loja.id))?.enabled, false);
  const on = await setAccountEnabledAction(deps(db), loja.id, true, "ana");
  assert.ok(on.ok && on.value.enabled === true);
  const actions = (await auditRows(db, "account_changed")).map((d) => d.action);
  assert.deepEqual(actions, ["created", "disabled", "enabled"]);
});
