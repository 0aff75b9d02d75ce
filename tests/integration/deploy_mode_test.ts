/**
 * Deploy mode (Deno Deploy): the real service run as a subprocess with no write permission at
 * all, against a fresh PostgreSQL database and a mailbox on the loopback Dovecot; and the
 * time-bounded cron handlers run in process on the service's own wiring, with a small budget, to
 * show that a run stops early and the next one resumes where it stopped.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import {
  deliverRaw,
  ensureMailstack,
  freshUser,
  IMAP,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { loadConfig } from "../../src/config.ts";
import type { Logger } from "../../src/log.ts";
import { collectWithin, drainWithin } from "../../src/jobs/bounded_run.ts";
import { compose } from "../../main.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const STATIC = new URL("../../static/", import.meta.url);

type Person = Awaited<ReturnType<typeof freshUser>>;

/** The settings of a deploy-mode service reading `box` (through `imapPort`) and replying by SMTP. */
function serviceEnv(box: Person, databaseUrl: string, imapPort: number = IMAP.port) {
  return {
    CARTEIRO_MODE: "deploy",
    ...mailboxEnv(box, imapPort),
    DATABASE_URL: databaseUrl,
    // Inherited values must not choose for the test.
    DENO_DEPLOYMENT_ID: "",
    DATA_DIR: "",
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The command Deno Deploy's runtime stands for here: no write permission at all. */
function deployCommand(env: Record<string, string>, cwd: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "--deny-write",
      "--unstable-cron",
      MAIN,
    ],
    cwd,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

interface RunningService {
  url: string;
  /** Everything the process printed so far, stdout and stderr. */
  logs(): string;
  /** SIGTERM, then waits for the exit (a no-op once it has exited). */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts the service in `cwd` and waits until /healthz answers 200. */
async function startService(env: Record<string, string>, cwd: string): Promise<RunningService> {
  const port = freePort();
  const child = deployCommand({ ...env, HOST: "127.0.0.1", PORT: String(port) }, cwd).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const run: { exited: Deno.CommandStatus | null } = { exited: null };
  const status = child.status.then((s) => run.exited = s);
  const service: RunningService = {
    url: `http://127.0.0.1:${port}`,
    logs: () => text,
    stop: async () => {
      if (!run.exited) child.kill("SIGTERM");
      await pumps;
      return await status;
    },
  };
  const deadline = Date.now() + 60_000;
  while (true) {
    if (run.exited) {
      await pumps;
      throw new Error(`the service exited (code ${run.exited.code}) before answering:\n${text}`);
    }
    try {
      const res = await fetch(`${service.url}/healthz`);
      await res.body?.cancel();
      if (res.status === 200) return service;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(`the service did not answer /healthz within 60 s:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names;
}

/** Log lines (one JSON object each) whose level is `level`. */
function logLines(text: string, level: string): Array<Record<string, unknown>> {
  return text.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      const doc = JSON.parse(line);
      return doc.level === level ? [doc] : [];
    } catch {
      return [];
    }
  });
}

Deno.test("deploy mode under --deny-write serves health, login and static files, writes nothing, opens no IDLE", async () => {
  await ensureMailstack();
  const box = await freshUser("deploy");
  const database = await freshPostgresDatabase();
  const proxy = startTcpProxy(IMAP);
  const cwd = await Deno.makeTempDir({ prefix: "carteiro-deploy-cwd-" });
  let service: RunningService | null = null;
  try {
    service = await startService(serviceEnv(box, database.url, proxy.port), cwd);
    const s = service;
    const context = () => `\nservice output:\n${s.logs()}`;

    const health = await fetch(`${s.url}/healthz`);
    assert.deepEqual(await health.json(), { status: "ok", database: "postgres" }, context());

    const login = await fetch(`${s.url}/login`);
    const page = await login.text();
    assert.equal(login.status, 200, context());
    assert.match(page, /<form method="post" action="\/login"/);
    assert.match(page, /name="password"/);
    const home = await fetch(`${s.url}/`, { redirect: "manual" });
    await home.body?.cancel();
    assert.equal(home.status, 302);
    assert.equal(home.headers.get("location"), "/login");

    // The files the page links to come from the deployment's own static/ folder, byte for byte.
    const linked = [...page.matchAll(/\/static\/[A-Za-z0-9._-]+/g)].map((m) => m[0]);
    const wanted = new Set([...linked, "/static/app.css", "/static/htmx.min.js"]);
    assert.ok(linked.length > 0, `the login page links no /static/ file:\n${page}`);
    for (const path of wanted) {
      const res = await fetch(`${s.url}${path}`);
      const body = new Uint8Array(await res.arrayBuffer());
      assert.equal(res.status, 200, `${path}${context()}`);
      assert.match(res.headers.get("content-type") ?? "", /^text\/(css|javascript)/);
      const name = path.slice("/static/".length);
      assert.deepEqual(body, await Deno.readFile(new URL(name, STATIC)), path);
    }
    const missing = await fetch(`${s.url}/static/nothing.js`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);

    // The service migrated the database and registered its mailbox there.
    const db = openPostgres({ url: database.url, max: 1 });
    try {
      const accounts = await db.query<{ address: string }>("SELECT address FROM accounts");
      assert.deepEqual(accounts.map((a) => a.address), [box.address]);
    } finally {
      await db.close();
    }

    // No IDLE: in server mode the watcher sends it within a second of start (see the next test).
    await new Promise((r) => setTimeout(r, 3000));
    assert.doesNotMatch(proxy.clientText(), /\bIDLE\b/, "an IMAP IDLE command was sent");

    const status = await s.stop();
    const logs = s.logs();
    assert.equal(status.code, 0, `a stop by SIGTERM is clean${context()}`);
    assert.match(logs, /deploy mode: cron handlers only, no IMAP IDLE, no files written/);
    assert.match(logs, /"reason":"CARTEIRO_MODE","jobSeconds":50/);
    assert.deepEqual(logLines(logs, "error"), [], context());
    assert.doesNotMatch(logs, /NotCapable|PermissionDenied|write access/i, context());
    assert.deepEqual(await entries(cwd), [], "nothing was written in the working directory");
  } finally {
    await service?.stop();
    await proxy.close();
    await database.drop();
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("server mode does open an IMAP IDLE connection: the check above can fail", async () => {
  await ensureMailstack();
  const box = await freshUser("server");
  const database = await freshPostgresDatabase();
  const proxy = startTcpProxy(IMAP);
  const cwd = await Deno.makeTempDir({ prefix: "carteiro-server-cwd-" });
  let service: RunningService | null = null;
  try {
    const env = { ...serviceEnv(box, database.url, proxy.port), CARTEIRO_MODE: "server" };
    service = await startService(env, cwd);
    const until = Date.now() + 60_000;
    while (!/\bIDLE\b/.test(proxy.clientText()) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(proxy.clientText(), /\bIDLE\b/, `no IDLE in server mode:\n${service.logs()}`);
  } finally {
    await service?.stop();
    await proxy.close();
    await database.drop();
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("deploy mode without DATABASE_URL exits non-zero, says why, and creates nothing", async () => {
  for (const mode of [{ CARTEIRO_MODE: "deploy" }, { DENO_DEPLOYMENT_ID: "test-deployment" }]) {
    const cwd = await Deno.makeTempDir({ prefix: "carteiro-deploy-cwd-" });
    try {
      const env = { CARTEIRO_MODE: "", DENO_DEPLOYMENT_ID: "", DATABASE_URL: "", ...mode };
      const out = await deployCommand(env, cwd).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, `${JSON.stringify(mode)}: exit ${out.code}\n${stderr}`);
      assert.match(stderr, /Carteiro cannot start; fix these settings/);
      assert.match(stderr, /DATABASE_URL must be set in deploy mode/);
      assert.match(stderr, /no embedded database/);
      assert.deepEqual(await entries(cwd), [], "no ./data was created");
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  }
});

/** A logger that keeps its lines, so a test can read what a run said. */
type LogLine = Record<string, unknown> & { level: string; message: string };

function keptLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const keep = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, message, ...fields });
  return { lines, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

/**
 * A clock that moves one second each time it is read: a run's deadline reads it once at its
 * start and once per question, so a budget of 2.5 s lets exactly two sends begin, or three
 * batches (an account's first batch of a run is taken without asking: a short budget still makes
 * progress).
 */
function steppingClock(): () => Date {
  let t = Date.parse("2026-11-03T10:00:00Z");
  return () => new Date(t += 1000);
}

function message(i: number, tag: string, from = `r${i}@example.test`, to = "caixa@example.test") {
  return new TextEncoder().encode(
    `From: Remetente ${i} <${from}>\r\nTo: ${to}\r\nSubject: Pedido ${i}\r\n` +
      `Message-ID: <${tag}-${i}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nMensagem ${i}.\r\n`,
  );
}

async function inProcess(box: Person, extraEnv: Record<string, string> = {}) {
  const database = await freshPostgresDatabase();
  const env = { ...serviceEnv(box, database.url), ...extraEnv };
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
  assert.equal(loaded.config.runtime.mode, "deploy");
  const log = keptLogger();
  const services = await compose(loaded.config, log, env);
  const db = openPostgres({ url: database.url, max: 2 });
  return {
    services,
    db,
    log,
    close: async () => {
      await services.close();
      await db.close();
      await database.drop();
    },
  };
}

Deno.test("a collect run stops at its budget and the next resumes: every message stored once", async () => {
  await ensureMailstack();
  const box = await freshUser("bounded");
  const tag = crypto.randomUUID();
  await deliverRaw(box.user, Array.from({ length: 30 }, (_, i) => message(i + 1, tag)));
  const t = await inProcess(box, { COLLECT_BATCH: "5" });
  try {
    const first = await collectWithin({
      budgetMs: 2500,
      now: steppingClock(),
      log: t.log,
      collect: t.services.collectOnce,
      drain: t.services.sendOnce,
    });
    const [s1] = first.summaries;
    assert.equal(first.stoppedEarly, true);
    assert.deepEqual(
      [s1.status, s1.partial, s1.fetched, s1.stored, s1.parsed],
      ["ok", true, 15, 15, 15],
      JSON.stringify(s1),
    );
    const [state] = await t.db.query<{ last_uid: string }>(
      "SELECT last_uid::text FROM mailbox_state",
    );
    assert.equal(state.last_uid, "15", "the high-water mark committed with the last batch");
    const said = t.log.lines.filter((l) => l.message.startsWith("collect run"));
    assert.equal(said.length, 1);
    assert.equal(said[0].message, "collect run stopped early");
    assert.equal(said[0].stoppedEarly, true);

    const second = await collectWithin({
      budgetMs: 60_000,
      now: () => new Date(),
      log: t.log,
      collect: t.services.collectOnce,
      drain: t.services.sendOnce,
    });
    const [s2] = second.summaries;
    assert.equal(second.stoppedEarly, false, JSON.stringify(second));
    assert.deepEqual(
      [s2.status, s2.partial, s2.fetched, s2.stored, s2.parsed],
      ["ok", false, 15, 15, 15],
      JSON.stringify(s2),
    );
    assert.equal(t.log.lines.at(-1)?.message, "collect run finished");

    const stored = await t.db.query<{ uid: string; message_id: string; parse_status: string }>(
      "SELECT m.uid::text AS uid, m.message_id, m.parse_status FROM messages m ORDER BY m.uid",
    );
    assert.deepEqual(
      stored.map((m) => Number(m.uid)),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      stored.map((m) => m.message_id).sort(),
      Array.from({ length: 30 }, (_, i) => `<${tag}-${i + 1}@example.test>`).sort(),
      "each message stored exactly once",
    );
    assert.ok(stored.every((m) => m.parse_status === "parsed"));

    const third = await collectWithin({
      budgetMs: 60_000,
      now: () => new Date(),
      log: t.log,
      collect: t.services.collectOnce,
      drain: t.services.sendOnce,
    });
    assert.deepEqual([third.summaries[0].fetched, third.summaries[0].stored], [0, 0]);
  } finally {
    await t.close();
  }
});

Deno.test("a run whose budget is already spent still takes one batch: every run makes progress", async () => {
  await ensureMailstack();
  const box = await freshUser("spent");
  await deliverRaw(
    box.user,
    Array.from({ length: 7 }, (_, i) => message(i + 1, crypto.randomUUID())),
  );
  const t = await inProcess(box, { COLLECT_BATCH: "5" });
  try {
    const run = () =>
      collectWithin({
        budgetMs: 0,
        now: () => new Date(),
        log: t.log,
        collect: t.services.collectOnce,
        drain: t.services.sendOnce,
      });
    const first = (await run()).summaries[0];
    assert.deepEqual([first.partial, first.fetched, first.parsed], [true, 5, 5]);
    const second = (await run()).summaries[0];
    assert.deepEqual([second.partial, second.fetched, second.parsed], [false, 2, 2]);
  } finally {
    await t.close();
  }
});

const ACK_DIRECT = [{
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

Deno.test("a send run stops at its budget and the next sends the rest, each reply once", async () => {
  await ensureMailstack();
  const box = await freshUser("bsend");
  const people = await Promise.all([0, 1, 2, 3].map(() => freshUser("bpeople")));
  // Two replies in flight: the run is asked whether to stop before each claim, and a claim
  // takes as many replies as there are places free, so the first run ends with two of four.
  const t = await inProcess(box, { SEND_PARALLEL: "2" });
  try {
    const imported = await t.services.importRules(ACK_DIRECT);
    assert.ok(imported.ok, JSON.stringify(imported));
    // The first collection connects the account: what is already in the mailbox is history.
    await t.services.collectOnce();
    const tag = crypto.randomUUID();
    await deliverRaw(
      box.user,
      people.map((p, i) => message(i, tag, p.address, box.address)),
    );
    const [collected] = await t.services.collectOnce();
    assert.equal(collected.parsed, people.length);
    const queued = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox");
    assert.equal(queued[0].n, people.length);

    const first = await drainWithin({
      budgetMs: 2500,
      now: steppingClock(),
      log: t.log,
      drain: t.services.sendOnce,
    });
    assert.equal(first.stoppedEarly, true);
    assert.deepEqual([first.summary.claimed, first.summary.sent], [2, 2]);
    const statuses = async () =>
      (await t.db.query<{ status: string }>("SELECT status FROM outbox ORDER BY status"))
        .map((r) => r.status);
    assert.deepEqual(await statuses(), ["pending", "pending", "sent", "sent"]);
    assert.equal(t.log.lines.at(-1)?.message, "send run stopped early");

    const second = await drainWithin({
      budgetMs: 60_000,
      now: () => new Date(),
      log: t.log,
      drain: t.services.sendOnce,
    });
    assert.equal(second.stoppedEarly, false);
    assert.deepEqual([second.summary.claimed, second.summary.sent], [2, 2]);
    assert.deepEqual(await statuses(), ["sent", "sent", "sent", "sent"]);
    assert.equal(t.log.lines.at(-1)?.message, "send run finished");

    for (const p of people) {
      const inbox = await settledInbox(imapConfig(p.user, p.pass), 1);
      assert.equal(inbox.length, 1, `${p.address} got ${inbox.length} replies`);
    }
  } finally {
    await t.close();
  }
});
