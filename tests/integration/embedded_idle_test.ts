/**
 * IMAP IDLE on every mailbox with the embedded database (PGlite in DATA_DIR), as a new user runs
 * it: the service in one process, `cli stats` in another (through the service's command socket
 * while it runs, on the data folder itself once it has stopped).
 *
 * - The service watches both mailboxes (INBOX and Suporte): Dovecot shows one connection on each,
 *   and `stats` names the service as the holder of both leases.
 * - Mail appended to Suporte is collected with no cron tick needed (stored before the minute ends).
 * - Killed with SIGKILL and started again, the new service watches both at once: it does not wait
 *   for its dead predecessor's leases to expire (it is the data folder's only owner).
 * - Stopped, it leaves no lease behind.
 */
import assert from "node:assert/strict";
import { ImapFlow } from "imapflow";
import {
  doveadm,
  ensureMailstack,
  freshUser,
  imapConfig,
  imapConnections,
  mailboxEnv,
} from "../support/mailstack.ts";
import { cliOk, startedService } from "../support/service_process.ts";

const MAILBOXES = ["INBOX", "Suporte"];
const WAIT_MS = 90_000;

type Person = Awaited<ReturnType<typeof freshUser>>;
type Watch = { mailbox: string; mode: string; holder: string | null; state: string | null };
type Stats = { messages: number; accounts: Array<{ idle_mailboxes: Watch[] }> };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until<T>(what: string, check: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${WAIT_MS} ms${last ? ` (last error: ${last})` : ""}`);
}

async function stats(env: Record<string, string>): Promise<Stats> {
  return (await cliOk(["stats"], env)).docs[0] as Stats;
}

/** One connection on each mailbox and no other, as Dovecot's processes show them. */
async function oneEach(user: string): Promise<true | null> {
  const seen = await imapConnections(user);
  const per = MAILBOXES.map((m) => seen.filter((c) => c.mailbox === m).length);
  return seen.length === MAILBOXES.length && per.every((n) => n === 1) ? true : null;
}

/** Both mailboxes held by the service with this pid, as `stats` shows them. */
async function heldBy(env: Record<string, string>, pid: number): Promise<Watch[] | null> {
  const watches = (await stats(env)).accounts[0]?.idle_mailboxes ?? [];
  const ok = watches.length === MAILBOXES.length &&
    watches.every((w) => w.mode === "idle" && w.holder?.endsWith(`:${pid}`));
  return ok ? watches : null;
}

async function append(box: Person, mailbox: string) {
  const client = new ImapFlow({
    ...imapConfig(box.user, box.pass),
    auth: { user: box.user, pass: box.pass },
    doSTARTTLS: false,
    logger: false,
  });
  await client.connect();
  try {
    await client.append(
      mailbox,
      `From: Cliente <cliente@cliente.example.test>\r\nTo: <${box.address}>\r\n` +
        `Subject: Para o suporte\r\nMessage-ID: <${crypto.randomUUID()}@cliente.example.test>\r\n` +
        `Date: ${new Date().toUTCString()}\r\n\r\nOlá.\r\n`,
    );
  } finally {
    await client.logout();
  }
}

Deno.test("embedded database: the service watches every mailbox, names itself as their holder, and a restart after SIGKILL takes them back at once", async () => {
  await ensureMailstack();
  const box = await freshUser("embidle");
  await doveadm(["mailbox", "create", "-u", box.user, "Suporte"]);
  const home = await Deno.makeTempDir({ prefix: "carteiro-embedded-idle-" });
  const env = {
    CARTEIRO_MODE: "server",
    DENO_DEPLOYMENT_ID: "",
    CARTEIRO_KILL_AT: "",
    ...mailboxEnv(box),
    IMAP_MAILBOXES: MAILBOXES.join(","),
    DATA_DIR: `${home}/data`,
    DATABASE_URL: "",
  };
  let service = await startedService(env);
  try {
    await until("one IDLE connection per mailbox", () => oneEach(box.user));
    const watches = await until("both leases held by the service", () => heldBy(env, service.pid));
    assert.deepEqual(watches.map((w) => w.mailbox), MAILBOXES);

    // Early in a minute, so that only IDLE can store it before the minute ends.
    while (new Date().getUTCSeconds() < 2 || new Date().getUTCSeconds() > 12) await sleep(200);
    const minuteEnds = Math.ceil((Date.now() + 1) / 60_000) * 60_000;
    const before = (await stats(env)).messages;
    await append(box, "Suporte");
    await until("the message in Suporte stored", async () => {
      return (await stats(env)).messages > before ? true : null;
    });
    assert.ok(Date.now() < minuteEnds, "stored before the cron's next tick: IDLE brought it");

    await service.kill();
    service = await startedService(env);
    await until("the restarted service holds both", () => heldBy(env, service.pid));
    await until("one IDLE connection per mailbox again", () => oneEach(box.user));

    const status = await service.stop();
    assert.equal(status.code, 0, service.logs());
    const after = (await stats(env)).accounts[0].idle_mailboxes;
    assert.deepEqual(after.map((w) => w.holder), [null, null], "no lease left after a stop");
  } finally {
    await service.kill();
    await Deno.remove(home, { recursive: true });
  }
});
