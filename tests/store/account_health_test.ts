/** IMAP IDLE reports, collection progress and failures in a row, on PGlite and PostgreSQL. */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { recordSyncOutcome, upsertEnvAccount } from "../../src/store/accounts.ts";
import {
  clearProgress,
  deleteIdleHealth,
  IDLE_STALE_MS,
  type IdleReport,
  PROGRESS_STALE_MS,
  readAccountHealth,
  writeIdleHealth,
  writeProgress,
} from "../../src/store/account_health.ts";
import { readStats } from "../../src/store/stats.ts";
import { readMetrics } from "../../src/store/metrics.ts";

const T = new Date("2026-03-10T12:00:00Z");
const at = (ms: number) => new Date(T.getTime() + ms);

async function account(db: Db, name: string) {
  return (await upsertEnvAccount(db, {
    name,
    address: `${name}@empresa.test`,
    imapHost: "127.0.0.1",
    imapPort: 993,
    imapTls: "tls",
    imapUser: name,
    mailboxes: ["INBOX"],
  })).id;
}

function report(accountId: number, state: string, extra: Partial<IdleReport> = {}): IdleReport {
  return {
    accountId,
    state,
    mailbox: "INBOX",
    since: at(-60_000),
    lastEventAt: at(-1_000),
    consecutiveFailures: 0,
    lastError: null,
    lastErrorAt: null,
    ...extra,
  };
}

storeTest(
  "IDLE reports: one row per instance, account and mailbox, replaced, stale ones ignored",
  async (db) => {
    const a = await account(db, "caixa");
    const b = await account(db, "vendas");
    await writeIdleHealth(db, "host1:10", [
      report(a, "backoff", {
        consecutiveFailures: 3,
        lastError: "no answer to NOOP",
        lastErrorAt: at(-5_000),
      }),
      report(b, "idle"),
    ], T);
    await writeIdleHealth(db, "host2:20", [report(a, "idle")], at(1_000));
    let health = await readAccountHealth(db, at(2_000));
    // A report saying idle is shown before a more recent one that does not.
    assert.equal(health.get(a)?.idle?.state, "idle");
    assert.equal(health.get(a)?.idle?.instance, "host2:20");
    assert.deepEqual(
      health.get(a)?.idleReports.map((r) => [r.instance, r.state, r.consecutiveFailures]),
      [["host2:20", "idle", 0], ["host1:10", "backoff", 3]],
    );
    assert.equal(health.get(a)?.idleReports[1].lastError, "no answer to NOOP");
    assert.deepEqual(health.get(a)?.idle?.since, at(-60_000));

    // host1 stops watching vendas: its row goes; its row for caixa is updated in place.
    await writeIdleHealth(db, "host1:10", [report(a, "connecting")], at(3_000));
    health = await readAccountHealth(db, at(3_000));
    assert.deepEqual(health.get(b)?.idleReports, [], "vendas is watched by nobody now");
    assert.deepEqual(
      health.get(a)?.idleReports.map((r) => [r.instance, r.state]),
      [["host2:20", "idle"], ["host1:10", "connecting"]],
    );

    // host2 dies without a word: two minutes later its report no longer counts.
    health = await readAccountHealth(db, at(1_000 + IDLE_STALE_MS + 1));
    assert.equal(health.get(a)?.idle?.instance, "host1:10");
    assert.equal(health.get(a)?.idle?.state, "connecting");
    health = await readAccountHealth(db, at(3_000 + IDLE_STALE_MS + 1));
    assert.equal(health.get(a)?.idle ?? null, null, "no fresh report: not reported, never idle");

    // A report for an account that no longer exists is passed over, not an error.
    await writeIdleHealth(db, "host3:30", [report(a, "idle"), report(9999, "idle")], at(4_000));
    // An instance gone for an hour is forgotten at the next report of any instance.
    await writeIdleHealth(db, "host3:30", [report(a, "idle")], at(2 * 3_600_000));
    const rows = await db.query<{ instance: string }>(
      "SELECT instance FROM idle_health ORDER BY instance",
    );
    assert.deepEqual(rows.map((r) => r.instance), ["host3:30"]);

    await deleteIdleHealth(db, "host3:30");
    assert.equal((await db.query("SELECT 1 FROM idle_health")).length, 0);

    // One instance watching two mailboxes of an account reports each; dropping one keeps the other.
    await writeIdleHealth(db, "host4:40", [
      report(a, "idle"),
      report(a, "missing", { mailbox: "Naoexiste" }),
    ], at(2 * 3_600_000));
    health = await readAccountHealth(db, at(2 * 3_600_000));
    assert.deepEqual(
      health.get(a)?.idleReports.map((r) => [r.mailbox, r.state]),
      [["INBOX", "idle"], ["Naoexiste", "missing"]],
    );
    await writeIdleHealth(db, "host4:40", [report(a, "idle")], at(2 * 3_600_000 + 1));
    health = await readAccountHealth(db, at(2 * 3_600_000 + 1));
    assert.deepEqual(health.get(a)?.idleReports.map((r) => r.mailbox), ["INBOX"]);
  },
);

