import { type Db, LockNamespace } from "./db.ts";

const MIGRATIONS_DIR = new URL("../../migrations/", import.meta.url);
const NAME = /^\d{4}_[a-z0-9_]+\.sql$/;

/** A migration file: its name (which orders it) and its SQL. */
export interface Migration {
  name: string;
  sql: string;
}

/** Reads `migrations/*.sql` in name order. */
export async function readMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".sql")) {
      if (!NAME.test(entry.name)) {
        throw new Error(
          `migration file name ${entry.name} must look like 0001_words.sql (digits, underscore, lower-case words)`,
        );
      }
      names.push(entry.name);
    }
  }
  names.sort();
  return await Promise.all(
    names.map(async (name) => ({ name, sql: await Deno.readTextFile(new URL(name, dir)) })),
  );
}

/**
 * Applies the migrations not yet applied, in order, under an advisory lock so that instances
 * starting together apply each one once. Each file and its bookkeeping row form one implicit
 * transaction (a multi-statement simple query), so a failing file leaves nothing half-applied.
 */
export async function migrate(db: Db, migrations: Migration[]): Promise<string[]> {
  return await db.withLock(LockNamespace.migrations, 0, async () => {
    await db.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         name text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set(
      (await db.query<{ name: string }>("SELECT name FROM schema_migrations")).map((r) => r.name),
    );
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.name)) continue;
      try {
        await db.exec(`${m.sql}\n;\nINSERT INTO schema_migrations (name) VALUES ('${m.name}');`);
      } catch (cause) {
        throw new Error(`migration ${m.name} failed: ${(cause as Error).message}`, { cause });
      }
      applied.push(m.name);
    }
    return applied;
  });
}
