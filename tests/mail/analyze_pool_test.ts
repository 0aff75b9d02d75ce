import assert from "node:assert/strict";
import { analyzeMessage } from "../../src/mail/analyze.ts";
import { startAnalyzePool } from "../../src/mail/analyze_pool.ts";

const FIXTURES = [
  "direct_pt.eml",
  "forwarded_gmail_pt.eml",
  "forwarded_outlook_en.eml",
  "forward_as_attachment.eml",
  "latin1_headers.eml",
  "broken_mime.eml",
];

async function fixtures(): Promise<Uint8Array[]> {
  return await Promise.all(
    FIXTURES.map((f) => Deno.readFile(new URL(`../fixtures/${f}`, import.meta.url))),
  );
}

Deno.test("the worker pool answers exactly what analyzing on this thread answers", async () => {
  const raws = await fixtures();
  const pool = startAnalyzePool(2);
  try {
    // Every message several times, all in flight at once: each answer goes to its own caller.
    const many = [...raws, ...raws, ...raws];
    const pooled = await Promise.all(many.map((raw) => pool.analyze(raw)));
    const local = await Promise.all(many.map((raw) => analyzeMessage(raw)));
    assert.deepEqual(pooled, local);
    assert.ok(pooled.some((a) => a.classification?.kind === "forwarded"));
    assert.ok(pooled.some((a) => a.classification?.kind === "direct"));
  } finally {
    pool.close();
  }
});

Deno.test("closing the pool settles what is in flight as unparsed, and later calls too", async () => {
  const [raw] = await fixtures();
  const pool = startAnalyzePool(1);
  const inFlight = pool.analyze(raw);
  pool.close();
  const settled = await inFlight;
  assert.equal(settled.classification, null);
  assert.deepEqual(settled.outcome, { ok: false, error: "the parser pool was closed" });
  const after = await pool.analyze(raw);
  assert.deepEqual(after.outcome, { ok: false, error: "the parser pool is closed" });
});

Deno.test("handed over, a view over its whole buffer moves to the worker; a slice of a shared buffer is copied", async () => {
  const raws = await fixtures();
  const local = await Promise.all(raws.map((raw) => analyzeMessage(raw)));
  const pool = startAnalyzePool(1);
  try {
    // Each fixture in a buffer of its own: moved, so the caller's view is left empty.
    const own = raws.map((raw) => raw.slice());
    assert.ok(own.every((v) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength));
    const moved = await Promise.all(own.map((raw) => pool.analyze(raw, true)));
    assert.deepEqual(moved, local);
    assert.ok(own.every((v) => v.byteLength === 0), "each handed-over view is emptied");

    // All fixtures side by side in one buffer: each view is a part of it, so it is copied, and
    // the buffer and its other views stay whole.
    const shared = new Uint8Array(raws.reduce((n, r) => n + r.length, 0));
    const parts: Uint8Array[] = [];
    let at = 0;
    for (const raw of raws) {
      shared.set(raw, at);
      parts.push(shared.subarray(at, at + raw.length));
      at += raw.length;
    }
    const copied = await Promise.all(parts.map((raw) => pool.analyze(raw, true)));
    assert.deepEqual(copied, local);
    assert.equal(shared.byteLength, at);
    parts.forEach((p, i) => assert.deepEqual(p, raws[i]));

    // Not handed over: copied, whatever the view.
    const kept = raws[0].slice();
    assert.deepEqual(await pool.analyze(kept), local[0]);
    assert.deepEqual(kept, raws[0]);
  } finally {
    pool.close();
  }
});
