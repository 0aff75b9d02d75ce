/**
 * Replies per second to the loopback Postfix: one pooled SMTP transport (what the outbox drain
 * uses) against a new connection per message, in the same run. Prints a table; not a test.
 *
 *   deno run -A bench/send_replies.ts [COUNT]
 */
import { createSmtpSender, type OutgoingReply } from "../src/mail/smtp_sender.ts";
import { ensureMailstack, freshUser, machine } from "./support.ts";

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

async function measure(pooled: boolean, to: string) {
  const sender = createSmtpSender({
    host: "127.0.0.1",
    port: 1025,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
    pooled,
  });
  const started = performance.now();
  let accepted = 0;
  try {
    for (let i = 0; i < count; i++) {
      const r = await sender.send(reply(i, to));
      if (r.kind === "accepted") accepted++;
      else throw new Error(`send ${i} was ${r.kind}: ${JSON.stringify(r)}`);
    }
  } finally {
    sender.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { accepted, seconds, perSecond: accepted / seconds };
}

if (import.meta.main) {
  await ensureMailstack();
  const to = (await freshUser("bench-replies")).address;
  // One short warm-up so that neither side pays Postfix's first-connection costs.
  await measure(true, to);
  const pooled = await measure(true, to);
  const single = await measure(false, to);
  const m = await machine();
  console.log(`replies to Postfix on 127.0.0.1:1025, ${count} each, ${m.cpu}, ${m.cores} cores`);
  console.log("| transport | replies | seconds | replies/s |");
  console.log("|---|---|---|---|");
  for (const [name, r] of [["pooled", pooled], ["one connection per reply", single]] as const) {
    console.log(
      `| ${name} | ${r.accepted} | ${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(0)} |`,
    );
  }
  console.log(`pooled / per-connection: ${(pooled.perSecond / single.perSecond).toFixed(2)}×`);
}
