/**
 * The copy of each sent reply in the account's Sent mailbox, end to end: mail delivered to a real
 * Dovecot mailbox, answered through the real commands (`collect --once`, `send --once`) into real
 * Postfix, and the account's mailboxes read back over IMAP. The sender is killed (a separate
 * process, CARTEIRO_KILL_AT) between SMTP and the append, and between the append and its record.
 * A loopback proxy in front of Dovecot that adds Gmail's `X-GM-EXT-1` to CAPABILITY stands in for
 * Gmail, whose SMTP files sent mail by itself.
 */
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import {
  deliverRaw,
  doveadm,
  ensureMailstack,
  freshUser,
  IMAP,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";

const RULES = [{
  name: "ack",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

type Person = Awaited<ReturnType<typeof freshUser>>;

async function setup(options: { embedded?: boolean; env?: Record<string, string> } = {}) {
  await ensureMailstack();
  const box = await freshUser("box");
  let database: { url: string; drop: () => Promise<void> };
  let extra: Record<string, string> = {};
  if (options.embedded) {
    const dataDir = await Deno.makeTempDir({ prefix: "carteiro-pglite-" });
    database = { url: "", drop: () => Deno.remove(dataDir, { recursive: true }) };
    extra = { DATA_DIR: dataDir };
  } else {
    database = await freshPostgresDatabase();
  }
  const env = {
    ...mailboxEnv(box),
    DATABASE_URL: database.url,
    SEND_LEASE_SECONDS: "2",
    SEND_RETRY_SECONDS: "1",
    ...extra,
    ...options.env,
  };
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
  const imported = await runCli(["rules", "import", rulesFile], env);
  assert.equal(imported.code, 0, imported.stderr);
  await cli(["collect", "--once"], env);
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
  return run.docs[0] as Record<string, number> & { sentCopies: Record<string, number> };
}

function message(from: Person, to: string, subject: string) {
  return new TextEncoder().encode(
    `From: ${from.user.split("@")[0]} <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

interface Stored {
  mailbox: string;
  messageId: string | null;
  seen: boolean;
  subscribed: boolean;
  raw: Uint8Array;
}

/** Every message in every mailbox of the user but INBOX, with its Message-ID. */
async function copiesOutsideInbox(p: Person): Promise<Stored[]> {
  const client = new ImapFlow({
    ...imapConfig(p.user, p.pass),
    auth: { user: p.user, pass: p.pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await client.connect();
  try {
    const out: Stored[] = [];
    for (const box of await client.list()) {
      if (box.path.toUpperCase() === "INBOX" || box.flags.has("\\Noselect")) continue;
      const lock = await client.getMailboxLock(box.path, { readOnly: true });
      try {
        if (!client.mailbox || client.mailbox.exists === 0) continue;
        for await (
          const m of client.fetch("1:*", { envelope: true, flags: true, source: true })
        ) {
          out.push({
            mailbox: box.path,
            messageId: m.envelope?.messageId ?? null,
            seen: m.flags?.has("\\Seen") ?? false,
            subscribed: box.subscribed ?? false,
            raw: new Uint8Array(m.source!),
          });
        }
      } finally {
        lock.release();
      }
    }
    return out;
  } finally {
    await client.logout();
  }
}

async function outboxIds(db: ReturnType<typeof openPostgres>) {
  return (await db.query<{ message_id_header: string }>(
    "SELECT message_id_header FROM outbox WHERE status = 'sent' ORDER BY id",
  )).map((r) => r.message_id_header);
}

/** How many copies of each id are outside INBOX. */
function counts(stored: Stored[], ids: string[]): number[] {
  return ids.map((id) => stored.filter((s) => s.messageId === id).length);
}

for (const embedded of [false, true]) {
  const db = embedded ? "the embedded database" : "PostgreSQL";
  Deno.test(`a sent reply is copied once to the account's Sent mailbox (${db})`, async () => {
    const t = await setup({ embedded });
    const ana = await freshUser("ana");
    try {
      await deliverRaw(t.box.user, [message(ana, t.box.address, "Pedido 7")]);
      await cli(["collect", "--once"], t.env);
      const sent = await cli(["send", "--once"], t.env);
      assert.equal(sent.sent, 1);
      assert.equal(sent.sentCopies.copied, 1);
      const [delivered] = await settledInbox(imapConfig(ana.user, ana.pass), 1);
      const copies = await copiesOutsideInbox(t.box);
      assert.equal(copies.length, 1, JSON.stringify(copies.map((c) => c.mailbox)));
      assert.equal(copies[0].mailbox, "Sent", "created as Sent where the account had none");
      assert.equal(copies[0].messageId, delivered.email.messageId);
      assert.ok(copies[0].seen, "the copy is marked read");
      assert.ok(copies[0].subscribed, "the new mailbox is subscribed, for the mail clients");
      // The very bytes SMTP took: the recipient's copy is them after Postfix's trace headers.
      const tail = delivered.raw.subarray(delivered.raw.length - copies[0].raw.length);
      assert.deepEqual(tail, copies[0].raw);
      if (!embedded) {
        const [row] = await t.db.query<{ status: string; mailbox: string }>(
          "SELECT status, mailbox FROM sent_copies",
        );
        assert.deepEqual([row.status, row.mailbox], ["copied", "Sent"]);
        const events = await t.db.query<{ detail: { already_there: boolean } }>(
          "SELECT detail FROM audit_events WHERE event = 'sent_copied'",
        );
        assert.deepEqual(events.map((e) => e.detail.already_there), [false]);
      }
      const again = await cli(["send", "--once"], t.env);
      assert.deepEqual([again.claimed, again.sentCopies.copied], [0, 0]);
      assert.equal((await copiesOutsideInbox(t.box)).length, 1);
    } finally {
      await t.close();
    }
  });
}

Deno.test("an existing Sent mailbox under a usual name is used, none is created", async () => {
  const t = await setup();
  const ana = await freshUser("ana");
  try {
    await doveadm(["mailbox", "create", "-u", t.box.user, "Itens Enviados"]);
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Pedido 8")]);
    await cli(["collect", "--once"], t.env);
    assert.equal((await cli(["send", "--once"], t.env)).sentCopies.copied, 1);
    const copies = await copiesOutsideInbox(t.box);
    assert.deepEqual(copies.map((c) => c.mailbox), ["Itens Enviados"]);
  } finally {
    await t.close();
  }
});

for (const step of ["after_commit", "after_append"]) {
  const where = step === "after_commit"
    ? "between SMTP and the append"
    : "between the append and its record";
  Deno.test(`a sender killed ${where} leaves one copy of each reply`, async () => {
    // One reply in flight: the kill then finds no other send accepted and not yet recorded
    // (that one would stay `unknown`, never re-sent, and have no copy; replies_test.ts covers it).
    const t = await setup({ env: { SEND_PARALLEL: "1" } });
    const people = await Promise.all([0, 1, 2].map(() => freshUser("p")));
    try {
      await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Msg ${i}`)));
      await cli(["collect", "--once"], t.env);
      const killed = await runCli(["send", "--once"], { ...t.env, CARTEIRO_KILL_AT: step });
      assert.notEqual(killed.code, 0, "the sender was killed");
      const before = await copiesOutsideInbox(t.box);
      assert.equal(before.length, step === "after_append" ? 1 : 0, "appended before the kill");
      // The copy's lease runs out (2 s), then two more passes: the second may change nothing.
      await new Promise((r) => setTimeout(r, 2500));
      await cli(["send", "--once"], t.env);
      await cli(["send", "--once"], t.env);
      const ids = await outboxIds(t.db);
      assert.equal(ids.length, people.length, "every reply went out");
      const copies = await copiesOutsideInbox(t.box);
      assert.deepEqual(counts(copies, ids), ids.map(() => 1), "one copy of each");
      const found = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_events
         WHERE event = 'sent_copied' AND (detail->>'already_there')::boolean`,
      );
      assert.equal(found[0].n, step === "after_append" ? 1 : 0, "found by its Message-ID");
    } finally {
      await t.close();
    }
  });
}

Deno.test("two senders at once copy each reply once", async () => {
  const t = await setup({ env: { SEND_LEASE_SECONDS: "120" } });
  const people = await Promise.all(Array.from({ length: 6 }, () => freshUser("twin")));
  try {
    await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Msg ${i}`)));
    await cli(["collect", "--once"], t.env);
    const [a, b] = await Promise.all([
      cli(["send", "--once"], t.env),
      cli(["send", "--once"], t.env),
    ]);
    assert.equal(a.sent + b.sent, people.length);
    // A pass may end before the other's last send is recorded: one more picks up what is left.
    await cli(["send", "--once"], t.env);
    const ids = await outboxIds(t.db);
    assert.deepEqual(counts(await copiesOutsideInbox(t.box), ids), ids.map(() => 1));
  } finally {
    await t.close();
  }
});

Deno.test("a server that announces Gmail's extensions gets no copy", async () => {
  // Gmail's SMTP files submitted mail in Sent itself; the IMAP server says it is Gmail.
  const proxy = startTcpProxy(IMAP, {
    fromServer: (text) => text.replace(/CAPABILITY IMAP4rev1/g, "CAPABILITY IMAP4rev1 X-GM-EXT-1"),
  });
  const t = await setup();
  const ana = await freshUser("ana");
  try {
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Gmail")]);
    await cli(["collect", "--once"], t.env);
    // Only the sender reaches Dovecot through the proxy: collecting would ask Dovecot for Gmail's
    // fetch attributes, which it does not have.
    const sent = await cli(["send", "--once"], { ...t.env, IMAP_PORT: String(proxy.port) });
    assert.equal(sent.sent, 1);
    assert.deepEqual([sent.sentCopies.copied, sent.sentCopies.skipped], [0, 1]);
    assert.equal((await settledInbox(imapConfig(ana.user, ana.pass), 1)).length, 1);
    assert.deepEqual(await copiesOutsideInbox(t.box), []);
    assert.ok(proxy.connections() > 0, "the sender asked the server");
    assert.ok(!proxy.clientText().includes("APPEND"), "nothing was appended");
    const [row] = await t.db.query<{ status: string }>("SELECT status FROM sent_copies");
    assert.equal(row.status, "skipped");
    const events = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE event = 'sent_copy_skipped'",
    );
    assert.equal(events[0].n, 1);
  } finally {
    await t.close();
    await proxy.close();
  }
});

Deno.test("an account with copies off owes none", async () => {
  const t = await setup();
  const ana = await freshUser("ana");
  try {
    await t.db.query("UPDATE accounts SET copy_to_sent = false");
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Sem cópia")]);
    await cli(["collect", "--once"], t.env);
    assert.equal((await cli(["send", "--once"], t.env)).sent, 1);
    assert.deepEqual(await copiesOutsideInbox(t.box), []);
    assert.deepEqual(await t.db.query("SELECT outbox_id FROM sent_copies"), []);
  } finally {
    await t.close();
  }
});

Deno.test("a failed append waits and retries, never sending again", async () => {
  const t = await setup();
  const ana = await freshUser("ana");
  try {
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Depois")]);
    await cli(["collect", "--once"], t.env);
    // Nothing listens on port 1: the send goes out, the copy cannot be made yet.
    const first = await cli(["send", "--once"], { ...t.env, IMAP_PORT: "1" });
    assert.deepEqual([first.sent, first.sentCopies.retry], [1, 1]);
    const [owed] = await t.db.query<{ status: string; last_error: string }>(
      "SELECT status, last_error FROM sent_copies",
    );
    assert.equal(owed.status, "owed");
    assert.match(owed.last_error, /copy to Sent failed/);
    await new Promise((r) => setTimeout(r, 1200));
    const second = await cli(["send", "--once"], t.env);
    assert.deepEqual([second.claimed, second.sentCopies.copied], [0, 1]);
    assert.equal((await copiesOutsideInbox(t.box)).length, 1);
    assert.equal((await settledInbox(imapConfig(ana.user, ana.pass), 1)).length, 1);
  } finally {
    await t.close();
  }
});
