/**
 * Ingest: N generated messages into a fresh Dovecot mailbox (one `doveadm import` of a Maildir),
 * then, side by side on the same mailbox, `main.ts cli collect --once` from an empty PostgreSQL
 * database to every message stored, parsed and classified, and `mbsync` (isync) copying the
 * mailbox to a Maildir. Prints messages/s, MB/s, the ratio, and the collector's peak RSS. The
 * collector runs with the environment settings and V8 flags of the `cli` task in deno.json, as a
 * user's would.
 *
 *   deno run -A bench/ingest.ts [--count 10000] [--batch COLLECT_BATCH] [--no-mbsync] [--json]
 *     [--cpu-prof DIR] [--pglite [existing]]
 *
 * `--pglite` collects into the embedded database (no DATABASE_URL, a new DATA_DIR), the default
 * install, instead of PostgreSQL; `--pglite existing` has the folder created (initdb and
 * migrations) by another process first, so that the figure is a later run's, not the first's.
 *
 * `--cpu-prof DIR` writes V8 CPU profiles of the collector into DIR (Deno's `--cpu-prof`), to see
 * where its time goes; the profiler's own cost then shows in the CPU figures.
 */
import { writeMaildir } from "./generate_corpus.ts";
import {
  childrenOf,
  cliTask,
  cpuSecondsOf,
  dropMailbox,
  ensureMailstack,
  fixed,
  freshPostgresDatabase,
  freshUser,
  mailboxEnv,
  MAILSTACK,
  MAIN,
  memoryOf,
  POSTGRES_ADMIN_URL,
  ROOT,
  run,
  sleep,
  table,
} from "./support.ts";
import { openPostgres } from "../src/store/postgres_db.ts";
import { openPglite } from "../src/store/pglite_db.ts";

export interface CollectorRun {
  seconds: number;
  messagesPerSecond: number;
  mbPerSecond: number;
  /** Peak resident set of the collector process, MB (VmHWM / time -v). */
  peakRssMb: number;
  /** RSS at each tenth of the run, MB: flat memory shows as a flat row. */
  rssProfileMb: number[];
  /** The database's size on disk after the run, MB (`pg_database_size`). */
  databaseMb: number;
  /** CPU seconds of the collector process and of its PostgreSQL backends. */
  cpuSeconds: number;
  postgresCpuSeconds: number;
  summary: Record<string, unknown>;
  stored: number;
  parsed: number;
  failed: number;
  forwarded: number;
  direct: number;
}

export interface MbsyncRun {
  fsync: boolean;
  seconds: number;
  messagesPerSecond: number;
  mbPerSecond: number;
  files: number;
}

export interface IngestResult {
  messages: number;
  bytes: number;
  generateSeconds: number;
  importSeconds: number;
  carteiro: CollectorRun;
  mbsync: MbsyncRun[];
  /** Carteiro's messages/s over mbsync's with its default fsync (the target: ≥ 0.5). */
  ratio: number | null;
  ratioNoFsync: number | null;
}

export interface IngestOptions {
  count: number;
  seed?: number;
  mbsync?: boolean;
  /** COLLECT_BATCH for the collector (messages per UID FETCH and per commit; default 200). */
  collectBatch?: number;
  /**
   * Collect into the embedded PGlite (no DATABASE_URL) instead of PostgreSQL: into an empty
   * folder (`fresh`, the first run of an install), or one a run of `cli stats` created before.
   */
  pglite?: "fresh" | "existing";
  /** A directory for V8 CPU profiles of the collector (Deno's `--cpu-prof`). */
  cpuProfileDir?: string;
  say?: (line: string) => void;
}

