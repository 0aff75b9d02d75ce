/**
 * Signed webhooks end to end: mail delivered to a real Dovecot mailbox, collected and answered by
 * the real service (and commands), the events posted to a real HTTP receiver on loopback.
 * - A receiver that fails each event's first attempt (500) and holds some second attempts past
 *   the request timeout gets every event at least once, in order, each with a valid signature.
 * - A drain killed with SIGKILL while the receiver holds its request sends the event again when
 *   the next drain runs, once the dead one's lease is over.
 * - Without WEBHOOK_ALLOW_PRIVATE, a loopback target (an address or a name resolving to one) is
 *   refused and nothing reaches it.
 * - The receiver printed in docs/webhooks.md runs and checks signatures as it says.
 */
import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { freshPostgresDatabase } from "../support/databases.ts";
import { cliCommand, runCli } from "../support/cli.ts";
import { freePort, startedService } from "../support/service_process.ts";
import { deliverRaw, ensureMailstack, freshUser, mailboxEnv } from "../support/mailstack.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import {
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhookSignature,
  webhookBody,
} from "../../src/domain/webhooks.ts";
import { postWebhook } from "../../src/jobs/webhook_post.ts";
import { isPrivateAddress } from "../../src/domain/private_address.ts";

const RULES = [{
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

type Person = Awaited<ReturnType<typeof freshUser>>;

/** One request as the receiver saw it. */
interface Arrival {
  eventId: string;
  type: string;
  accountId: number | null;
  body: string;
  signature: string;
  /** Answered 2xx while the sender still waited (not a request it had given up on). */
  accepted: boolean;
  at: number;
}

/**
 * A receiver on loopback whose answer to each request `answer` decides: a status, or `hold` (the
 * request waits until the sender gives up, or until `release`).
 */
function startReceiver(answer: (eventId: string, attempt: number) => number | "hold") {
  const arrivals: Arrival[] = [];
  const attempts = new Map<string, number>();
  const held = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    const event = JSON.parse(body);
    const n = (attempts.get(event.id) ?? 0) + 1;
    attempts.set(event.id, n);
    const arrival: Arrival = {
      eventId: event.id,
      type: event.type,
      accountId: event.account_id,
      body,
      signature: req.headers.get(SIGNATURE_HEADER) ?? "",
      accepted: false,
      at: Date.now(),
    };
    arrivals.push(arrival);
    const decision = answer(event.id, n);
    if (decision === "hold") {
      await new Promise<void>((resolve) => {
        const release = () => {
          held.delete(release);
          resolve();
        };
        held.add(release);
        req.signal.addEventListener("abort", release);
      });
      return new Response("late", { status: 200 });
    }
    arrival.accepted = decision >= 200 && decision < 300 && !req.signal.aborted;
    return new Response(String(decision), { status: decision });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks`,
    port: server.addr.port,
    arrivals,
    /** Requests being held right now. */
    holding: () => held.size,
    release: () => [...held].forEach((r) => r()),
    close: async () => {
      [...held].forEach((r) => r());
      await server.shutdown();
    },
  };
}

async function until<T>(
  what: string,
  check: () => T | null | false | Promise<T | null | false>,
  ms = 240_000,
  context: () => unknown = () => "",
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) {
      throw new Error(`waited ${ms} ms for ${what}:\n${await context()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function cli(args: string[], env: Record<string, string>) {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
  return run.docs[0] as Record<string, unknown>;
}

function message(from: Person, to: string, subject: string) {
  return new TextEncoder().encode(
    `From: ${from.user.split("@")[0]} <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

/** A mailbox, a database, the rules, and the mailbox's history collected already. */
async function setup(extraEnv: Record<string, string>) {
  await ensureMailstack();
  const box = await freshUser("hook");
  const database = await freshPostgresDatabase();
  const env = {
    ...mailboxEnv(box),
    DATABASE_URL: database.url,
    SEND_LEASE_SECONDS: "5",
    WEBHOOK_RETRY_SECONDS: "1",
    ...extraEnv,
  };
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
  await cli(["rules", "import", rulesFile], env);
  await Deno.remove(rulesFile);
  await cli(["collect", "--once"], env);
  const db = openPostgres({ url: database.url, max: 2 });
  return {
    box,
    env,
    db,
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}

async function deliveries(db: ReturnType<typeof openPostgres>) {
  return await db.query<
    {
      id: number;
      event_id: string;
      event_type: string;
      status: string;
      attempts: number;
      last_error: string | null;
    }
  >(
    `SELECT id::int AS id, event_id::text AS event_id, event_type, status, attempts, last_error
     FROM webhook_deliveries ORDER BY id`,
  );
}

Deno.test("every event arrives at least once, in order, signed, past failures and hangs", async () => {
  // Every event's first attempt fails with 500; every other event's second attempt is held past
  // the request timeout; the next attempt is taken.
  let count = 0;
  const holdSecond = new Map<string, boolean>();
  const receiver = startReceiver((id, attempt) => {
    if (!holdSecond.has(id)) holdSecond.set(id, count++ % 2 === 0);
    if (attempt === 1) return 500;
    if (attempt === 2 && holdSecond.get(id)) return "hold";
    return 200;
  });
  const t = await setup({ WEBHOOK_ALLOW_PRIVATE: "1", WEBHOOK_TIMEOUT_SECONDS: "1" });
  let service: Awaited<ReturnType<typeof startedService>> | null = null;
  try {
    const added = await cli(["webhook", "add", receiver.url, "--events", "*"], t.env);
    const secret = String(added.secret);
    assert.match(secret, /^whsec_/);
    const ana = await freshUser("ana");
    await deliverRaw(t.box.user, [
      message(ana, t.box.address, "Pedido 1"),
      message(ana, t.box.address, "Pedido 2"),
    ]);
    // The service collects at its start, answers, and delivers the events on its short loop.
    service = await startedService(t.env);
    // The second message from the same sender within the reply window is not answered.
    const expected: Record<string, number> = {
      "message.stored": 2,
      "message.classified": 2,
      "reply.queued": 1,
      "reply.suppressed": 1,
      "reply.sent": 1,
    };
    const rows = await until(
      "every delivery delivered",
      async () => {
        const rows = await deliveries(t.db);
        const types = rows.map((r) => r.event_type);
        const enough = Object.entries(expected).every(([e, n]) =>
          types.filter((t) => t === e).length === n
        );
        return enough && rows.every((r) => r.status === "delivered") ? rows : null;
      },
      240_000,
      async () =>
        `${JSON.stringify(await deliveries(t.db), null, 1)}\n${
          JSON.stringify(receiver.arrivals.map((a) => [a.type, a.eventId, a.accepted]))
        }\n${service?.logs().slice(-4000)}`,
    );
    await service.stop();
    service = null;

    const accepted = receiver.arrivals.filter((a) => a.accepted);
    // At least once: every event was taken; in order: first acceptances follow the enqueue order.
    const firsts: string[] = [];
    for (const a of accepted) if (!firsts.includes(a.eventId)) firsts.push(a.eventId);
    assert.deepEqual(firsts, rows.map((r) => r.event_id), "accepted in the order enqueued");
    // Each was tried first and failed, and the held ones were given up on and tried again.
    for (const r of rows) {
      const tries = receiver.arrivals.filter((a) => a.eventId === r.event_id);
      assert.ok(r.attempts >= 2, `${r.event_type} ${r.event_id}: ${r.attempts} attempt(s)`);
      assert.ok(tries.length >= r.attempts, `${r.event_type}: every attempt arrived`);
    }
    assert.ok(
      rows.some((r) => r.attempts >= 3),
      "some second attempts were held past the timeout",
    );
    // Every request carried a valid signature of its exact body, and the body's fields.
    for (const a of receiver.arrivals) {
      assert.ok(
        verifyWebhookSignature(secret, a.signature, a.body, new Date(a.at)),
        `bad signature on ${a.type}: ${a.signature}`,
      );
      const parsed = JSON.parse(a.body);
      assert.deepEqual(Object.keys(parsed), ["id", "type", "created_at", "account_id", "data"]);
      assert.equal(typeof parsed.account_id, "number");
    }
    const sent = accepted.find((a) => a.type === "reply.sent")!;
    assert.equal(JSON.parse(sent.body).data.recipient, ana.address);
  } finally {
    await service?.kill();
    await receiver.close();
    await t.close();
  }
});

Deno.test("a drain killed while the receiver holds its request sends the event again", async () => {
  const receiver = startReceiver((_id, attempt) => (attempt === 1 ? "hold" : 200));
  // A request waits at most 2 s: a claim's lease is 9 s.
  const t = await setup({ WEBHOOK_ALLOW_PRIVATE: "1", WEBHOOK_TIMEOUT_SECONDS: "2" });
  try {
    await cli(["webhook", "add", receiver.url, "--events", "message.stored"], t.env);
    const ana = await freshUser("ana");
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Pedido 1")]);
    await cli(["collect", "--once"], t.env);
    const [queued] = await deliveries(t.db);
    assert.equal(queued.status, "pending");

    const first = cliCommand(["webhook", "deliver", "--once"], t.env).spawn();
    const output = first.output();
    await until("the receiver holding the first request", () => receiver.holding() === 1, 120_000);
    first.kill("SIGKILL");
    const status = await output;
    assert.equal(status.signal, "SIGKILL");
    receiver.release();
    const [held] = await deliveries(t.db);
    assert.equal(held.status, "sending", "the dead drain's claim holds until its lease ends");

    // The next drain takes the row again once the lease is over, and the receiver takes it.
    const after = await until("the event delivered again", async () => {
      await cli(["webhook", "deliver", "--once"], t.env);
      const [row] = await deliveries(t.db);
      return row.status === "delivered" ? row : null;
    }, 120_000);
    assert.equal(after.attempts, 2);
    const tries = receiver.arrivals.filter((a) => a.eventId === queued.event_id);
    assert.equal(tries.length, 2, "sent once more, not more");
    assert.equal(tries[0].body, tries[1].body, "the same event, byte for byte");
    assert.ok(tries[1].accepted);
  } finally {
    await receiver.close();
    await t.close();
  }
});

Deno.test("a target on this machine is refused unless WEBHOOK_ALLOW_PRIVATE is set", async () => {
  const receiver = startReceiver(() => 200);
  const t = await setup({});
  try {
    // An address literal and `localhost` are this machine by their very names: refused at once.
    for (const url of [receiver.url, `http://localhost:${receiver.port}/hooks`]) {
      const added = await runCli(["webhook", "add", url, "--events", "message.stored"], t.env);
      assert.notEqual(added.code, 0, url);
      assert.match(
        added.stderr,
        /this machine or a private network.*WEBHOOK_ALLOW_PRIVATE/,
      );
    }
    // A name that is not `localhost` but resolves to this machine is refused when resolved.
    const host = Deno.hostname();
    const resolved = await lookup(host, { all: true });
    assert.ok(
      resolved.every((a) => isPrivateAddress(a.address)),
      `${host} is expected to resolve to this machine: ${JSON.stringify(resolved)}`,
    );
    const byName = await runCli(
      ["webhook", "add", `http://${host}:${receiver.port}/hooks`, "--events", "message.stored"],
      t.env,
    );
    assert.equal(byName.code, 0, byName.stderr);
    const ana = await freshUser("ana");
    await deliverRaw(t.box.user, [message(ana, t.box.address, "Pedido 1")]);
    await cli(["collect", "--once"], t.env);
    const summary = await cli(["webhook", "deliver", "--once"], t.env);
    assert.equal(summary.failed, 1, JSON.stringify(summary));
    const rows = await deliveries(t.db);
    assert.equal(rows.length, 1);
    for (const r of rows) {
      assert.equal(r.status, "failed");
      assert.match(r.last_error ?? "", /this machine or a private network.*WEBHOOK_ALLOW_PRIVATE/);
    }
    assert.equal(receiver.arrivals.length, 0, "nothing reached the receiver");
  } finally {
    await receiver.close();
    await t.close();
  }
});

Deno.test("the receiver of docs/webhooks.md takes a signed delivery and refuses a forged one", async () => {
  const docs = await Deno.readTextFile(new URL("../../docs/webhooks.md", import.meta.url));
  const code = /```ts\n(\/\/ receiver\.ts[\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(code, "docs/webhooks.md has the receiver.ts block");
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  const port = freePort();
  const secret = "whsec_docs_example";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", file],
    env: { WEBHOOK_SECRET: secret, PORT: String(port), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    const url = `http://127.0.0.1:${port}/`;
    const body = webhookBody({
      id: crypto.randomUUID(),
      type: "reply.sent",
      createdAt: new Date(),
      accountId: 1,
      data: { outbox_id: 7 },
    });
    const send = (key: string) =>
      postWebhook(
        { url, body, signature: signWebhook(key, new Date(), body), eventId: "e", eventType: "t" },
        { allowPrivate: true, timeoutMs: 5_000 },
      );
    const taken = await until("the receiver listening", async () => {
      const r = await send(secret);
      return r.kind === "answered" ? r : null;
    }, 60_000);
    assert.deepEqual(taken, { kind: "answered", status: 204 });
    assert.deepEqual(await send("whsec_forged"), { kind: "answered", status: 400 });
  } finally {
    child.kill("SIGTERM");
    await output;
    await Deno.remove(file);
  }
});
