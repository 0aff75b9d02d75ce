/**
 * Request bodies are bounded before anything parses them: a body past 1 MB gets 413 (JSON on the
 * API, words on pages) whether it says its length or streams in chunks, the CSRF check and the
 * language switch included; and the real service keeps answering, its memory nearly flat, while
 * four 50 MB bodies stream in at once.
 */
import assert from "node:assert/strict";
import { csrfFrom, harness } from "../routes/support.ts";
import { startedService } from "../support/service_process.ts";

const MB = 1024 * 1024;

/** A form body of about `bytes`, made as it is read (`a=aaaa…&a=aaaa…`). */
function streamingForm(bytes: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  const piece = new TextEncoder().encode(("a=" + "a".repeat(chunk - 3) + "&").slice(0, chunk));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(piece);
      sent += piece.length;
    },
  });
}

const bigForm = (bytes: number) => "a=" + "a".repeat(bytes);

for (const kind of ["pglite", "postgres"] as const) {
  Deno.test(`bodies over 1 MB are refused with 413 before any parsing [${kind}]`, async () => {
    const h = await harness({ kind });
    try {
      const form = { "Content-Type": "application/x-www-form-urlencoded" };
      // Unauthenticated: the login form (its CSRF check would read the body) and the language switch.
      const page = await h.request("/login");
      const pre = csrfFrom(await page.text());
      for (const path of ["/login", "/lang", "/setup"]) {
        const res = await h.request(path, {
          method: "POST",
          headers: form,
          body: `_csrf=${pre}&${bigForm(2 * MB)}`,
        });
        assert.equal(res.status, 413, `${path} with a 2 MB form`);
        assert.match(await res.text(), /1 MB/, path);
      }
      // The same, streamed without a length.
      const streamed = await h.request("/login", {
        method: "POST",
        headers: form,
        body: streamingForm(3 * MB),
      });
      assert.equal(streamed.status, 413, "a streamed body without Content-Length");
      await streamed.body?.cancel();

      // Pages behind a session.
      await h.login();
      const rules = await h.request("/rules", {
        method: "POST",
        headers: { ...form, "X-CSRF-Token": h.csrf },
        body: bigForm(2 * MB),
      });
      assert.equal(rules.status, 413);
      assert.match(rules.headers.get("Content-Type") ?? "", /^text\//);

      // The API: JSON in its own error shape.
      const token = await h.apiToken();
      const api = await h.request("/api/v1/rules", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "x", pad: "x".repeat(2 * MB) }),
      });
      assert.equal(api.status, 413);
      const json = await api.json();
      assert.equal(json.error?.code, "payload_too_large", JSON.stringify(json));
      assert.match(json.error?.message, /1 MB/);

      // Ordinary bodies still pass: a rule form well under the limit reaches its handler.
      const small = await h.request("/rules", {
        method: "POST",
        headers: { ...form, "X-CSRF-Token": h.csrf },
        body: bigForm(100 * 1024),
      });
      assert.notEqual(small.status, 413);
      assert.deepEqual(h.errors, []);
    } finally {
      await h.close();
    }
  });
}

/** The resident memory of a process, in bytes (Linux /proc). */
async function residentBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  assert.ok(m, `no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

Deno.test("four 50 MB posts at once: /healthz answers and the service's memory stays nearly flat", async () => {
  const home = await Deno.makeTempDir({ prefix: "carteiro-body-limit-" });
  const service = await startedService({
    DATA_DIR: `${home}/data`,
    DATABASE_URL: "",
    EMAIL_HOST: "",
    EMAIL_USER: "",
    EMAIL_PASS: "",
  });
  try {
    // Warm up the paths the flood takes, then take the baseline.
    for (const path of ["/healthz", "/login"]) {
      await (await fetch(service.base + path)).body?.cancel();
    }
    await new Promise((r) => setTimeout(r, 1000));
    const baseline = await residentBytes(service.pid);
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await residentBytes(service.pid).catch(() => 0));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const floods = Array.from({ length: 4 }, async () => {
      try {
        const res = await fetch(`${service.base}/login`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: streamingForm(50 * MB),
        });
        await res.body?.cancel();
        return res.status;
      } catch (e) {
        // The server may close the connection after its 413, while the client still sends.
        return `closed: ${e instanceof Error ? e.message : e}`;
      }
    });
    // /healthz answers while they stream (a ceiling, not a speed: 30 s).
    const health = await Promise.race([
      fetch(`${service.base}/healthz`).then(async (r) => ({
        status: r.status,
        body: await r.text(),
      })),
      new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
    ]);
    assert.ok(health, `/healthz did not answer in 30 s:\n${service.logs().slice(-2000)}`);
    assert.equal(health.status, 200, health.body);
    const outcomes = await Promise.race([
      Promise.all(floods),
      new Promise<null>((r) => setTimeout(() => r(null), 120_000)),
    ]);
    assert.ok(outcomes, "the four posts did not end in 120 s");
    sampling = false;
    await sampler;
    const grown = peak - baseline;
    assert.ok(
      grown < 50 * MB,
      `memory grew by ${(grown / MB).toFixed(1)} MB (from ${(baseline / MB).toFixed(1)} MB); ` +
        `outcomes: ${JSON.stringify(outcomes)}`,
    );
    for (const o of outcomes) assert.ok(o === 413 || typeof o === "string", `answered ${o}`);
  } finally {
    await service.stop();
    await Deno.remove(home, { recursive: true });
  }
});
