/**
 * `{ prepare: true }` (src/store/db.ts `QueryOptions`, which the outbox's claim and settlement
 * pass) reaches PostgreSQL as a named prepared statement kept by its connection, in a transaction
 * too; a statement without it stays unnamed, planned at each run. PGlite takes the option and runs
 * the statement as any other.
 */
import assert from "node:assert/strict";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { openPglite } from "../../src/store/pglite_db.ts";
import { freshPostgresDatabase } from "../support/databases.ts";

Deno.test("a statement asked to be prepared is kept by its connection, others are not [postgres]", async () => {
  const fresh = await freshPostgresDatabase();
  // One connection, so that every statement below meets the same session.
  const db = openPostgres({ url: fresh.url, max: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const [r] = await db.query<{ n: number }>("SELECT $1::int + 1 AS n", [i], { prepare: true });
      assert.equal(r.n, i + 1);
    }
    await db.query("SELECT $1::int + 2 AS n", [1]);
    await db.transaction(async (tx) => {
      await tx.query("SELECT $1::int + 3 AS n", [1], { prepare: true });
      await tx.query("SELECT $1::int + 4 AS n", [1]);
    });
    const kept = await db.query<{ statement: string }>(
      // postgres.js prepares its own few (the array types it reads at connect, `commit`).
      "SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int%' ORDER BY 1",
    );
    assert.deepEqual(kept.map((r) => r.statement), [
      "SELECT $1::int + 1 AS n",
      "SELECT $1::int + 3 AS n",
    ]);
  } finally {
    await db.close();
    await fresh.drop();
  }
});

Deno.test("the embedded database runs a statement asked to be prepared as any other [pglite]", async () => {
  const db = await openPglite();
  try {
    const [r] = await db.query<{ n: number }>("SELECT $1::int + 1 AS n", [41], { prepare: true });
    assert.equal(r.n, 42);
    const [t] = await db.transaction((tx) =>
      tx.query<{ n: number }>("SELECT $1::int + 1 AS n", [1], { prepare: true })
    );
    assert.equal(t.n, 2);
  } finally {
    await db.close();
  }
});
