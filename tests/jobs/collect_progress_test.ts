/**
 * Collection progress: the events `collectAccount` gives on a real Dovecot mailbox (after each
 * committed batch, resumed runs counting what is left), the throttle that saves them, and the
 * IMAP IDLE report loop that keeps the health table fresh.
 */
import assert from "node:assert/strict";
import {
  collectAccount,
  type CollectDeps,
  type CollectProgressEvent,
} from "../../src/jobs/collect_account.ts";
import { throttleProgress } from "../../src/jobs/collect_progress.ts";
import { idleReports, startIdleHealthReport } from "../../src/jobs/idle_health_report.ts";
import type { AccountWatchHealth } from "../../src/jobs/idle_watch.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import {
  deleteIdleHealth,
  readAccountHealth,
  writeIdleHealth,
  writeProgress,
} from "../../src/store/account_health.ts";
import { readStats } from "../../src/store/stats.ts";
import { connectImap } from "../../src/mail/imap_reader.ts";
import { createLogger } from "../../src/log.ts";
import { openTestStore } from "../support/databases.ts";
import { deliverRaw, ensureMailstack, freshUser, imapConfig } from "../support/mailstack.ts";

const log = createLogger({ quiet: true });

function messages(count: number, tag: string): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    new TextEncoder().encode(
      `From: Ana <ana${i}@example.test>\r\nTo: caixa@example.test\r\nSubject: Pedido ${i}\r\n` +
        `Message-ID: <${tag}-${i}@example.test>\r\n\r\nPedido ${i}.\r\n`,
    ));
}

Deno.test("a real mailbox: progress at the start and after each committed batch, resumed runs count what is left", async () => {
  await ensureMailstack();
  const box = await freshUser("progress");
  await deliverRaw(box.user, messages(45, crypto.randomUUID()));
  const imap = imapConfig(box.user, box.pass);
  const store = await openTestStore("postgres");
  const db = store.db;
  try {
    const row = await upsertEnvAccount(db, {
      name: "caixa",
      address: box.address,
      imapHost: imap.host,
      imapPort: imap.port,
      imapTls: "starttls",
      imapUser: box.user,
      mailboxes: ["INBOX"],
    });
    const seen: Array<CollectProgressEvent & { committed: number; mark: number }> = [];
    let batchesLeft = Infinity;
    const deps: CollectDeps = {
      db,
      now: () => new Date(),
      log,
      batchMessages: 10,
      connect: () => connectImap(imap),
      processPending: async (_id, arrived) => {
        for await (const _batch of arrived ?? []) batchesLeft--;
        return { parsed: 0, failed: 0 };
      },
      shouldStop: () => batchesLeft <= 0,
      onProgress: async (p) => {
        // What is committed when the event comes: the messages and the mailbox's mark.
        const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages");
        const [mark] = await db.query<{ last_uid: number }>(
          "SELECT last_uid FROM mailbox_state WHERE account_id = $1",
          [p.accountId],
        );
        seen.push({ ...p, committed: n, mark: Number(mark?.last_uid ?? 0) });
      },
    };
    const [account] = await listAccounts(db);

    // A run stopped midway (a bounded cron run): the stop is asked as the next batch would be
    // prefetched, with one batch still in hand, so it ends after two of the five.
    batchesLeft = 1;
    const first = await collectAccount(deps, account);
    assert.equal(first.partial, true, JSON.stringify(first));
    const view = (s: typeof seen) => s.map((e) => [e.done, e.total, e.committed, e.mark]);
    assert.deepEqual(view(seen), [[0, 45, 0, 0], [10, 45, 10, 10], [20, 45, 20, 20]]);
    assert.ok(seen.every((e) => e.accountId === row.id && e.account === "caixa"));
    assert.ok(seen.every((e) => e.mailbox === "INBOX"));

    // The next run counts only what is left, and reaches its total.
    seen.length = 0;
    batchesLeft = Infinity;
    const second = await collectAccount(deps, account);
    assert.equal(second.status, "ok", JSON.stringify(second));
    assert.deepEqual(view(seen), [
      [0, 25, 20, 20],
      [10, 25, 30, 30],
      [20, 25, 40, 40],
      [25, 25, 45, 45],
    ]);

    // Nothing to fetch: no progress at all.
    seen.length = 0;
    await collectAccount(deps, account);
    assert.deepEqual(seen, []);
  } finally {
    await store.close();
  }
});

