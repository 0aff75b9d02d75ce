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
