/**
 * Store tests run on both adapters: a fresh PGlite in memory and a fresh database on the
 * PostgreSQL server named by DATABASE_URL_TEST (default: the local server, trust auth).
 */
import type { Db } from "../../src/store/db.ts";
import { openPglite } from "../../src/store/pglite_db.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { migrate, readMigrations } from "../../src/store/migrate.ts";
import { upsertEnvAccount } from "../../src/store/accounts.ts";

export const POSTGRES_ADMIN_URL = Deno.env.get("DATABASE_URL_TEST") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

/** A fresh, empty PostgreSQL database; returns its URL and a function that drops it. */
export async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `carteiro_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = openPostgres({ url: POSTGRES_ADMIN_URL, max: 1 });
  try {
    await admin.exec(`CREATE DATABASE ${name}`);
  } catch (cause) {
    await admin.close();
    throw new Error(
      `PostgreSQL at ${POSTGRES_ADMIN_URL} is needed by the tests (set DATABASE_URL_TEST)`,
      { cause },
    );
  }
  await admin.close();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = openPostgres({ url: POSTGRES_ADMIN_URL, max: 1 });
      await a.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.close();
    },
  };
}

/** Opens a migrated store of the given kind; `close` also drops a PostgreSQL database. */
export async function openTestStore(
  kind: "pglite" | "postgres",
): Promise<{ db: Db; url: string | null; close: () => Promise<void> }> {
  const migrations = await readMigrations();
  if (kind === "pglite") {
    const db = await openPglite();
    await migrate(db, migrations);
    return { db, url: null, close: () => db.close() };
  }
  const fresh = await freshPostgresDatabase();
  const db = openPostgres({ url: fresh.url, max: 4 });
  await migrate(db, migrations);
  return {
    db,
    url: fresh.url,
    close: async () => {
      await db.close();
      await fresh.drop();
    },
  };
}

/** Registers `fn` as one test per adapter, each on its own fresh store. */
export function storeTest(name: string, fn: (db: Db) => Promise<void>): void {
  for (const kind of ["pglite", "postgres"] as const) {
    Deno.test(`${name} [${kind}]`, async () => {
      const store = await openTestStore(kind);
      try {
        await fn(store.db);
      } finally {
        await store.close();
      }
    });
  }
}

/** The account most tests store mail under: `box@empresa.test`, IMAP over TLS on loopback. */
export function seedBoxAccount(db: Db) {
  return upsertEnvAccount(db, {
    name: "box",
    address: "box@empresa.test",
    imapHost: "127.0.0.1",
    imapPort: 993,
    imapTls: "tls",
    imapUser: "box",
    mailboxes: ["INBOX"],
  });
}
