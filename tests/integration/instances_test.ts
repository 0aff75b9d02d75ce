/**
 * Several instances: three full services (cron, IMAP IDLE, web) on one PostgreSQL database and
 * one mailbox, under a steady stream of mail submitted to Postfix. One instance dies mid-work,
 * in one of two ways:
 *
 * - `after_accept`: the CARTEIRO_KILL_AT failpoint ends it with SIGKILL right after the SMTP
 *   server accepted a reply, before the row is settled. That row must end `unknown` once its
 *   lease has run out, its reply delivered once and never sent again.
 * - `holding_lock`: a plain SIGKILL the moment it is seen holding the account's collect lock.
 *   The server must release the lock with the dead sessions, and the others take over.
 *
 * Either way every message is stored and parsed once, every reply sent once, collections never
 * overlap, the survivors answer what comes after the kill and stop cleanly on SIGTERM.
 *
 * For the test only, the database gets triggers (table test_trail) that write which instance
 * stored and parsed each message, with the sessions that held the account's collect lock at that
 * moment, and every status change of the outbox with the instance that made it. Each instance
 * connects with its own application_name to be told apart.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import { ensureMailstack, freshUser, imapConfig, mailboxEnv } from "../support/mailstack.ts";
import { readInbox } from "../support/mailbox_reader.ts";
import { smtpSubmitter } from "../support/smtp_submit.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { LockNamespace } from "../../src/store/db.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * Messages in the stream; two in five are automated mail, never answered, which keeps the replies
 * (29) under the account's loop breaker (120 in 10 minutes, DEFAULT_RATE_LIMIT_POLICY).
 */
const MESSAGES = 48;
/**
 * Short enough to expire within the stream that follows the kill; long enough that a healthy
 * send on loopback never outlives its lease.
 */
const LEASE_SECONDS = 4;
/** Replies each instance sends at once (the service's default): a dead one leaves at most this many. */
const SEND_PARALLEL = 4;

type KillPlan = "after_accept" | "holding_lock";

/**
 * `from`: the `holding_lock` kill is looked for once this many messages went out: first for a
 * moment when the instance holds the lock with messages stored but not parsed yet, after 8 more
 * messages for any moment it holds the lock. `by`: the instance is killed plainly if still alive
 * then (with the failpoint: it has sent nothing yet), leaving enough of the stream to let its
 * lease expire and to show that the survivors go on.
 */
const KILL_WINDOW: Record<KillPlan, { from: number; by: number }> = {
  after_accept: { from: 0, by: 16 },
  holding_lock: { from: 10, by: 28 },
};

const RULES = [{
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: {
    to: "sender",
    subject: "Re: {{subject}}",
    text: "Olá {{from_name}}, recebemos sua mensagem.",
  },
}];

/** Automated mail (RFC 3834 §2), with the reason its reply must be suppressed. */
const AUTOMATED: Array<[string, string]> = [
  ["auto_submitted", "Auto-Submitted: auto-generated\r\n"],
  ["precedence", "Precedence: bulk\r\n"],
  ["list", "List-Id: Avisos <avisos.example.test>\r\n"],
  ["auto_response_suppress", "X-Auto-Response-Suppress: OOF, AutoReply\r\n"],
];

/** Sessions of this database holding the collect lock of an account, by application_name. */
const COLLECT_LOCK_HOLDERS = `
  SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ${LockNamespace.collect} AND l.objsubid = 2`;

