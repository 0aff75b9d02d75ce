/**
 * The runner behind IDLE: coalescing, isolation between accounts, and the lock held by another
 * run. The coordination tests drive `onNewMail` by hand; the last test wires the real watcher,
 * the real collector, Dovecot and a fresh PostgreSQL database.
 *
 * Every wait has the ceiling WAIT_MS: the tests say what happens, never how fast, so a busy machine
 * does not fail them. It stays under the watcher's 2-minute NOOP, so that in the end-to-end tests
 * only IDLE (and the retry of a skipped run) can bring the mail in.
 */
import assert from "node:assert/strict";
import { type AccountWatchHealth, startIdleWatch } from "../../src/jobs/idle_watch.ts";
import type { AccountRow } from "../../src/store/accounts.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import type { CollectSummary } from "../../src/jobs/collect_account.ts";
import { collectAccount } from "../../src/jobs/collect_account.ts";
import type { IdleHealth, NewMailReason } from "../../src/mail/imap_idle.ts";
import { connectIdleSession, startIdleWatcher } from "../../src/mail/imap_idle.ts";
import { connectImap } from "../../src/mail/imap_reader.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { LockNamespace } from "../../src/store/db.ts";
import { migrate, readMigrations } from "../../src/store/migrate.ts";
import { createLogger } from "../../src/log.ts";
import { freshPostgresDatabase } from "../support/databases.ts";
import { deliverRaw, ensureMailstack, freshUser, imapConfig } from "../support/mailstack.ts";

const WAIT_MS = 60_000;

const log = createLogger({ quiet: true });
const silent = { info() {}, warn() {}, error() {} };

function account(id: number, name = `conta${id}`): AccountRow {
  return {
    id,
    name,
    address: `${name}@example.test`,
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: false,
    imapUser: `${name}@example.test`,
    mailboxes: ["INBOX"],
    source: "env",
    enabled: true,
    connectedAt: new Date(0),
    lastSyncAt: null,
    lastError: null,
    authKind: "password",
    oauthProvider: null,
    reauthorizationNeeded: false,
  };
}