Deno.test("the service's writer: a real run leaves a row while it runs and none after it", async () => {
  await ensureMailstack();
  const box = await freshUser("progressrow");
  await deliverRaw(box.user, messages(30, crypto.randomUUID()));
  const imap = imapConfig(box.user, box.pass);
  const store = await openTestStore("pglite");
  const db = store.db;
  try {
    await upsertEnvAccount(db, {
      name: "caixa",
      address: box.address,
      imapHost: imap.host,
      imapPort: imap.port,
      imapTls: "starttls",
      imapUser: box.user,
      mailboxes: ["INBOX"],
    });
    const now = () => new Date();
    const save = throttleProgress((p) => writeProgress(db, p, now()), { now });
    const during: Array<[number, number] | null> = [];
    const deps: CollectDeps = {
      db,
      now,
      log,
      batchMessages: 10,
      connect: () => connectImap(imap),
      processPending: async (_id, arrived) => {
        for await (const _batch of arrived ?? []) {
          const p = (await readStats(db, now())).accounts[0].progress;
          during.push(p && [p.done, p.total]);
        }
        return { parsed: 0, failed: 0 };
      },
      onProgress: save,
    };
    const [account] = await listAccounts(db);
    const summary = await collectAccount(deps, account);
    assert.equal(summary.status, "ok", JSON.stringify(summary));
    // Within a second only the start and the end are certain to be saved; a row is there
    // throughout, and the last batch's is the total.
    assert.equal(during.length, 3);
    assert.ok(during.every((p) => p !== null && p[1] === 30), JSON.stringify(during));
    assert.deepEqual(during.at(-1), [30, 30]);
    const after = (await readStats(db, now())).accounts[0];
    assert.equal(after.progress, null, "the run's end deletes its row");
    assert.equal(after.consecutive_failures, 0);
  } finally {
    await store.close();
  }
});

Deno.test("the throttle: starts, mailbox changes and ends always pass, the rest once a second", async () => {
  const clock = { ms: 0 };
  const written: string[] = [];
  const save = throttleProgress((p) => {
    written.push(`${p.accountId} ${p.mailbox} ${p.done}/${p.total}`);
    return Promise.resolve();
  }, { now: () => new Date(clock.ms) });
  const ev = (accountId: number, mailbox: string, done: number, total: number) =>
    save({ accountId, account: `a${accountId}`, mailbox, done, total });
  await ev(1, "INBOX", 0, 1000);
  await ev(2, "INBOX", 0, 10);
  clock.ms = 300;
  await ev(1, "INBOX", 100, 1000);
  await ev(2, "INBOX", 10, 10);
  clock.ms = 1_000;
  await ev(1, "INBOX", 200, 1000);
  clock.ms = 1_500;
  await ev(1, "INBOX", 300, 1000);
  await ev(1, "Suporte", 0, 5);
  clock.ms = 1_600;
  await ev(1, "Suporte", 5, 5);
  assert.deepEqual(written, [
    "1 INBOX 0/1000",
    "2 INBOX 0/10",
    "2 INBOX 10/10",
    "1 INBOX 200/1000",
    "1 Suporte 0/5",
    "1 Suporte 5/5",
  ]);
});

function watchHealth(
  accountId: number,
  idle: AccountWatchHealth["watchers"][number] | null,
): AccountWatchHealth {
  return {
    accountId,
    account: `conta${accountId}`,
    watchers: idle ? [idle] : [],
    running: false,
    pending: false,
    runs: 0,
    lastWakeAt: null,
    lastRunAt: null,
    lastRunStatus: null,
    lastError: null,
    lastErrorAt: null,
  };
}

