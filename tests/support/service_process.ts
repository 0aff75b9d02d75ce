/**
 * The real service (`main.ts`: web, cron, IMAP IDLE) as a process of its own, as a user runs it,
 * and the CLI beside it: for the tests of what several processes do to one database.
 */

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A free TCP port on loopback. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export interface ServiceProcess {
  pid: number;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** Everything it printed so far, stdout and stderr. */
  logs(): string;
  /** Waits until its output matches `pattern`, or it exits, or `timeoutMs` runs out. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited and its output is read. */
  done: Promise<Deno.CommandStatus>;
  /** SIGTERM, then its exit. */
  stop(): Promise<Deno.CommandStatus>;
  /** SIGKILL, then its exit. */
  kill(): Promise<Deno.CommandStatus>;
}

/**
 * The environment of a first start as `deno task start` makes it, minus `.env`, on the embedded
 * database in `dataDir`: inherited values must not choose for the test — no mailbox, no server,
 * server mode.
 */
export function firstStartEnv(dataDir: string): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    EMAIL_HOST: "",
    EMAIL_USER: "",
    EMAIL_PASS: "",
    DATABASE_URL: "",
    CARTEIRO_MODE: "",
    DENO_DEPLOYMENT_ID: "",
  };
}

/**
 * Starts `main.ts` (the service) with `env` added to this process's environment, and `denoFlags`
 * (such as `--v8-flags=…`) given to `deno run`.
 */
export function startService(
  env: Record<string, string>,
  denoFlags: string[] = [],
): ServiceProcess {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-cron", ...denoFlags, MAIN],
    cwd: ROOT,
    env: { HOST: "127.0.0.1", PORT: String(port), NO_COLOR: "1", COOKIE_SECURE: "false", ...env },
    clearEnv: false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const done = (async () => {
    const status = await child.status;
    await pumps;
    exited = true;
    return status;
  })();
  const service: ServiceProcess = {
    pid: child.pid,
    base: `http://127.0.0.1:${port}`,
    logs: () => text,
    done,
    async waitForLog(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const m = text.match(pattern);
        if (m) return m;
        if (exited) throw new Error(`the service exited before printing ${pattern}:\n${text}`);
        if (Date.now() > deadline) {
          throw new Error(`the service did not print ${pattern} in ${timeoutMs} ms:\n${text}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      return await done;
    },
    async kill() {
      if (!exited) child.kill("SIGKILL");
      return await done;
    },
  };
  return service;
}

/** Starts the service and waits until it listens. */
export async function startedService(env: Record<string, string>): Promise<ServiceProcess> {
  const service = startService(env);
  try {
    await service.waitForLog(/"message":"listening"/);
  } catch (e) {
    await service.kill();
    throw e;
  }
  return service;
}

/** What a CLI command printed and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout, one parsed JSON document per line (empty when a line is not JSON). */
  docs: unknown[];
}

/** Runs `main.ts cli ARGS` as its own process, with `stdin` given to it (or none). */
export async function cli(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "cli", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    clearEnv: false,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  let docs: unknown[] = [];
  try {
    docs = stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  } catch {
    docs = [];
  }
  return { code: out.code, stdout, stderr: new TextDecoder().decode(out.stderr), docs };
}

/** `cli` that must succeed: throws with everything it printed when it exits non-zero. */
export async function cliOk(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<CliResult> {
  const r = await cli(args, env, stdin);
  if (r.code !== 0) {
    throw new Error(`cli ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** Logs in through the form as a person would; resolves to the session cookie header. */
export async function logIn(base: string, email: string, password: string): Promise<string> {
  const page = await fetch(`${base}/login`);
  const html = await page.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(`no CSRF field on /login (${page.status}):\n${html.slice(0, 500)}`);
  const jar = cookies(page.headers);
  const res = await fetch(`${base}/login`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: jar },
    body: new URLSearchParams({ email, password, _csrf: csrf }),
    redirect: "manual",
  });
  await res.body?.cancel();
  if (res.status !== 302 && res.status !== 303) {
    throw new Error(`login as ${email} answered ${res.status}, not a redirect`);
  }
  return cookies(res.headers);
}

/** The cookies a response sets, as a Cookie header. */
function cookies(headers: Headers): string {
  return headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
}