function summary(a: AccountRow, status: CollectSummary["status"], parsed = 0): CollectSummary {
  return {
    account: a.name,
    accountId: a.id,
    status,
    partial: false,
    fetched: parsed,
    stored: parsed,
    remapped: 0,
    present: 0,
    parsed,
    failed: 0,
    mailboxes: [],
  };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const FAKE_IDLE: IdleHealth = {
  state: "idle",
  mailbox: "INBOX",
  since: new Date(0),
  lastEventAt: null,
  lastNewMailAt: null,
  consecutiveFailures: 0,
  lastError: null,
  lastErrorAt: null,
  reconnects: 0,
};

/** Watchers that do nothing but hand out their `onNewMail`, so a test can ring them. */
function fakeWatchers() {
  const ring = new Map<number, (reason: NewMailReason) => void>();
  const stopped: number[] = [];
  return {
    ring: (id: number) => ring.get(id)!("exists"),
    stopped,
    watch: (a: AccountRow, onNewMail: (reason: NewMailReason) => void) => {
      ring.set(a.id, onNewMail);
      return {
        health: () => FAKE_IDLE,
        stop: () => {
          stopped.push(a.id);
          return Promise.resolve();
        },
      };
    },
  };
}

async function until(what: string, check: () => boolean, detail: () => unknown, ms = WAIT_MS) {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) {
      throw new Error(`${what} not within ${ms} ms: ${JSON.stringify(detail())}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("a burst of arrivals coalesces: one run in flight, one pending", async () => {
  const a = account(1);
  const w = fakeWatchers();
  const runs: Array<ReturnType<typeof deferred<CollectSummary>>> = [];
  let drains = 0;
  const handle = startIdleWatch({
    collect: () => {
      const d = deferred<CollectSummary>();
      runs.push(d);
      return d.promise;
    },
    drain: () => {
      drains++;
      return Promise.resolve();
    },
    watch: w.watch,
    log: silent,
  }, [a]);
  try {
    for (let i = 0; i < 10; i++) w.ring(1);
    assert.equal(runs.length, 1, "one run in flight");
    assert.deepEqual(pick(handle.health()[0]), { running: true, pending: true, runs: 1 });
    runs[0].resolve(summary(a, "ok", 3));
    await until("the pending run", () => runs.length === 2, () => handle.health());
    for (let i = 0; i < 10; i++) w.ring(1);
    runs[1].resolve(summary(a, "ok", 1));
    await until("the run after the second burst", () => runs.length === 3, () => handle.health());
    runs[2].resolve(summary(a, "ok", 0));
    await until("idle again", () => !handle.health()[0].running, () => handle.health());
    assert.equal(runs.length, 3, "twenty wake-ups, three runs");
    assert.equal(drains, 2, "the outbox is drained after runs that parsed mail");
    assert.equal(handle.health()[0].lastRunStatus, "ok");
  } finally {
    await handle.stop();
  }
  assert.deepEqual(w.stopped, [1]);
});

function pick(h: AccountWatchHealth) {
  return { running: h.running, pending: h.pending, runs: h.runs };
}

Deno.test("one account failing or hanging never holds up another", async () => {
  const [broken, stuck, fine] = [account(1), account(2), account(3)];
  const w = fakeWatchers();
  const stuckRun = deferred<CollectSummary>();
  const done: number[] = [];
  const handle = startIdleWatch({
    collect: (a) => {
      if (a.id === broken.id) return Promise.reject(new Error("IMAP down for conta1"));
      if (a.id === stuck.id) return stuckRun.promise;
      done.push(a.id);
      return Promise.resolve(summary(a, "ok", 1));
    },
    drain: () => Promise.resolve(),
    watch: (a, onNewMail) => {
      if (a.id === 4) throw new Error("no credentials for conta4");
      return w.watch(a, onNewMail);
    },
    log: silent,
  }, [broken, stuck, fine, account(4)]);
  try {
    w.ring(1);
    w.ring(2);
    w.ring(3);
    await until("the healthy account's run", () => done.length === 1, () => handle.health());
    w.ring(3);
    await until("its second run", () => done.length === 2, () => handle.health());
    const [h1, h2, h3, h4] = handle.health();
    assert.equal(h1.lastRunStatus, "error");
    assert.equal(h1.lastError, "IMAP down for conta1");
    assert.equal(h2.running, true, "conta2 is still stuck");
    assert.equal(h3.lastRunStatus, "ok");
    assert.equal(h3.lastError, null);
    assert.equal(h4.idle, null, "an account that can't be watched is left to the cron");
    assert.equal(h4.lastError, "no credentials for conta4");
    // The broken account is tried again on its next arrival.
    w.ring(1);
    await until("conta1's second try", () => handle.health()[0].runs === 2, () => handle.health());
  } finally {
    stuckRun.resolve(summary(stuck, "ok"));
    await handle.stop();
  }
});

Deno.test("a run skipped because the lock is held is tried again until it gets the lock", async () => {
  const a = account(1);
  const w = fakeWatchers();
  const statuses: CollectSummary["status"][] = ["skipped", "skipped", "ok"];
  let calls = 0;
  const handle = startIdleWatch({
    collect: () => Promise.resolve(summary(a, statuses[Math.min(calls++, 2)], 1)),
    drain: () => Promise.resolve(),
    watch: w.watch,
    log: silent,
    retrySkippedMs: 20,
  }, [a]);
  try {
    w.ring(1);
    await until("three runs", () => calls === 3, () => handle.health());
    await until("idle", () => !handle.health()[0].running, () => handle.health());
    assert.equal(calls, 3);
    assert.equal(handle.health()[0].lastRunStatus, "ok");
  } finally {
    await handle.stop();
  }
});

Deno.test("stop() cuts a skipped-lock wait short and waits for the run in flight", async () => {
  const a = account(1);
  const w = fakeWatchers();
  const handle = startIdleWatch({
    collect: () => Promise.resolve(summary(a, "skipped")),
    drain: () => Promise.resolve(),
    watch: w.watch,
    log: silent,
    retrySkippedMs: 60 * 60_000,
  }, [a]);
  w.ring(1);
  await until("the first run", () => handle.health()[0].runs === 1, () => handle.health());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = await Promise.race([
    handle.stop().then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), WAIT_MS)),
  ]);
  clearTimeout(timer);
  assert.ok(stopped, `stop() still waiting after ${WAIT_MS} ms, for a retry due in an hour`);
  assert.equal(handle.health()[0].runs, 1);
});

Deno.test("sync() follows the accounts: new ones start, disabled or changed ones stop", async () => {
  const w = fakeWatchers();
  const started: number[] = [];
  const handle = startIdleWatch({
    collect: (a) => Promise.resolve(summary(a, "ok")),
    drain: () => Promise.resolve(),
    watch: (a, onNewMail) => {
      started.push(a.id);
      return w.watch(a, onNewMail);
    },
    log: silent,
  }, [account(1), account(2), { ...account(3), enabled: false }]);
  try {
    assert.deepEqual(started, [1, 2]);
    await handle.sync([account(1), account(2), account(3)]);
    assert.deepEqual(started, [1, 2, 3], "account 3 enabled: watched");
    await handle.sync([account(1), { ...account(2), imapHost: "imap.novo.example.test" }]);
    assert.deepEqual(w.stopped, [2, 3], "2 moved to another server, 3 deleted");
    assert.deepEqual(started, [1, 2, 3, 2], "2 watched again on its new server");
    assert.deepEqual(handle.health().map((h) => h.accountId).sort(), [1, 2]);
  } finally {
    await handle.stop();
  }
  assert.deepEqual(w.stopped.sort(), [1, 2, 2, 3]);
});

async function endToEnd(
  fn: (t: {
    box: Awaited<ReturnType<typeof freshUser>>;
    db: ReturnType<typeof openPostgres>;
    handle: ReturnType<typeof startIdleWatch>;
    accountId: number;
  }) => Promise<void>,
) {
  await ensureMailstack();
  const box = await freshUser("watch");
  const database = await freshPostgresDatabase();
  const db = openPostgres({ url: database.url, max: 4 });
  const imap = { ...imapConfig(box.user, box.pass), allowInvalidCertificate: true };
  let handle: ReturnType<typeof startIdleWatch> | null = null;
  try {
    await migrate(db, await readMigrations());
    const row = await upsertEnvAccount(db, {
      name: "caixa",
      address: box.address,
      imapHost: imap.host,
      imapPort: imap.port,
      imapTls: false,
      imapUser: box.user,
      mailboxes: ["INBOX"],
    });
    const collectDeps = {
      db,
      now: () => new Date(),
      log,
      connect: () => connectImap(imap),
      processPending: () => Promise.resolve({ parsed: 0, failed: 0 }),
    };
    handle = startIdleWatch({
      collect: (a) => collectAccount(collectDeps, a),
      drain: () => Promise.resolve(),
      watch: (_a, onNewMail) =>
        startIdleWatcher({ connect: () => connectIdleSession(imap), onNewMail, log }),
      log,
      retrySkippedMs: 200,
    }, await listAccounts(db));
    const h = handle;
    await until("listening", () => h.health()[0].idle?.state === "idle", () => h.health());
    await fn({ box, db, handle, accountId: row.id });
  } finally {
    await handle?.stop();
    await db.close();
    await database.drop();
  }
}

function arrival(to: string): Uint8Array {
  return new TextEncoder().encode(
    `From: Ana <ana@example.test>\r\nTo: ${to}\r\nSubject: Agora\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\n\r\nOi.\r\n`,
  );
}

async function storedCount(db: ReturnType<typeof openPostgres>): Promise<number> {
  return (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages"))[0].n;
}

/** Waits until a message is stored, or fails after WAIT_MS saying what the runner reports. */
async function untilStored(
  db: ReturnType<typeof openPostgres>,
  handle: ReturnType<typeof startIdleWatch>,
  what: string,
) {
  const deadline = performance.now() + WAIT_MS;
  while ((await storedCount(db)) === 0) {
    if (performance.now() > deadline) {
      throw new Error(
        `not stored ${what} (waited ${WAIT_MS} ms): ${JSON.stringify(handle.health())}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("end to end: a delivery is stored with no cron at all", async () => {
  await endToEnd(async ({ box, db, handle }) => {
    await deliverRaw(box.user, [arrival(box.address)]);
    await untilStored(db, handle, "after its delivery");
    await until(
      "the run's end",
      () => handle.health()[0].lastRunStatus !== null,
      () => handle.health(),
    );
    assert.equal(handle.health()[0].lastRunStatus, "ok");
  });
});

Deno.test("end to end: mail arriving while another run holds the account's lock is not left for the cron", async () => {
  await endToEnd(async ({ box, db, handle, accountId }) => {
    // Stands in for the minute cron (or a second instance) collecting at the same moment.
    const held = await db.tryWithLock(LockNamespace.collect, accountId, async () => {
      await deliverRaw(box.user, [arrival(box.address)]);
      await until(
        "a skipped run",
        () => handle.health()[0].lastRunStatus === "skipped",
        () => handle.health(),
      );
    });
    assert.ok(held.acquired);
    await untilStored(db, handle, "after the lock's release");
  });
});