export async function runIngest(o: IngestOptions): Promise<IngestResult> {
  const say = o.say ?? ((l: string) => console.error(l));
  await ensureMailstack();
  const box = await freshUser("ingest");
  const tmp = await Deno.makeTempDir({ prefix: "carteiro-bench-" });
  const database = await freshPostgresDatabase();
  let pgliteRuns = 0;
  // The embedded database starts in a new folder for each measured run: empty (the collector's
  // process creates it, initdb included), or created beforehand by another process.
  const store = async (url: string): Promise<CollectorStore> => {
    if (!o.pglite) return { url };
    const dataDir = `${tmp}/data-${++pgliteRuns}`;
    if (o.pglite === "existing") await createDataDir(box, dataDir);
    return { dataDir };
  };
  try {
    say(`ingest ${o.count}: generating the corpus`);
    let t = performance.now();
    const corpus = await writeMaildir(`${tmp}/src`, {
      count: o.count,
      seed: o.seed,
      to: box.address,
    });
    const generateSeconds = (performance.now() - t) / 1000;
    say(`ingest ${o.count}: ${fixed(corpus.bytes / 1e6)} MB; importing into Dovecot`);
    // Dovecot reads the source as its mail user, like scripts/mailstack.sh deliver does.
    await run("chown", ["-R", "carteiro-mail:carteiro-mail", tmp]);
    t = performance.now();
    await run("bash", [
      MAILSTACK,
      "doveadm",
      "import",
      "-u",
      box.user,
      `maildir:${tmp}/src`,
      "",
      "mailbox",
      "INBOX",
    ]);
    const importSeconds = (performance.now() - t) / 1000;
    await Deno.remove(`${tmp}/src`, { recursive: true });
    // Builds Dovecot's index and sizes once, so neither reader below pays for it.
    await run("bash", [MAILSTACK, "doveadm", "mailbox", "status", "-u", box.user, "all", "INBOX"]);

    const mbsync: MbsyncRun[] = [];
    const haveMbsync = o.mbsync !== false && await mbsyncAvailable(say);
    if (haveMbsync) {
      say(`ingest ${o.count}: mbsync (default fsync)`);
      mbsync.push(await runMbsync(tmp, box, true, corpus));
    }
    say(`ingest ${o.count}: main.ts cli collect --once`);
    let carteiro: CollectorRun;
    try {
      carteiro = await runCollector(
        box,
        await store(database.url),
        corpus,
        o.collectBatch,
        o.cpuProfileDir,
      );
    } catch (e) {
      // A run cut short (the mail stack restarted under it, say) is measured again from an
      // empty database rather than resumed, so that the figure is one whole run.
      say(`ingest ${o.count}: collection failed, measuring again from scratch: ${e}`);
      const again = await freshPostgresDatabase();
      try {
        carteiro = await runCollector(
          box,
          await store(again.url),
          corpus,
          o.collectBatch,
          o.cpuProfileDir,
        );
      } finally {
        await again.drop();
      }
    }
    if (haveMbsync) {
      say(`ingest ${o.count}: mbsync (FSync no)`);
      mbsync.push(await runMbsync(tmp, box, false, corpus));
    }
    const withFsync = mbsync.find((m) => m.fsync);
    const without = mbsync.find((m) => !m.fsync);
    return {
      messages: corpus.messages,
      bytes: corpus.bytes,
      generateSeconds,
      importSeconds,
      carteiro,
      mbsync,
      ratio: withFsync ? carteiro.messagesPerSecond / withFsync.messagesPerSecond : null,
      ratioNoFsync: without ? carteiro.messagesPerSecond / without.messagesPerSecond : null,
    };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await database.drop();
    await dropMailbox(box.address);
  }
}

/**
 * Where the collector stores: a PostgreSQL database (its URL), or the embedded PGlite in a data
 * folder (no DATABASE_URL, as the default install runs).
 */
export type CollectorStore = { url: string } | { dataDir: string };

