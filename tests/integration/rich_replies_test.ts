/**
 * Richer replies end to end (real Dovecot, Postfix and PostgreSQL, through `collect --once` and
 * `send --once`): a rule's reply with Cc, Bcc, Reply-To and a file arrives as such in every
 * mailbox, the hidden copy in no header anyone receives; an English message gets the rule's
 * English texts.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import {
  deliverRaw,
  ensureMailstack,
  freshUser,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import { Buffer } from "node:buffer";
import { simpleParser } from "mailparser";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { addRuleAttachment } from "../../src/actions/rule_attachments.ts";

type Person = Awaited<ReturnType<typeof freshUser>>;

async function cli(args: string[], env: Record<string, string>) {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
  return run.docs[0] as Record<string, number>;
}

function message(from: Person, to: string, subject: string, body: string) {
  return new TextEncoder().encode(
    `From: ${from.user.split("@")[0]} <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`,
  );
}

/** The header block of a raw message, unfolded enough to look for a field name. */
function headerBlock(raw: Uint8Array): string {
  const text = new TextDecoder().decode(raw);
  return text.slice(0, text.search(/\r?\n\r?\n/));
}

// Bytes that no text encoding would leave alone: the file must arrive byte for byte.
const FILE = Uint8Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) % 256);

Deno.test("a reply with Cc, Bcc, Reply-To and a file reaches every mailbox as such; English mail gets the English texts", async () => {
  await ensureMailstack();
  const box = await freshUser("box");
  const ana = await freshUser("ana");
  const bob = await freshUser("bob");
  const team = await freshUser("equipe");
  const archive = await freshUser("arquivo");
  const desk = await freshUser("atendimento");
  const database = await freshPostgresDatabase();
  const db = openPostgres({ url: database.url, max: 2 });
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  const env = {
    ...mailboxEnv(box, imapConfig(box.user, box.pass).port),
    DATABASE_URL: database.url,
    SEND_LEASE_SECONDS: "2",
    SEND_RETRY_SECONDS: "1",
  };
  try {
    await Deno.writeTextFile(
      rulesFile,
      JSON.stringify([{
        name: "ack",
        when: { kind: "direct" },
        reply: {
          to: "sender",
          subject: "Re: {{subject}}",
          text: "Olá {{from_name|cliente}}, recebemos sua mensagem. Segue a tabela.",
          cc: [team.address],
          bcc: archive.address,
          reply_to: desk.address,
          variants: {
            en: {
              subject: "We got it: {{subject}}",
              text: "Hello {{from_name|there}}, we received your message. The table is attached.",
            },
          },
        },
      }]),
    );
    const imported = await runCli(["rules", "import", rulesFile], env);
    assert.equal(imported.code, 0, imported.stderr);
    const added = await addRuleAttachment({ db, now: () => new Date() }, {
      rule: "ack",
      filename: "tabela.bin",
      contentType: "application/octet-stream",
      content: FILE,
    }, "tests");
    assert.ok(added.ok, JSON.stringify(added));
    // The first collection connects the account: what is already in the mailbox is history.
    await cli(["collect", "--once"], env);

    await deliverRaw(box.user, [
      message(
        ana,
        box.address,
        "Pedido 42",
        "Olá, meu pedido ainda não chegou. Vocês podem verificar?",
      ),
      message(
        bob,
        box.address,
        "Order 77",
        "Hello, I ordered a blue jacket last week and it has not arrived yet. Could you please check?",
      ),
    ]);
    const collected = await cli(["collect", "--once"], env);
    assert.equal(collected.stored, 2);
    const sent = await cli(["send", "--once"], env);
    assert.equal(sent.sent, 2, JSON.stringify(sent));

    // One outbox row per reply, with its copies.
    const rows = await db.query<{ recipient: string; cc: string[]; bcc: string[] }>(
      "SELECT recipient, cc, bcc FROM outbox ORDER BY id",
    );
    assert.deepEqual(rows.map((r) => [r.recipient, r.cc, r.bcc]), [
      [ana.address, [team.address], [archive.address]],
      [bob.address, [team.address], [archive.address]],
    ]);

    const login = (p: Person) => imapConfig(p.user, p.pass);
    const [anaInbox, bobInbox, teamInbox, archiveInbox] = await Promise.all([
      settledInbox(login(ana), 1),
      settledInbox(login(bob), 1),
      settledInbox(login(team), 2),
      settledInbox(login(archive), 2),
    ]);
    assert.equal(anaInbox.length, 1);
    assert.equal(bobInbox.length, 1);
    assert.equal(teamInbox.length, 2, "the team gets one copy of each reply");
    assert.equal(archiveInbox.length, 2, "the hidden copy arrives too");
    assert.equal((await settledInbox(login(desk), 0, 1000)).length, 0, "Reply-To is no copy");

    const toAna = anaInbox[0].email;
    assert.equal(toAna.subject, "Re: Pedido 42");
    assert.match(toAna.text ?? "", /recebemos sua mensagem/);
    assert.deepEqual(toAna.to.map((a) => a.address), [ana.address]);
    assert.deepEqual(toAna.cc.map((a) => a.address), [team.address]);
    assert.deepEqual(toAna.replyTo.map((a) => a.address), [desk.address]);
    assert.deepEqual(toAna.headers["auto-submitted"], ["auto-replied"]);
    assert.deepEqual(
      toAna.attachments.map((a) => [a.filename, a.size]),
      [["tabela.bin", FILE.length]],
    );
    // The file's bytes, as received.
    const parsed = await simpleParser(Buffer.from(anaInbox[0].raw));
    assert.deepEqual([...new Uint8Array(parsed.attachments[0].content)], [...FILE]);

    const toBob = bobInbox[0].email;
    assert.equal(toBob.subject, "We got it: Order 77");
    assert.match(toBob.text ?? "", /^Hello bob\S*, we received your message/);
    assert.deepEqual(toBob.cc.map((a) => a.address), [team.address]);
    assert.equal(toBob.attachments.length, 1);

    // Nobody, the hidden copy's own mailbox included, sees a Bcc header or the archive address.
    for (const copy of [...anaInbox, ...bobInbox, ...teamInbox, ...archiveInbox]) {
      const headers = headerBlock(copy.raw);
      assert.doesNotMatch(headers, /^bcc:/im, headers);
      assert.equal(headers.includes(archive.address), false, headers);
    }
    assert.deepEqual(
      archiveInbox.map((m) => m.email.subject).sort(),
      ["Re: Pedido 42", "We got it: Order 77"],
    );

    // The trail says which texts were chosen and why.
    const trails = await db.query<{ trail: Array<{ why: string }> }>(
      "SELECT trail FROM decisions ORDER BY message_id",
    );
    assert.deepEqual(trails.map((t) => t.trail.at(-1)?.why), [
      "message language pt (detected in the text); reply texts: the main ones",
      "message language en (detected in the text); reply texts: variant en",
    ]);

    // Running again sends nothing more.
    await cli(["collect", "--once"], env);
    assert.equal((await cli(["send", "--once"], env)).claimed, 0);
  } finally {
    await db.close();
    await database.drop();
    await Deno.remove(rulesFile);
  }
});
