import assert from "node:assert/strict";
import { externalMemoryGuard } from "../src/external_memory_guard.ts";

const MB = 1 << 20;

/** A process whose external memory the test sets, and whose collections bring it to `live`. */
function fakeProcess(live: number) {
  const p = { bytes: live, live, at: 0, collections: 0 };
  return {
    p,
    options: {
      stepBytes: 24 * MB,
      intervalMs: 100,
      external: () => p.bytes,
      collect: () => {
        p.collections++;
        p.bytes = p.live;
      },
      now: () => p.at,
    },
  };
}

Deno.test("collects once external memory has grown a step past the last collection", () => {
  const { p, options } = fakeProcess(20 * MB);
  const guard = externalMemoryGuard(options);
  p.at = 200;
  p.bytes = 43 * MB;
  guard.check();
  assert.equal(p.collections, 0, "23 MB of growth is under the 24 MB step");
  p.at = 400;
  p.bytes = 44 * MB;
  guard.check();
  assert.equal(p.collections, 1);
  assert.equal(p.bytes, 20 * MB);
  // The next step counts from where the collection left it.
  p.live = 30 * MB;
  p.at = 600;
  p.bytes = 50 * MB;
  guard.check();
  assert.equal(p.collections, 2);
  p.at = 800;
  p.bytes = 53 * MB;
  guard.check();
  assert.equal(p.collections, 2, "23 MB past the 30 MB left by the last collection");
});

Deno.test("reads the memory at most once an interval", () => {
  const { p, options } = fakeProcess(20 * MB);
  let reads = 0;
  const guard = externalMemoryGuard({ ...options, external: () => (reads++, p.bytes) });
  const first = reads;
  p.bytes = 100 * MB;
  p.at = 50;
  guard.check();
  assert.equal(reads, first);
  assert.equal(p.collections, 0);
  p.at = 150;
  guard.check();
  assert.equal(p.collections, 1);
});

Deno.test("follows V8's own collections down", () => {
  const { p, options } = fakeProcess(40 * MB);
  const guard = externalMemoryGuard(options);
  p.at = 200;
  p.bytes = 10 * MB; // V8 collected by itself
  guard.check();
  p.at = 400;
  p.bytes = 35 * MB;
  guard.check();
  assert.equal(p.collections, 1, "25 MB past the 10 MB V8 left");
});

Deno.test("does nothing when V8 exposes no gc", () => {
  let reads = 0;
  const guard = externalMemoryGuard({ collect: null, external: () => (reads++, 1e12) });
  guard.check();
  assert.equal(reads, 0);
});