const TRAIL = `
CREATE TABLE test_trail (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  app text NOT NULL DEFAULT current_setting('application_name'),
  what text NOT NULL,
  row_id bigint NOT NULL,
  old_status text,
  new_status text,
  lock_holders text[]
);
CREATE FUNCTION test_trail_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO test_trail (what, row_id, old_status, new_status, lock_holders)
  VALUES (CASE WHEN TG_OP = 'INSERT' THEN 'stored' ELSE 'parsed' END, NEW.id,
    CASE WHEN TG_OP = 'UPDATE' THEN OLD.parse_status END, NEW.parse_status,
    ARRAY(${COLLECT_LOCK_HOLDERS} AND l.objid = NEW.account_id));
  RETURN NULL;
END $$;
CREATE TRIGGER test_trail_message AFTER INSERT OR UPDATE OF parse_status ON messages
  FOR EACH ROW EXECUTE FUNCTION test_trail_message();
CREATE FUNCTION test_trail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO test_trail (what, row_id, old_status, new_status)
  VALUES ('outbox', NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
  RETURN NULL;
END $$;
CREATE TRIGGER test_trail_outbox AFTER INSERT OR UPDATE OF status ON outbox
  FOR EACH ROW EXECUTE FUNCTION test_trail_outbox();
`;

type Person = Awaited<ReturnType<typeof freshUser>>;

interface Incoming {
  index: number;
  messageId: string;
  sender: Person;
  /** The reason its reply is suppressed, for automated mail; null for a person's message. */
  automated: string | null;
  raw: Uint8Array;
  submittedAt: number;
}

/** Messages 2 and 4 of every five are automated, each kind of AUTOMATED in turn. */
function automatedKind(index: number): [string, string] | null {
  if (index % 5 !== 2 && index % 5 !== 4) return null;
  const nth = Math.floor(index / 5) * 2 + (index % 5 === 4 ? 1 : 0);
  return AUTOMATED[nth % AUTOMATED.length];
}

function incoming(index: number, sender: Person, box: Person, run: string): Incoming {
  const [reason, header] = automatedKind(index) ?? [null, ""];
  const messageId = `<stream-${run}-${index}@cliente.example.test>`;
  const raw = new TextEncoder().encode(
    `From: Remetente ${index} <${sender.address}>\r\nTo: <${box.address}>\r\n` +
      `Subject: Pedido ${index}\r\nMessage-ID: ${messageId}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n${header}MIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOlá, sobre o pedido ${index}.\r\n`,
  );
  return { index, messageId, sender, automated: reason, raw, submittedAt: 0 };
}

interface Instance {
  name: string;
  /** The application_name of its database sessions. */
  app: string;
  port: number;
  child: Deno.ChildProcess;
  /** Everything the process printed so far, stdout and stderr. */
  logs(): string;
  exit: { status: Deno.CommandStatus; at: number } | null;
  /** Resolves once the process has exited and its output is read. */
  done: Promise<Deno.CommandStatus>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The URL with `application_name`, which names the instance's sessions in pg_stat_activity. */
function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
}

/** Starts the real service (`main.ts`, cron + IDLE + web) as a process of its own. */
function startInstance(name: string, env: Record<string, string>): Instance {
  const port = freePort();
  const app = `carteiro-${name}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-cron", MAIN],
    cwd: ROOT,
    env: {
      ...env,
      // The same database; only the name the instance's sessions go by differs.
      DATABASE_URL: withApplicationName(env.DATABASE_URL, app),
      HOST: "127.0.0.1",
      PORT: String(port),
      NO_COLOR: "1",
    },
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
  const instance: Instance = {
    name,
    app,
    port,
    child,
    logs: () => text,
    exit: null,
    done: child.status.then(async (status) => {
      instance.exit = { status, at: Date.now() };
      await pumps;
      return status;
    }),
  };
  return instance;
}

async function healthz(instance: Instance): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${instance.port}/healthz`);
  const body = await res.json();
  return { code: res.status, ...body };
}

