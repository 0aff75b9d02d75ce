/**
 * CPU per message of the parser thread's work: `parseMessage` then `classify` over the generated
 * corpus (bench/generate_corpus.ts, fixed seed), in this one process, several passes. Prints, per
 * pass and as min / median over the passes, the CPU time (user + system of the whole process, V8's
 * own threads included, as bench/ingest.ts counts the collector) per message of the parse, of the
 * classification and of both.
 *
 *   deno run -A --v8-flags=--expose-gc bench/parse_cpu.ts [--count 1000] [--passes 5]
 *     [--seed 20261129] [--against DIR] [--json]
 *
 * `--against DIR` loads a second copy of the code from DIR (a checkout or `git archive` of another
 * commit, with its src/) and runs its passes alternately with this checkout's, in the same process
 * on the same messages: on a shared machine only figures measured alternately compare. The first
 * pass of each is a warm-up (JIT) and is not counted.
 */
import process from "node:process";
import { generateCorpus } from "./generate_corpus.ts";
import { fixed, loadAverage, table } from "./support.ts";
import type { Classification, ParsedEmail } from "../src/domain/email.ts";
import type { ParseOutcome } from "../src/mail/parse_message.ts";

interface Code {
  label: string;
  parseMessage: (raw: Uint8Array) => Promise<ParseOutcome>;
  classify: (email: ParsedEmail) => Classification;
}

interface Pass {
  parseMs: number;
  classifyMs: number;
  totalMs: number;
}

async function load(label: string, root: URL): Promise<Code> {
  const parse = await import(new URL("src/mail/parse_message.ts", root).href);
  const classifier = await import(new URL("src/domain/classifier.ts", root).href);
  return { label, parseMessage: parse.parseMessage, classify: classifier.classify };
}

/** CPU milliseconds of this process so far (all threads). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** One pass over every message: all parsed first, then all classified; ms of CPU per message. */
async function pass(code: Code, corpus: readonly Uint8Array[]): Promise<Pass> {
  // With --v8-flags=--expose-gc each pass starts from a collected heap, not from the last one's.
  (globalThis as { gc?: () => void }).gc?.();
  const emails: ParsedEmail[] = [];
  const t0 = cpuMs();
  for (const raw of corpus) {
    const outcome = await code.parseMessage(raw);
    if (outcome.ok) emails.push(outcome.email);
  }
  const t1 = cpuMs();
  let forwarded = 0;
  for (const email of emails) {
    if (code.classify(email).kind === "forwarded") forwarded++;
  }
  const t2 = cpuMs();
  if (emails.length === 0 || forwarded === 0) throw new Error("the corpus gave no forward");
  const n = corpus.length;
  return { parseMs: (t1 - t0) / n, classifyMs: (t2 - t1) / n, totalMs: (t2 - t0) / n };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

if (import.meta.main) {
  // As on the parser threads (src/mail/analyze_worker.ts): errors keep no stack.
  Error.stackTraceLimit = 0;
  const count = Number(option("--count", "1000"));
  const passes = Number(option("--passes", "5"));
  const seed = Number(option("--seed", "20261129"));
  const against = option("--against", "");
  const corpus = [...generateCorpus({ count, seed })];
  const codes = [await load("this checkout", new URL("../", import.meta.url))];
  if (against) {
    codes.push(await load(against, new URL(`file://${Deno.realPathSync(against)}/`)));
  }
  const results = new Map<string, Pass[]>(codes.map((c) => [c.label, []]));
  for (const c of codes) await pass(c, corpus); // warm-up
  for (let p = 0; p < passes; p++) {
    // Alternate which goes first, so that neither always follows the other's garbage.
    const order = p % 2 === 0 ? codes : [...codes].reverse();
    for (const c of order) results.get(c.label)!.push(await pass(c, corpus));
  }
  const bytes = corpus.reduce((n, r) => n + r.length, 0);
  const summary = [...results].map(([label, ps]) => ({
    label,
    passes: ps,
    parse: { min: Math.min(...ps.map((p) => p.parseMs)), median: median(ps.map((p) => p.parseMs)) },
    classify: {
      min: Math.min(...ps.map((p) => p.classifyMs)),
      median: median(ps.map((p) => p.classifyMs)),
    },
    total: { min: Math.min(...ps.map((p) => p.totalMs)), median: median(ps.map((p) => p.totalMs)) },
  }));
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify({ count, seed, bytes, summary }));
  } else {
    const load = loadAverage();
    console.log(
      `${count} messages (seed ${seed}, ${fixed(bytes / 1e6, 1)} MB), ${passes} passes after ` +
        `a warm-up; load average ${load}; CPU ms per message, min / median:\n`,
    );
    console.log(table(
      ["code", "parse", "classify", "parse + classify", "passes (parse + classify)"],
      summary.map((s) => [
        s.label,
        `${fixed(s.parse.min, 3)} / ${fixed(s.parse.median, 3)}`,
        `${fixed(s.classify.min, 3)} / ${fixed(s.classify.median, 3)}`,
        `${fixed(s.total.min, 3)} / ${fixed(s.total.median, 3)}`,
        s.passes.map((p) => fixed(p.totalMs, 3)).join(", "),
      ]),
    ));
  }
}
