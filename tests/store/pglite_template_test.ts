/**
 * A new embedded database starts from src/store/pglite_cluster.tar.gz instead of running initdb:
 * the template must be what this PGlite's initdb makes with our settings, and a folder started
 * from it must open again as an existing database.
 */
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { makeClusterTemplate, openPglite } from "../../src/store/pglite_db.ts";
import type { Queryable } from "../../src/store/db.ts";

/** What initdb decides: the server's version, the catalog and the postgresql.conf settings. */
async function cluster(q: Queryable): Promise<Record<string, unknown>> {
  const [row] = await q.query(
    `SELECT version(),
       (SELECT catalog_version_no FROM pg_control_system()) AS catalog,
       (SELECT pg_control_version FROM pg_control_system()) AS control,
       (SELECT string_agg(datname || ':' || encoding || ':' || datcollate, ',' ORDER BY datname)
          FROM pg_database) AS databases,
       (SELECT md5(string_agg(oid || relname, ',' ORDER BY oid)) FROM pg_class) AS classes,
       (SELECT md5(string_agg(oid || proname, ',' ORDER BY oid)) FROM pg_proc) AS procs,
       (SELECT string_agg(name || '=' || setting, ',' ORDER BY name, seqno)
          FROM pg_file_settings) AS settings`,
  );
  return row;
}

Deno.test("the cluster template is what this PGlite's initdb makes with our settings", async () => {
  const fromTemplate = await openPglite();
  const fromInitdb = new PGlite({
    loadDataDir: new Blob([await makeClusterTemplate()]),
  });
  try {
    const made = await cluster({
      query: async (text, params) => (await fromInitdb.query(text, params)).rows as never,
    });
    assert.match(String(made.settings), /shared_buffers=16MB/);
    assert.deepEqual(
      await cluster(fromTemplate),
      made,
      "src/store/pglite_cluster.tar.gz is out of date: run `deno run -A scripts/pglite_template.ts`",
    );
  } finally {
    await fromTemplate.close();
    await fromInitdb.close();
  }
});

Deno.test("a new data folder starts from the template, keeps its rows and opens again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "carteiro-template-" });
  try {
    const first = await openPglite(`${dir}/data`);
    await first.exec("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1), (2)");
    await first.close();
    assert.ok((await Deno.stat(`${dir}/data/PG_VERSION`)).isFile);
    const again = await openPglite(`${dir}/data`);
    try {
      assert.deepEqual(await again.query("SELECT n FROM kept ORDER BY n"), [{ n: 1 }, { n: 2 }]);
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
