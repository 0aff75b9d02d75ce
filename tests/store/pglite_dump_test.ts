/**
 * `db dump`'s SQL, made by pg_dump from @electric-sql/pglite-tools, loads with `psql` into an
 * empty PostgreSQL database and holds every row of every table, bytes included; the embedded
 * database goes on writing after the dump.
 */
import assert from "node:assert/strict";
import { openPglite } from "../../src/store/pglite_db.ts";
import { migrate, readMigrations } from "../../src/store/migrate.ts";
import { storeArrivals } from "../../src/store/messages.ts";
import { upsertEnvAccount } from "../../src/store/accounts.ts";
import { createUser } from "../../src/store/users.ts";
import { replaceRules } from "../../src/store/rule_set.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import type { Queryable } from "../../src/store/db.ts";
import { freshPostgresDatabase } from "../support/databases.ts";

/** Each public table with a digest of all its rows, in a stable order. */
async function contents(q: Queryable): Promise<Record<string, string>> {
  const tables = await q.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await q.query<{ n: number; digest: string | null }>(
      `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest
       FROM public.${name} t`,
    );
    out[name] = `${row.n}:${row.digest ?? ""}`;
  }
  return out;
}

async function psql(url: string, sql: string): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command("psql", {
    args: ["--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(sql));
  await writer.close();
  const out = await child.output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("the embedded database's dump loads into PostgreSQL with psql, every row and byte", async () => {
  const db = await openPglite();
  await migrate(db, await readMigrations());
  const at = new Date("2026-12-01T12:00:00Z");
  const account = await upsertEnvAccount(db, {
    name: "caixa",
    address: "caixa@example.test",
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: "starttls",
    imapUser: "caixa@example.test",
    mailboxes: ["INBOX"],
  });
  const raw = new Uint8Array(70_000).map((_, i) => (i * 7919) % 256); // every byte value
  await storeArrivals(db, account.id, "INBOX", 1, [
    { uid: 1, raw, sha256: "a".repeat(64), internalDate: at },
    {
      uid: 2,
      raw: new TextEncoder().encode("Subject: Olá 'aspas' \\ barra\r\n\r\nçã\r\n"),
      sha256: "b".repeat(64),
      internalDate: null,
    },
  ], at);
  await createUser(db, "ana@example.test", "hash", at);
  const rules = parseRules([{
    name: "ack",
    enabled: true,
    when: { kind: "direct" },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebido." },
  }]);
  assert.ok(rules.ok);
  await replaceRules(db, rules.rules, at);
  const before = await contents(db);
  assert.equal(before.messages.split(":")[0], "2");

  const sql = await db.dump();
  assert.match(sql, /PostgreSQL database dump/);
  // PGlite's own column attribute: a server refuses it.
  assert.doesNotMatch(sql, /pg_attver/);

  // The session pg_dump used is the service's own: it writes again at once, not read-only.
  await createUser(db, "bia@example.test", "hash", at);
  assert.equal((await contents(db)).users.split(":")[0], "2");

  const target = await freshPostgresDatabase();
  const pg = openPostgres({ url: target.url, max: 1 });
  try {
    const loaded = await psql(target.url, sql);
    assert.equal(loaded.code, 0, `psql failed:\n${loaded.stderr}`);
    assert.equal(loaded.stderr, "", "psql printed errors or warnings");
    assert.deepEqual(await contents(pg), before);
    const [bytes] = await pg.query<{ raw: Uint8Array }>(
      "SELECT raw FROM messages WHERE uid = 1",
    );
    assert.deepEqual(new Uint8Array(bytes.raw), raw);
    // Sequences go on after the loaded rows: the next user gets a new id.
    const [next] = await pg.query<{ id: number }>(
      "INSERT INTO users (email, password_hash, created_at) VALUES ('c@x.test', 'h', now()) RETURNING id",
    );
    assert.equal(next.id, 2);
  } finally {
    await pg.close();
    await target.drop();
    await db.close();
  }
});
