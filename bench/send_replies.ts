/**
 * Replies per second to the loopback Postfix: one pooled SMTP transport (what the outbox drain
 * uses) with 1, 4 and 8 connections and as many replies in flight (`SEND_PARALLEL`), against a
 * new connection per message, in the same run. Nodemailer pipelines the envelope and DATA where
 * the server offers PIPELINING (RFC 2920; Postfix does). Prints a table with the CPU of this
 * process per reply and of the whole machine (the rest is Postfix taking and delivering the
 * replies: on two cores it bounds what any client can reach), and the same with the peer,
 * Python's smtplib (bench/smtplib_peer.py), right after each pooled run; not a test.
 *
 *   deno run -A bench/send_replies.ts [COUNT]
 */
import { createSmtpSender, type OutgoingReply } from "../src/mail/smtp_sender.ts";
import {
  cpuSecondsOf,
  ensureMailstack,
  freshUser,
  loadAverage,
  machine,
  machineCpuSeconds,
  machineCpuSince,
  type PeerRun,
  smtplibPeer,
} from "./support.ts";

const count = Number(Deno.args[0] ?? 500);

function reply(i: number, to: string): OutgoingReply {
  return {
    from: { name: "Atendimento", address: "atendimento@example.test" },
    to: { name: "", address: to },
    subject: `Re: Pedido ${i}`,
    text: `Olá, recebemos sua mensagem ${i}.`,
    html: `<p>Olá, recebemos sua mensagem ${i}.</p>`,
    messageId: `<carteiro.bench${i}.${crypto.randomUUID()}@example.test>`,
    inReplyTo: `<m${i}@example.test>`,
    references: [`<m${i}@example.test>`],
    headers: { "Auto-Submitted": "auto-replied" },
  };
}

async function measure(pooled: boolean, to: string, connections = 1) {
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port: 1025,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    pooled,
    maxConnections: connections,
  });
  const cpuBefore = (await cpuSecondsOf(Deno.pid)) ?? 0;
  const machineBefore = await machineCpuSeconds();
  const started = performance.now();
  let accepted = 0;
  let next = 0;
  // `connections` replies in flight, each taken by the pool's next free connection.
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const r = await sender.send(reply(i, to));
      if (r.kind === "accepted") accepted++;
      else throw new Error(`send ${i} was ${r.kind}: ${JSON.stringify(r)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    sender.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = ((await cpuSecondsOf(Deno.pid)) ?? 0) - cpuBefore;
  const whole = await machineCpuSince(machineBefore);
  return {
    sent: accepted,
    seconds,
    perSecond: accepted / seconds,
    cpuMs: cpu * 1000 / accepted,
    machineMs: whole * 1000 / accepted,
  };
}

if (import.meta.main) {
  await ensureMailstack();
  const to = (await freshUser("bench-replies")).address;
  // One short warm-up so that neither side pays Postfix's first-connection costs.
  await measure(true, to);
  type Run = Omit<PeerRun, "connections">;
  const runs: Array<[string, Run]> = [];
  const peers: Array<[string, Run]> = [];
  const ratios: string[] = [];
  for (const n of [1, 4, 8]) {
    const connections = `${n} connection${n > 1 ? "s" : ""}`;
    const pooled = await measure(true, to, n);
    runs.push([`pooled, ${connections}`, pooled]);
    const peer = await smtplibPeer(to, count, n);
    if (!peer) continue;
    peers.push([`smtplib (the peer), ${connections}`, peer]);
    ratios.push(
      `nodemailer / smtplib, ${connections}: ${(pooled.perSecond / peer.perSecond).toFixed(2)}×`,
    );
  }
  runs.push(["one connection per reply", await measure(false, to)]);
  const m = await machine();
  console.log(
    `replies to Postfix on 127.0.0.1:1025, ${count} each, ${m.cpu}, ${m.cores} cores, load ${loadAverage()}, ${
      new Date().toISOString()
    }`,
  );
  console.log(
    "| transport | replies | seconds | replies/s | CPU ms per reply (this process) | CPU ms per reply (whole machine) | CPU ms per reply (the rest: Postfix) |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const [name, r] of [...runs, ...peers]) {
    console.log(
      `| ${name} | ${r.sent} | ${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(0)} | ${
        r.cpuMs.toFixed(2)
      } | ${r.machineMs.toFixed(2)} | ${(r.machineMs - r.cpuMs).toFixed(2)} |`,
    );
  }
  for (const line of ratios) console.log(line);
  const one = runs[0][1].perSecond;
  const single = runs[runs.length - 1][1].perSecond;
  console.log(`pooled / per-connection: ${(one / single).toFixed(2)}×`);
  console.log(`8 connections / 1: ${(runs[2][1].perSecond / one).toFixed(2)}×`);
}
