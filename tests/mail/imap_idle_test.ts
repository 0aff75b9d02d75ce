/**
 * The IDLE watcher against the real Dovecot of scripts/mailstack.sh, a fresh user per test.
 * Deno's test sanitizers fail a test whose `stop()` left a timer, an op or a socket behind.
 *
 * Waits have generous ceilings (WAIT_MS): on a busy machine a wake-up that takes ~0.5 s when idle
 * has been seen to take 10 s. A test asserts that an event happens, never how fast. Where the
 * watchdog's NOOP (every 2 minutes by default) could also report the mail, the ceiling stays below
 * it, so that only IDLE can pass the test.
 */
import assert from "node:assert/strict";
import {
  connectIdleSession,
  type IdleHealth,
  type IdleWatcher,
  type IdleWatcherOptions,
  type NewMailReason,
  startIdleWatcher,
} from "../../src/mail/imap_idle.ts";
import {
  deliverRaw,
  doveadm,
  ensureMailstack,
  freshUser,
  imapConfig,
} from "../support/mailstack.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";

/** The ceiling of every wait for the server or the watcher; under the 2-minute NOOP default. */
const WAIT_MS = 60_000;

function message(subject: string): Uint8Array {
  return new TextEncoder().encode(
    `From: Ana <ana@example.test>\r\nTo: caixa@example.test\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

/**
 * Records every `onNewMail` call; `next()` waits for one after the first `from` seen (by default
 * those seen so far). Take `from` before the delivery: on a busy machine the wake-up can come
 * before `deliverRaw` has returned.
 */
function wakeups() {
  const seen: Array<{ reason: NewMailReason; at: number }> = [];
  let waiter: (() => void) | null = null;
  return {
    seen,
    onNewMail: (reason: NewMailReason) => {
      seen.push({ reason, at: performance.now() });
      waiter?.();
    },
    async next(reason: NewMailReason, timeoutMs: number, from = seen.length) {
      const deadline = performance.now() + timeoutMs;
      while (!seen.slice(from).some((s) => s.reason === reason)) {
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new Error(
            `no "${reason}" wake-up within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`,
          );
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          waiter = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
        waiter = null;
      }
      return seen.slice(from).find((s) => s.reason === reason)!;
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs: number, detail: () => unknown) {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) {
      throw new Error(`${what} not within ${timeoutMs} ms: ${JSON.stringify(detail())}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Whether `p` settles before `ms` run out; the timer is cleared either way. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ceiling = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([p.then(() => true), ceiling]);
  } finally {
    clearTimeout(timer);
  }
}

/** The loopback Dovecot offers STARTTLS with a self-signed certificate. */
function login(user: string, pass: string, port = 1143) {
  return { ...imapConfig(user, pass), port, allowInvalidCertificate: true };
}

async function setup(
  options: Partial<IdleWatcherOptions> & { port?: number; ignoreIdle?: boolean } = {},
) {
  await ensureMailstack();
  const box = await freshUser("idle");
  const w = wakeups();
  const conn = login(box.user, box.pass, options.port);
  const watcher = startIdleWatcher({
    connect: () => connectIdleSession(conn, { ignoreIdleCapability: options.ignoreIdle }),
    onNewMail: w.onNewMail,
    backoffBaseMs: 100,
    backoffMaxMs: 400,
    // Generous: a slow answer on a busy machine must not pass for a dead connection.
    commandTimeoutMs: 30_000,
    ...options,
  });
  return { box, w, watcher };
}

async function listening(watcher: IdleWatcher, state: IdleHealth["state"] = "idle") {
  await until(
    `state ${state}`,
    () => watcher.health().state === state,
    WAIT_MS,
    () => watcher.health(),
  );
}

Deno.test("a delivery wakes onNewMail through IDLE", async () => {
  const { box, w, watcher } = await setup();
  try {
    await listening(watcher);
    const before = w.seen.length;
    await deliverRaw(box.user, [message("Pedido 1")]);
    await w.next("exists", WAIT_MS, before);
    assert.equal(watcher.health().consecutiveFailures, 0);
    assert.ok(watcher.health().lastNewMailAt);
  } finally {
    await watcher.stop();
  }
  assert.equal(watcher.health().state, "stopped");
});

