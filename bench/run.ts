/**
 * Every benchmark, one after the other, then one report (markdown, ready for bench/RESULTS.md).
 *
 *   deno task bench         full: 10,000-message ingest into PostgreSQL beside mbsync, the same
 *                           10,000 into the embedded PGlite, replies per second through the
 *                           outbox drain, 200 messages with IDLE at one a second and 200 at one
 *                           every 250 ms, 200 for the floor, 20 with the one-minute cron alone,
 *                           and 100,000 into PostgreSQL when the measured rate says it fits the
 *                           20-minute budget
 *   deno task bench:quick   smoke test, about two minutes: 500-message ingests, 500 replies,
 *                           20 + 20 + 20 messages, the cron part left out
 *
 * Options: --json FILE writes every figure; --skip-100k never tries the 100,000 ingest.
 */
import {
  cpuMsPerMessage,
  INGEST_HEADER,
  type IngestResult,
  ingestRows,
  runIngest,
} from "./ingest.ts";
import { LATENCY_HEADER, type LatencyResult, latencyRow, runLatency } from "./latency.ts";
import { fixed, machine, ROOT, table } from "./support.ts";

const quick = Deno.args.includes("--quick");
const budgetMs = quick ? 180_000 : 20 * 60_000;
const began = performance.now();
const say = (line: string) =>
  console.error(`[${fixed((performance.now() - began) / 1000)} s] ${line}`);
const notes: string[] = [];

const host = await machine();
const ingests: Array<{ store: string; result: IngestResult }> = [];
const latencies: LatencyResult[] = [];
const ingestCount = quick ? 500 : 10_000;

ingests.push({ store: "PostgreSQL", result: await runIngest({ count: ingestCount, say }) });
// The embedded default on the same corpus (same seed), into a folder a previous process created:
// a later run's figures, not the first start's (initdb).
ingests.push({
  store: "PGlite",
  result: await runIngest({ count: ingestCount, mbsync: false, pglite: "existing", say }),
});

// Replies per second through the real outbox drain (claim, send, settle, audit), its own process.
say("replies: the outbox drain to the loopback Postfix");
const drain = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", `${ROOT}bench/outbox_drain.ts`, String(quick ? 500 : 2000)],
  stdout: "piped",
  stderr: "inherit",
}).output();
const replies = new TextDecoder().decode(drain.stdout).trim();
if (!drain.success) notes.push("the outbox drain benchmark failed: see its output above");

// The cron-alone samples mostly wait for the next tick, so they run beside the floor and IDLE
// samples (their own mailbox, database and service) instead of adding two minutes to the run.
const cron = quick ? null : runLatency({
  mode: "cron",
  count: 20,
  windowMs: 60_000,
  cronPeriodMs: 60_000,
  say,
});
latencies.push(await runLatency({ mode: "floor", count: quick ? 20 : 200, intervalMs: 100, say }));
// One message a second: each one's reply is measured on its own, not helped along by the
// collection a previous message started; then one every 250 ms, where they overlap.
latencies.push(await runLatency({ mode: "idle", count: quick ? 20 : 200, intervalMs: 1000, say }));
latencies.push(await runLatency({ mode: "idle", count: quick ? 20 : 200, intervalMs: 250, say }));
if (cron) {
  latencies.push(await cron);
  notes.push(
    "the cron-alone samples ran at the same time as the floor and IDLE ones (their own " +
      "mailbox, database and service), to fit the budget",
  );
} else {
  notes.push("quick run: the cron-alone latency is left out (each sample waits up to a minute)");
}

if (!quick && !Deno.args.includes("--skip-100k")) {
  // 100,000 messages only when the 10,000 run's rate says they fit in what is left of the budget.
  const rate = ingests[0].result.carteiro.messagesPerSecond;
  const needMs = (100_000 / rate + 100_000 / 1_500 + 60) * 1000;
  const leftMs = budgetMs - (performance.now() - began);
  if (needMs < leftMs) {
    ingests.push({
      store: "PostgreSQL",
      result: await runIngest({ count: 100_000, mbsync: false, say }),
    });
  } else {
    notes.push(
      `100,000-message ingest not run: at the measured ${fixed(rate)} msg/s it needs about ${
        fixed(needMs / 60_000, 1)
      } min and ${fixed(Math.max(0, leftMs) / 60_000, 1)} min of the 20-minute budget are left ` +
        "(run it alone: deno run -A bench/ingest.ts --count 100000 --no-mbsync)",
    );
  }
}

const [pg, lite] = [ingests[0].result, ingests[1].result];
notes.push(
  `PGlite / PostgreSQL ingest rate at ${fixed(ingestCount)} messages: ${
    fixed(lite.carteiro.messagesPerSecond / pg.carteiro.messagesPerSecond, 2)
  }× (target ≥ 0.5×); PGlite's CPU ${fixed(cpuMsPerMessage(lite), 2)} ms per message, all in ` +
    "the collector's process",
);

const elapsed = (performance.now() - began) / 1000;
const out = [
  `Carteiro benchmarks, ${new Date().toISOString()} — ${host.cpu}, ${host.cores} cores, ` +
  `${host.memory} RAM; ${quick ? "quick" : "full"} run in ${fixed(elapsed)} s`,
  "",
  table(INGEST_HEADER, ingests.flatMap(({ store, result }) => ingestRows(result, store))),
  "",
  ...ingests.map(({ store, result: r }) =>
    `- ${store}, ${fixed(r.messages)} msgs, ${fixed(r.bytes / 1e6)} MB (mean ${
      fixed(r.bytes / r.messages / 1024, 1)
    } KB): collector CPU ${fixed(r.carteiro.cpuSeconds, 1)} s, its PostgreSQL backends ${
      fixed(r.carteiro.postgresCpuSeconds, 1)
    } s; RSS by tenths of the run (MB): ${r.carteiro.rssProfileMb.join(" ")}; ` +
    `database ${
      fixed(r.carteiro.databaseMb)
    } MB; ${r.carteiro.forwarded} forwarded, ${r.carteiro.direct} direct, ${r.carteiro.failed} unparsed`
  ),
  "",
  table(LATENCY_HEADER, latencies.map(latencyRow)),
  "",
  replies,
  ...(notes.length ? ["", ...notes.map((n) => `- ${n}`)] : []),
];
console.log(out.join("\n"));

const jsonAt = Deno.args.indexOf("--json");
if (jsonAt >= 0) {
  await Deno.writeTextFile(
    Deno.args[jsonAt + 1],
    JSON.stringify({ host, at: new Date(), quick, elapsed, ingests, latencies, notes }, null, 2),
  );
}
if (elapsed * 1000 > budgetMs) {
  console.error(`the run took ${fixed(elapsed)} s, over its ${budgetMs / 1000} s budget`);
}
