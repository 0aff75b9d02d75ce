/**
 * One IMAP IDLE connection per mailbox across instances: three full services (separate processes)
 * on one PostgreSQL database watch the two mailboxes of one account (INBOX and Suporte).
 *
 * - Dovecot shows exactly one IDLE connection per mailbox, read from its own processes
 *   (`doveadm who`, and the mailbox each one has selected), and the lease table names the holder.
 * - Mail appended to each mailbox is stored before the minute cron's next tick: IDLE brought it.
 * - The holder is killed with SIGKILL: another instance watches its mailboxes within 30 s of the
 *   kill (the lease expires after 20 s, the others look every 5 s).
 * - `cli stats` shows each mailbox with the instance holding it; SIGTERM gives the leases up.
 */
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import {
  doveadm,
  ensureMailstack,
  freshUser,
  imapConfig,
  imapConnections,
  mailboxEnv,
} from "../support/mailstack.ts";
import { type ServiceProcess, startedService } from "../support/service_process.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";

const MAILBOXES = ["INBOX", "Suporte"];
/** The promise made to the user: a dead holder's mailbox is watched again within 30 s. */
const TAKEOVER_MS = 30_000;
/** Ceilings for what may take long on a busy machine; they bound the test, not the product. */
const WAIT_MS = 90_000;

type Db = ReturnType<typeof openPostgres>;
type Person = Awaited<ReturnType<typeof freshUser>>;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs: number,
  describe: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms: ${await describe()}`);
    }
    await sleep(250);
  }
}

/** Each mailbox with the IMAP connections that have it selected, and those with none. */
async function connectionsByMailbox(user: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const c of await imapConnections(user)) {
    const key = c.mailbox ?? "(none)";
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/**
 * Exactly one connection per mailbox and nothing else, seen on three looks in a row: as many
 * IMAP connections as mailboxes, and no two on one mailbox. A connection whose selected mailbox
 * cannot be read from its open files at that instant (Dovecot holds the uidlist open only while
 * it syncs) counts as one, not as a mailbox.
 */
async function oneConnectionPerMailbox(user: string): Promise<Record<string, number> | null> {
  for (let look = 0; look < 3; look++) {
    const seen = await connectionsByMailbox(user);
    const total = Object.values(seen).reduce((a, b) => a + b, 0);
    const known = Object.entries(seen).filter(([m]) => m !== "(none)");
    const exact = total === MAILBOXES.length &&
      known.every(([m, n]) => MAILBOXES.includes(m) && n === 1);
    if (!exact) return null;
    await sleep(300);
  }
  return await connectionsByMailbox(user);
}

async function leases(db: Db): Promise<Record<string, string>> {
  const rows = await db.query<{ mailbox: string; holder: string }>(
    `SELECT mailbox, holder FROM idle_leases
     WHERE heartbeat_at >= now() - interval '20 seconds' ORDER BY mailbox`,
  );
  return Object.fromEntries(rows.map((r) => [r.mailbox, r.holder]));
}

/** The service process a holder name ("hostname:pid") stands for. */
function byHolder(instances: ServiceProcess[], holder: string | undefined): ServiceProcess | null {
  const pid = Number(holder?.split(":").at(-1));
  return instances.find((i) => i.pid === pid) ?? null;
}

function message(to: Person, subject: string): { id: string; raw: Uint8Array } {
  const id = `<${crypto.randomUUID()}@cliente.example.test>`;
  const raw = new TextEncoder().encode(
    `From: Cliente <cliente@cliente.example.test>\r\nTo: <${to.address}>\r\n` +
      `Subject: ${subject}\r\nMessage-ID: ${id}\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOlá.\r\n`,
  );
  return { id, raw };
}

/** Appends a message to a mailbox as another IMAP client would (Dovecot announces it to IDLE). */
async function append(box: Person, mailbox: string, raw: Uint8Array): Promise<void> {
  const client = new ImapFlow({
    ...imapConfig(box.user, box.pass),
    auth: { user: box.user, pass: box.pass },
    doSTARTTLS: false,
    logger: false,
  });
  await client.connect();
  try {
    await client.append(mailbox, raw);
  } finally {
    await client.logout();
  }
}

/**
 * Appends one message to each mailbox early in a minute, and checks that each is stored before
 * that minute ends: the minute cron did not tick in between, so IDLE brought them in.
 */
async function deliveredByIdle(db: Db, box: Person, label: string) {
  // Early in the minute (the cron ticks at :00), leaving 45 s for IDLE on a busy machine.
  while (new Date().getUTCSeconds() < 2 || new Date().getUTCSeconds() > 12) await sleep(200);
  const minuteEnds = Math.ceil((Date.now() + 1) / 60_000) * 60_000;
  const sent = MAILBOXES.map((m) => ({ mailbox: m, ...message(box, `${label} em ${m}`) }));
  for (const s of sent) await append(box, s.mailbox, s.raw);
  const stored = async () => {
    const rows = await db.query<{ message_id: string; mailbox: string }>(
      "SELECT message_id, mailbox FROM messages WHERE message_id = ANY($1::text[])",
      [sent.map((s) => s.id)],
    );
    return rows.length === sent.length ? rows : null;
  };
  const rows = await waitFor(
    `${label}: every message stored`,
    stored,
    WAIT_MS,
    async () => JSON.stringify(await db.query("SELECT message_id, mailbox FROM messages")),
  );
  assert.ok(
    Date.now() < minuteEnds,
    `${label}: stored ${Date.now() - minuteEnds} ms after the minute's end; only the cron did it`,
  );
  assert.deepEqual(rows.map((r) => r.mailbox).sort(), [...MAILBOXES].sort());
}

