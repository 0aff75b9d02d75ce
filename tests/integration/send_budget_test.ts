/**
 * Sending within provider limits end to end, through the real commands (`collect --once`,
 * `send --once`, `account budget`) with real time: replies past an account's budget wait and go
 * out as it frees, into the real Postfix; a provider's quota answer (`550 5.4.5`) makes replies
 * wait, and a refused login (`535`) puts the account in a state of its own — both given on cue by
 * `npm:smtp-server`, which Postfix can't do.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { runCli } from "../support/cli.ts";
import {
  deliverRaw,
  ensureMailstack,
  freshUser,
  imapConfig,
  mailboxEnv,
} from "../support/mailstack.ts";
import { readInbox } from "../support/mailbox_reader.ts";
import { startProviderSmtp } from "../support/provider_smtp.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";

type Person = Awaited<ReturnType<typeof freshUser>>;

const RULES = [{
  name: "ack",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

async function setup(extraEnv: Record<string, string> = {}) {
  await ensureMailstack();
  const box = await freshUser("box");
  const database = await freshPostgresDatabase();
  const env = {
    ...mailboxEnv(box),
    DATABASE_URL: database.url,
    SEND_LEASE_SECONDS: "60",
    SEND_RETRY_SECONDS: "1",
    ...extraEnv,
  };
  const rulesFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(rulesFile, JSON.stringify(RULES));
  await cli(["rules", "import", rulesFile], env);
  // The first collection connects the account: what is already in the mailbox is history.
  await cli(["collect", "--once"], env);
  const db = openPostgres({ url: database.url, max: 2 });
  return {
    box,
    env,
    db,
    close: async () => {
      await db.close();
      await database.drop();
      await Deno.remove(rulesFile);
    },
  };
}

async function cli(args: string[], env: Record<string, string>) {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `${args.join(" ")} failed:\n${run.stderr}`);
  return run.docs[0] as Record<string, number>;
}

function message(from: Person, to: string, subject: string) {
  return new TextEncoder().encode(
    `From: <${from.address}>\r\nTo: ${to}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nOi.\r\n`,
  );
}

type Db = ReturnType<typeof openPostgres>;

async function rows(db: Db) {
  return (await db.query<{
    status: string;
    sent_at: Date | null;
    next_attempt_at: Date;
    last_error: string | null;
    message_id_header: string;
  }>(
    `SELECT status, sent_at, next_attempt_at, last_error, message_id_header FROM outbox
     ORDER BY id`,
  )).map((r) => ({
    ...r,
    sent_at: r.sent_at && new Date(r.sent_at),
    next_attempt_at: new Date(r.next_attempt_at),
  }));
}

const count = (rs: Array<{ status: string }>, status: string) =>
  rs.filter((r) => r.status === status).length;

/** Sleeps until `at` (plus a little, for the clocks of two processes). */
async function sleepUntil(at: Date) {
  const ms = at.getTime() - Date.now() + 1500;
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

Deno.test("a budget of 5 a minute: 5 of 12 replies go out, 7 wait and go out as it frees", async () => {
  // One reply at a time, so that the replies wait from the first send's own time: a reply still
  // being sent counts from its claim (tests/jobs/send_budget_test.ts drains several at once).
  const t = await setup({ SEND_PARALLEL: "1" });
  const people = await Promise.all(Array.from({ length: 12 }, () => freshUser("fila")));
  try {
    const set = await cli(["account", "budget", t.box.address, "--per-minute", "5"], t.env);
    assert.deepEqual(set.send_budget, { per_minute: 5, per_day: null });
    await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Pedido ${i}`)));
    assert.equal((await cli(["collect", "--once"], t.env)).stored, 12);

    // `waiting` counts each move of a row to a later time: with replies sent in parallel
    // (SEND_PARALLEL) a row may be moved once more by a second sender that counted a later end.
    const first = await cli(["send", "--once"], t.env);
    assert.deepEqual([first.sent, first.failed], [5, 0]);
    assert.ok(first.waiting >= 7, `${first.waiting} moved to later`);
    let now = await rows(t.db);
    assert.deepEqual([count(now, "sent"), count(now, "retry")], [5, 7]);
    const firstSent = now.filter((r) => r.sent_at).map((r) => r.sent_at!.getTime());
    for (const r of now.filter((r) => r.status === "retry")) {
      // Each waits for the minute of the first send to end: not sooner, and not much later.
      assert.equal(r.next_attempt_at.getTime(), Math.min(...firstSent) + 60_000);
      assert.match(r.last_error ?? "", /send budget \(5 a minute\)/);
    }
    // Within the minute nothing more goes out.
    assert.equal((await cli(["send", "--once"], t.env)).sent, 0);

    await sleepUntil(new Date(Math.max(...firstSent) + 60_000));
    const second = await cli(["send", "--once"], t.env);
    assert.equal(second.sent, 5);
    assert.ok(second.waiting >= 2, `${second.waiting} moved to later`);
    now = await rows(t.db);
    const secondSent = now.filter((r) => r.sent_at).map((r) => r.sent_at!.getTime())
      .filter((s) => !firstSent.includes(s));
    await sleepUntil(new Date(Math.max(...secondSent) + 60_000));
    const third = await cli(["send", "--once"], t.env);
    assert.deepEqual([third.sent, third.waiting], [2, 0]);

    now = await rows(t.db);
    assert.equal(count(now, "sent"), 12);
    // No minute ever held more than 5 sends.
    const times = now.map((r) => r.sent_at!.getTime()).sort((a, b) => a - b);
    for (const start of times) {
      const inMinute = times.filter((s) => s >= start && s < start + 60_000).length;
      assert.ok(inMinute <= 5, `${inMinute} sends in the minute from ${new Date(start)}`);
    }
    // Each reply reached its person once.
    const seen = new Map<string, number>();
    for (const p of people) {
      for (const m of await readInbox(imapConfig(p.user, p.pass))) {
        seen.set(m.email.messageId ?? "", (seen.get(m.email.messageId ?? "") ?? 0) + 1);
      }
    }
    assert.deepEqual(now.map((r) => seen.get(r.message_id_header) ?? 0), now.map(() => 1));
  } finally {
    await t.close();
  }
});

Deno.test("a quota answer (550 5.4.5) makes the account's replies wait, never fail", async () => {
  const provider = await startProviderSmtp({
    mailFrom:
      "550 5.4.5 Daily user sending quota exceeded. https://support.google.com/mail/?p=ReachedLimit",
  });
  const t = await setup({ SMTP_PORT: String(provider.port) });
  const people = await Promise.all([0, 1].map(() => freshUser("cota")));
  try {
    await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Cota ${i}`)));
    await cli(["collect", "--once"], t.env);
    const started = Date.now();
    const sent = await cli(["send", "--once"], t.env);
    // The first reply met the quota answer; one the drain held beside it (replies go out in
    // parallel) got the same answer without trying.
    assert.deepEqual([sent.retry, sent.failed], [sent.claimed, 0]);
    assert.ok(sent.claimed >= 1, "a reply was tried");
    const now = await rows(t.db);
    assert.deepEqual(now.map((r) => r.status), ["retry", "retry"]);
    for (const r of now) {
      // A daily quota: an hour, for both replies, the one not tried too.
      const wait = r.next_attempt_at.getTime() - started;
      assert.ok(wait > 50 * 60_000 && wait < 70 * 60_000, `waits ${wait} ms`);
    }
    assert.match(now[0].last_error ?? "", /5\.4\.5/);
    assert.equal(provider.accepted, 0);
    const stats = (await runCli(["stats"], t.env)).docs[0] as {
      accounts: Array<{ smtp_auth_failure: unknown }>;
    };
    assert.equal(stats.accounts[0].smtp_auth_failure, null, "a quota is not a login problem");
  } finally {
    await t.close();
    await provider.close();
  }
});

