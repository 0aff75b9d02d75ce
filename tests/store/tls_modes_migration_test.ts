/**
 * Migration 0024 turns the accounts' TLS booleans into modes and keeps what old rows meant: IMAP's
 * unchecked box was STARTTLS, required; SMTP's checked box was TLS from the first byte on port 465
 * and STARTTLS elsewhere. Afterwards only the three modes are accepted. On both databases.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { openPglite } from "../../src/store/pglite_db.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { migrate, readMigrations } from "../../src/store/migrate.ts";
import type { Db } from "../../src/store/db.ts";

async function check(db: Db) {
  const all = await readMigrations();
  await migrate(db, all.filter((m) => m.name < "0024_"));
  const rows: Array<[string, boolean, number | null, boolean | null]> = [
    ["imaps-smtps", true, 465, true],
    ["starttls-587", false, 587, true],
    ["starttls-465-unchecked", false, 465, false],
    ["tls-on-2525", true, 2525, true],
    ["no-smtp", true, null, null],
  ];
  for (const [name, imapTls, smtpPort, smtpTls] of rows) {
    await db.query(
      `INSERT INTO accounts (name, address, imap_host, imap_port, imap_tls, imap_user, smtp_host,
         smtp_port, smtp_tls)
       VALUES ($1, 'x@empresa.test', 'imap.empresa.test', 993, $2, 'x', $3, $4::int, $5)`,
      [name, imapTls, smtpPort === null ? null : "smtp.empresa.test", smtpPort, smtpTls],
    );
  }
  await migrate(db, all);
  const after = await db.query<{ name: string; imap_tls: string; smtp_tls: string | null }>(
    "SELECT name, imap_tls, smtp_tls FROM accounts ORDER BY id",
  );
  assert.deepEqual(after.map((r) => [r.name, r.imap_tls, r.smtp_tls]), [
    ["imaps-smtps", "tls", "tls"],
    ["starttls-587", "starttls", "starttls"],
    ["starttls-465-unchecked", "starttls", "starttls"],
    ["tls-on-2525", "tls", "starttls"],
    ["no-smtp", "tls", null],
  ]);
  await db.query("UPDATE accounts SET imap_tls = 'plain' WHERE name = 'no-smtp'");
  await assert.rejects(() =>
    db.query("UPDATE accounts SET imap_tls = 'ssl' WHERE name = 'no-smtp'")
  );
  await assert.rejects(() =>
    db.query("UPDATE accounts SET smtp_tls = 'true' WHERE name = 'tls-on-2525'")
  );
}

Deno.test("0024: old TLS booleans become the modes they meant [pglite]", async () => {
  const db = await openPglite();
  try {
    await check(db);
  } finally {
    await db.close();
  }
});

Deno.test("0024: old TLS booleans become the modes they meant [postgres]", async () => {
  const fresh = await freshPostgresDatabase();
  const db = openPostgres({ url: fresh.url, max: 4 });
  try {
    await check(db);
  } finally {
    await db.close();
    await fresh.drop();
  }
});
