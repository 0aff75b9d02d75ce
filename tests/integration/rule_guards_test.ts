/**
 * The rules and the guard end to end, on the real Dovecot, Postfix and PostgreSQL, with the jobs
 * (collect → analyse → decide, then the outbox drain) run in this process on a clock the test
 * sets: mail that arrived out of hours gets the out-of-hours reply and mail that arrived in hours
 * the other (`when.schedule`, `"outside": true`); an outsider's "forward" naming a third party
 * (`untrusted_forwarder`) and a message whose SPF failed at the account's own receiving server
 * (`auth_failed`, Authentication-Results from its authserv-id) get no reply, their reasons in
 * the audit. A schedule reads when a message reached the mailbox (IMAP INTERNALDATE), so each
 * message is appended with its own arrival time; the clock puts the account's connection before
 * them all and runs the jobs after.
 */
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { openTestStore } from "../support/databases.ts";
import { ensureMailstack, freshUser, IMAP, imapConfig, SMTP } from "../support/mailstack.ts";
import { readInbox, settledInbox } from "../support/mailbox_reader.ts";
import { saveAccount } from "../../src/actions/accounts.ts";
import { saveAccountSettings } from "../../src/actions/account_settings.ts";
import { rulesImport } from "../../src/cli/admin_commands.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import { listAccounts } from "../../src/store/accounts.ts";
import { type AccountAccess, connectWithLogin, smtpLogin } from "../../src/mail/account_access.ts";
import { createSmtpSender, type SmtpSender } from "../../src/mail/smtp_sender.ts";
import { ingestChain, startAnalyzer } from "../../src/jobs/ingest.ts";
import { drainOutbox } from "../../src/jobs/send_outbox.ts";
import { readAccountContext } from "../../src/jobs/account_context.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { rememberedHolidays } from "../../src/domain/schedule.ts";
import { createLogger } from "../../src/log.ts";

type Person = Awaited<ReturnType<typeof freshUser>>;

/** Opening hours: Monday to Friday, 09:00–18:00 in São Paulo (UTC−3, no daylight saving). */
const HOURS = { "mon-fri": "09:00-18:00" };

const RULES = [
  {
    name: "encaminhado",
    when: { kind: "forwarded" },
    reply: { to: "original_sender", subject: "Re: {{original_subject}}", text: "Recebemos." },
  },
  {
    name: "fora-do-horario",
    when: { kind: "direct", schedule: { hours: HOURS, outside: true } },
    reply: {
      to: "sender",
      subject: "Re: {{subject}}",
      text: "Estamos fora do horário; respondemos no próximo dia útil.",
    },
  },
  {
    name: "no-horario",
    when: { kind: "direct", schedule: { hours: HOURS } },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos; já vamos atender." },
  },
];

/** The account is connected on Monday 9 March 2026 at 09:00 in São Paulo (12:00 UTC). */
const CONNECTED = new Date("2026-03-09T12:00:00Z");
/** Monday 14:00 in São Paulo: in hours. */
const IN_HOURS = new Date("2026-03-09T17:00:00Z");
/** Monday 21:30 in São Paulo (Tuesday 00:30 UTC): out of hours. */
const OUT_OF_HOURS = new Date("2026-03-10T00:30:00Z");
/** When the jobs run: after all of them arrived. */
const JOBS_RUN = new Date("2026-03-10T01:00:00Z");

/** The receiving server of the account, as it signs its Authentication-Results. */
const AUTHSERV_ID = "mx.caixa.example.test";