/** Creates an embedded database in `dataDir` with `main.ts cli stats`, as a first start would. */
export async function createDataDir(
  box: { user: string; pass: string; address: string },
  dataDir: string,
): Promise<void> {
  const task = await cliTask();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...task.v8Flags, MAIN, "cli", "stats"],
    env: { ...task.env, ...mailboxEnv(box), DATA_DIR: dataDir, NO_COLOR: "1" },
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`cli stats failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Runs `main.ts cli collect --once` on `box` into `store` and samples its memory and CPU. */
export async function runCollector(
  box: { user: string; pass: string; address: string },
  store: CollectorStore,
  corpus: { messages: number; bytes: number },
  collectBatch?: number,
  cpuProfileDir?: string,
): Promise<CollectorRun> {
  const task = await cliTask();
  const env: Record<string, string> = {
    ...task.env,
    ...mailboxEnv(box),
    ...("url" in store ? { DATABASE_URL: store.url } : { DATA_DIR: store.dataDir }),
    NO_COLOR: "1",
  };
  if (collectBatch) env.COLLECT_BATCH = String(collectBatch);
  const deno = [
    Deno.execPath(),
    "run",
    "-A",
    ...task.v8Flags,
    ...(cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : []),
    MAIN,
    "cli",
    "collect",
    "--once",
  ];
  const timed = await exists("/usr/bin/time");
  const started = performance.now();
  const child = new Deno.Command(timed ? "/usr/bin/time" : deno[0], {
    args: timed ? ["-v", ...deno] : deno.slice(1),
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let done = false;
  output.finally(() => (done = true));

  // Samples the collector's memory and CPU and its PostgreSQL backends' CPU while it runs.
  const samples: Array<{ at: number; rssKb: number }> = [];
  let hwmKb = 0;
  let cpu = 0;
  const backendCpu = new Map<number, number>();
  const dbName = "url" in store ? new URL(store.url).pathname.slice(1) : null;
  const admin = openPostgres({ url: POSTGRES_ADMIN_URL, max: 1 });
  let tick = 0;
  try {
    while (!done) {
      const pid = timed ? (await childrenOf(child.pid))[0] : child.pid;
      if (pid) {
        const m = await memoryOf(pid);
        // An exiting process (a zombie) shows no VmRSS: not a sample.
        if (m && m.rssKb > 0) {
          samples.push({ at: performance.now() - started, rssKb: m.rssKb });
          hwmKb = Math.max(hwmKb, m.hwmKb);
        }
        cpu = (await cpuSecondsOf(pid)) ?? cpu;
      }
      if (dbName && tick++ % 4 === 0) {
        const pids = await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = $1",
          [dbName],
        ).catch(() => []);
        for (const { pid: p } of pids) {
          const s = await cpuSecondsOf(p);
          if (s !== null) backendCpu.set(p, Math.max(backendCpu.get(p) ?? 0, s));
        }
      }
      await Promise.race([output, sleep(250)]);
    }
  } finally {
    await admin.close();
  }
  const out = await output;
  const seconds = (performance.now() - started) / 1000;
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`collect --once failed (${out.code}):\n${stderr}`);
  const summary = JSON.parse(stdout.trim().split("\n").pop()!);
  if (timed) {
    const max = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
    if (max) hwmKb = Math.max(hwmKb, Number(max[1]));
    const user = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
    const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
    if (Number.isFinite(user + sys)) cpu = user + sys;
  }

  const db = "url" in store
    ? openPostgres({ url: store.url, max: 1 })
    : await openPglite(store.dataDir);
  let counts;
  try {
    [counts] = await db.query<
      {
        stored: number;
        parsed: number;
        failed: number;
        forwarded: number;
        direct: number;
        database_bytes: number;
      }
    >(
      `SELECT count(*)::int AS stored,
         count(*) FILTER (WHERE parse_status = 'parsed')::int AS parsed,
         count(*) FILTER (WHERE parse_status = 'failed')::int AS failed,
         count(*) FILTER (WHERE kind = 'forwarded')::int AS forwarded,
         count(*) FILTER (WHERE kind = 'direct')::int AS direct,
         pg_database_size(current_database())::float8 AS database_bytes
       FROM messages`,
    );
  } finally {
    await db.close();
  }
  if (counts.stored !== corpus.messages || counts.parsed + counts.failed !== corpus.messages) {
    throw new Error(`collect --once left the store incomplete: ${JSON.stringify(counts)}`);
  }
  const { database_bytes, ...stored } = counts;
  const profile = Array.from({ length: 10 }, (_, i) => {
    const at = ((i + 1) / 10) * seconds * 1000;
    const before = samples.filter((s) => s.at <= at);
    return Math.round((before[before.length - 1]?.rssKb ?? 0) / 1024);
  });
  return {
    seconds,
    messagesPerSecond: corpus.messages / seconds,
    mbPerSecond: corpus.bytes / 1e6 / seconds,
    peakRssMb: hwmKb / 1024,
    rssProfileMb: profile,
    databaseMb: database_bytes / 1e6,
    cpuSeconds: cpu,
    postgresCpuSeconds: [...backendCpu.values()].reduce((a, b) => a + b, 0),
    summary,
    ...stored,
  };
}

async function mbsyncAvailable(say: (l: string) => void): Promise<boolean> {
  if (await exists("/usr/bin/mbsync")) return true;
  say("mbsync is missing: installing isync with apt-get");
  try {
    await run("apt-get", ["install", "-y", "-qq", "isync"], {
      DEBIAN_FRONTEND: "noninteractive",
    });
    return await exists("/usr/bin/mbsync");
  } catch (e) {
    say(`could not install isync: ${e instanceof Error ? e.message : e}`);
    return false;
  }
}

/** mbsync's own config, in the style of ~/.mbsyncrc: IMAP (plain, loopback) to a Maildir. */
async function runMbsync(
  tmp: string,
  box: { user: string; pass: string },
  fsync: boolean,
  corpus: { messages: number; bytes: number },
): Promise<MbsyncRun> {
  const dir = `${tmp}/mbsync-${fsync ? "fsync" : "nofsync"}`;
  await Deno.mkdir(`${dir}/mail`, { recursive: true });
  const rc = `${dir}/mbsyncrc`;
  await Deno.writeTextFile(
    rc,
    `${fsync ? "" : "FSync no\n\n"}IMAPAccount bench
Host 127.0.0.1
Port 1143
User ${box.user}
Pass ${box.pass}
SSLType None
AuthMechs LOGIN

IMAPStore bench-remote
Account bench

MaildirStore bench-local
Path ${dir}/mail/
Inbox ${dir}/mail/INBOX

