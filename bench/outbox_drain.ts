/**
 * Replies per second through the outbox drain (`drainOutbox`, what `send --once` and the service
 * run): COUNT replies queued in a fresh PostgreSQL database, then drained to the loopback Postfix
 * with 1, 4, 8 and 16 replies in flight (`SEND_PARALLEL`), over a pool of as many SMTP
 * connections, and once more with 8 in flight under a per-day send budget (counted at each
 * claim). Every reply is claimed, sent, settled and audited as in production. Prints a table with
 * the CPU per reply of this process, of its PostgreSQL backends and of the whole machine (what
 * is neither is mostly Postfix and Dovecot taking and delivering the replies, with PostgreSQL's
 * other processes and the kernel's loopback), and the statements and transactions
 * per reply, beside the 300 replies/s target. Right after each run without a budget, the peer,
 * Python's smtplib (bench/smtplib_peer.py), sends as many replies of the same shape to the same
 * mailbox over as many connections, with no database: the drain's rate is given as a ratio to it,
 * measured minutes apart on the same machine. Not a test.
 *
 *   deno run -A bench/outbox_drain.ts [COUNT] [RUN…]   (a RUN is "8" or "8/budget")
 */
import { openPostgres } from "../src/store/postgres_db.ts";
import { migrate, readMigrations } from "../src/store/migrate.ts";
import type { Db, Queryable } from "../src/store/db.ts";
import { setSendBudget } from "../src/store/send_budget.ts";
import { upsertEnvAccount } from "../src/store/accounts.ts";
import { storeArrivals } from "../src/store/messages.ts";
import { enqueueReply } from "../src/store/outbox.ts";
import { drainOutbox } from "../src/jobs/send_outbox.ts";
import { createSmtpSender } from "../src/mail/smtp_sender.ts";
import type { Logger } from "../src/log.ts";
import {
  cpuSecondsOf,
  ensureMailstack,
  fixed,
  freshPostgresDatabase,
  freshUser,
  loadAverage,
  machine,
  machineCpuSeconds,
  machineCpuSince,
  type PeerRun,
  smtplibPeer,
  table,
} from "./support.ts";

const count = Number(Deno.args[0] ?? 2000);
/** Replies in flight, and whether the account has a send budget to count. */
const RUNS: Array<[number, boolean]> = Deno.args.length > 1
  ? Deno.args.slice(1).map((a) => [Number(a.split("/")[0]), a.endsWith("/budget")])
  : [[1, false], [4, false], [8, false], [16, false], [8, true]];
const TARGET = 300;

const quiet: Logger = { info() {}, warn() {}, error() {} };

/** A database that counts the statements and transactions run through it. */
function counting(db: Db) {
  const counts = { statements: 0, transactions: 0 };
  const wrap = (q: Queryable): Queryable => ({
    query(text, params, options) {
      counts.statements++;
      return q.query(text, params, options);
    },
  });
  const counted: Db = {
    ...db,
    kind: db.kind,
    query: (text, params, options) => wrap(db).query(text, params, options),
    transaction(fn) {
      counts.transactions++;
      return db.transaction((tx) => fn(wrap(tx)));
    },
    exec: (script) => db.exec(script),
    tryWithLock: (n, k, fn) => db.tryWithLock(n, k, fn),
    withLock: (n, k, fn) => db.withLock(n, k, fn),
    close: () => db.close(),
  };
  return { db: counted, counts };
}

/** The PostgreSQL backends serving this database (their CPU is the drain's too). */
async function backends(db: Db): Promise<number[]> {
  const rows = await db.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
  );
  return rows.map((r) => Number(r.pid));
}

async function cpuOf(pids: number[]): Promise<Map<number, number>> {
  const cpu = new Map<number, number>();
  for (const pid of pids) cpu.set(pid, (await cpuSecondsOf(pid)) ?? 0);
  return cpu;
}

async function queue(db: Db, to: string, run: string): Promise<number> {
  const account = await upsertEnvAccount(db, {
    name: `bench-${run}`,
    address: `atendimento-${run}@example.test`,
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: "plain",
    imapUser: `bench-${run}`,
    mailboxes: ["INBOX"],
  });
  const at = new Date();
  const encoder = new TextEncoder();
  for (let start = 0; start < count; start += 500) {
    const arrivals = Array.from({ length: Math.min(500, count - start) }, (_, k) => {
      const i = start + k;
      return {
        uid: i + 1,
        raw: encoder.encode(
          `Subject: Pedido ${i}\r\nMessage-ID: <m${i}.${run}@example.test>\r\n\r\nOi`,
        ),
        sha256: `${run}-${i}`,
        internalDate: null,
      };
    });
    const stored = await storeArrivals(db, account.id, "INBOX", 1, arrivals, at);
    await db.transaction(async (tx) => {
      for (const [k, s] of stored.entries()) {
        if (s.outcome !== "stored") throw new Error("a bench message was already there");
        const i = start + k;
        await enqueueReply(tx, {
          dedupKey: `bench-${run}-${i}`,
          messageId: s.id,
          accountId: account.id,
          ruleName: "ack",
          recipient: to,
          recipientName: "Ana",
          fromAddress: account.address,
          fromName: "Atendimento",
          subject: `Re: Pedido ${i}`,
          text: `Olá, recebemos sua mensagem ${i}.`,
          html: `<p>Olá, recebemos sua mensagem ${i}.</p>`,
          messageIdHeader: `<carteiro.bench-${run}-${i}@example.test>`,
          inReplyTo: `<m${i}.${run}@example.test>`,
          references: [`<m${i}.${run}@example.test>`],
          headers: { "Auto-Submitted": "auto-replied" },
          deadlineAt: new Date(at.getTime() + 86_400_000),
        }, at);
      }
    });
  }
  return account.id;
}