storeTest("collection progress: started, advanced, cleared; a dead run's row fades", async (db) => {
  const a = await account(db, "caixa");
  await writeProgress(db, { accountId: a, mailbox: "INBOX", done: 0, total: 100_000 }, T);
  await writeProgress(
    db,
    { accountId: a, mailbox: "INBOX", done: 12_000, total: 100_000 },
    at(40_000),
  );
  let p = (await readAccountHealth(db, at(41_000))).get(a)?.progress;
  assert.deepEqual(p, {
    mailbox: "INBOX",
    done: 12_000,
    total: 100_000,
    startedAt: T,
    updatedAt: at(40_000),
  });
  // Another mailbox starts the clock again.
  await writeProgress(db, { accountId: a, mailbox: "Suporte", done: 200, total: 500 }, at(50_000));
  p = (await readAccountHealth(db, at(50_000))).get(a)?.progress;
  assert.deepEqual([p?.mailbox, p?.startedAt], ["Suporte", at(50_000)]);
  assert.equal(
    (await readAccountHealth(db, at(50_000 + PROGRESS_STALE_MS + 1))).get(a)?.progress ?? null,
    null,
    "a run that stopped reporting is not shown as running",
  );
  await clearProgress(db, a);
  assert.equal((await readAccountHealth(db, at(50_000))).get(a)?.progress ?? null, null);
  // Progress of an account that is gone is passed over.
  await writeProgress(db, { accountId: 9999, mailbox: "INBOX", done: 0, total: 1 }, T);
  assert.equal((await db.query("SELECT 1 FROM collect_progress")).length, 0);
});

storeTest("a sync outcome counts failures in a row and ends the run's progress", async (db) => {
  const a = await account(db, "caixa");
  const failures = async () =>
    (await db.query<{ n: number }>("SELECT consecutive_failures AS n FROM accounts WHERE id = $1", [
      a,
    ]))[0].n;
  await writeProgress(db, { accountId: a, mailbox: "INBOX", done: 10, total: 20 }, T);
  await recordSyncOutcome(db, a, T, "IMAP 127.0.0.1:993: authentication failed");
  await recordSyncOutcome(db, a, at(60_000), "IMAP 127.0.0.1:993: authentication failed");
  assert.equal(await failures(), 2);
  assert.equal((await readAccountHealth(db, at(60_000))).get(a)?.progress ?? null, null);
  await writeProgress(db, { accountId: a, mailbox: "INBOX", done: 0, total: 20 }, at(90_000));
  await recordSyncOutcome(db, a, at(120_000), null);
  assert.equal(await failures(), 0);
  assert.equal((await readAccountHealth(db, at(120_000))).get(a)?.progress ?? null, null);
});

storeTest("stats and metrics carry each account's health; the old keys stay", async (db) => {
  const a = await account(db, "caixa");
  const b = await account(db, "vendas");
  await recordSyncOutcome(db, a, at(-90_000), null);
  await recordSyncOutcome(db, b, at(-30_000), "timeout");
  await writeIdleHealth(db, "host1:10", [
    report(a, "idle"),
    report(b, "backoff", { consecutiveFailures: 4, lastError: "connection refused" }),
  ], at(-10_000));
  await writeProgress(db, { accountId: a, mailbox: "INBOX", done: 12_000, total: 100_000 }, T);

  const stats = await readStats(db, T);
  const [sa, sb] = stats.accounts;
  assert.deepEqual(Object.keys(sa).slice(0, 8), [
    "id",
    "name",
    "address",
    "enabled",
    "messages",
    "last_sync_at",
    "last_error",
    "mailboxes",
  ]);
  assert.equal(sa.last_sync_at, at(-90_000).toISOString());
  assert.equal(sa.lag_seconds, 90);
  assert.equal(sa.consecutive_failures, 0);
  assert.deepEqual(sa.idle, {
    state: "idle",
    instance: "host1:10",
    mailbox: "INBOX",
    since: at(-60_000).toISOString(),
    last_event_at: at(-1_000).toISOString(),
    consecutive_failures: 0,
    last_error: null,
    updated_at: at(-10_000).toISOString(),
  });
  assert.deepEqual(sa.progress, {
    mailbox: "INBOX",
    done: 12_000,
    total: 100_000,
    started_at: T.toISOString(),
    updated_at: T.toISOString(),
  });
  assert.equal(sb.lag_seconds, null, "never synced");
  assert.equal(sb.last_error, "timeout");
  assert.equal(sb.consecutive_failures, 1);
  assert.equal(sb.idle?.state, "backoff");
  assert.equal(sb.idle?.consecutive_failures, 4);
  assert.equal(sb.progress, null);
  // Three minutes on, nobody has reported: the IDLE state is unknown, not "idle".
  assert.equal((await readStats(db, at(IDLE_STALE_MS + 1))).accounts[0].idle, null);

  const m = await readMetrics(db, T);
  assert.deepEqual(
    m.accounts.map((x) => [
      x.name,
      x.idleUp,
      x.consecutiveFailures,
      x.idleConsecutiveFailures,
      x.syncRemaining,
    ]),
    [["caixa", true, 0, 0, 88_000], ["vendas", false, 1, 4, 0]],
  );
  const later = await readMetrics(db, at(IDLE_STALE_MS + 1));
  assert.deepEqual(later.accounts.map((x) => x.idleUp), [false, false]);
});
