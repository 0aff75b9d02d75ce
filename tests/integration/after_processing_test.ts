/**
 * After processing and unavailable mailboxes, end to end: mail delivered to a real Dovecot
 * mailbox, collected by the real command (`main.ts cli collect --once`) into a fresh PostgreSQL
 * database (and the embedded one), then the mailboxes read back over IMAP.
 */
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import { freshPostgresDatabase } from "../support/databases.ts";
import { cliCommand, runCli } from "../support/cli.ts";
import {
  deliverRaw,
  doveadm,
  ensureMailstack,
  freshUser,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { dedupKey } from "../../src/domain/reply_composer.ts";

type Person = Awaited<ReturnType<typeof freshUser>>;
type Login = ReturnType<typeof imapConfig>;

const RULES = [{
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

async function cli(args: string[], env: Record<string, string>) {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
  return run.docs[0] as Record<string, unknown>;
}

/**
 * A fresh mailbox and database; the first collection connects the account (what is already in
 * the mailbox is history), so mail delivered afterwards is new.
 */
async function setup(
  extraEnv: Record<string, string>,
  rules = false,
  history: Uint8Array[] = [],
) {
  await ensureMailstack();
  const box = await freshUser("after");
  await deliverRaw(box.user, history);
  // The account's connection time is kept to the second: history is a second older than it.
  if (history.length > 0) await new Promise((r) => setTimeout(r, 1100));
  const database = await freshPostgresDatabase();
  const env = { ...mailboxEnv(box), DATABASE_URL: database.url, ...extraEnv };
  if (rules) {
    const file = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(file, JSON.stringify(RULES));
    await cli(["rules", "import", file], env);
    await Deno.remove(file);
  }
  await cli(["collect", "--once"], env);
  const db = openPostgres({ url: database.url, max: 2 });
  return {
    box,
    env,
    db,
    login: imapConfig(box.user, box.pass),
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}

function message(from: string, to: string, subject: string): Uint8Array {
  return new TextEncoder().encode(
    `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

/** The messages of a mailbox as the server has them (null when it does not exist). */
async function mailbox(
  login: Login,
  name: string,
): Promise<Array<{ uid: number; flags: string[]; sha256: string }> | null> {
  const client = new ImapFlow({
    host: login.host,
    port: login.port,
    secure: false,
    // Plain IMAP on loopback: no STARTTLS handshake to wait for on a busy machine.
    doSTARTTLS: false,
    auth: { user: login.user, pass: login.pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  await client.connect();
  try {
    const list = await client.list();
    if (!list.some((m) => m.path === name)) return null;
    const box = await client.mailboxOpen(name, { readOnly: true });
    if (box.exists === 0) return [];
    const out: Array<{ uid: number; flags: string[]; sha256: string }> = [];
    for await (
      const m of client.fetch("1:*", { uid: true, flags: true, source: true }, { uid: true })
    ) {
      out.push({ uid: m.uid, flags: [...(m.flags ?? [])], sha256: await sha256Hex(m.source!) });
    }
    return out;
  } finally {
    await client.logout();
  }
}

type Db = ReturnType<typeof openPostgres>;

async function afterRows(db: Db) {
  return await db.query<
    {
      id: number;
      mailbox: string;
      after_state: string | null;
      after_action: string | null;
      after_folder: string | null;
      after_error: string | null;
      after_attempts: number;
      content_sha256: string;
    }
  >(
    `SELECT id, mailbox, after_state, after_action, after_folder, after_error, after_attempts,
       content_sha256 FROM messages ORDER BY id`,
  );
}

async function events(db: Db, event: string) {
  return await db.query<{ message_id: number | null; detail: Record<string, unknown> }>(
    "SELECT message_id, detail FROM audit_events WHERE event = $1 ORDER BY id",
    [event],
  );
}

Deno.test("IMAP_AFTER=seen marks a processed message read and leaves it in place", async () => {
  // Mail already there when the account is connected is history: never touched.
  const old = message("velho@example.test", "caixa@example.test", "Antiga");
  const t = await setup({ IMAP_AFTER: "seen" }, false, [old]);
  try {
    await deliverRaw(t.box.user, [message("ana@example.test", t.box.address, "Lida")]);
    const run = await cli(["collect", "--once"], t.env);
    assert.equal(run.stored, 1);
    const inbox = await mailbox(t.login, "INBOX");
    assert.equal(inbox?.length, 2);
    assert.ok(!inbox![0].flags.includes("\\Seen"), `history untouched: ${inbox![0].flags}`);
    assert.ok(inbox![1].flags.includes("\\Seen"), `flags: ${inbox![1].flags}`);
    const [historic, row] = await afterRows(t.db);
    assert.equal(historic.after_state, null);
    assert.deepEqual([row.after_state, row.after_action, row.after_error], ["done", "seen", null]);
    assert.equal((await events(t.db, "after_processed")).length, 1);
    const again = await cli(["collect", "--once"], t.env);
    const accounts = again.accounts as Array<{ afterDone: number }>;
    assert.deepEqual([again.fetched, accounts[0].afterDone], [0, 0]);
    assert.equal((await events(t.db, "after_processed")).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("IMAP_AFTER=move creates the folder and moves the mail, once", async () => {
  const t = await setup({ IMAP_AFTER: "move", IMAP_AFTER_FOLDER: "Processados" });
  try {
    assert.equal(await mailbox(t.login, "Processados"), null, "the folder starts missing");
    const sent = [
      message("ana@example.test", t.box.address, "Um"),
      message("bia@example.test", t.box.address, "Dois"),
    ];
    await deliverRaw(t.box.user, sent);
    const run = await cli(["collect", "--once"], t.env);
    assert.equal(run.stored, 2);
    assert.deepEqual(await mailbox(t.login, "INBOX"), []);
    const moved = await mailbox(t.login, "Processados");
    const rows = await afterRows(t.db);
    assert.deepEqual(
      moved?.map((m) => m.sha256).sort(),
      rows.map((r) => r.content_sha256).sort(),
      "the folder holds the very messages stored",
    );
    assert.deepEqual(
      rows.map((r) => [r.mailbox, r.after_state, r.after_action, r.after_folder]),
      [["INBOX", "done", "move", "Processados"], ["INBOX", "done", "move", "Processados"]],
    );
    // A second run finds nothing new in INBOX (the high-water mark stands) and moves nothing.
    const again = await cli(["collect", "--once"], t.env);
    const accounts = again.accounts as Array<{ afterDone: number; afterFailed: number }>;
    assert.deepEqual([again.fetched, accounts[0].afterDone, accounts[0].afterFailed], [0, 0, 0]);
    assert.equal((await mailbox(t.login, "Processados"))?.length, 2);
    // New mail after the move is collected as usual: the moved UIDs left no hole in the count.
    await deliverRaw(t.box.user, [message("caio@example.test", t.box.address, "Três")]);
    const third = await cli(["collect", "--once"], t.env);
    assert.deepEqual([third.fetched, third.stored], [1, 1]);
    assert.equal((await mailbox(t.login, "Processados"))?.length, 3);
    assert.equal((await events(t.db, "after_processed")).length, 3);
  } finally {
    await t.close();
  }
});

Deno.test("a collector killed mid-run with IMAP_AFTER=move loses nothing and moves each message once", async () => {
  const t = await setup({ IMAP_AFTER: "move", IMAP_AFTER_FOLDER: "Processados" });
  try {
    const sent = Array.from(
      { length: 150 },
      (_, i) => message(`r${i}@example.test`, t.box.address, `Pedido ${i}`),
    );
    await deliverRaw(t.box.user, sent);
    const child = cliCommand(["collect", "--once"], { ...t.env, COLLECT_BATCH: "10" }).spawn();
    // Kill without warning once some, not all, messages are committed.
    const deadline = Date.now() + 120_000;
    let stored = 0;
    while (Date.now() < deadline) {
      [{ n: stored }] = await t.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM messages",
      ).catch(() => [{ n: 0 }]);
      if (stored >= 20) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await child.output();
    assert.ok(stored >= 20 && stored < sent.length, `killed after ${stored} stored`);
    await cli(["collect", "--once"], t.env);
    const inbox = await mailbox(t.login, "INBOX");
    const moved = await mailbox(t.login, "Processados");
    const rows = await afterRows(t.db);
    assert.deepEqual(inbox, [], "everything processed was moved");
    assert.equal(moved?.length, sent.length, "each message is in the folder exactly once");
    assert.equal(new Set(moved!.map((m) => m.sha256)).size, sent.length);
    assert.equal(rows.length, sent.length, "each message is stored once");
    assert.deepEqual(
      moved!.map((m) => m.sha256).sort(),
      rows.map((r) => r.content_sha256).sort(),
    );
    assert.ok(rows.every((r) => r.after_state === "done"));
  } finally {
    await t.close();
  }
});

Deno.test("a folder the server refuses: the mail stays, the failure is shown, tried again without storing again", async () => {
  // Dovecot refuses to create a mailbox whose name begins with '~'.
  const t = await setup({ IMAP_AFTER: "move", IMAP_AFTER_FOLDER: "~Recusada" });
  try {
    await deliverRaw(t.box.user, [message("ana@example.test", t.box.address, "Fica")]);
    const run = await cli(["collect", "--once"], t.env);
    const accounts = run.accounts as Array<{ status: string; afterFailed: number }>;
    assert.deepEqual([run.stored, accounts[0].status, accounts[0].afterFailed], [1, "ok", 1]);
    const inbox = await mailbox(t.login, "INBOX");
    assert.equal(inbox?.length, 1, "the mail is where it was");
    assert.ok(!inbox![0].flags.includes("\\Deleted"));
    let [row] = await afterRows(t.db);
    assert.equal(row.after_state, "failed");
    assert.equal(row.after_attempts, 1);
    assert.match(row.after_error ?? "", /~Recusada.*Invalid mailbox name/);
    // The next run tries again, without storing the message again or a second audit row.
    const again = await cli(["collect", "--once"], t.env);
    assert.deepEqual([again.fetched, again.stored], [0, 0]);
    [row] = await afterRows(t.db);
    assert.deepEqual([row.after_state, row.after_attempts], ["failed", 2]);
    assert.equal((await afterRows(t.db)).length, 1);
    const failed = await events(t.db, "after_processing_failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].message_id, row.id);
    // Once the setting names a folder the server accepts, the next run moves it.
    const fixed = { ...t.env, IMAP_AFTER_FOLDER: "Aceita" };
    await cli(["collect", "--once"], fixed);
    [row] = await afterRows(t.db);
    assert.deepEqual([row.after_state, row.after_folder, row.after_error], [
      "done",
      "Aceita",
      null,
    ]);
    assert.deepEqual(await mailbox(t.login, "INBOX"), []);
    assert.equal((await mailbox(t.login, "Aceita"))?.length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("moved into a folder that is itself collected, a message is not answered twice", async () => {
  const t = await setup({
    IMAP_MAILBOXES: "INBOX,Processados",
    IMAP_AFTER: "move",
    IMAP_AFTER_FOLDER: "Processados",
  }, true);
  const ana: Person = await freshUser("ana");
  try {
    // The first run (in setup) already found Processados missing; it is created by the move.
    await deliverRaw(t.box.user, [message(ana.address, t.box.address, "Pedido 7")]);
    const run = await cli(["collect", "--once"], t.env);
    // The message in INBOX, then its moved copy in Processados, collected in the same run.
    assert.equal(run.stored, 2);
    const rows = await afterRows(t.db);
    assert.deepEqual(rows.map((r) => r.mailbox), ["INBOX", "Processados"]);
    // The same bytes: the same dedup key (`v1/{account}/{raw sha256}/{rule}`) for both.
    assert.equal(rows[0].content_sha256, rows[1].content_sha256);
    // The copy is already where it should be: done without moving it again.
    assert.deepEqual(rows.map((r) => r.after_state), ["done", "done"]);
    const outbox = await t.db.query<{ message_id: number; dedup_key: string; account_id: number }>(
      "SELECT message_id, dedup_key, account_id FROM outbox",
    );
    assert.equal(outbox.length, 1, "one reply for the two copies");
    assert.equal(outbox[0].message_id, rows[0].id);
    const key = dedupKey({
      accountId: outbox[0].account_id,
      rawSha256: rows[1].content_sha256,
      ruleName: "ack-direct",
    });
    assert.equal(outbox[0].dedup_key, key, "the copy's dedup key is the reply's own");
    assert.equal((await cli(["send", "--once"], t.env)).sent, 1);
    // More runs: nothing more is collected, moved or sent.
    const again = await cli(["collect", "--once"], t.env);
    assert.deepEqual([again.fetched, again.stored], [0, 0]);
    assert.equal((await cli(["send", "--once"], t.env)).claimed, 0);
    assert.equal((await mailbox(t.login, "Processados"))?.length, 1);
    assert.equal((await settledInbox(imapConfig(ana.user, ana.pass), 1)).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("IMAP_MAILBOXES=Naoexiste,INBOX collects INBOX and reports Naoexiste until it exists", async () => {
  const t = await setup({ IMAP_MAILBOXES: "Naoexiste,INBOX" });
  try {
    await deliverRaw(t.box.user, [
      message("ana@example.test", t.box.address, "Chega"),
      message("bia@example.test", t.box.address, "Também"),
    ]);
    const run = await cli(["collect", "--once"], t.env);
    assert.equal(run.stored, 2, "INBOX is collected although Naoexiste is missing");
    const [account] = run.accounts as Array<
      { status: string; unavailable: Array<{ mailbox: string; error: string }> }
    >;
    assert.equal(account.status, "ok");
    assert.deepEqual(account.unavailable.map((u) => u.mailbox), ["Naoexiste"]);
    await cli(["collect", "--once"], t.env);
    const stats = await cli(["stats"], t.env) as {
      accounts: Array<{
        last_error: string | null;
        mailbox_problems: Array<{ mailbox: string; error: string }>;
      }>;
    };
    assert.equal(stats.accounts[0].last_error, null);
    assert.deepEqual(stats.accounts[0].mailbox_problems.map((p) => p.mailbox), ["Naoexiste"]);
    assert.match(stats.accounts[0].mailbox_problems[0].error, /Naoexiste.*doesn't exist/);
    // Audited once, not at every run (the setup's first run reported it already).
    const reported = await events(t.db, "mailbox_unavailable");
    assert.deepEqual(reported.map((e) => e.detail.mailbox), ["Naoexiste"]);
    // The mailbox appears: the report clears, and its mail is collected.
    await doveadm(["mailbox", "create", "-u", t.box.user, "Naoexiste"]);
    await cli(["collect", "--once"], t.env);
    const cleared = await cli(["stats"], t.env) as {
      accounts: Array<{ mailbox_problems: unknown[] }>;
    };
    assert.deepEqual(cleared.accounts[0].mailbox_problems, []);
    assert.equal((await events(t.db, "mailbox_available")).length, 1);
    assert.equal((await events(t.db, "mailbox_unavailable")).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("the embedded database: a missing mailbox is reported while INBOX is collected and moved", async () => {
  await ensureMailstack();
  const box = await freshUser("afterpg");
  const dataDir = await Deno.makeTempDir({ prefix: "carteiro-pglite-" });
  const env = {
    ...mailboxEnv(box),
    DATABASE_URL: "",
    DATA_DIR: dataDir,
    IMAP_MAILBOXES: "Naoexiste,INBOX",
    IMAP_AFTER: "move",
    IMAP_AFTER_FOLDER: "Arquivo",
  };
  const login = imapConfig(box.user, box.pass);
  try {
    await cli(["collect", "--once"], env);
    await deliverRaw(box.user, [message("ana@example.test", box.address, "Embutido")]);
    const run = await cli(["collect", "--once"], env);
    assert.equal(run.stored, 1);
    assert.deepEqual(await mailbox(login, "INBOX"), []);
    assert.equal((await mailbox(login, "Arquivo"))?.length, 1);
    const stats = await cli(["stats"], env) as {
      accounts: Array<{ mailbox_problems: Array<{ mailbox: string }> }>;
      after_processing: { pending: number; done: number; failed: number };
    };
    assert.deepEqual(stats.accounts[0].mailbox_problems.map((p) => p.mailbox), ["Naoexiste"]);
    assert.deepEqual(stats.after_processing, { pending: 0, done: 1, failed: 0 });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
