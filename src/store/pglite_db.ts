import { PGlite } from "@electric-sql/pglite";
import type { Db, LockOutcome, Queryable, Row } from "./db.ts";

/**
 * Opens the embedded PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly). `dataDir` keeps the
 * database on disk; without it the database lives in memory (tests).
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  const pg = dataDir ? new PGlite(dataDir) : new PGlite();
  await pg.waitReady;
  return new PgliteDb(pg);
}

class PgliteDb implements Db {
  readonly kind = "pglite" as const;
  #pg: PGlite;
  // PGlite is one session, in which advisory locks are re-entrant: holders inside this process
  // are tracked here so that a second taker sees the lock as held, as it would on a server.
  #held = new Set<string>();
  #waiters = new Map<string, Array<() => void>>();

  constructor(pg: PGlite) {
    this.#pg = pg;
  }

  async query<T extends Row = Row>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await this.#pg.query<T>(text, params)).rows;
  }

  async exec(script: string): Promise<void> {
    await this.#pg.exec(script);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return await this.#pg.transaction(async (tx) => {
      const q: Queryable = {
        async query<R extends Row = Row>(text: string, params: unknown[] = []) {
          return (await tx.query<R>(text, params)).rows;
        },
      };
      return await fn(q);
    });
  }

  async tryWithLock<T>(
    namespace: number,
    key: number,
    fn: () => Promise<T>,
  ): Promise<LockOutcome<T>> {
    const id = `${namespace}:${key}`;
    if (this.#held.has(id)) return { acquired: false };
    this.#held.add(id);
    try {
      return { acquired: true, value: await fn() };
    } finally {
      this.#release(id);
    }
  }

  async withLock<T>(namespace: number, key: number, fn: () => Promise<T>): Promise<T> {
    const id = `${namespace}:${key}`;
    while (this.#held.has(id)) {
      await new Promise<void>((resolve) => {
        const list = this.#waiters.get(id) ?? [];
        list.push(resolve);
        this.#waiters.set(id, list);
      });
    }
    this.#held.add(id);
    try {
      return await fn();
    } finally {
      this.#release(id);
    }
  }

  #release(id: string) {
    this.#held.delete(id);
    const list = this.#waiters.get(id);
    this.#waiters.delete(id);
    for (const wake of list ?? []) wake();
  }

  async close(): Promise<void> {
    await this.#pg.close();
  }
}
