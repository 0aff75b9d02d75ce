/**
 * Latency: a message submitted to Postfix → Carteiro's reply visible in the sender's mailbox.
 * Each message comes from its own fresh sender, whose INBOX a dedicated IMAP connection polls
 * with NOOP (NOOP sees new mail at once; IDLE would add Dovecot's 0.5 s). Three modes:
 *
 *   floor  submission → the message itself visible in IMAP, no Carteiro at all
 *   idle   Carteiro in-process with IDLE-driven collection (and the minute cron beside it)
 *   cron   Carteiro in-process with the one-minute cron alone
 *
 *   deno run -A bench/latency.ts --mode idle --count 50
 */
import nodemailer from "nodemailer";
import { ImapFlow } from "imapflow";
import { prng } from "./generate_corpus.ts";
import { startBenchService } from "./service.ts";
import {
  dropMailbox,
  ensureMailstack,
  fixed,
  freshPostgresDatabase,
  freshUser,
  percentile,
  sleep,
  table,
} from "./support.ts";

export type LatencyMode = "floor" | "idle" | "cron";

export interface LatencyResult {
  mode: LatencyMode;
  count: number;
  /** Milliseconds, in submission order; messages never seen are left out and counted. */
  samplesMs: number[];
  missing: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  /** How the messages were spread, for the table. */
  schedule: string;
  pollMs: number;
}

export interface LatencyOptions {
  mode: LatencyMode;
  count: number;
  /** Fixed spacing between submissions (floor, idle). */
  intervalMs?: number;
  /** cron: submissions at seeded random moments within this window; cron period. */
  windowMs?: number;
  cronPeriodMs?: number;
  pollMs?: number;
  say?: (line: string) => void;
}

type User = Awaited<ReturnType<typeof freshUser>>;

export async function runLatency(o: LatencyOptions): Promise<LatencyResult> {
  const say = o.say ?? ((l: string) => console.error(l));
  await ensureMailstack();
  const box = await freshUser("latbox");
  const senders: User[] = [];
  for (let i = 0; i < o.count; i += 10) {
    senders.push(
      ...await Promise.all(
        Array.from({ length: Math.min(10, o.count - i) }, () => freshUser("latsender")),
      ),
    );
  }
  const pollMs = o.pollMs ?? (o.mode === "cron" ? 50 : 10);
  const smtp = nodemailer.createTransport({
    host: "127.0.0.1",
    port: 1025,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 4,
  });
  const database = o.mode === "floor" ? null : await freshPostgresDatabase();
  const service = database
    ? await startBenchService({
      box,
      databaseUrl: database.url,
      mode: o.mode === "idle" ? "idle" : "cron",
      cronPeriodMs: o.cronPeriodMs,
    })
    : null;
  say(`latency ${o.mode}: ${o.count} messages`);
  try {
    const rnd = prng(7);
    const windowMs = o.windowMs ?? 60_000;
    const offsets = o.mode === "cron"
      ? Array.from({ length: o.count }, () => Math.floor(rnd() * windowMs)).sort((a, b) => a - b)
      : Array.from({ length: o.count }, (_, i) => i * (o.intervalMs ?? 250));
    const timeoutMs = o.mode === "cron" ? (o.cronPeriodMs ?? 60_000) * 2 + 30_000 : 30_000;
    const start = performance.now();
    const results = await Promise.all(senders.map(async (sender, i) => {
      await sleep(Math.max(0, start + offsets[i] - performance.now()));
      // floor: the message itself, to the sender's own mailbox; otherwise to Carteiro's box.
      const to = o.mode === "floor" ? sender.address : box.address;
      return await oneMessage(smtp, sender, to, i, pollMs, timeoutMs);
    }));
    const samplesMs = results.filter((r): r is number => r !== null);
    const missing = results.length - samplesMs.length;
    if (missing > 0) say(`latency ${o.mode}: ${missing} replies never arrived`);
    return {
      mode: o.mode,
      count: o.count,
      samplesMs,
      missing,
      p50: percentile(samplesMs, 50),
      p99: percentile(samplesMs, 99),
      min: Math.min(...samplesMs),
      max: Math.max(...samplesMs),
      schedule: o.mode === "cron"
        ? `random within ${windowMs / 1000} s, cron every ${(o.cronPeriodMs ?? 60_000) / 1000} s`
        : `one every ${o.intervalMs ?? 250} ms`,
      pollMs,
    };
  } finally {
    smtp.close();
    await service?.stop();
    await database?.drop();
    for (const u of [box, ...senders]) await dropMailbox(u.address);
  }
}

/** Submits one message and waits until something lands in the sender's INBOX; ms or null. */
async function oneMessage(
  smtp: ReturnType<typeof nodemailer.createTransport>,
  sender: User,
  to: string,
  i: number,
  pollMs: number,
  timeoutMs: number,
): Promise<number | null> {
  const client = new ImapFlow({
    host: "127.0.0.1",
    port: 1143,
    secure: false,
    doSTARTTLS: false,
    auth: { user: sender.user, pass: sender.pass },
    logger: false,
    disableAutoIdle: true,
  });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.mailboxOpen("INBOX", { readOnly: true });
    const raw = `From: Cliente ${i} <${sender.address}>\r\nTo: ${to}\r\n` +
      `Subject: Pedido ${i}\r\nMessage-ID: <lat-${crypto.randomUUID()}@example.test>\r\n` +
      `Date: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOlá, meu pedido ${i} não chegou.\r\n`;
    const submitted = performance.now();
    await smtp.sendMail({ envelope: { from: sender.address, to: [to] }, raw });
    const deadline = submitted + timeoutMs;
    while (performance.now() < deadline) {
      await client.noop();
      const mb = client.mailbox;
      if (mb && mb.exists > 0) return performance.now() - submitted;
      await sleep(pollMs);
    }
    return null;
  } finally {
    await client.logout().catch(() => client.close());
  }
}

export const LATENCY_HEADER = [
  "latency",
  "n",
  "p50 ms",
  "p99 ms",
  "min–max ms",
  "how",
  "target",
];

/** Issue 17's targets with IDLE: p50 ≤ 625 ms and p99 ≤ 2 s. */
function latencyTarget(r: LatencyResult): string {
  if (r.mode !== "idle") return "";
  const met = r.p50 <= 625 && r.p99 <= 2000 && r.missing === 0;
  return `p50 ≤ 625, p99 ≤ 2,000: ${met ? "met" : "**missed**"}`;
}

export function latencyRow(r: LatencyResult): Array<string | number> {
  const what = {
    floor: "floor: submit → visible in IMAP (no Carteiro)",
    idle: "submit → reply visible, IDLE",
    cron: "submit → reply visible, cron alone",
  }[r.mode];
  return [
    what,
    `${r.samplesMs.length}${r.missing ? ` (+${r.missing} lost)` : ""}`,
    fixed(r.p50),
    fixed(r.p99),
    `${fixed(r.min)}–${fixed(r.max)}`,
    `${r.schedule}; NOOP poll ${r.pollMs} ms`,
    latencyTarget(r),
  ];
}

if (import.meta.main) {
  const value = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const mode = (value("--mode") ?? "idle") as LatencyMode;
  const r = await runLatency({
    mode,
    count: Number(value("--count") ?? 50),
    intervalMs: value("--interval") ? Number(value("--interval")) : undefined,
    windowMs: value("--window") ? Number(value("--window")) * 1000 : undefined,
    cronPeriodMs: value("--cron-period") ? Number(value("--cron-period")) * 1000 : undefined,
  });
  console.log(table(LATENCY_HEADER, [latencyRow(r)]));
}