Deno.test("a kicked connection reconnects, and the next delivery still wakes it", async () => {
  const { box, w, watcher } = await setup();
  try {
    await listening(watcher);
    const kick = await new Deno.Command("bash", {
      args: [
        new URL("../../scripts/mailstack.sh", import.meta.url).pathname,
        "doveadm",
        "kick",
        box.user,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(kick.success, new TextDecoder().decode(kick.stderr));
    await w.next("reconnected", WAIT_MS, 0);
    await listening(watcher);
    const h = watcher.health();
    assert.equal(h.reconnects, 1);
    assert.equal(h.consecutiveFailures, 0, "back to 0 once listening again");
    assert.ok(h.lastError, "the drop is kept as the last error");
    const before = w.seen.length;
    await deliverRaw(box.user, [message("Depois do kick")]);
    await w.next("exists", WAIT_MS, before);
  } finally {
    await watcher.stop();
  }
});

Deno.test("a silent dead connection is noticed by the NOOP watchdog and replaced", async () => {
  await ensureMailstack();
  const proxy = startTcpProxy({ host: "127.0.0.1", port: 1143 });
  // The watchdog's own settings are short so that the test is; the dead connection is noticed
  // after noopIntervalMs + commandTimeoutMs, and the test waits for that with its own ceiling.
  const { box, w, watcher } = await setup({
    port: proxy.port,
    noopIntervalMs: 300,
    commandTimeoutMs: 2_000,
  });
  try {
    await listening(watcher);
    proxy.blackhole();
    await w.next("reconnected", WAIT_MS, 0);
    await listening(watcher);
    assert.match(watcher.health().lastError ?? "", /no answer to (NOOP|ending IDLE)/);
    assert.equal(proxy.connections(), 2);
    const before = w.seen.length;
    await deliverRaw(box.user, [message("Depois do silêncio")]);
    await w.next("exists", WAIT_MS, before);
  } finally {
    await watcher.stop();
    await proxy.close();
  }
});

Deno.test("IDLE is ended and issued again on schedule (RFC 2177: before 29 minutes)", async () => {
  await ensureMailstack();
  const proxy = startTcpProxy({ host: "127.0.0.1", port: 1143 });
  const box = await freshUser("idle");
  const w = wakeups();
  // The commands are counted on the session (STARTTLS hides them from the proxy).
  const calls = { idle: 0, noop: 0 };
  const watcher = startIdleWatcher({
    connect: async () => {
      const s = await connectIdleSession(login(box.user, box.pass, proxy.port));
      return {
        get supportsIdle() {
          return s.supportsIdle;
        },
        open: (m) => s.open(m),
        idle: () => (calls.idle++, s.idle()),
        noop: () => (calls.noop++, s.noop()),
        onExists: (l) => s.onExists(l),
        onClose: (l) => s.onClose(l),
        close: () => s.close(),
        destroy: () => s.destroy(),
      };
    },
    onNewMail: w.onNewMail,
    idleRestartMs: 200,
  });
  try {
    await listening(watcher);
    await until("four IDLE commands", () => calls.idle >= 4, WAIT_MS, () => calls);
    assert.ok(calls.noop >= 3, `each IDLE is ended by DONE + NOOP: ${JSON.stringify(calls)}`);
    assert.equal(proxy.connections(), 1, "the same connection throughout");
    assert.equal(watcher.health().consecutiveFailures, 0);
    const before = w.seen.length;
    await deliverRaw(box.user, [message("Entre dois IDLE")]);
    await w.next("exists", WAIT_MS, before);
  } finally {
    await watcher.stop();
    await proxy.close();
  }
});

Deno.test("without IDLE the mailbox is polled with NOOP and a delivery still wakes it", async () => {
  const { box, w, watcher } = await setup({ ignoreIdle: true, pollIntervalMs: 200 });
  try {
    await listening(watcher, "unsupported");
    const before = w.seen.length;
    await deliverRaw(box.user, [message("Sem IDLE")]);
    await w.next("exists", WAIT_MS, before);
  } finally {
    await watcher.stop();
  }
});

Deno.test("a refused login is retried, and the error says why", async () => {
  await ensureMailstack();
  const w = wakeups();
  const watcher = startIdleWatcher({
    connect: () => connectIdleSession(login("nobody@example.test", "wrong")),
    onNewMail: w.onNewMail,
    backoffBaseMs: 50,
  });
  try {
    await until(
      "two failures",
      () => watcher.health().consecutiveFailures >= 2,
      WAIT_MS,
      () => watcher.health(),
    );
    assert.match(watcher.health().lastError ?? "", /nobody@example\.test: authentication failed/);
  } finally {
    await watcher.stop();
  }
  assert.equal(w.seen.length, 0);
});

Deno.test("reconnection delays double up to the cap", async () => {
  const COMMAND_TIMEOUT_MS = 30_000;
  const starts: number[] = [];
  // The delays the watcher asks its timers for, read from the timers it is given (the command
  // deadline's timer aside): what it chose, however late a busy machine runs them.
  const delays: number[] = [];
  const watcher = startIdleWatcher({
    connect: () => {
      starts.push(performance.now());
      return Promise.reject(new Error("refused"));
    },
    onNewMail: () => {},
    backoffBaseMs: 40,
    backoffMaxMs: 160,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    random: () => 0.999,
    timers: {
      setTimeout: (fn, ms) => {
        if (ms !== COMMAND_TIMEOUT_MS) delays.push(ms);
        return setTimeout(fn, ms);
      },
      clearTimeout: (id) => clearTimeout(id as number),
    },
  });
  try {
    await until("six attempts", () => starts.length >= 6, WAIT_MS, () => watcher.health());
  } finally {
    await watcher.stop();
  }
  // 40, 80, 160, 160, 160 ms: "equal jitter" waits at least half of each, here 0.9995 of it.
  const expected = [40, 80, 160, 160, 160];
  assert.deepEqual(delays.slice(0, 5).map(Math.round), expected, `delays ${delays}`);
  // And the watcher did wait them out: a timer never fires early.
  const gaps = starts.slice(1, 6).map((t, i) => t - starts[i]);
  for (const [i, g] of gaps.entries()) {
    assert.ok(g >= delays[i] - 2, `gaps ${gaps.map(Math.round)}, delays ${delays}`);
  }
  assert.equal(watcher.health().consecutiveFailures, 6);
});

Deno.test("stop() during a backoff wait does not wait it out", async () => {
  // At least half an hour of backoff ("equal jitter"), against a ceiling of WAIT_MS.
  const watcher = startIdleWatcher({
    connect: () => Promise.reject(new Error("refused")),
    onNewMail: () => {},
    backoffBaseMs: 60 * 60_000,
    backoffMaxMs: 60 * 60_000,
  });
  await until(
    "backoff",
    () => watcher.health().state === "backoff",
    WAIT_MS,
    () => watcher.health(),
  );
  const stopped = await settlesWithin(watcher.stop(), WAIT_MS);
  assert.ok(
    stopped,
    `stop() still waiting after ${WAIT_MS} ms, in a backoff of 30 minutes or more`,
  );
  assert.equal(watcher.health().state, "stopped");
  assert.equal(watcher.health().lastError, "refused");
});

Deno.test("a mailbox missing on the server is reported without spinning, holds no connection, and is watched once it exists", async () => {
  await ensureMailstack();
  const box = await freshUser("idle");
  const w = wakeups();
  const conn = login(box.user, box.pass);
  let connects = 0;
  const watcher = startIdleWatcher({
    connect: () => {
      connects++;
      return connectIdleSession(conn);
    },
    onNewMail: w.onNewMail,
    mailbox: "Naoexiste",
    backoffBaseMs: 10,
    backoffMaxMs: 10,
    missingRetryMs: 3_000,
    commandTimeoutMs: 30_000,
  });
  try {
    await listening(watcher, "missing");
    const h = watcher.health();
    assert.match(h.lastError ?? "", /"Naoexiste" does not exist on the server/);
    assert.equal(h.mailbox, "Naoexiste");
    // With a 10 ms backoff a spinning watcher would log in dozens of times in a second.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(connects <= 2, `${connects} logins while the mailbox is missing`);
    assert.doesNotMatch(
      await doveadm(["who", "-1", box.user]),
      /imap/,
      "no connection is held meanwhile",
    );
    await doveadm(["mailbox", "create", "-u", box.user, "Naoexiste"]);
    const before = w.seen.length;
    await listening(watcher, "idle");
    await w.next("reconnected", WAIT_MS, before);
  } finally {
    await watcher.stop();
  }
});
