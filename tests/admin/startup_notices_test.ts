/**
 * What the service says at start about a setting that turns something off: here, a start
 * without `--v8-flags=--expose-gc`, which leaves the memory guard of the embedded database and
 * the parser threads idle (src/external_memory_guard.ts). The service runs as its own process,
 * as a user starts it, once without the flag and once with it.
 */
import assert from "node:assert/strict";
import { missingGcNotice } from "../../src/admin/startup_notices.ts";
import { firstStartEnv, startService } from "../support/service_process.ts";

Deno.test("the notice for a start without --expose-gc names the flag, and is absent with it", () => {
  const notice = missingGcNotice(false);
  assert.ok(notice);
  assert.match(notice, /--v8-flags=--expose-gc/);
  assert.match(notice, /deno task start/);
  assert.equal(missingGcNotice(true), null);
});

const WARNING = /"level":"warn","message":"started without --v8-flags=--expose-gc/;

for (const flags of [[], ["--v8-flags=--expose-gc"]]) {
  const named = flags.length ? "with --expose-gc says nothing of it" : "without --expose-gc warns";
  Deno.test({
    name: `a service started ${named}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const dataDir = await Deno.makeTempDir({ prefix: "carteiro-gc-notice-" });
      const service = startService(firstStartEnv(dataDir), flags);
      try {
        // The first-start hint is printed after the start's notices: by then each has been said.
        await service.waitForLog(/No admin user yet/, 120_000);
        if (flags.length) assert.doesNotMatch(service.logs(), WARNING);
        else assert.match(service.logs(), WARNING);
      } finally {
        await service.stop();
        await Deno.remove(dataDir, { recursive: true });
      }
    },
  });
}
