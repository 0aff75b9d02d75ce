/**
 * The embedded database (PGlite in DATA_DIR, no DATABASE_URL) with real processes, as a new user
 * runs it: the service in one terminal, CLI commands in another.
 *
 * - One owner: a second service on the same folder exits 1 naming the first; the first goes on.
 * - CLI commands run while the service runs — several at once — and the service sees each result
 *   at once (the user logs in, the token reads the API, the rules answer the next message); after
 *   a restart everything is still there, once.
 * - Exactly once: two `send --once` started together, and the service beside `send --once`
 *   runs, deliver each reply once, checked in the recipients' mailboxes.
 * - A service killed with SIGKILL mid-collection restarts at once; nothing lost or twice.
 * - `db dump` → psql → the service on DATABASE_URL counts the same.
 */
import assert from "node:assert/strict";
import {
  deliverRaw,
  ensureMailstack,
  freshUser,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { readInbox } from "../support/mailbox_reader.ts";
import { smtpSubmitter } from "../support/smtp_submit.ts";
import { freshPostgresDatabase } from "../support/databases.ts";
import { cli, cliOk, logIn, startedService, startService } from "../support/service_process.ts";

type Person = Awaited<ReturnType<typeof freshUser>>;

const RULES = [{
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Olá, recebemos sua mensagem." },
}];

/** Waits for `check` to return a value (not undefined), polling, up to `timeoutMs`. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last})` : ""}`);
}

function message(from: Person, to: string, subject: string): Uint8Array {
  return new TextEncoder().encode(
    `From: ${from.user.split("@")[0]} <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

/** A mailbox for the service, a data folder, and the environment that joins them. */
async function setup(extra: Record<string, string> = {}) {
  await ensureMailstack();
  const box = await freshUser("box");
  const home = await Deno.makeTempDir({ prefix: "carteiro-embedded-" });
  const rulesFile = `${home}/rules.json`;
  await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
  const env = {
    ...mailboxEnv(box, imapConfig(box.user, box.pass).port),
    DATA_DIR: `${home}/data`,
    DATABASE_URL: "",
    SEND_LEASE_SECONDS: "30",
    ...extra,
  };
  return {
    box,
    env,
    rulesFile,
    cleanup: () => Deno.remove(home, { recursive: true }),
  };
}

type Stats = {
  messages: number;
  unparsed: number;
  pending: number;
  outbox: Record<string, number>;
};

/** What `stats` counts, without the accounts' health (times, instances). */
function counts(s: Stats) {
  return { messages: s.messages, unparsed: s.unparsed, pending: s.pending, outbox: s.outbox };
}

async function stats(env: Record<string, string>): Promise<Stats> {
  return (await cliOk(["stats"], env)).docs[0] as Stats;
}

/** The replies in each person's INBOX, once every one has at least one (Postfix is async). */
async function repliesPerPerson(people: Person[]): Promise<number[]> {
  const counts = await until("a reply in every mailbox", async () => {
    const n = await Promise.all(
      people.map(async (p) => (await readInbox(imapConfig(p.user, p.pass))).length),
    );
    return n.every((c) => c >= 1) ? n : undefined;
  });
  // A second copy would arrive right behind the first: look again after a moment.
  await new Promise((r) => setTimeout(r, 2_000));
  const again = await Promise.all(
    people.map(async (p) => (await readInbox(imapConfig(p.user, p.pass))).length),
  );
  assert.deepEqual(again, counts, "replies kept arriving");
  return again;
}

Deno.test("a second service on the same data folder exits 1 naming the first, which goes on", async () => {
  const t = await setup({ EMAIL_HOST: "", EMAIL_USER: "", EMAIL_PASS: "" });
  const first = await startedService(t.env);
  try {
    const second = startService(t.env);
    const status = await Promise.race([
      second.done,
      new Promise<null>((r) => setTimeout(() => r(null), 90_000)),
    ]);
    if (status === null) await second.kill();
    assert.ok(status, `the second service still runs:\n${second.logs()}`);
    assert.equal(status.code, 1, second.logs());
    assert.match(
      second.logs(),
      new RegExp(`in use by pid ${first.pid} \\(deno task start, since [^)]+\\)`),
    );
    assert.equal(second.logs().trim().split("\n").filter((l) => /in use by/.test(l)).length, 1);
    const health = await fetch(`${first.base}/healthz`);
    assert.equal(health.status, 200, await health.text());
    assert.equal((await stats(t.env)).messages, 0);
  } finally {
    await first.stop();
    await t.cleanup();
  }
});

Deno.test("CLI commands run beside the service, several at once; the service sees them at once and after a restart", async () => {
  const t = await setup({ SEND_LEASE_SECONDS: "30" });
  const ana = await freshUser("ana");
  let service = await startedService(t.env);
  try {
    // Five commands from five processes at the same moment.
    const [user, token, rules, collected, sent] = await Promise.all([
      cli(["user", "add", "admin@example.test"], t.env, "uma senha bem longa\n"),
      cli(["token", "create", "scraper"], t.env),
      cli(["rules", "import", t.rulesFile], t.env),
      cli(["collect", "--once"], t.env),
      cli(["send", "--once"], t.env),
    ]);
    for (const [name, r] of Object.entries({ user, token, rules, collected, sent })) {
      assert.equal(r.code, 0, `${name} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    }
    const made = user.docs[0] as Record<string, unknown>;
    assert.deepEqual(
      { created: made.created, id: made.id, email: made.email, role: made.role },
      { created: true, id: 1, email: "admin@example.test", role: "admin" },
    );
    assert.deepEqual(rules.docs[0], { imported: 1 });
    const secret = (token.docs[0] as { token: string }).token;

    // The service sees each at once: the new user logs in, the token reads the API…
    const session = await logIn(service.base, "admin@example.test", "uma senha bem longa");
    const page = await fetch(`${service.base}/messages`, { headers: { Cookie: session } });
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const api = await fetch(`${service.base}/api/v1/stats`, {
      headers: { Authorization: `Bearer ${secret}` },
    });
    assert.equal(api.status, 200, await api.clone().text());
    assert.equal((await api.json()).data.messages, 0);

    // …and the rules answer the next message, as it arrives (IMAP IDLE).
    const smtp = smtpSubmitter();
    try {
      await smtp.submit(
        { from: ana.address, to: t.box.address },
        message(ana, t.box.address, "Pedido 1"),
      );
    } finally {
      smtp.close();
    }
    assert.deepEqual(await repliesPerPerson([ana]), [1]);
    const [reply] = await readInbox(imapConfig(ana.user, ana.pass));
    assert.equal(reply.email.subject, "Re: Pedido 1");

    // A restart finds everything, once.
    const before = await stats(t.env);
    assert.equal(before.messages, 1);
    assert.equal(before.outbox.sent, 1);
    const stopped = await service.stop();
    assert.equal(stopped.code, 0, service.logs());
    service = await startedService(t.env);
    assert.deepEqual(counts(await stats(t.env)), counts(before));
    await logIn(service.base, "admin@example.test", "uma senha bem longa");
    const again = await cli(["user", "add", "admin@example.test"], t.env, "outra senha longa!\n");
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /already exists/);
    const exported = (await cliOk(["rules", "export"], t.env)).docs[0] as Array<{ name: string }>;
    assert.deepEqual(exported.map((r) => r.name), ["ack-direct"]);
  } finally {
    await service.stop();
    await t.cleanup();
  }
});

/** Twenty people, each with one direct message stored and its reply waiting in the outbox. */
async function twentyWaiting(t: Awaited<ReturnType<typeof setup>>): Promise<Person[]> {
  await cliOk(["rules", "import", t.rulesFile], t.env);
  // The first collection connects the account: what is already in the mailbox is history.
  await cliOk(["collect", "--once"], t.env);
  const people = await Promise.all(Array.from({ length: 20 }, () => freshUser("p")));
  await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Pedido ${i}`)));
  return people;
}

Deno.test("two send --once started together on the embedded database send each reply once", async () => {
  const t = await setup();
  try {
    const people = await twentyWaiting(t);
    const collected = await cliOk(["collect", "--once"], t.env);
    assert.equal((collected.docs[0] as { stored: number }).stored, 20);
    assert.equal((await stats(t.env)).outbox.pending, 20);

    const runs = await Promise.all([
      cli(["send", "--once"], t.env),
      cli(["send", "--once"], t.env),
    ]);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const sent = runs.map((r) => (r.docs[0] as { sent: number }).sent);
    assert.equal(sent[0] + sent[1], 20, `sent ${sent}`);
    assert.deepEqual(await repliesPerPerson(people), people.map(() => 1));
    assert.equal((await stats(t.env)).outbox.sent, 20);
  } finally {
    await t.cleanup();
  }
});

Deno.test("the service and send --once beside it send each reply once", async () => {
  const t = await setup();
  try {
    const people = await twentyWaiting(t);
    const service = await startedService(t.env);
    try {
      // The service collects the twenty as IDLE or its start finds them and drains the outbox;
      // send --once runs beside it, again and again, until all are sent.
      const runs: Array<{ code: number; sent: number }> = [];
      await until("every reply sent", async () => {
        const r = await cli(["send", "--once"], t.env);
        runs.push({ code: r.code, sent: (r.docs[0] as { sent?: number })?.sent ?? -1 });
        const s = await stats(t.env);
        return s.messages === 20 && s.outbox.sent === 20 ? s : undefined;
      });
      assert.ok(runs.every((r) => r.code === 0 && r.sent >= 0), JSON.stringify(runs));
      assert.deepEqual(await repliesPerPerson(people), people.map(() => 1));
    } finally {
      await service.stop();
    }
  } finally {
    await t.cleanup();
  }
});

Deno.test("a service killed with SIGKILL mid-collection restarts at once; nothing lost or twice", async () => {
  const t = await setup({ COLLECT_BATCH: "5", PARSE_WORKERS: "0" });
  const sender = await freshUser("s");
  const total = 300;
  try {
    // The first collection connects the account; the messages come after it.
    await cliOk(["collect", "--once"], t.env);
    await deliverRaw(
      t.box.user,
      Array.from({ length: total }, (_, i) => message(sender, t.box.address, `Lote ${i}`)),
    );
    const first = await startedService(t.env);
    // Killed once some batches are committed and the rest are not.
    await until("a collection under way", async () => {
      const s = await stats(t.env);
      return s.messages > 0 && s.messages < total ? s : undefined;
    });
    await first.kill();
    const second = await startedService(t.env);
    try {
      const done = await until("every message stored and parsed", async () => {
        const s = await stats(t.env);
        return s.messages >= total && s.pending === 0 ? s : undefined;
      }, 180_000);
      assert.equal(done.messages, total);
      assert.equal(done.unparsed, 0);
      const dump = (await cliOk(["db", "dump"], t.env)).stdout;
      const uids = [
        ...dump.matchAll(
          /^INSERT INTO public\.messages VALUES \((\d+), (\d+), 'INBOX', (\d+), (\d+),/gm,
        ),
      ]
        .map((m) => Number(m[4]));
      assert.equal(uids.length, total, "message rows in the dump");
      assert.equal(new Set(uids).size, total, "each UID stored once");
    } finally {
      await second.stop();
    }
  } finally {
    await t.cleanup();
  }
});

Deno.test("db dump loads into PostgreSQL with psql and the service there counts the same", async () => {
  const t = await setup();
  const target = await freshPostgresDatabase();
  try {
    const people = await twentyWaiting(t);
    await cliOk(["collect", "--once"], t.env);
    await cliOk(["send", "--once"], t.env);
    await repliesPerPerson(people);
    await cliOk(["user", "add", "admin@example.test"], t.env, "uma senha bem longa\n");
    const embedded = await stats(t.env);
    assert.equal(embedded.messages, 20);

    const dump = await cliOk(["db", "dump"], t.env);
    const file = `${t.env.DATA_DIR}/../carteiro.sql`;
    await Deno.writeTextFile(file, dump.stdout);
    const psql = await new Deno.Command("psql", {
      args: ["--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.url, "-f", file],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(psql.code, 0, new TextDecoder().decode(psql.stderr));

    const onServer = { ...t.env, DATABASE_URL: target.url };
    const server = await stats(onServer);
    assert.deepEqual(counts(server), counts(embedded));
    const service = await startedService(onServer);
    try {
      await logIn(service.base, "admin@example.test", "uma senha bem longa");
      assert.deepEqual(
        (await cliOk(["rules", "export"], onServer)).docs[0],
        (await cliOk(["rules", "export"], t.env)).docs[0],
      );
    } finally {
      await service.stop();
    }
  } finally {
    await target.drop();
    await t.cleanup();
  }
});
