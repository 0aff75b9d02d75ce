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
import { LEASE_SELF_STOP_MS, type MailboxKey } from "../../src/domain/idle_leases.ts";
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
    imapTls: "starttls",
    imapUser: `${name}@example.test`,
    mailboxes: ["INBOX"],
    source: "env",
    enabled: true,
    connectedAt: new Date(0),
    lastSyncAt: null,
    lastError: null,
    afterProcessing: "keep",
    afterFolder: null,
    imapConnectionCap: null,
    maxMessageBytes: 50 * 2 ** 20,
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
    unavailable: [],
    afterDone: 0,
    afterFailed: 0,
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

/**
 * Watchers that do nothing but hand out their `onNewMail`, so a test can ring them; `running`
 * lists "id:mailbox" of those started and not stopped.
 */
function fakeWatchers() {
  const ring = new Map<string, (reason: NewMailReason) => void>();
  const stopped: number[] = [];
  const running = new Set<string>();
  return {
    ring: (id: number, mailbox = "INBOX") => ring.get(`${id}:${mailbox}`)!("exists"),
    stopped,
    running,
    watch: (a: AccountRow, mailbox: string, onNewMail: (reason: NewMailReason) => void) => {
      const key = `${a.id}:${mailbox}`;
      ring.set(key, onNewMail);
      running.add(key);
      return {
        health: () => ({ ...FAKE_IDLE, mailbox }),
        stop: () => {
          stopped.push(a.id);
          running.delete(key);
          return Promise.resolve();
        },
      };
    },
  };
}