async function measure(db: Db, to: string, parallel: number, budget: boolean) {
  const accountId = await queue(db, to, `p${parallel}${budget ? "b" : ""}`);
  // A budget far above the run: every claim counts it, none waits for it.
  if (budget) await setSendBudget(db, accountId, { perMinute: null, perDay: 1_000_000 });
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port: 1025,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    maxConnections: parallel,
  });
  const { db: counted, counts } = counting(db);
  const pgBefore = await cpuOf(await backends(db));
  const cpuBefore = (await cpuSecondsOf(Deno.pid)) ?? 0;
  const machineBefore = await machineCpuSeconds();
  const started = performance.now();
  try {
    const summary = await drainOutbox({
      db: counted,
      now: () => new Date(),
      log: quiet,
      newToken: () => crypto.randomUUID(),
      senderFor: () => Promise.resolve(sender),
      parallel,
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = ((await cpuSecondsOf(Deno.pid)) ?? 0) - cpuBefore;
    const machineCpu = await machineCpuSince(machineBefore);
    // Backends opened during the drain count from zero.
    const pgAfter = await cpuOf(await backends(db));
    let pg = 0;
    for (const [pid, t] of pgAfter) pg += t - (pgBefore.get(pid) ?? 0);
    if (summary.sent !== count) throw new Error(`sent ${summary.sent} of ${count}`);
    return {
      sent: summary.sent,
      seconds,
      perSecond: summary.sent / seconds,
      cpuMs: cpu * 1000 / count,
      pgMs: pg * 1000 / count,
      machineMs: machineCpu * 1000 / count,
      statements: counts.statements / count,
      transactions: counts.transactions / count,
    };
  } finally {
    sender.close();
  }
}

if (import.meta.main) {
  await ensureMailstack();
  const to = (await freshUser("bench-drain")).address;
  const database = await freshPostgresDatabase();
  const db = openPostgres({ url: database.url, max: 10 });
  try {
    await migrate(db, await readMigrations());
    const rows: Array<Array<string | number>> = [];
    const results = new Map<string, number>();
    const peers = new Map<number, PeerRun | null>();
    for (const [parallel, budget] of RUNS) {
      const r = await measure(db, to, parallel, budget);
      results.set(`${parallel}${budget ? "/budget" : ""}`, r.perSecond);
      if (!budget && !peers.has(parallel)) {
        peers.set(parallel, await smtplibPeer(to, count, parallel));
      }
      const peer = peers.get(parallel) ?? null;
      rows.push([
        parallel,
        budget ? "per day" : "none",
        r.sent,
        fixed(r.seconds, 2),
        fixed(r.perSecond),
        `${fixed(r.perSecond / TARGET * 100)}%`,
        fixed(r.cpuMs, 2),
        fixed(r.pgMs, 2),
        fixed(r.cpuMs + r.pgMs, 2),
        fixed(r.machineMs, 2),
        fixed(r.statements, 1),
        fixed(r.transactions, 2),
        peer ? fixed(peer.perSecond) : "—",
        peer ? fixed(peer.machineMs, 2) : "—",
        peer ? `${fixed(r.perSecond / peer.perSecond, 2)}×` : "—",
      ]);
    }
    const m = await machine();
    console.log(
      `outbox drain to Postfix on 127.0.0.1:1025, ${count} replies each, PostgreSQL, ` +
        `${m.cpu}, ${m.cores} cores, load ${loadAverage()}, ${new Date().toISOString()}`,
    );
    console.log(
      table(
        [
          "replies in flight",
          "budget",
          "sent",
          "seconds",
          "replies/s",
          `of ${TARGET}/s`,
          "CPU ms/reply (Carteiro)",
          "CPU ms/reply (PostgreSQL)",
          "CPU ms/reply (both)",
          "CPU ms/reply (whole machine)",
          "statements/reply",
          "transactions/reply",
          "smtplib, as many connections: replies/s",
          "smtplib: CPU ms/reply (whole machine)",
          "drain / smtplib",
        ],
        rows,
      ),
    );
    if (results.has("4") && results.has("1")) {
      console.log(`4 in flight / 1: ${fixed(results.get("4")! / results.get("1")!, 2)}×`);
    }
  } finally {
    await db.close();
    await database.drop();
  }
}
