/**
 * Writes src/store/pglite_cluster.tar.gz, the cluster a new embedded database starts from: a
 * fresh initdb by the PGlite in deno.json, with the memory settings of src/store/pglite_db.ts.
 * Run it after changing either (tests/store/pglite_template_test.ts fails until then):
 *
 *   deno run -A scripts/pglite_template.ts
 */
import { makeClusterTemplate } from "../src/store/pglite_db.ts";

const path = new URL("../src/store/pglite_cluster.tar.gz", import.meta.url);
const bytes = await makeClusterTemplate();
await Deno.writeFile(path, bytes);
console.log(`${path.pathname}: ${bytes.length} bytes`);
