/**
 * Replies per second through the outbox drain (`drainOutbox`, what `send --once` and the service
 * run): COUNT replies queued in a fresh PostgreSQL database, then drained to the loopback Postfix
 * with 1, 4 and 8 replies in flight (`SEND_PARALLEL`), each over its own pooled SMTP connection.
 * Every reply is claimed, sent, settled and audited as in production. Prints a table with the
 * CPU of this process per reply; not a test.
 *
 *   deno run -A bench/outbox_drain.ts [COUNT]
 */
import { openPostgres } from "../src/store/postgres_db.ts";
import { migrate, readMigrations } from "../src/store/migrate.ts";
import type { Db } from "../src/store/db.ts";
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
  machine,
  table,
} from "./support.ts";

const count = Number(Deno.args[0] ?? 2000);
/** Replies in flight, and rows each sender claims at a time. */
const RUNS = [[1, 1], [4, 1], [8, 1], [4, 5]] as const;

const quiet: Logger = { info() {}, warn() {}, error() {} };

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

async function measure(db: Db, to: string, parallel: number, batch: number) {
  await queue(db, to, `p${parallel}b${batch}`);
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port: 1025,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    maxConnections: parallel,
  });
  const cpuBefore = (await cpuSecondsOf(Deno.pid)) ?? 0;
  const started = performance.now();
  try {
    const summary = await drainOutbox({
      db,
      now: () => new Date(),
      log: quiet,
      newToken: () => crypto.randomUUID(),
      senderFor: () => Promise.resolve(sender),
      parallel,
      batch,
    });
    const seconds = (performance.now() - started) / 1000;
    if (summary.sent !== count) throw new Error(`sent ${summary.sent} of ${count}`);
    const cpu = ((await cpuSecondsOf(Deno.pid)) ?? 0) - cpuBefore;
    return {
      sent: summary.sent,
      seconds,
      perSecond: summary.sent / seconds,
      cpuMs: cpu * 1000 / count,
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
    for (const [parallel, batch] of RUNS) {
      const r = await measure(db, to, parallel, batch);
      results.set(`${parallel}/${batch}`, r.perSecond);
      rows.push([
        parallel,
        batch,
        r.sent,
        fixed(r.seconds, 2),
        fixed(r.perSecond),
        fixed(r.cpuMs, 2),
      ]);
    }
    const m = await machine();
    console.log(
      `outbox drain to Postfix on 127.0.0.1:1025, ${count} replies each, PostgreSQL, ` +
        `${m.cpu}, ${m.cores} cores, ${new Date().toISOString().slice(0, 10)}`,
    );
    console.log(
      table(
        [
          "replies in flight",
          "claimed at a time",
          "sent",
          "seconds",
          "replies/s",
          "CPU ms per reply (drain)",
        ],
        rows,
      ),
    );
    console.log(`4 in flight / 1: ${fixed(results.get("4/1")! / results.get("1/1")!, 2)}×`);
  } finally {
    await db.close();
    await database.drop();
  }
}