/** Waits until the instance answers /healthz, and returns what it said. */
async function waitServing(instance: Instance): Promise<unknown> {
  const deadline = Date.now() + 60_000;
  while (true) {
    if (instance.exit) {
      await instance.done;
      throw new Error(
        `instance ${instance.name} exited (code ${instance.exit.status.code}) before serving:\n` +
          instance.logs(),
      );
    }
    try {
      return await healthz(instance);
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `instance ${instance.name} did not answer /healthz in 60 s:\n${instance.logs()}`,
      );
    }
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` with `describe()`. */
async function waitFor<T>(
  probe: () => Promise<T | null>,
  timeoutMs: number,
  describe: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) {
      throw new Error(`gave up after ${timeoutMs} ms: ${await describe()}`);
    }
    await sleep(250);
  }
}

/** The Message-IDs in each person's INBOX, by address. */
async function repliesBySender(people: Person[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < people.length; i += 8) {
    await Promise.all(
      people.slice(i, i + 8).map(async (p) => {
        const inbox = await readInbox(imapConfig(p.user, p.pass));
        out.set(p.address, inbox.map((m) => m.email.messageId ?? "(no Message-ID)"));
      }),
    );
  }
  return out;
}

type Db = ReturnType<typeof openPostgres>;

async function dbState(db: Db): Promise<string> {
  const [state] = await db.query(
    `SELECT (SELECT count(*)::int FROM messages) AS stored,
       (SELECT count(*)::int FROM messages WHERE parse_status = 'pending') AS pending,
       (SELECT count(*)::int FROM decisions) AS decided,
       (SELECT json_object_agg(status, n) FROM
         (SELECT status, count(*)::int AS n FROM outbox GROUP BY status) s) AS outbox`,
  );
  return JSON.stringify(state);
}

/**
 * Whether the instance holds the collect lock now, and how many messages it stored are still
 * unparsed (stored in one commit, parsed in the next, both under the lock).
 */
async function collectorState(db: Db, app: string): Promise<{ held: boolean; unparsed: number }> {
  const [state] = await db.query<{ held: boolean; unparsed: number }>(
    `SELECT EXISTS (${COLLECT_LOCK_HOLDERS} AND a.application_name = $1) AS held,
       (SELECT count(*)::int FROM messages m
        JOIN test_trail t ON t.what = 'stored' AND t.row_id = m.id
        WHERE t.app = $1 AND m.parse_status = 'pending') AS unparsed`,
    [app],
  );
  return state;
}

type TrailRow = {
  at: Date;
  app: string;
  what: "stored" | "parsed" | "outbox";
  row_id: number;
  old_status: string | null;
  new_status: string | null;
  lock_holders: string[] | null;
};

async function scenario(plan: KillPlan) {
  const started = Date.now();
  await ensureMailstack();
  const run = crypto.randomUUID().slice(0, 8);
  const [box, database] = await Promise.all([freshUser("multi"), freshPostgresDatabase()]);
  const senders = await Promise.all(Array.from({ length: MESSAGES }, () => freshUser("from")));
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  const db = openPostgres({ url: database.url, max: 3 });
  const submitter = smtpSubmitter();
  const instances: Instance[] = [];
  let passed = false;
  try {
    const env = {
      // Inherited values must not choose for the test.
      CARTEIRO_MODE: "server",
      DENO_DEPLOYMENT_ID: "",
      DATA_DIR: "",
      CARTEIRO_KILL_AT: "",
      ...mailboxEnv(box),
      DATABASE_URL: database.url,
      SEND_LEASE_SECONDS: String(LEASE_SECONDS),
      SEND_RETRY_SECONDS: "1",
      SEND_PARALLEL: String(SEND_PARALLEL),
    };
    await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
    const imported = await runCli(["rules", "import", rulesFile], env);
    assert.equal(imported.code, 0, imported.stderr);
    // The first collection connects the account: mail from now on is answered.
    const connected = await runCli(["collect", "--once"], env);
    assert.equal(connected.code, 0, connected.stderr);
    await db.exec(TRAIL);

    // c starts first and is serving before the others start: it takes the mailbox's IDLE lease,
    // so the mail streamed below wakes c, which collects it (and may be caught at it), and c's
    // death hands the lease and the collecting to a or b.
    const c = startInstance(
      "c",
      plan === "after_accept" ? { ...env, CARTEIRO_KILL_AT: plan } : env,
    );
    instances.push(c);
    assert.deepEqual(await waitServing(c), {
      code: 200,
      status: "ok",
      database: "postgres",
    }, "instance c");
    await waitFor(
      async () => {
        const rows = await db.query<{ holder: string }>("SELECT holder FROM idle_leases");
        return rows.some((r) => r.holder.endsWith(`:${c.child.pid}`)) ? true : null;
      },
      60_000,
      async () =>
        `instance c never took the IDLE lease: ${
          JSON.stringify(await db.query("SELECT * FROM idle_leases"))
        }\n${c.logs()}`,
    );
    const a = startInstance("a", env);
    const b = startInstance("b", env);
    instances.push(a, b);
    for (const instance of instances) {
      assert.deepEqual(await waitServing(instance), {
        code: 200,
        status: "ok",
        database: "postgres",
      }, `instance ${instance.name}`);
    }
    const ready = Date.now();

    // The stream, one message every 150–300 ms, each from its own sender; meanwhile instance c
    // is watched and killed as the plan says.
    const stream: Incoming[] = [];
    let killedByTest: string | null = null;
    const killC = (how: string) => {
      killedByTest = how;
      try {
        c.child.kill("SIGKILL");
      } catch {
        // it died by the failpoint just now
      }
    };
    const window = KILL_WINDOW[plan];
    let streaming = true;
    const killer = (async () => {
      while (!c.exit && streaming) {
        const due = stream.length >= window.from;
        const state = plan === "holding_lock" && due ? await collectorState(db, c.app) : null;
        if (stream.length >= window.by) {
          killC(`a plain SIGKILL after message ${stream.length}`);
        } else if (state?.held && state.unparsed > 0) {
          killC(
            `a SIGKILL while holding the collect lock with ${state.unparsed} message(s) stored ` +
              `but not parsed yet, after message ${stream.length}`,
          );
        } else if (state?.held && stream.length >= window.from + 8) {
          killC(`a SIGKILL while holding the collect lock, after message ${stream.length}`);
        } else {
          await sleep(5);
          continue;
        }
        await c.done;
      }
    })();
    for (let i = 0; i < MESSAGES; i++) {
      const m = incoming(i, senders[i], box, run);
      await submitter.submit({ from: m.sender.address, to: box.address }, m.raw);
      m.submittedAt = Date.now();
      stream.push(m);
      await sleep(150 + Math.random() * 150);
    }
    streaming = false;
    await killer;
    const streamed = Date.now();
    assert.ok(c.exit, "instance c is dead");
    assert.equal(c.exit.status.signal, "SIGKILL", `instance c ended by SIGKILL:\n${c.logs()}`);
    const failpointFired = plan === "after_accept" && killedByTest === null;
    if (plan === "holding_lock") {
      assert.match(killedByTest ?? "", /holding the collect lock/, "c was caught holding the lock");
    }
    for (const survivor of [a, b]) {
      assert.equal(
        survivor.exit,
        null,
        `instance ${survivor.name} still runs:\n${survivor.logs()}`,
      );
    }
    // Nothing of the dead instance stays in the database: no session, so no lock.
    await waitFor(
      async () => {
        const rows = await db.query(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
          [
            c.app,
          ],
        );
        return rows.length === 0 ? true : null;
      },
      60_000,
      () => Promise.resolve("sessions of instance c are still open"),
    );

    // Settled: every message stored, parsed and decided, and no outbox row left in flight (the
    // dead instance's `sending` row is turned `unknown` once its lease has run out).
    await waitFor(
      async () => {
        const [s] = await db.query<
          { stored: number; pending: number; decided: number; open: number }
        >(
          `SELECT (SELECT count(*)::int FROM messages) AS stored,
           (SELECT count(*)::int FROM messages WHERE parse_status = 'pending') AS pending,
           (SELECT count(*)::int FROM decisions) AS decided,
           (SELECT count(*)::int FROM outbox WHERE status IN ('pending', 'sending', 'retry')) AS open`,
        );
        return s.stored >= MESSAGES && s.pending === 0 && s.decided >= s.stored && s.open === 0
          ? s
          : null;
      },
      100_000,
      () => dbState(db),
    );
    const settled = Date.now();

    // Every Message-ID stored exactly once, and nothing else.
    const stored = await db.query<{ id: number; message_id: string }>(
      "SELECT id, message_id FROM messages ORDER BY id",
    );
    const storedCount = new Map<string, number>();
    for (const r of stored) storedCount.set(r.message_id, (storedCount.get(r.message_id) ?? 0) + 1);
    assert.deepEqual(
      stream.map((m) => [m.messageId, storedCount.get(m.messageId) ?? 0]),
      stream.map((m) => [m.messageId, 1]),
    );
    assert.equal(stored.length, MESSAGES);
    const idOf = new Map(stored.map((r) => [r.message_id, r.id]));

    // What the rules decided: a reply for people, a suppression (with its reason) for robots.
    const decisions = await db.query<
      { message_id: number; outcome: string; reason: string | null }
    >(
      "SELECT message_id, outcome, reason FROM decisions",
    );
    const decisionOf = new Map(decisions.map((d) => [d.message_id, d]));
    for (const m of stream) {
      const d = decisionOf.get(idOf.get(m.messageId)!);
      assert.deepEqual(
        [d?.outcome, d?.reason ?? null],
        m.automated ? ["suppressed", m.automated] : ["reply", null],
        `message ${m.index}`,
      );
    }

    // At most one outbox row per message; all sent but the one the dead instance may have held.
    const rows = await db.query<{
      id: number;
      message_id: number;
      status: string;
      recipient: string;
      attempts: number;
      message_id_header: string;
      dedup_key: string;
    }>(
      `SELECT id, message_id, status, recipient, attempts, message_id_header, dedup_key
       FROM outbox ORDER BY id`,
    );
    const answerable = stream.filter((m) => !m.automated);
    assert.deepEqual(
      rows.map((r) => r.message_id).sort((x, y) => x - y),
      answerable.map((m) => idOf.get(m.messageId)!).sort((x, y) => x - y),
      "one outbox row for each person's message, none for automated mail",
    );
    assert.ok(rows.every((r) => r.attempts === 1), "no row was claimed twice");
    const unknown = rows.filter((r) => r.status === "unknown");
    // The dead instance held at most one row per reply it was sending in parallel.
    assert.ok(
      unknown.length <= SEND_PARALLEL,
      `at most ${SEND_PARALLEL} unknown rows: ${JSON.stringify(unknown)}`,
    );
    assert.equal(rows.filter((r) => r.status === "sent").length, rows.length - unknown.length);
    if (failpointFired) assert.ok(unknown.length >= 1, "c died holding a row it had sent");
    const [breakers] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM reply_breakers",
    );
    assert.equal(breakers.n, 0, "the stream stays under the account's loop breaker");

    // Who did what, from the triggers.
    const trail = await db.query<TrailRow>(
      `SELECT at, app, what, row_id, old_status, new_status, lock_holders
       FROM test_trail ORDER BY id`,
    );
    for (const what of ["stored", "parsed"] as const) {
      const events = trail.filter((t) => t.what === what);
      assert.deepEqual(
        events.map((t) => t.row_id).sort((x, y) => x - y),
        stored.map((r) => r.id),
        `each message ${what} once`,
      );
      for (const t of events) {
        // The lock is held by one session at a time, and here by the instance doing the work:
        // two instances never collect the account at once.
        assert.deepEqual(t.lock_holders, [t.app], `message ${t.row_id} ${what} by ${t.app}`);
      }
    }
    assert.ok(
      trail.filter((t) => t.what === "parsed").every((t) => t.new_status === "parsed"),
      "every message parsed",
    );
    const transitions = new Map<number, TrailRow[]>();
    for (const t of trail.filter((t) => t.what === "outbox")) {
      transitions.set(t.row_id, [...(transitions.get(t.row_id) ?? []), t]);
    }
    for (const r of rows) {
      const path = (transitions.get(r.id) ?? []).map((t) => t.new_status);
      assert.deepEqual(path, ["pending", "sending", r.status], `outbox row ${r.id}`);
    }
    for (const row of unknown) {
      const [, claim, expiry] = transitions.get(row.id)!;
      assert.equal(claim.app, c.app, "only the dead instance's rows are left unknown");
      assert.notEqual(expiry.app, c.app);
      assert.ok(
        expiry.at.getTime() >= claim.at.getTime() + LEASE_SECONDS * 1000,
        "it turned unknown only after its lease ran out",
      );
    }

    // The audit log: one `collected` per message, one `enqueued` per dedup key, one outcome each.
    const audit = await db.query<
      { event: string; message_id: number | null; dedup: string | null }
    >(
      "SELECT event, message_id, detail->>'dedup_key' AS dedup FROM audit_events ORDER BY id",
    );
    const events = (name: string) => audit.filter((e) => e.event === name);
    assert.deepEqual(
      events("collected").map((e) => e.message_id).sort((x, y) => x! - y!),
      stored.map((r) => r.id),
      "one collected event per stored message",
    );
    assert.deepEqual(
      events("enqueued").map((e) => e.dedup).sort(),
      rows.map((r) => r.dedup_key).sort(),
      "one enqueued event per dedup key",
    );
    assert.equal(events("sent").length, rows.length - unknown.length);
    assert.equal(events("send_unknown").length, unknown.length);
    const troubles = audit.filter((e) =>
      ["claim_lost", "collect_failed", "send_retry", "send_failed"].includes(e.event)
    );
    assert.deepEqual(troubles, [], "no lost claim, failed collection or failed send");

    // Each person's INBOX: one reply per `sent` row, at most one for an unknown row (and for one
    // of them exactly one when the failpoint killed after the server accepted it; the others the
    // dead instance held beside it may or may not have gone out), none for robots, never two.
    const expectedMin = new Map<string, number>();
    for (const r of rows) {
      expectedMin.set(
        r.recipient,
        (expectedMin.get(r.recipient) ?? 0) + (r.status === "sent" ? 1 : 0),
      );
    }
    const unknownArrived = (got: Map<string, string[]>) =>
      unknown.filter((r) => (got.get(r.recipient) ?? []).includes(r.message_id_header)).length;
    await waitFor(
      async () => {
        const got = await repliesBySender(answerable.map((m) => m.sender));
        return [...expectedMin].every(([addr, n]) => (got.get(addr)?.length ?? 0) >= n) &&
            (!failpointFired || unknownArrived(got) >= 1)
          ? got
          : null;
      },
      60_000,
      async () => JSON.stringify([...await repliesBySender(senders)]),
    );
    await sleep(1500); // a late second copy would show now
    const replies = await repliesBySender(senders);
    for (const m of stream) {
      const got = replies.get(m.sender.address) ?? [];
      const row = rows.find((r) => r.message_id === idOf.get(m.messageId));
      if (!row) {
        assert.deepEqual(got, [], `no reply to automated message ${m.index}`);
      } else if (row.status === "sent") {
        assert.deepEqual(got, [row.message_id_header], `one reply to message ${m.index}`);
      } else {
        assert.ok(
          got.length <= 1 && got.every((id) => id === row.message_id_header),
          `message ${m.index}: its unknown reply arrived at most once: ${got}`,
        );
      }
    }
    if (failpointFired) {
      assert.ok(unknownArrived(replies) >= 1, "the reply accepted just before the kill arrived");
    }

    // The survivors kept working: what came after the kill is answered, by them.
    const killedAt = c.exit.at;
    const after = answerable.filter((m) => m.submittedAt > killedAt);
    assert.ok(after.length >= 5, `${after.length} messages to answer came after the kill`);
    for (const m of after) {
      const row = rows.find((r) => r.message_id === idOf.get(m.messageId))!;
      assert.equal(row.status, "sent", `message ${m.index}, sent after the kill, is answered`);
      const sentBy = transitions.get(row.id)!.find((t) => t.new_status === "sent")!.app;
      assert.ok([a.app, b.app].includes(sentBy));
    }
    for (const survivor of [a, b]) {
      assert.deepEqual(await healthz(survivor), { code: 200, status: "ok", database: "postgres" });
    }

    // Who handled what.
    const count = (app: string, pred: (t: TrailRow) => boolean) =>
      trail.filter((t) => t.app === app && pred(t)).length;
    const storedByC = new Set(
      trail.filter((t) => t.what === "stored" && t.app === c.app).map((t) => t.row_id),
    );
    const finishedForC = trail.filter((t) =>
      t.what === "parsed" && storedByC.has(t.row_id) && t.app !== c.app
    ).length;
    const killedIndex = stream.findIndex((m) => m.submittedAt > killedAt);
    const storeLag = trail.filter((t) => t.what === "stored").map((t) => {
      const m = stream.find((s) => idOf.get(s.messageId) === t.row_id)!;
      return t.at.getTime() - m.submittedAt;
    });
    console.log(
      `[${plan}] ${
        instances.map((i) =>
          `${i.name}: stored ${count(i.app, (t) => t.what === "stored")}, parsed ${
            count(i.app, (t) => t.what === "parsed")
          }, enqueued ${count(i.app, (t) => t.what === "outbox" && t.old_status === null)}, sent ${
            count(i.app, (t) => t.what === "outbox" && t.new_status === "sent")
          }, expired ${count(i.app, (t) => t.what === "outbox" && t.new_status === "unknown")}`
        ).join("; ")
      }.\n  c died by ${killedByTest ?? "the after_accept failpoint"}; ${MESSAGES - killedIndex} ` +
        `of ${MESSAGES} messages came after; ${finishedForC} message(s) it stored were parsed by ` +
        `the others; ${unknown.length} row unknown. Slowest arrival to store: ` +
        `${Math.max(...storeLag)} ms. Setup ${ready - started} ms, stream ${
          streamed - ready
        } ms, ` +
        `settle ${settled - streamed} ms.`,
    );

    // The survivors stop cleanly on SIGTERM.
    for (const survivor of [a, b]) survivor.child.kill("SIGTERM");
    for (const survivor of [a, b]) {
      const status = await Promise.race([survivor.done, sleep(60_000).then(() => null)]);
      assert.ok(status, `instance ${survivor.name} stopped within 60 s of SIGTERM`);
      assert.deepEqual(
        [status.code, status.signal],
        [0, null],
        `instance ${survivor.name} exits 0:\n${survivor.logs()}`,
      );
    }
    passed = true;
  } finally {
    for (const instance of instances) {
      if (!instance.exit) {
        try {
          instance.child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      await instance.done;
      if (!passed) console.error(`--- instance ${instance.name} output ---\n${instance.logs()}`);
    }
    submitter.close();
    await db.close();
    await database.drop();
    await Deno.remove(rulesFile);
  }
}

Deno.test("three instances, one killed by the failpoint right after SMTP accepted its reply: stored once, sent once, its row unknown and never re-sent", async () => {
  await scenario("after_accept");
});

Deno.test("three instances, one killed while holding the collect lock: the lock is released, the others take over, nothing stored or sent twice", async () => {
  await scenario("holding_lock");
});
