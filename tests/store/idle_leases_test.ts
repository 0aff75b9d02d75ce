/** IDLE leases, on PGlite and PostgreSQL: one holder per mailbox, taken over once expired. */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import {
  forgetOtherIdleLeases,
  heartbeatIdleLeases,
  readIdleLeases,
  releaseIdleLeases,
} from "../../src/store/idle_leases.ts";
import { readAccountHealth, writeIdleHealth } from "../../src/store/account_health.ts";
import { LEASE_EXPIRY_MS } from "../../src/domain/idle_leases.ts";

const keys = (accountId: number, ...mailboxes: string[]) =>
  mailboxes.map((mailbox) => ({ accountId, mailbox }));

const sorted = (ks: { accountId: number; mailbox: string }[]) =>
  ks.map((k) => `${k.accountId}:${k.mailbox}`).sort();

/** Makes `holder`'s heartbeat look `ms` old. */
async function age(db: Db, holder: string, ms: number) {
  await db.query(
    `UPDATE idle_leases SET heartbeat_at = now() - make_interval(secs => $2::double precision)
     WHERE holder = $1`,
    [holder, ms / 1000],
  );
}

storeTest("a free mailbox goes to the first instance; the others wait", async (db) => {
  const { id } = await seedBoxAccount(db);
  const wanted = keys(id, "INBOX", "Suporte");
  assert.deepEqual(sorted(await heartbeatIdleLeases(db, "a:1", wanted)), [
    `${id}:INBOX`,
    `${id}:Suporte`,
  ]);
  assert.deepEqual(await heartbeatIdleLeases(db, "b:2", wanted), [], "held by a:1");
  // Renewing keeps them, and keeps when they were taken.
  const [before] = (await readIdleLeases(db)).get(id)!;
  assert.equal((await heartbeatIdleLeases(db, "a:1", wanted)).length, 2);
  const [after] = (await readIdleLeases(db)).get(id)!;
  assert.equal(after.holder, "a:1");
  assert.equal(after.takenAt.getTime(), before.takenAt.getTime());
  assert.ok(after.heartbeatAt.getTime() >= before.heartbeatAt.getTime());
});

storeTest("an expired lease is taken over, by exactly one of several instances", async (db) => {
  const { id } = await seedBoxAccount(db);
  const wanted = keys(id, "INBOX", "Suporte");
  await heartbeatIdleLeases(db, "a:1", wanted);
  await age(db, "a:1", LEASE_EXPIRY_MS - 3_000);
  assert.deepEqual(await heartbeatIdleLeases(db, "b:2", wanted), [], "not expired yet");
  await age(db, "a:1", LEASE_EXPIRY_MS + 1_000);
  assert.deepEqual((await readIdleLeases(db)).get(id), undefined, "expired: shown as free");
  const [b, c] = await Promise.all([
    heartbeatIdleLeases(db, "b:2", wanted),
    heartbeatIdleLeases(db, "c:3", wanted),
  ]);
  assert.deepEqual(sorted([...b, ...c]), [`${id}:INBOX`, `${id}:Suporte`], "each once");
  const holders = (await readIdleLeases(db)).get(id)!.map((l) => l.holder);
  assert.equal(holders.length, 2);
  // The old holder comes back: it does not get them back, and learns it lost them.
  assert.deepEqual(await heartbeatIdleLeases(db, "a:1", wanted), []);
});

storeTest("a holder gives up what it no longer wants, and everything when it stops", async (db) => {
  const { id } = await seedBoxAccount(db);
  await heartbeatIdleLeases(db, "a:1", keys(id, "INBOX", "Suporte"));
  assert.deepEqual(sorted(await heartbeatIdleLeases(db, "a:1", keys(id, "INBOX"))), [
    `${id}:INBOX`,
  ]);
  assert.deepEqual(sorted(await heartbeatIdleLeases(db, "b:2", keys(id, "Suporte"))), [
    `${id}:Suporte`,
  ]);
  await releaseIdleLeases(db, "a:1");
  assert.deepEqual(sorted(await heartbeatIdleLeases(db, "b:2", keys(id, "INBOX", "Suporte"))), [
    `${id}:INBOX`,
    `${id}:Suporte`,
  ]);
  // A lease for an account that is gone is not taken.
  assert.deepEqual(await heartbeatIdleLeases(db, "b:2", keys(id + 99, "INBOX")), []);
});

storeTest(
  "the embedded database's new owner forgets a dead predecessor's leases at once",
  async (db) => {
    const { id } = await seedBoxAccount(db);
    await heartbeatIdleLeases(db, "host:100", keys(id, "INBOX", "Suporte"));
    assert.deepEqual(await heartbeatIdleLeases(db, "host:200", keys(id, "INBOX")), []);
    await forgetOtherIdleLeases(db, "host:200");
    assert.deepEqual(sorted(await heartbeatIdleLeases(db, "host:200", keys(id, "INBOX"))), [
      `${id}:INBOX`,
    ]);
    assert.deepEqual((await readIdleLeases(db)).get(id)!.map((l) => l.holder), ["host:200"]);
  },
);

storeTest(
  "the accounts' health lists each mailbox with its holder, or as left to the cron",
  async (db) => {
    const { id } = await seedBoxAccount(db);
    await db.query(
      `UPDATE accounts SET mailboxes = '["INBOX", "Suporte", "Vendas"]'::jsonb,
       imap_connection_cap = 4 WHERE id = $1`,
      [id],
    );
    await heartbeatIdleLeases(db, "a:1", keys(id, "INBOX"));
    await heartbeatIdleLeases(db, "b:2", keys(id, "Suporte"));
    const now = new Date();
    await writeIdleHealth(db, "b:2", [{
      accountId: id,
      state: "missing",
      mailbox: "Suporte",
      since: now,
      lastEventAt: null,
      consecutiveFailures: 1,
      lastError: 'the mailbox "Suporte" does not exist on the server (deleted or renamed?)',
      lastErrorAt: now,
    }], now);
    const h = (await readAccountHealth(db, now)).get(id)!;
    assert.equal(h.connectionCap, 4);
    assert.deepEqual(
      h.mailboxes.map((m) => [m.mailbox, m.mode, m.holder, m.state]),
      [
        ["INBOX", "idle", "a:1", null],
        ["Suporte", "idle", "b:2", "missing"],
        ["Vendas", "cron", null, null],
      ],
    );
    assert.match(h.mailboxes[1].lastError ?? "", /does not exist/);
  },
);