Channel bench
Far :bench-remote:
Near :bench-local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
`,
  );
  const started = performance.now();
  await run("mbsync", ["-q", "-c", rc, "bench"]);
  const seconds = (performance.now() - started) / 1000;
  let files = 0;
  for (const sub of ["cur", "new"]) {
    for await (const _ of Deno.readDir(`${dir}/mail/INBOX/${sub}`)) files++;
  }
  await Deno.remove(dir, { recursive: true });
  if (files !== corpus.messages) {
    throw new Error(`mbsync copied ${files} of ${corpus.messages} messages`);
  }
  return {
    fsync,
    seconds,
    messagesPerSecond: corpus.messages / seconds,
    mbPerSecond: corpus.bytes / 1e6 / seconds,
    files,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** CPU milliseconds per message: the collector's threads plus its PostgreSQL backends. */
export function cpuMsPerMessage(r: IngestResult): number {
  return (r.carteiro.cpuSeconds + r.carteiro.postgresCpuSeconds) * 1000 / r.messages;
}

/**
 * The result as table rows: what, messages/s, MB/s, seconds, CPU ms per message, peak RSS,
 * target. `store` names where the collector wrote (PostgreSQL unless said).
 */
export function ingestRows(r: IngestResult, store = "PostgreSQL"): Array<Array<string | number>> {
  const n = fixed(r.messages);
  const cpu = cpuMsPerMessage(r);
  const rows: Array<Array<string | number>> = [[
    `Carteiro \`collect --once\` into ${store}, ${n} msgs`,
    fixed(r.carteiro.messagesPerSecond),
    fixed(r.carteiro.mbPerSecond, 1),
    fixed(r.carteiro.seconds, 1),
    `${fixed(cpu, 2)} (${fixed(r.carteiro.cpuSeconds, 1)} s + ${
      fixed(r.carteiro.postgresCpuSeconds, 1)
    } s)`,
    `${fixed(r.carteiro.peakRssMb)} MB`,
    `CPU ≤ 1.5 ms: ${cpu <= 1.5 ? "met" : "**missed**"}`,
  ]];
  for (const m of r.mbsync) {
    rows.push([
      `mbsync ${m.fsync ? "(default fsync)" : "(FSync no)"}, ${n} msgs`,
      fixed(m.messagesPerSecond),
      fixed(m.mbPerSecond, 1),
      fixed(m.seconds, 1),
      "—",
      "—",
      "",
    ]);
  }
  if (r.ratio !== null) {
    rows.push([
      "ratio Carteiro / mbsync (default; FSync no)",
      `${fixed(r.ratio, 2)}×; ${fixed(r.ratioNoFsync ?? NaN, 2)}×`,
      "",
      "",
      "",
      "",
      `≥ 1.0× (default fsync): ${r.ratio >= 1 ? "met" : "**missed**"}`,
    ]);
  }
  return rows;
}

export const INGEST_HEADER = [
  "ingest",
  "msg/s",
  "MB/s",
  "s",
  "CPU ms/msg (collector + PostgreSQL)",
  "peak RSS",
  "target",
];

if (import.meta.main) {
  const value = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const r = await runIngest({
    count: value("--count") ?? 10_000,
    collectBatch: value("--batch"),
    mbsync: !Deno.args.includes("--no-mbsync"),
    pglite: Deno.args.includes("--pglite")
      ? (Deno.args[Deno.args.indexOf("--pglite") + 1] === "existing" ? "existing" : "fresh")
      : undefined,
    cpuProfileDir: Deno.args.includes("--cpu-prof")
      ? Deno.args[Deno.args.indexOf("--cpu-prof") + 1]
      : undefined,
  });
  if (Deno.args.includes("--json")) console.log(JSON.stringify(r, null, 2));
  console.log(
    table(INGEST_HEADER, ingestRows(r, Deno.args.includes("--pglite") ? "PGlite" : undefined)),
  );
  console.log(
    `\ncorpus ${fixed(r.bytes / 1e6)} MB (mean ${fixed(r.bytes / r.messages / 1024, 1)} KB), ` +
      `generated in ${fixed(r.generateSeconds, 1)} s, imported in ${
        fixed(r.importSeconds, 1)
      } s; ` +
      `collector CPU ${fixed(r.carteiro.cpuSeconds, 1)} s, PostgreSQL backends CPU ${
        fixed(r.carteiro.postgresCpuSeconds, 1)
      } s; RSS by tenths (MB): ${r.carteiro.rssProfileMb.join(" ")}; ` +
      `database ${
        fixed(r.carteiro.databaseMb)
      } MB; ${r.carteiro.forwarded} forwarded, ${r.carteiro.direct} direct, ${r.carteiro.failed} unparsed`,
  );
}