Deno.test("a refused login (535) marks the account; its replies wait until it is edited", async () => {
  const provider = await startProviderSmtp({
    refuseLogin: "535 5.7.8 Username and Password not accepted",
  });
  const t = await setup({
    SMTP_PORT: String(provider.port),
    SMTP_AUTH: "true",
    SMTP_USER: "box",
    SMTP_PASS: "wrong",
  });
  const people = await Promise.all([0, 1, 2].map(() => freshUser("auth")));
  try {
    await deliverRaw(t.box.user, people.map((p, i) => message(p, t.box.address, `Login ${i}`)));
    await cli(["collect", "--once"], t.env);
    const first = await cli(["send", "--once"], t.env);
    // One login tried: the replies held beside the first (replies go out in parallel) got its
    // answer without logging in, and the others were not taken one by one to fail the same way.
    assert.deepEqual([first.retry, first.failed], [first.claimed, 0]);
    assert.ok(first.claimed >= 1 && first.claimed <= 3, `${first.claimed} claimed`);
    assert.equal(provider.logins, 1);
    let now = await rows(t.db);
    assert.equal(count(now, "failed"), 0);
    assert.equal(count(now, "sent"), 0);
    const [account] = await t.db.query<{ smtp_auth_failure: string | null }>(
      "SELECT smtp_auth_failure FROM accounts",
    );
    assert.match(account.smtp_auth_failure ?? "", /535/);
    const stats = (await runCli(["stats"], t.env)).docs[0] as {
      accounts: Array<{ smtp_auth_failure: { error: string } | null }>;
    };
    assert.match(stats.accounts[0].smtp_auth_failure?.error ?? "", /535 5\.7\.8/);

    // Paused: another drain tries nothing.
    const again = await cli(["send", "--once"], t.env);
    assert.equal(again.claimed, 0);
    assert.equal(provider.logins, 1);

    // The login works again and a person edits the account: the replies go out.
    provider.script.refuseLogin = undefined;
    await cli(["account", "budget", t.box.address, "--default"], t.env);
    const after = await cli(["send", "--once"], t.env);
    assert.deepEqual([after.sent, after.failed], [3, 0]);
    now = await rows(t.db);
    assert.equal(count(now, "sent"), 3);
    const events = await t.db.query<{ event: string; detail: { reason?: string } }>(
      `SELECT event, detail FROM audit_events WHERE event LIKE 'smtp_auth%' ORDER BY id`,
    );
    assert.deepEqual(events.map((e) => [e.event, e.detail.reason ?? null]), [
      ["smtp_auth_failed", null],
      ["smtp_auth_cleared", "account_edited"],
    ]);
  } finally {
    await t.close();
    await provider.close();
  }
});
