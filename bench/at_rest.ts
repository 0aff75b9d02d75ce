/**
 * The service at rest on the embedded database: a mailbox of `--count` generated messages is
 * collected once (`main.ts cli collect --once`, no DATABASE_URL), then the service (`main.ts`, the
 * `start` task's settings and V8 flags) runs on that data folder with nothing new to do but its
 * minute cron and IMAP IDLE. Prints its resident memory (VmRSS) after `--seconds` and its peak
 * (VmHWM) over them.
 *
 *   deno run -A bench/at_rest.ts [--count 2000] [--seconds 150]
 */
import { writeMaildir } from "./generate_corpus.ts";
import { createDataDir, runCollector } from "./ingest.ts";
import {
  cliTask,
  dropMailbox,
  ensureMailstack,
  fixed,
  freshUser,
  machine,
  mailboxEnv,
  MAILSTACK,
  MAIN,
  memoryOf,
  ROOT,
  run,
  sleep,
} from "./support.ts";

export interface AtRestRun {
  messages: number;
  seconds: number;
  /** VmRSS at the end, MB. */
  restMb: number;
  /** VmHWM over the whole life of the service, start-up included, MB. */
  peakMb: number;
  /** VmRSS every tenth of the time, MB. */
  profileMb: number[];
}

export async function runAtRest(count: number, seconds: number): Promise<AtRestRun> {
  await ensureMailstack();
  const box = await freshUser("rest");
  const tmp = await Deno.makeTempDir({ prefix: "carteiro-rest-" });
  try {
    const corpus = await writeMaildir(`${tmp}/src`, { count, to: box.address });
    await run("chown", ["-R", "carteiro-mail:carteiro-mail", tmp]);
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
    const dataDir = `${tmp}/data`;
    await createDataDir(box, dataDir);
    await runCollector(box, { dataDir }, corpus);
    const task = await cliTask();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-cron", ...task.v8Flags, MAIN],
      cwd: ROOT,
      env: {
        ...task.env,
        ...mailboxEnv(box),
        DATA_DIR: dataDir,
        DATABASE_URL: "",
        HOST: "127.0.0.1",
        PORT: String(port),
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const profile: number[] = [];
    let rss = 0;
    let hwm = 0;
    try {
      const started = performance.now();
      let next = 0.1;
      while ((performance.now() - started) / 1000 < seconds) {
        await sleep(1000);
        const m = await memoryOf(child.pid);
        if (!m) throw new Error("the service exited");
        rss = m.rssKb / 1024;
        hwm = Math.max(hwm, m.hwmKb / 1024);
        if ((performance.now() - started) / 1000 >= next * seconds) {
          profile.push(Math.round(rss));
          next += 0.1;
        }
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
    return { messages: corpus.messages, seconds, restMb: rss, peakMb: hwm, profileMb: profile };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await dropMailbox(box.address);
  }
}

if (import.meta.main) {
  const value = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const r = await runAtRest(value("--count") ?? 2000, value("--seconds") ?? 150);
  const m = await machine();
  console.log(`${m.cpu}, ${m.cores} cores, ${m.memory}; ${new Date().toISOString()}`);
  console.log(
    `service at rest on PGlite, ${fixed(r.messages)} messages stored: RSS ${
      fixed(r.restMb)
    } MB after ${r.seconds} s, peak ${fixed(r.peakMb)} MB; RSS by tenths (MB): ${
      r.profileMb.join(" ")
    }`,
  );
}
