/**
 * Bounces of our replies end to end, on both databases: a reply goes out through the real
 * Postfix (`send --once`); the same message handed to Postfix for an address it never delivers
 * to comes back as Postfix's own delivery status notification, delivered by Postfix into the
 * account's real Dovecot mailbox; `collect --once` ties it to the reply's outbox row, which becomes
 * `bounced` with Postfix's status and diagnostic; and a later message from the reply's recipient
 * is not answered (`recipient_bounced`).
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import {
  bounceThroughPostfix,
  deliverRaw,
  ensureMailstack,
  freshUser,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { rawInbox, settledInbox } from "../support/mailbox_reader.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { openPglite } from "../../src/store/pglite_db.ts";

const RULES = [{
  name: "ack",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

type Person = Awaited<ReturnType<typeof freshUser>>;
type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/** The service's settings and a way to read its database between commands. */
async function setup(kind: "postgres" | "pglite") {
  await ensureMailstack();
  const box = await freshUser("box");
  let env: Record<string, string>;
  let query: Query;
  let drop: () => Promise<void>;
  if (kind === "postgres") {
    const database = await freshPostgresDatabase();
    const server = openPostgres({ url: database.url, max: 2 });
    env = { ...mailboxEnv(box), DATABASE_URL: database.url };
    query = (sql, params) => server.query(sql, params);
    drop = async () => {
      await server.close();
      await database.drop();
    };
  } else {
    // The embedded database belongs to each command's process while it runs; it is opened here
    // only between commands.
    const dataDir = await Deno.makeTempDir({ prefix: "carteiro-pglite-" });
    env = { ...mailboxEnv(box), DATABASE_URL: "", DATA_DIR: dataDir };
    query = async (sql, params) => {
      const db = await openPglite(dataDir);
      try {
        return await db.query(sql, params);
      } finally {
        await db.close();
      }
    };
    drop = () => Deno.remove(dataDir, { recursive: true });
  }
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
  await cli(["rules", "import", rulesFile], env);
  await Deno.remove(rulesFile);
  // The first collection connects the account: what is already in the mailbox is history.
  await cli(["collect", "--once"], env);
  return { box, env, query, close: drop };
}

async function cli(args: string[], env: Record<string, string>) {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
  return run.docs[0] as Record<string, number>;
}

function letter(from: Person, to: string, subject: string) {
  return new TextEncoder().encode(
    `From: Ninguém <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

async function decisionOf(query: Query, subject: string) {
  const [d] = await query(
    `SELECT d.outcome, d.reason, d.detail FROM decisions d JOIN messages m ON m.id = d.message_id
     WHERE m.subject = $1`,
    [subject],
  );
  assert.ok(d, `no decision for "${subject}"`);
  return d as { outcome: string; reason: string | null; detail: string | null };
}

for (const kind of ["postgres", "pglite"] as const) {
  Deno.test(`a Postfix bounce of a reply marks it bounced and holds its recipient back [${kind}]`, async () => {
    const t = await setup(kind);
    const ninguem = await freshUser("ninguem");
    try {
      await deliverRaw(t.box.user, [letter(ninguem, t.box.address, "Pedido 1")]);
      assert.equal((await cli(["collect", "--once"], t.env)).stored, 1);
      assert.equal((await cli(["send", "--once"], t.env)).sent, 1);
      const [reply] = await settledInbox(imapConfig(ninguem.user, ninguem.pass), 1);
      const [row] = await t.query("SELECT id, message_id_header, status FROM outbox");
      assert.equal(reply.email.messageId, row.message_id_header);

      // The reply, handed to Postfix again for an address it bounces: Postfix's notification
      // returns it whole to the account's address, through LMTP into the account's mailbox.
      const bounced = await bounceThroughPostfix(reply.raw, t.box.address);
      const inbox = imapConfig(t.box.user, t.box.pass);
      const deadline = Date.now() + 60_000;
      while ((await rawInbox(inbox)).length < 2) {
        assert.ok(Date.now() < deadline, "Postfix's bounce did not reach the account's mailbox");
        await new Promise((r) => setTimeout(r, 250));
      }
      const notification = (await rawInbox(inbox))[1];
      const text = new TextDecoder().decode(notification.raw);
      assert.match(text, /^Return-Path: <>/m);
      assert.match(text, /report-type=delivery-status/);

      assert.equal((await cli(["collect", "--once"], t.env)).stored, 1);
      const [after] = await t.query(
        `SELECT o.status, o.dsn_action, o.dsn_status, o.dsn_diagnostic, m.subject AS report_subject
         FROM outbox o LEFT JOIN messages m ON m.id = o.dsn_message_id WHERE o.id = $1`,
        [row.id],
      );
      assert.deepEqual(
        { ...after, dsn_diagnostic: undefined },
        {
          status: "bounced",
          dsn_action: "failed",
          dsn_status: "5.7.1",
          dsn_diagnostic: undefined,
          report_subject: "Undelivered Mail Returned to Sender",
        },
        `the row after the bounce of ${bounced}`,
      );
      assert.match(String(after.dsn_diagnostic), /never leaves the Carteiro test mail stack/);
      // The notification itself is recorded and never answered.
      const d = await decisionOf(t.query, "Undelivered Mail Returned to Sender");
      assert.equal(d.outcome, "suppressed");
      assert.equal((await t.query("SELECT id FROM outbox")).length, 1);
      const [event] = await t.query(
        "SELECT detail FROM audit_events WHERE event = 'reply_bounced'",
      );
      assert.equal((event.detail as { matched_by: string }).matched_by, "returned_message");
      const stats = (await runCli(["stats"], t.env)).docs[0] as { outbox: Record<string, number> };
      assert.equal(stats.outbox.bounced, 1);

      // A later message from the same address, within the window: not answered.
      await deliverRaw(t.box.user, [letter(ninguem, t.box.address, "Pedido 2")]);
      assert.equal((await cli(["collect", "--once"], t.env)).stored, 1);
      const again = await decisionOf(t.query, "Pedido 2");
      assert.equal(again.outcome, "suppressed");
      assert.equal(again.reason, "recipient_bounced");
      assert.equal((await cli(["send", "--once"], t.env)).claimed, 0);
    } finally {
      await t.close();
    }
  });
}