Deno.test("three instances, two mailboxes: one IDLE connection per mailbox, taken over within 30 s of the holder's death", async () => {
  await ensureMailstack();
  const [box, database] = await Promise.all([freshUser("lease"), freshPostgresDatabase()]);
  await doveadm(["mailbox", "create", "-u", box.user, "Suporte"]);
  const db = openPostgres({ url: database.url, max: 2 });
  const instances: ServiceProcess[] = [];
  let passed = false;
  try {
    const env = {
      CARTEIRO_MODE: "server",
      DENO_DEPLOYMENT_ID: "",
      DATA_DIR: "",
      CARTEIRO_KILL_AT: "",
      ...mailboxEnv(box),
      IMAP_MAILBOXES: MAILBOXES.join(","),
      DATABASE_URL: database.url,
    };
    // The first collection connects the account (and migrates the database).
    const connected = await runCli(["collect", "--once"], env);
    assert.equal(connected.code, 0, connected.stderr);
    for (let i = 0; i < 3; i++) instances.push(await startedService(env));
    const describe = async () =>
      JSON.stringify({
        connections: await imapConnections(box.user),
        leases: await leases(db),
      });

    // One connection per mailbox, each held by a running instance.
    await waitFor(
      "one IDLE connection per mailbox",
      () => oneConnectionPerMailbox(box.user),
      WAIT_MS,
      describe,
    );
    const held = await leases(db);
    assert.deepEqual(Object.keys(held).sort(), [...MAILBOXES].sort());
    for (const m of MAILBOXES) assert.ok(byHolder(instances, held[m]), `${m}: ${held[m]}`);

    // `cli stats` shows who watches what.
    const stats = await runCli(["stats"], env);
    assert.equal(stats.code, 0, stats.stderr);
    const account = (stats.docs[0] as {
      accounts: Array<{ idle_mailboxes: Array<{ mailbox: string; mode: string; holder: string }> }>;
    }).accounts[0];
    assert.deepEqual(
      account.idle_mailboxes.map((m) => [m.mailbox, m.mode, m.holder]),
      MAILBOXES.map((m) => [m, "idle", held[m]]),
    );

    await deliveredByIdle(db, box, "before the kill");

    // The INBOX holder dies without a word.
    const victim = byHolder(instances, held.INBOX)!;
    const victimHeld = MAILBOXES.filter((m) => held[m] === held.INBOX);
    await victim.kill();
    const killedAt = Date.now();
    const survivors = instances.filter((i) => i !== victim);
    const takenOver = await waitFor(
      "another instance watches the dead holder's mailboxes",
      async () => {
        const now = await leases(db);
        const moved = victimHeld.every((m) => now[m] && now[m] !== held[m]);
        if (!moved) return null;
        const conns = await oneConnectionPerMailbox(box.user);
        return conns ? Date.now() - killedAt : null;
      },
      WAIT_MS,
      describe,
    );
    assert.ok(
      takenOver <= TAKEOVER_MS,
      `watched again ${takenOver} ms after the kill (promised: ${TAKEOVER_MS} ms)`,
    );
    const after = await leases(db);
    for (const m of MAILBOXES) {
      assert.ok(survivors.includes(byHolder(instances, after[m])!), `${m} held by a survivor`);
    }
    console.log(`takeover of ${victimHeld.join(", ")}: ${takenOver} ms after the kill`);

    await deliveredByIdle(db, box, "after the kill");

    // SIGTERM: the survivors stop cleanly and give their leases up.
    for (const s of survivors) {
      const status = await s.stop();
      assert.equal(status.code, 0, s.logs());
    }
    assert.deepEqual(await leases(db), {}, "no lease left after a clean stop");
    passed = true;
  } finally {
    for (const i of instances) {
      await i.kill();
      if (!passed) console.error(`--- instance ${i.pid} ---\n${i.logs()}`);
    }
    await db.close();
    await database.drop();
  }
});
