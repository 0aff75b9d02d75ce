/** The audit vocabulary and its documentation say the same. */
import assert from "node:assert/strict";
import { AUDIT_EVENT_NAMES } from "../../src/domain/audit_events.ts";

Deno.test("docs/api.md lists every audit event of the vocabulary", async () => {
  const docs = await Deno.readTextFile(new URL("../../docs/api.md", import.meta.url));
  const missing = AUDIT_EVENT_NAMES.filter((e) => !docs.includes(`\`${e}\``));
  assert.deepEqual(missing, [], `docs/api.md does not name ${missing.join(", ")}`);
});
