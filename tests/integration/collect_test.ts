/**
 * Collection end to end: messages delivered to a real Dovecot mailbox, collected by the real
 * command (`main.ts cli collect --once`) into a fresh PostgreSQL database.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { cliCommand, runCli } from "../support/cli.ts";
import {
  changeUidValidity,
  deliverRaw,
  ensureMailstack,
  freshUser,
  imapConfig,
} from "../support/mailstack.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { type ImapLogin, rawInbox } from "../support/mailbox_reader.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const CORPUS = new URL("../../../shared/corpus/", import.meta.url);

async function emlFiles(dir: URL): Promise<Uint8Array[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".eml")) names.push(e.name);
  names.sort();
  return await Promise.all(names.map((n) => Deno.readFile(new URL(n, dir))));
}

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

/** Generated messages of our own: unique, a few forwarded, one with a raw 8-bit subject. */
function generated(count: number, tag: string): Uint8Array[] {
  const enc = new TextEncoder();
  return Array.from({ length: count }, (_, i) => {
    const forwarded = i % 3 === 0;
    const body = forwarded
      ? `Veja abaixo.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Cliente ${i} <cliente${i}@cliente.example.test>\r\nDate: Mon, 2 Nov 2026 10:00:00 -0300\r\nSubject: Pedido ${i}\r\nTo: <equipe@example.test>\r\n\r\nPedido ${i} atrasado.\r\n`
      : `Mensagem ${i} de ${tag}.\r\n`;
    return enc.encode(
      `From: Remetente ${i} <r${i}@example.test>\r\nTo: caixa@example.test\r\nSubject: ${
        forwarded ? "Fwd: " : ""
      }Pedido ${i}\r\nMessage-ID: <${tag}-${i}@example.test>\r\nDate: Tue, 3 Nov 2026 10:00:00 -0300\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
    );
  });
}

async function setup(messages: Uint8Array[]) {
  await ensureMailstack();
  const box = await freshUser("collect");
  await deliverRaw(box.user, messages);
  const database = await freshPostgresDatabase();
  const imap = imapConfig(box.user, box.pass);
  const env = {
    EMAIL_HOST: imap.host,
    IMAP_PORT: String(imap.port),
    IMAP_TLS: "false",
    EMAIL_USER: box.user,
    EMAIL_PASS: box.pass,
    EMAIL_ADDRESS: box.address,
    DATABASE_URL: database.url,
  };
  const db = openPostgres({ url: database.url, max: 2 });
  return {
    box,
    env,
    db,
    login: imap,
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}

type Db = ReturnType<typeof openPostgres>;

/**
 * Asserts the stored raws are exactly what the server serves for the delivered messages, each
 * once. (A server may differ from the file it was given: IMAP lines end in CRLF, RFC 3501 §4.3,
 * and Dovecot serves a NUL byte as 0x80; the stored bytes are the served ones.)
 */
async function assertStoredExactly(db: Db, login: ImapLogin, delivered: Uint8Array[]) {
  const served = await rawInbox(login);
  assert.equal(served.length, delivered.length, "the mailbox holds every delivered message");
  const want = new Map<string, number>();
  for (const m of served) {
    const h = await sha256Hex(m.raw);
    want.set(h, (want.get(h) ?? 0) + 1);
  }
  const rows = await db.query<{ raw: Uint8Array; content_sha256: string; uid: number }>(
    "SELECT raw, content_sha256, uid FROM messages ORDER BY id",
  );
  const got = new Map<string, number>();
  for (const r of rows) {
    const h = await sha256Hex(new Uint8Array(r.raw));
    assert.equal(h, r.content_sha256, `uid ${r.uid}: stored hash does not match stored bytes`);
    got.set(h, (got.get(h) ?? 0) + 1);
  }
  assert.equal(rows.length, delivered.length, "stored count differs from delivered count");
  assert.deepEqual(got, want);
  // Where the server serves a file unchanged (CRLF line ends, no NUL), the stored bytes are the
  // file's own bytes.
  let unchanged = 0;
  for (const m of delivered) {
    const crlfOnly = m.every((b, i) => b !== 0x0a || m[i - 1] === 0x0d);
    if (!crlfOnly || m.includes(0)) continue;
    unchanged++;
    assert.ok(got.has(await sha256Hex(m)), "a delivered file is stored byte for byte");
  }
  assert.ok(unchanged > 0);
  const [dups] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT account_id, mailbox, uidvalidity, uid FROM messages
       GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d`,
  );
  assert.equal(dups.n, 0);
}

async function collect(env: Record<string, string>) {
  const run = await runCli(["collect", "--once"], env);
  assert.equal(run.code, 0, `collect failed:\n${run.stderr}\n${JSON.stringify(run.docs)}`);
  return run.docs[0] as Record<string, number>;
}

Deno.test("our fixtures are stored once, byte-identical, parsed and classified", async () => {
  const messages = await emlFiles(FIXTURES);
  const t = await setup(messages);
  try {
    const first = await collect(t.env);
    assert.equal(first.stored, messages.length);
    await assertStoredExactly(t.db, t.login, messages);
    const second = await collect(t.env);
    assert.deepEqual([second.fetched, second.stored], [0, 0]);
    const stats = (await runCli(["stats"], t.env)).docs[0] as Record<string, number>;
    assert.equal(stats.messages, messages.length);
    assert.equal(stats.forwarded + stats.direct + stats.unparsed, messages.length);
    const [latin] = await t.db.query<{ subject: string; from_name: string }>(
      "SELECT subject, from_name FROM messages WHERE from_address = 'joao@example.test'",
    );
    assert.deepEqual(latin, { subject: "Formação de verão", from_name: "João Araújo" });
    const attach = await t.db.query<{ kind: string; original_from_address: string }>(
      "SELECT kind, original_from_address FROM messages WHERE message_id = $1",
      ["<fwd-attach-1@example.test>"],
    );
    assert.deepEqual(attach, [{
      kind: "forwarded",
      original_from_address: "carla@cliente.example.test",
    }]);
  } finally {
    await t.close();
  }
});

const corpusPresent = await exists(CORPUS);
if (!corpusPresent) {
  console.log(
    `NOT RUN: the shared corpus (${CORPUS.pathname}) is absent, so the corpus collection test did not run`,
  );
}

Deno.test({
  name: "every corpus message (mime/ and forwarded/) is stored exactly once, parsed or unparsed",
  ignore: !corpusPresent,
  fn: async () => {
    const messages = [
      ...await emlFiles(new URL("mime/", CORPUS)),
      ...await emlFiles(new URL("forwarded/", CORPUS)),
    ];
    assert.equal(messages.length, 70 + 129);
    const t = await setup(messages);
    try {
      const first = await collect(t.env);
      assert.equal(first.stored, messages.length);
      assert.equal(first.parsed + first.failed, messages.length);
      await assertStoredExactly(t.db, t.login, messages);
      const [pending] = await t.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM messages WHERE parse_status = 'pending'",
      );
      assert.equal(pending.n, 0);
      const second = await collect(t.env);
      assert.deepEqual([second.fetched, second.stored], [0, 0]);
    } finally {
      await t.close();
    }
  },
});

Deno.test("a UIDVALIDITY change neither duplicates nor loses", async () => {
  const before = generated(25, "uv");
  const t = await setup(before);
  try {
    assert.equal((await collect(t.env)).stored, 25);
    await changeUidValidity(t.box.user, "INBOX");
    const late = generated(1, "uv-late");
    await deliverRaw(t.box.user, late);
    const after = await collect(t.env);
    assert.deepEqual([after.remapped, after.stored], [25, 1]);
    await assertStoredExactly(t.db, t.login, [...before, ...late]);
    const events = await t.db.query<{ event: string }>(
      "SELECT event FROM audit_events WHERE event = 'uidvalidity_changed'",
    );
    assert.equal(events.length, 1);
    const again = await collect(t.env);
    assert.deepEqual([again.fetched, again.stored, again.remapped], [0, 0, 0]);
  } finally {
    await t.close();
  }
});

Deno.test("a collector killed mid-run loses nothing and duplicates nothing when run again", async () => {
  const messages = generated(400, "kill");
  const t = await setup(messages);
  try {
    const child = cliCommand(["collect", "--once"], { ...t.env, COLLECT_BATCH: "10" }).spawn();
    // Wait until some, not all, messages are committed, then kill without warning.
    const deadline = Date.now() + 60_000;
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
    assert.ok(stored >= 20 && stored < messages.length, `killed after ${stored} stored`);
    const resumed = await collect(t.env);
    assert.ok(resumed.stored <= messages.length - stored + 10);
    await assertStoredExactly(t.db, t.login, messages);
    const [pending] = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM messages WHERE parse_status <> 'parsed'",
    );
    assert.equal(pending.n, 0);
  } finally {
    await t.close();
  }
});

Deno.test("two collectors started at once store each message once", async () => {
  const messages = generated(150, "twin");
  const t = await setup(messages);
  try {
    const env = { ...t.env, COLLECT_BATCH: "20" };
    const [a, b] = await Promise.all([
      runCli(["collect", "--once"], env),
      runCli(["collect", "--once"], env),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const statuses = [a, b].map((r) =>
      (r.docs[0] as { accounts: Array<{ status: string }> }).accounts[0].status
    );
    const stored = [a, b].map((r) => (r.docs[0] as { stored: number }).stored);
    assert.equal(stored[0] + stored[1], messages.length, `statuses ${statuses}`);
    await assertStoredExactly(t.db, t.login, messages);
  } finally {
    await t.close();
  }
});