Deno.test("the IDLE report: written at once, on a change of state, and deleted on stop", async () => {
  const store = await openTestStore("pglite");
  const db = store.db;
  try {
    const a = (await upsertEnvAccount(db, {
      name: "caixa",
      address: "caixa@example.test",
      imapHost: "127.0.0.1",
      imapPort: 1143,
      imapTls: "starttls",
      imapUser: "caixa",
      mailboxes: ["INBOX"],
    })).id;
    const since = new Date();
    let state: "connecting" | "idle" = "connecting";
    const current = () => [
      watchHealth(a, {
        state,
        mailbox: "INBOX",
        since,
        lastEventAt: null,
        lastNewMailAt: null,
        consecutiveFailures: 0,
        lastError: null,
        lastErrorAt: null,
        reconnects: 0,
      }),
      // An account this instance does not watch has no row.
      watchHealth(a + 1, null),
    ];
    assert.equal(idleReports(current()).length, 1);
    let writes = 0;
    const report = startIdleHealthReport({
      health: current,
      write: (reports, at) => {
        writes++;
        return writeIdleHealth(db, "test:1", reports, at);
      },
      remove: () => deleteIdleHealth(db, "test:1"),
      now: () => new Date(),
      log,
      everyMs: 60_000,
      checkMs: 20,
    });
    const stateNow = async () => (await readAccountHealth(db, new Date())).get(a)?.idle?.state;
    // A ceiling, not a speed: the report checks every 20 ms, a busy machine may take seconds.
    const until = async (what: string, check: () => Promise<boolean>) => {
      const deadline = Date.now() + 60_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`${what} not within 60 s (${writes} writes)`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await until("the first write", async () => (await stateNow()) === "connecting");
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(writes, 1, "nothing changed: nothing written again before everyMs");
      state = "idle";
      await until("the change written", async () => (await stateNow()) === "idle");
      assert.equal(writes, 2);
    } finally {
      await report.stop();
    }
    assert.equal((await db.query("SELECT 1 FROM idle_health")).length, 0, "stop deletes the rows");
  } finally {
    await store.close();
  }
});

Deno.test("a mailbox larger than the listing window is read window by window: every message once, in UID order", async () => {
  await ensureMailstack();
  const box = await freshUser("windows");
  const tag = crypto.randomUUID();
  await deliverRaw(box.user, messages(23, tag));
  const imap = imapConfig(box.user, box.pass);
  const store = await openTestStore("postgres");
  const db = store.db;
  try {
    await upsertEnvAccount(db, {
      name: "caixa",
      address: box.address,
      imapHost: imap.host,
      imapPort: imap.port,
      imapTls: "starttls",
      imapUser: box.user,
      mailboxes: ["INBOX"],
    });
    const events: CollectProgressEvent[] = [];
    const listings: Array<[number, number | undefined]> = [];
    const deps: CollectDeps = {
      db,
      now: () => new Date(),
      log,
      batchMessages: 3,
      listWindow: 5,
      connect: async () => {
        const reader = await connectImap(imap);
        const listAfter = reader.listAfter.bind(reader);
        reader.listAfter = (after, upTo) => {
          listings.push([after, upTo]);
          return listAfter(after, upTo);
        };
        return reader;
      },
      processPending: async (_id, arrived) => {
        for await (const _batch of arrived ?? []);
        return { parsed: 0, failed: 0 };
      },
      onProgress: (p) => void events.push(p),
    };
    const [account] = await listAccounts(db);
    const summary = await collectAccount(deps, account);
    assert.deepEqual([summary.status, summary.fetched, summary.stored], ["ok", 23, 23]);
    // Five windows of five UIDs, the last one short; never the whole mailbox at once.
    assert.deepEqual(listings, [[0, 5], [5, 10], [10, 15], [15, 20], [20, 23]]);
    assert.deepEqual(events.map((e) => [e.done, e.total]).at(0), [0, 23]);
    assert.deepEqual(events.map((e) => [e.done, e.total]).at(-1), [23, 23]);
    const rows = await db.query<{ uid: number }>(
      "SELECT uid::int AS uid FROM messages ORDER BY id",
    );
    assert.deepEqual(rows.map((r) => r.uid), Array.from({ length: 23 }, (_, i) => i + 1));
    const [state] = await db.query<{ last_uid: string }>(
      "SELECT last_uid::text FROM mailbox_state",
    );
    assert.equal(state.last_uid, "23");
    const again = await collectAccount(deps, account);
    assert.deepEqual([again.fetched, again.stored], [0, 0]);
  } finally {
    await store.close();
  }
});