/** Waits for the watchers to be started (the first heartbeat runs just after the start). */
async function watching(w: ReturnType<typeof fakeWatchers>, keys: string[]) {
  await until(
    `watchers ${keys}`,
    () => keys.every((k) => w.running.has(k)),
    () => [...w.running],
  );
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
    await watching(w, ["1:INBOX"]);
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
    watch: (a, mailbox, onNewMail) => {
      if (a.id === 4) throw new Error("no credentials for conta4");
      return w.watch(a, mailbox, onNewMail);
    },
    log: silent,
  }, [broken, stuck, fine, account(4)]);
  try {
    await watching(w, ["1:INBOX", "2:INBOX", "3:INBOX"]);
    await until("conta4's failure", () => handle.health().length === 4, () => handle.health());
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
    assert.deepEqual(h4.watchers, [], "an account that can't be watched is left to the cron");
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
    await watching(w, ["1:INBOX"]);
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
  await watching(w, ["1:INBOX"]);
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
    watch: (a, mailbox, onNewMail) => {
      started.push(a.id);
      return w.watch(a, mailbox, onNewMail);
    },
    log: silent,
  }, [account(1), account(2), { ...account(3), enabled: false }]);
  try {
    await watching(w, ["1:INBOX", "2:INBOX"]);
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

Deno.test("every configured mailbox is watched, up to the account's connection cap", async () => {
  const w = fakeWatchers();
  const collected: string[] = [];
  const three = { ...account(1), mailboxes: ["INBOX", "Suporte", "Vendas"] };
  const handle = startIdleWatch({
    collect: (a) => {
      collected.push(a.name);
      return Promise.resolve(summary(a, "ok"));
    },
    drain: () => Promise.resolve(),
    watch: w.watch,
    log: silent,
  }, [three]);
  try {
    await watching(w, ["1:INBOX", "1:Suporte", "1:Vendas"]);
    w.ring(1, "Vendas");
    await until("a run for Vendas", () => collected.length === 1, () => handle.health());
    assert.deepEqual(
      handle.health()[0].watchers.map((h) => h.mailbox),
      ["INBOX", "Suporte", "Vendas"],
    );
    // A cap of 4 leaves 2 connections to IDLE (2 are kept for the collection and a test).
    await handle.sync([{ ...three, imapConnectionCap: 4 }]);
    assert.deepEqual([...w.running].sort(), ["1:INBOX", "1:Suporte"], "Vendas left to the cron");
    await handle.sync([{ ...three, imapConnectionCap: 2 }]);
    assert.deepEqual([...w.running], [], "no IDLE at all under a cap of 2");
    await handle.sync([{ ...three, mailboxes: ["Vendas"] }]);
    assert.deepEqual([...w.running], ["1:Vendas"]);
  } finally {
    await handle.stop();
  }
  assert.deepEqual([...w.running], []);
});

Deno.test("leases: only the mailboxes held are watched; a lost lease stops its watcher, and so does a heartbeat that fails for too long", async () => {
  const w = fakeWatchers();
  const two = { ...account(1), mailboxes: ["INBOX", "Suporte"] };
  let clock = new Date("2026-03-10T12:00:00Z");
  let grant = (wanted: MailboxKey[]) => wanted.filter((k) => k.mailbox === "INBOX");
  let failing = false;
  const asked: MailboxKey[][] = [];
  let released = 0;
  const handle = startIdleWatch({
    collect: (a) => Promise.resolve(summary(a, "ok")),
    drain: () => Promise.resolve(),
    watch: w.watch,
    leases: {
      heartbeat: (wanted) => {
        asked.push(wanted);
        return failing
          ? Promise.reject(new Error("connection refused"))
          : Promise.resolve(grant(wanted));
      },
      release: () => {
        released++;
        return Promise.resolve();
      },
    },
    now: () => clock,
    heartbeatMs: 10,
    log: silent,
  }, [two]);
  try {
    await watching(w, ["1:INBOX"]);
    assert.deepEqual(asked[0], [{ accountId: 1, mailbox: "INBOX" }, {
      accountId: 1,
      mailbox: "Suporte",
    }]);
    assert.ok(!w.running.has("1:Suporte"), "Suporte is another instance's");
    // The other instance died: its lease is ours at the next heartbeat.
    grant = (wanted) => wanted;
    await watching(w, ["1:INBOX", "1:Suporte"]);
    // Taken from us (this instance stalled past the expiry): that watcher stops.
    grant = (wanted) => wanted.filter((k) => k.mailbox === "Suporte");
    await until("INBOX given up", () => !w.running.has("1:INBOX"), () => [...w.running]);
    // The database is unreachable: the leases are trusted a little while, then not at all.
    failing = true;
    const n = asked.length;
    await until("a failed heartbeat", () => asked.length > n + 2, () => asked.length);
    assert.ok(w.running.has("1:Suporte"), "kept while the last renewal is recent");
    clock = new Date(clock.getTime() + LEASE_SELF_STOP_MS);
    await until("every watcher stopped", () => w.running.size === 0, () => [...w.running]);
  } finally {
    await handle.stop();
  }
  assert.equal(released, 1, "stop() gives the leases up");
});

Deno.test("a heartbeat is never late because of a stop in progress, and one that hangs counts as failed", async () => {
  const w = fakeWatchers();
  const stuck = deferred<CollectSummary>();
  let clock = new Date("2026-03-10T12:00:00Z");
  let hang = false;
  let heartbeats = 0;
  const a1 = account(1);
  const a2 = account(2);
  const handle = startIdleWatch({
    collect: () => stuck.promise,
    drain: () => Promise.resolve(),
    watch: w.watch,
    leases: {
      heartbeat: (wanted) => {
        heartbeats++;
        return hang ? new Promise(() => {}) : Promise.resolve(wanted);
      },
      release: () => Promise.resolve(),
    },
    now: () => clock,
    heartbeatMs: 10,
    log: silent,
  }, [a1, a2]);
  try {
    await watching(w, ["1:INBOX", "2:INBOX"]);
    w.ring(1);
    await until("conta1's run in flight", () => handle.health()[0].running, () => handle.health());
    // conta1 is deleted while its collection hangs: the heartbeats go on regardless.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const synced = await Promise.race([
      handle.sync([a2]).then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), WAIT_MS)),
    ]);
    clearTimeout(timer);
    assert.ok(synced, "sync() waited for the hung collection of the deleted account");
    const n = heartbeats;
    await until("more heartbeats", () => heartbeats > n + 3, () => heartbeats);
    assert.ok(!w.running.has("1:INBOX"), "its watcher stopped at once");
    // The database stops answering at all: after the self-stop age, nothing is watched.
    hang = true;
    clock = new Date(clock.getTime() + LEASE_SELF_STOP_MS);
    await until("every watcher stopped", () => w.running.size === 0, () => [...w.running]);
  } finally {
    stuck.resolve(summary(a1, "ok"));
    await handle.stop();
  }
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
      imapTls: "starttls",
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
      watch: (_a, mailbox, onNewMail) =>
        startIdleWatcher({ connect: () => connectIdleSession(imap), onNewMail, mailbox, log }),
      log,
      retrySkippedMs: 200,
    }, await listAccounts(db));
    const h = handle;
    await until(
      "listening",
      () => h.health()[0]?.watchers[0]?.state === "idle",
      () => h.health(),
    );
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
