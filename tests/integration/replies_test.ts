/**
 * Replies end to end: mail delivered to a real Dovecot mailbox, collected and answered through
 * the real commands (`collect --once`, `send --once`) into real Postfix, and the replies read
 * back from the senders' Dovecot mailboxes.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { cliCommand, runCli } from "../support/cli.ts";
import { startResponder } from "../support/smtp_responder.ts";
import {
  deliverRaw,
  ensureMailstack,
  freshUser,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { readInbox, settledInbox } from "../support/mailbox_reader.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";

const RULES = [
  {
    name: "ack-direct",
    enabled: true,
    when: { kind: "direct" },
    reply: {
      to: "sender",
      subject: "Re: {{subject}}",
      text: "Olá {{from_name}}, recebemos sua mensagem.",
      html: "<p>Olá {{from_name}}, recebemos sua mensagem.</p>",
    },
  },
  {
    name: "ack-forwarded",
    enabled: true,
    when: { kind: "forwarded" },
    reply: {
      to: "original_sender",
      subject: "Re: {{original_subject}}",
      text: "Olá {{original_from_name}}, recebemos sua mensagem.",
      html: "<p>Olá {{original_from_name}}, recebemos sua mensagem.</p>",
    },
  },
];

type Person = Awaited<ReturnType<typeof freshUser>>;

async function setup(extraEnv: Record<string, string> = {}) {
  await ensureMailstack();
  const box = await freshUser("box");
  const database = await freshPostgresDatabase();
  return await setupWith(box, database, extraEnv);
}

async function setupWith(
  box: Person,
  database: { url: string; drop: () => Promise<void> },
  extraEnv: Record<string, string>,
) {
  const imap = imapConfig(box.user, box.pass);
  const env = {
    ...mailboxEnv(box, imap.port),
    DATABASE_URL: database.url,
    SEND_LEASE_SECONDS: "2",
    SEND_RETRY_SECONDS: "1",
    ...extraEnv,
  };
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
  const imported = await runCli(["rules", "import", rulesFile], env);
  assert.equal(imported.code, 0, imported.stderr);
  // The first collection connects the account: what is already in the mailbox is history.
  await cli(["collect", "--once"], env);
  // The embedded database belongs to the command's process; only a server can be read beside it.
  const server = database.url ? openPostgres({ url: database.url, max: 2 }) : null;
  return {
    box,
    env,
    get db() {
      if (!server) throw new Error("this test runs on the embedded database");
      return server;
    },
    close: async () => {
      await server?.close();
      await database.drop();
      await Deno.remove(rulesFile);
    },
  };
}

async function cli(args: string[], env: Record<string, string>) {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
  return run.docs[0] as Record<string, number>;
}

function message(from: Person, to: string, subject: string, extraHeaders = "", body = "Oi.") {
  return new TextEncoder().encode(
    `From: ${from.user.split("@")[0]} <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `${extraHeaders}Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`,
  );
}

async function outboxRows(db: ReturnType<typeof openPostgres>) {
  return await db.query<
    { id: number; status: string; recipient: string; message_id_header: string }
  >("SELECT id, status, recipient, message_id_header FROM outbox ORDER BY id");
}

Deno.test("a direct message gets one reply with the RFC 3834 header set", async () => {
  const t = await setup();
  const ana = await freshUser("ana");
  try {
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Pedido 42")]);
    const collected = await cli(["collect", "--once"], t.env);
    assert.equal(collected.stored, 1);
    const sent = await cli(["send", "--once"], t.env);
    assert.equal(sent.sent, 1);
    const inbox = await settledInbox(imapConfig(ana.user, ana.pass), 1);
    assert.equal(inbox.length, 1);
    const reply = inbox[0].email;
    const [row] = await outboxRows(t.db);
    const h = (name: string) => reply.headers[name] ?? [];
    assert.deepEqual(h("auto-submitted"), ["auto-replied"]);
    assert.equal(reply.subject, "Re: Pedido 42");
    assert.deepEqual(reply.to.map((a) => a.address), [ana.address]);
    assert.deepEqual(reply.cc, []);
    assert.deepEqual(reply.from.map((a) => a.address), [t.box.address]);
    assert.equal(reply.messageId, row.message_id_header);
    assert.ok(reply.inReplyTo, "In-Reply-To is set");
    assert.ok(reply.references.includes(reply.inReplyTo!));
    assert.match(reply.text ?? "", /recebemos sua mensagem/);
    assert.match(reply.html ?? "", /<p>Olá .*recebemos sua mensagem\.<\/p>/);
    assert.match(h("content-type")[0], /multipart\/alternative/);
    const stats = (await runCli(["stats"], t.env)).docs[0] as { outbox: Record<string, number> };
    assert.equal(stats.outbox.sent, 1);
    // Running everything again sends nothing more.
    await cli(["collect", "--once"], t.env);
    assert.equal((await cli(["send", "--once"], t.env)).claimed, 0);
    assert.equal((await settledInbox(imapConfig(ana.user, ana.pass), 1)).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("the embedded database (no DATABASE_URL) collects and answers too", async () => {
  await ensureMailstack();
  const box = await freshUser("box");
  const ana = await freshUser("ana");
  const dataDir = await Deno.makeTempDir({ prefix: "carteiro-pglite-" });
  const stub = { url: "", drop: () => Deno.remove(dataDir, { recursive: true }) };
  const t = await setupWith(box, stub, { DATABASE_URL: "", DATA_DIR: dataDir });
  try {
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Embutido")]);
    const collected = await cli(["collect", "--once"], t.env);
    assert.deepEqual([collected.stored, collected.parsed], [1, 1]);
    assert.equal((await cli(["send", "--once"], t.env)).sent, 1);
    const stats = (await runCli(["stats"], t.env)).docs[0] as { outbox: Record<string, number> };
    assert.equal(stats.outbox.sent, 1);
    assert.equal((await settledInbox(imapConfig(ana.user, ana.pass), 1)).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("a forwarded message is answered to its original sender", async () => {
  const t = await setup();
  const paulo = await freshUser("paulo");
  const joana = await freshUser("joana");
  try {
    const body = `Podem responder a ela?\r\n\r\n---------- Forwarded message ---------\r\n` +
      `From: Joana Prado <${joana.address}>\r\nDate: Tue, 3 Nov 2026 18:20:00 -0300\r\n` +
      `Subject: Pedido atrasado\r\nTo: <${paulo.address}>\r\n\r\nMeu pedido não chegou.\r\n`;
    await deliverRaw(t.box.user, [message(paulo, t.box.address, "Fwd: Pedido atrasado", "", body)]);
    await cli(["collect", "--once"], t.env);
    assert.equal((await cli(["send", "--once"], t.env)).sent, 1);
    const inbox = await settledInbox(imapConfig(joana.user, joana.pass), 1);
    assert.equal(inbox.length, 1);
    assert.equal(inbox[0].email.subject, "Re: Pedido atrasado");
    assert.match(inbox[0].email.text ?? "", /Olá Joana Prado/);
    assert.equal((await readInbox(imapConfig(paulo.user, paulo.pass))).length, 0);
  } finally {
    await t.close();
  }
});

const SUPPRESSED: Array<[string, string, string | null]> = [
  ["auto_submitted", "Auto-Submitted: auto-replied\r\n", null],
  ["auto_submitted", "auto-submitted:   Auto-Generated (vacation)\r\n", null],
  ["list", "List-Id: Lista <lista.example.test>\r\n", null],
  ["list", "LIST-UNSUBSCRIBE:\r\n <mailto:sair@example.test>\r\n", null],
  ["precedence", "Precedence: bulk\r\n", null],
  ["precedence", "Precedence: junk\r\n", null],
  ["precedence", "Precedence: list\r\n", null],
  ["auto_response_suppress", "X-Auto-Response-Suppress: OOF, AutoReply\r\n", null],
  ["null_sender", "Return-Path: <>\r\n", null],
  ["system_address", "", "mailer-daemon"],
  ["system_address", "", "postmaster"],
  ["system_address", "", "lista-request"],
  ["system_address", "", "owner-lista"],
  ["bounce", "X-Failed-Recipients: alguem@example.test\r\n", null],
  ["system_address", "", "noreply"],
  ["system_address", "", "no-reply"],
];

Deno.test("automated mail is never answered, and the reason is recorded", async () => {
  const t = await setup();
  try {
    const cases = [];
    for (const [, headers, localPart] of SUPPRESSED) {
      const sender = await freshUser(localPart ? `${localPart}-` : "robot");
      const from = localPart
        ? { ...sender, address: `${localPart}@example.test`, user: `${localPart}@example.test` }
        : sender;
      cases.push(message(from, t.box.address, `Caso ${cases.length}`, headers));
    }
    // Our own address, and one of our own replies coming back.
    cases.push(message({ ...t.box }, t.box.address, "De nós mesmos"));
    await deliverRaw(t.box.user, cases);
    await cli(["collect", "--once"], t.env);
    const decisions = await t.db.query<{ subject: string; outcome: string; reason: string }>(
      `SELECT m.subject, d.outcome, d.reason FROM decisions d JOIN messages m ON m.id = d.message_id
       ORDER BY m.id`,
    );
    assert.equal(decisions.length, SUPPRESSED.length + 1);
    for (const [i, [reason]] of SUPPRESSED.entries()) {
      assert.deepEqual(
        [decisions[i].outcome, decisions[i].reason],
        ["suppressed", reason],
        `case ${i}: ${JSON.stringify(SUPPRESSED[i])}`,
      );
    }
    assert.equal(decisions[SUPPRESSED.length].outcome, "suppressed");
    assert.equal((await outboxRows(t.db)).length, 0);
    const audit = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE event = 'reply_suppressed'",
    );
    assert.equal(audit[0].n, SUPPRESSED.length + 1);
  } finally {
    await t.close();
  }
});

Deno.test("our own reply coming back is not answered: no loop between two Carteiros", async () => {
  const t = await setup();
  const ana = await freshUser("ana");
  try {
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Primeira")]);
    await cli(["collect", "--once"], t.env);
    await cli(["send", "--once"], t.env);
    const [reply] = await settledInbox(imapConfig(ana.user, ana.pass), 1);
    // Ana's own auto-responder bounces our reply straight back (without Auto-Submitted).
    await deliverRaw(t.box.user, [reply.raw]);
    await cli(["collect", "--once"], t.env);
    const [last] = await t.db.query<{ outcome: string; reason: string }>(
      "SELECT outcome, reason FROM decisions ORDER BY message_id DESC LIMIT 1",
    );
    assert.equal(last.outcome, "suppressed");
    assert.equal((await outboxRows(t.db)).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("one reply per sender per rule in the window", async () => {
  const t = await setup();
  const ana = await freshUser("ana");
  try {
    await deliverRaw(t.box.user, [
      message(ana, t.box.address, "Um"),
      message(ana, t.box.address, "Dois"),
    ]);
    await cli(["collect", "--once"], t.env);
    const decisions = await t.db.query<{ outcome: string; reason: string | null }>(
      "SELECT outcome, reason FROM decisions ORDER BY message_id",
    );
    assert.deepEqual(decisions.map((d) => [d.outcome, d.reason]), [
      ["reply", null],
      ["suppressed", "rate_limited"],
    ]);
  } finally {
    await t.close();
  }
});

async function countDelivered(people: Person[], rows: Array<{ message_id_header: string }>) {
  const seen = new Map<string, number>();
  for (const p of people) {
    for (const m of await readInbox(imapConfig(p.user, p.pass))) {
      const id = m.email.messageId ?? "";
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  return rows.map((r) => seen.get(r.message_id_header) ?? 0);
}

for (const step of ["after_claim", "before_data", "after_accept", "after_commit"]) {
  Deno.test(`a sender killed ${step.replace("_", " ")} never sends twice`, async () => {
    // One reply at a time, so that the kill finds exactly one row in hand.
    const t = await setup({ SEND_PARALLEL: "1" });
    const people = await Promise.all([0, 1, 2, 3, 4].map(() => freshUser("p")));
    try {
      await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Msg ${i}`)));
      await cli(["collect", "--once"], t.env);
      assert.equal((await outboxRows(t.db)).length, people.length);
      const killed = await runCli(["send", "--once"], { ...t.env, CARTEIRO_KILL_AT: step });
      assert.notEqual(killed.code, 0, "the sender was killed");
      // Let the lease run out, then drain again (twice: nothing may change the second time).
      await new Promise((r) => setTimeout(r, 2500));
      await cli(["send", "--once"], t.env);
      await cli(["send", "--once"], t.env);
      const rows = await outboxRows(t.db);
      await settledInbox(imapConfig(people[0].user, people[0].pass), 0);
      const delivered = await countDelivered(people, rows);
      for (const [i, row] of rows.entries()) {
        assert.ok(
          (delivered[i] === 1 && row.status === "sent") ||
            (row.status === "unknown" && delivered[i] <= 1),
          `row ${row.id}: status ${row.status}, delivered ${delivered[i]} times`,
        );
      }
      assert.ok(delivered.every((n) => n <= 1), `never two: ${delivered}`);
      // Rows are claimed one at a time: only the row held at the kill can be left unknown, and
      // it is delivered exactly when the kill came after the server accepted it.
      const unknown = rows.filter((r) => r.status === "unknown");
      const unknownDelivered = rows.flatMap((r, i) => r.status === "unknown" ? [delivered[i]] : []);
      const expected = {
        after_claim: { unknown: 1, delivered: [0] },
        before_data: { unknown: 1, delivered: [0] },
        after_accept: { unknown: 1, delivered: [1] },
        after_commit: { unknown: 0, delivered: [] },
      }[step]!;
      assert.equal(unknown.length, expected.unknown);
      assert.deepEqual(unknownDelivered, expected.delivered);
      assert.equal(rows.filter((r) => r.status === "sent").length, rows.length - unknown.length);
    } finally {
      await t.close();
    }
  });
}

for (const step of ["after_claim", "after_accept"]) {
  Deno.test(`a sender with four replies in flight killed ${step.replace("_", " ")} never sends twice`, async () => {
    const parallel = 4;
    const t = await setup({ SEND_PARALLEL: String(parallel) });
    const people = await Promise.all(Array.from({ length: 10 }, () => freshUser("q")));
    try {
      await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Msg ${i}`)));
      await cli(["collect", "--once"], t.env);
      assert.equal((await outboxRows(t.db)).length, people.length);
      const killed = await runCli(["send", "--once"], { ...t.env, CARTEIRO_KILL_AT: step });
      assert.notEqual(killed.code, 0, "the sender was killed");
      await new Promise((r) => setTimeout(r, 2500));
      await cli(["send", "--once"], t.env);
      await cli(["send", "--once"], t.env);
      const rows = await outboxRows(t.db);
      await settledInbox(imapConfig(people[0].user, people[0].pass), 0);
      const delivered = await countDelivered(people, rows);
      assert.ok(delivered.every((n) => n <= 1), `never two: ${delivered}`);
      for (const [i, row] of rows.entries()) {
        assert.ok(
          (row.status === "sent" && delivered[i] === 1) || row.status === "unknown",
          `row ${row.id}: status ${row.status}, delivered ${delivered[i]} times`,
        );
      }
      // Only the rows in hand at the kill are left unknown: one at least, the one whose
      // checkpoint fired, and at most one per reply in flight.
      const unknown = rows.flatMap((r, i) => r.status === "unknown" ? [delivered[i]] : []);
      assert.ok(
        unknown.length >= 1 && unknown.length <= parallel,
        `${unknown.length} unknown rows, at most ${parallel}`,
      );
      if (step === "after_claim") {
        // Killed right after a claim, before that reply's SMTP began: it went nowhere.
        assert.ok(unknown.includes(0), `the claimed row was not delivered: ${unknown}`);
      } else {
        assert.ok(unknown.includes(1), `the accepted row was delivered once: ${unknown}`);
      }
    } finally {
      await t.close();
    }
  });
}

Deno.test("a sender killed during DATA leaves its reply unknown, never sent again", async () => {
  const responder = startResponder({ afterData: "hang" });
  const t = await setup({ SMTP_PORT: String(responder.port) });
  const ana = await freshUser("ana");
  try {
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Durante o DATA")]);
    await cli(["collect", "--once"], t.env);
    const child = cliCommand(["send", "--once"], t.env).spawn();
    const deadline = Date.now() + 60_000;
    while (responder.bodies.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(responder.bodies.length, 1, "the body reached the server");
    child.kill("SIGKILL");
    await child.output();
    await new Promise((r) => setTimeout(r, 2500));
    const again = await cli(["send", "--once"], t.env);
    assert.deepEqual([again.expired, again.claimed], [1, 0]);
    const [row] = await outboxRows(t.db);
    assert.equal(row.status, "unknown");
    assert.equal(responder.bodies.length, 1, "never sent a second time");
  } finally {
    await t.close();
    await responder.close();
  }
});

Deno.test("two senders draining one outbox at once deliver each reply once", async () => {
  // A lease far longer than any send: a sender slowed down by a busy machine must not have its
  // row taken for a dead one's by the other.
  const t = await setup({ SEND_LEASE_SECONDS: "120" });
  const people = await Promise.all(Array.from({ length: 12 }, () => freshUser("twin")));
  try {
    await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Msg ${i}`)));
    await cli(["collect", "--once"], t.env);
    const [a, b] = await Promise.all([
      cli(["send", "--once"], t.env),
      cli(["send", "--once"], t.env),
    ]);
    assert.equal(a.sent + b.sent, people.length);
    const rows = await outboxRows(t.db);
    await settledInbox(imapConfig(people[0].user, people[0].pass), 1);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await countDelivered(people, rows), people.map(() => 1));
  } finally {
    await t.close();
  }
});

Deno.test("with Postfix unreachable replies wait and retry, then go out once", async () => {
  // A port where nothing listens stands in for a stopped Postfix without stopping the shared one.
  const t = await setup({ SMTP_PORT: "1" });
  const ana = await freshUser("ana");
  try {
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Retry")]);
    await cli(["collect", "--once"], t.env);
    const first = await cli(["send", "--once"], t.env);
    assert.equal(first.retry, 1);
    let [row] = await outboxRows(t.db);
    assert.equal(row.status, "retry");
    await new Promise((r) => setTimeout(r, 1200));
    const back = { ...t.env, SMTP_PORT: "1025" };
    assert.equal((await cli(["send", "--once"], back)).sent, 1);
    [row] = await outboxRows(t.db);
    assert.equal(row.status, "sent");
    assert.equal((await settledInbox(imapConfig(ana.user, ana.pass), 1)).length, 1);
  } finally {
    await t.close();
  }
});
