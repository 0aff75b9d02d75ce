/** What the benchmarks share: the loopback mail stack, fresh databases, process sampling. */
import { ensureMailstack, freshUser, mailboxEnv } from "../tests/support/mailstack.ts";
import { freshPostgresDatabase, POSTGRES_ADMIN_URL } from "../tests/support/databases.ts";

export { ensureMailstack, freshPostgresDatabase, freshUser, mailboxEnv, POSTGRES_ADMIN_URL };

export const ROOT = new URL("../", import.meta.url).pathname;
export const MAILSTACK = `${ROOT}scripts/mailstack.sh`;
export const MAIN = `${ROOT}main.ts`;

/**
 * How the `cli` task of deno.json runs the service (its environment settings and V8 flags), so
 * the benchmarks run it as a user's command would.
 */
export async function cliTask(): Promise<{ env: Record<string, string>; v8Flags: string[] }> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words = String(config.tasks.cli).split(/\s+/);
  const env: Record<string, string> = {};
  for (const word of words) {
    const set = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word);
    if (!set) break;
    env[set[1]] = set[2];
  }
  return { env, v8Flags: words.filter((a) => a.startsWith("--v8-flags=")) };
}

/** Runs a command; throws with its output when it fails. */
export async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}):\n${stderr}`);
  return { stdout, stderr };
}

/** Where scripts/mailstack.sh keeps its state (mail, logs). */
export async function mailstackState(): Promise<string> {
  const { stdout } = await run("bash", [MAILSTACK, "status"]).catch(() => ({ stdout: "" }));
  const m = /^state: (.+)$/m.exec(stdout);
  if (!m) throw new Error("scripts/mailstack.sh status did not name its state directory");
  return m[1];
}

/** Removes a benchmark user's mail from the mail stack (it is disposable and may be GBs). */
export async function dropMailbox(address: string): Promise<void> {
  const [local, domain] = address.split("@");
  if (!/^[a-z0-9._+=-]+$/.test(local) || !domain.endsWith("example.test")) return;
  await Deno.remove(`${await mailstackState()}/mail/${domain}/${local}`, { recursive: true })
    .catch(() => {});
}

/** The machine, for the results: CPU model, cores, memory. */
export async function machine(): Promise<{ cpu: string; cores: number; memory: string }> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const cores = Number((await run("nproc", [])).stdout.trim());
  const free = (await run("free", ["-h"])).stdout.split("\n")[1]?.split(/\s+/)[1] ?? "?";
  return { cpu, cores, memory: free };
}

/** The load average over 1, 5 and 15 minutes, as `uptime` writes it: "0.12 0.99 2.21". */
export function loadAverage(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** /proc/<pid>/status fields in kB (VmRSS, VmHWM), or null once the process is gone. */
export async function memoryOf(pid: number): Promise<{ rssKb: number; hwmKb: number } | null> {
  try {
    const s = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
    return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
  } catch {
    return null;
  }
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat), or null once it is gone. */
export async function cpuSecondsOf(pid: number): Promise<number | null> {
  try {
    const s = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/**
 * CPU seconds the whole machine has spent working since it started (every process and the
 * kernel: user, nice, system, irq and softirq time of /proc/stat; not idle, I/O wait or steal),
 * or null where /proc/stat is not readable. Read before and after a run, it shows what the
 * processes not measured one by one cost — Postfix's, Dovecot's — beside those that are.
 */
export async function machineCpuSeconds(): Promise<number | null> {
  try {
    const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
    const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq) / 100;
  } catch {
    return null;
  }
}

/** Machine CPU seconds since `before` (a `machineCpuSeconds` reading); NaN when either is unknown. */
export async function machineCpuSince(before: number | null): Promise<number> {
  const now = await machineCpuSeconds();
  return before === null || now === null ? NaN : now - before;
}

/** The children of a process (the deno run under /usr/bin/time). */
export async function childrenOf(pid: number): Promise<number[]> {
  try {
    const t = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
    return t.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A markdown table. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function fixed(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "—";
}

/** What the replies benchmarks' peer, Python's smtplib (bench/smtplib_peer.py), reached. */
export interface PeerRun {
  connections: number;
  sent: number;
  seconds: number;
  perSecond: number;
  /** The peer's own CPU per reply, ms. */
  cpuMs: number;
  /** The whole machine's CPU per reply, ms: the peer's and Postfix's taking the replies. */
  machineMs: number;
}

/**
 * Python's smtplib sending `count` replies of the outbox's shape to the loopback Postfix over
 * `connections` sessions at once, in this run, to `to`. Null (and why, on stderr) when python3 is
 * not on this machine: the ratio is then left out, never guessed.
 */
export async function smtplibPeer(
  to: string,
  count: number,
  connections: number,
): Promise<PeerRun | null> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("python3", {
      args: [`${ROOT}bench/smtplib_peer.py`, to, String(count), String(connections)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
  } catch (e) {
    console.error(`the smtplib peer did not run: ${e instanceof Error ? e.message : e}`);
    return null;
  }
  if (!out.success) throw new Error(`the smtplib peer failed (exit ${out.code})`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  return {
    connections: r.connections,
    sent: r.sent,
    seconds: r.seconds,
    perSecond: r.per_second,
    cpuMs: r.cpu_seconds * 1000 / r.sent,
    machineMs: r.machine_cpu_seconds === null ? NaN : r.machine_cpu_seconds * 1000 / r.sent,
  };
}