function message(from: Person, to: string, subject: string, extra = "", body = "Oi.") {
  return new TextEncoder().encode(
    `From: ${from.user.split("@")[0]} <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `${extra}Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`,
  );
}

function forward(from: Person, to: string, original: Person, subject: string) {
  const body = `Podem responder a ela?\r\n\r\n---------- Forwarded message ---------\r\n` +
    `From: ${original.user.split("@")[0]} <${original.address}>\r\n` +
    `Date: Mon, 9 Mar 2026 10:20:00 -0300\r\nSubject: ${subject}\r\nTo: <${from.address}>\r\n` +
    `\r\nMeu pedido não chegou.\r\n`;
  return message(from, to, `Fwd: ${subject}`, "", body);
}

/** Appends `raw` to the user's INBOX with the arrival time (INTERNALDATE) given. */
async function appendAt(box: Person, raw: Uint8Array, at: Date): Promise<void> {
  const client = new ImapFlow({
    host: IMAP.host,
    port: IMAP.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: box.user, pass: box.pass },
    logger: false,
  });
  await client.connect();
  try {
    await client.append("INBOX", raw, [], at);
  } finally {
    await client.logout();
  }
}

Deno.test("out-of-hours and in-hours replies; an untrusted forward and an SPF failure get none, with their reasons audited", async () => {
  await ensureMailstack();
  const store = await openTestStore("postgres");
  const db = store.db;
  const [box, ana, bruno, gerente, rafael, estranho, joana, carla] = await Promise.all(
    ["caixa", "ana", "bruno", "gerente", "rafael", "estranho", "joana", "carla"].map((p) =>
      freshUser(p)
    ),
  );
  let clock = CONNECTED;
  const now = () => clock;
  const secrets = createSecretBox("a-very-long-secret-key-for-tests");
  const access: AccountAccess = { db, secrets, envAccount: null };
  const log = createLogger({ quiet: true });
  const analyzer = startAnalyzer(0);
  const senders = new Map<number, SmtpSender>();
  try {
    // A stored account on the loopback stack, connected at CONNECTED, in São Paulo's time, whose
    // receiving server is AUTHSERV_ID, trusting only its manager's forwards.
    const saved = await saveAccount({ db, now, box: secrets }, null, {
      settings: {
        name: "caixa",
        address: box.address,
        displayName: "Atendimento",
        enabled: true,
        imapHost: IMAP.host,
        imapPort: IMAP.port,
        imapTls: "plain",
        imapUser: box.user,
        mailboxes: ["INBOX"],
        smtpHost: SMTP.host,
        smtpPort: SMTP.port,
        smtpTls: "plain",
        smtpUser: null,
        copyToSent: false,
      },
      passwords: { imap: box.pass, smtp: "" },
    }, "tests");
    assert.ok(saved.ok, JSON.stringify(saved));
    const settings = await saveAccountSettings({ db, now }, saved.value, {
      time_zone: "America/Sao_Paulo",
      authserv_ids: [AUTHSERV_ID],
      trusted_forwarders: [gerente.address],
    }, "tests");
    assert.ok(settings.ok, JSON.stringify(settings));
    const imported = await rulesImport(db, RULES, now);
    assert.ok(imported.ok, JSON.stringify(imported));

    await appendAt(box, message(ana, box.address, "Pedido de tarde"), IN_HOURS);
    await appendAt(box, message(bruno, box.address, "Pedido de noite"), OUT_OF_HOURS);
    await appendAt(box, forward(gerente, box.address, rafael, "Entrega"), IN_HOURS);
    await appendAt(box, forward(estranho, box.address, joana, "Cobrança"), IN_HOURS);
    await appendAt(
      box,
      message(
        carla,
        box.address,
        "Pedido falso",
        `Authentication-Results: ${AUTHSERV_ID};\r\n spf=fail smtp.mailfrom=${carla.address}\r\n`,
      ),
      IN_HOURS,
    );

    clock = JOBS_RUN;
    const ingest = ingestChain({
      db,
      now,
      log,
      imapLogin: (account, connect) => connectWithLogin(access, account, connect),
      analyze: analyzer.analyze,
      reply: {
        policy: DEFAULT_RATE_LIMIT_POLICY,
        sendDeadlineMs: 48 * 3_600_000,
        accountContext: (q, id) => readAccountContext(q, id, "UTC"),
        ownAddresses: async (q) => (await listAccounts(q)).map((a) => a.address),
        holidays: rememberedHolidays(),
      },
      saveProgress: () => Promise.resolve(),
    });
    const [collected] = await ingest.collectAll();
    assert.equal(collected.stored, 5, JSON.stringify(collected));

    // What the rules and the guard decided, message by message.
    const decisions = await db.query<
      { subject: string; outcome: string; rule_name: string | null; reason: string | null }
    >(
      `SELECT m.subject, d.outcome, d.rule_name, d.reason FROM decisions d
       JOIN messages m ON m.id = d.message_id ORDER BY m.id`,
    );
    assert.deepEqual(decisions.map((d) => [d.subject, d.outcome, d.rule_name, d.reason]), [
      ["Pedido de tarde", "reply", "no-horario", null],
      ["Pedido de noite", "reply", "fora-do-horario", null],
      ["Fwd: Entrega", "reply", "encaminhado", null],
      ["Fwd: Cobrança", "suppressed", "encaminhado", "untrusted_forwarder"],
      ["Pedido falso", "suppressed", "no-horario", "auth_failed"],
    ]);

    // The audit says why the two got no reply.
    const suppressed = await db.query<{ subject: string; detail: Record<string, string> }>(
      `SELECT m.subject, a.detail FROM audit_events a JOIN messages m ON m.id = a.message_id
       WHERE a.event = 'reply_suppressed' ORDER BY m.id`,
    );
    assert.deepEqual(suppressed.map((s) => [s.subject, s.detail.rule, s.detail.reason]), [
      ["Fwd: Cobrança", "encaminhado", "untrusted_forwarder"],
      ["Pedido falso", "no-horario", "auth_failed"],
    ]);
    assert.match(suppressed[0].detail.detail, new RegExp(`forwarded by "?${estranho.address}`));
    assert.equal(suppressed[1].detail.detail, `${AUTHSERV_ID}: spf=fail`);

    // The drain sends the three replies through Postfix.
    const sent = await drainOutbox({
      db,
      now,
      log,
      newToken: () => crypto.randomUUID(),
      senderFor: async (id) => {
        let sender = senders.get(id);
        if (!sender) senders.set(id, sender = createSmtpSender(await smtpLogin(access, id)));
        return sender;
      },
    });
    assert.equal(sent.sent, 3, JSON.stringify(sent));

    const login = (p: Person) => imapConfig(p.user, p.pass);
    const [toAna, toBruno, toRafael] = await Promise.all([
      settledInbox(login(ana), 1),
      settledInbox(login(bruno), 1),
      settledInbox(login(rafael), 1),
    ]);
    assert.deepEqual(toAna.map((m) => m.email.subject), ["Re: Pedido de tarde"]);
    assert.match(toAna[0].email.text ?? "", /já vamos atender/);
    assert.deepEqual(toBruno.map((m) => m.email.subject), ["Re: Pedido de noite"]);
    assert.match(toBruno[0].email.text ?? "", /fora do horário/);
    assert.deepEqual(toRafael.map((m) => m.email.subject), ["Re: Entrega"]);
    // No one else got anything: not the outsider, the third party he named, nor the forged sender.
    for (const p of [estranho, joana, carla, gerente]) {
      assert.equal((await readInbox(login(p))).length, 0, p.address);
    }
  } finally {
    for (const s of senders.values()) s.close();
    analyzer.close();
    await store.close();
  }
});
