/**
 * A first sync as a person watches it: `collect --once` prints its progress on stderr while
 * stdout stays JSON, `stats` shows the collection under way from another process, and a run
 * killed midway is resumed by the next one, whose progress counts what is left.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { cliCommand, runCli } from "../support/cli.ts";
import { deliverRaw, ensureMailstack, freshUser, imapConfig } from "../support/mailstack.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";

function messages(count: number, tag: string): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    new TextEncoder().encode(
      `From: Ana <ana${i}@example.test>\r\nTo: caixa@example.test\r\nSubject: Pedido ${i}\r\n` +
        `Message-ID: <${tag}-${i}@example.test>\r\n\r\nPedido ${i} de ${tag}.\r\n`,
    ));
}

interface AccountStats {
  name: string;
  lag_seconds: number | null;
  consecutive_failures: number;
  idle: unknown;
  progress: { mailbox: string; done: number; total: number } | null;
}

async function accountStats(env: Record<string, string>): Promise<AccountStats> {
  const run = await runCli(["stats"], env);
  assert.equal(run.code, 0, run.stderr);
  return (run.docs[0] as { accounts: AccountStats[] }).accounts[0];
}

Deno.test("collect --once: progress on stderr, under way in stats, resumed after a kill", async () => {
  await ensureMailstack();
  const box = await freshUser("firstsync");
  const total = 400;
  await deliverRaw(box.user, messages(total, crypto.randomUUID()));
  const database = await freshPostgresDatabase();
  const imap = imapConfig(box.user, box.pass);
  const env = {
    EMAIL_HOST: imap.host,
    IMAP_PORT: String(imap.port),
    IMAP_TLS: "false",
    EMAIL_USER: box.user,
    EMAIL_PASS: box.pass,
    EMAIL_ADDRESS: box.address,
    EMAIL_ACCOUNT_NAME: "caixa",
    DATABASE_URL: database.url,
    COLLECT_BATCH: "10",
  };
  const db = openPostgres({ url: database.url, max: 2 });
  try {
    const child = cliCommand(["collect", "--once"], env).spawn();
    // Until some, not all, messages are committed; then kill without warning.
    const deadline = Date.now() + 60_000;
    let stored = 0;
    while (Date.now() < deadline) {
      [{ n: stored }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages")
        .catch(() => [{ n: 0 }]);
      if (stored >= 20) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    const killed = await child.output();
    [{ n: stored }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages");
    assert.ok(stored >= 20 && stored < total, `killed after ${stored} stored`);
    // The killed run's progress stays, recent, until the next run replaces and then ends it.
    // It is saved at most once a second, so it may trail the commits, never lead them.
    const during = await accountStats(env);
    assert.equal(during.progress?.mailbox, "INBOX");
    assert.equal(during.progress?.total, total);
    assert.ok((during.progress?.done ?? -1) <= stored, JSON.stringify(during.progress));
    assert.equal(during.lag_seconds, null, "never synced yet");
    assert.equal(during.idle, null, "no service runs: IDLE is not reported");
    const killedErr = new TextDecoder().decode(killed.stderr);
    assert.match(killedErr, new RegExp(`^collect caixa INBOX: 0/${total} \\(0%\\), 0 msg/s$`, "m"));
    assert.equal(new TextDecoder().decode(killed.stdout), "", "no JSON before the summary");

    const resumed = await runCli(["collect", "--once"], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.docs.length, 1, "stdout is one JSON document");
    const summary = resumed.docs[0] as { stored: number };
    assert.equal(summary.stored + stored, total);
    const [all] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages");
    assert.equal(all.n, total);
    // Off a terminal: plain lines, the first one at the start with what was left to fetch.
    const lines = resumed.stderr.split("\n").filter((l) => l.startsWith("collect caixa"));
    assert.ok(lines.length >= 1, resumed.stderr);
    const left = Number(/^collect caixa INBOX: 0\/(\d+) \(0%\)/.exec(lines[0])?.[1]);
    assert.equal(left, total - stored, `${lines[0]} after ${stored} stored`);
    assert.ok(!resumed.stderr.includes("\r"), "no carriage returns off a terminal");

    const after = await accountStats(env);
    assert.equal(after.progress, null, "the run's end deletes its progress");
    assert.equal(after.consecutive_failures, 0);
    assert.ok(after.lag_seconds !== null && after.lag_seconds < 60, String(after.lag_seconds));
  } finally {
    await db.close();
    await database.drop();
  }
});

Deno.test("the service reports its IMAP IDLE state for stats and deletes it on SIGTERM", async () => {
  await ensureMailstack();
  const box = await freshUser("idlereport");
  const database = await freshPostgresDatabase();
  const imap = imapConfig(box.user, box.pass);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const env = {
    // Inherited values must not choose for the test.
    CARTEIRO_MODE: "server",
    DENO_DEPLOYMENT_ID: "",
    DATA_DIR: "",
    CARTEIRO_KILL_AT: "",
    EMAIL_HOST: imap.host,
    IMAP_PORT: String(imap.port),
    IMAP_TLS: "false",
    EMAIL_USER: box.user,
    EMAIL_PASS: box.pass,
    EMAIL_ADDRESS: box.address,
    EMAIL_ACCOUNT_NAME: "caixa",
    DATABASE_URL: database.url,
    HOST: "127.0.0.1",
    PORT: String(port),
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-cron",
      new URL("../../main.ts", import.meta.url).pathname,
    ],
    env: { ...env, NO_COLOR: "1" },
    clearEnv: false,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs = (async () => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
    return text;
  })();
  let exited = false;
  try {
    const deadline = Date.now() + 60_000;
    let seen: AccountStats | null = null;
    while (Date.now() < deadline) {
      const stats = await runCli(["stats"], env).catch(() => null);
      const a = (stats?.docs[0] as { accounts?: AccountStats[] } | undefined)?.accounts?.[0];
      if ((a?.idle as { state?: string } | null)?.state === "idle") {
        seen = a!;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(seen, "stats never showed the account listening");
    const idle = seen.idle as { instance: string; mailbox: string; consecutive_failures: number };
    assert.equal(idle.instance, `${Deno.hostname()}:${child.pid}`);
    assert.equal(idle.mailbox, "INBOX");
    assert.equal(idle.consecutive_failures, 0);

    child.kill("SIGTERM");
    const status = await child.status;
    exited = true;
    assert.equal(status.code, 0, await logs);
    const db = openPostgres({ url: database.url, max: 1 });
    try {
      assert.deepEqual(await db.query("SELECT instance FROM idle_health"), [], "rows deleted");
    } finally {
      await db.close();
    }
    assert.equal((await accountStats(env)).idle, null);
  } finally {
    if (!exited) {
      child.kill("SIGKILL");
      await child.status;
    }
    await logs;
    await database.drop();
  }
});
