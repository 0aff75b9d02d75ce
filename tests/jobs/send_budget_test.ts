/**
 * Sending within an account's budget, on both databases, into the real Postfix on loopback with a
 * clock the test moves: a budget of 5 a minute lets 5 of 12 replies out, the other 7 wait
 * (`retry`, until the minute frees) and go out as it frees; two drains at once never send more
 * than the budget. A refused login (`535`, from `npm:smtp-server`: Postfix can't refuse on cue)
 * pauses the account until the re-check, and a reply accepted then clears the state.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import { ensureMailstack, freshUser, SMTP } from "../support/mailstack.ts";
import type { Db } from "../../src/store/db.ts";
import { upsertEnvAccount } from "../../src/store/accounts.ts";
import { storeArrival } from "../../src/store/messages.ts";
import { claimDue, enqueueReply } from "../../src/store/outbox.ts";
import { setSendBudget } from "../../src/store/send_budget.ts";
import { drainOutbox, type SendDeps } from "../../src/jobs/send_outbox.ts";
import { createSmtpSender } from "../../src/mail/smtp_sender.ts";
import { createLogger } from "../../src/log.ts";
import { startProviderSmtp } from "../support/provider_smtp.ts";

const T0 = new Date("2026-06-01T10:00:00Z");

async function seed(db: Db, recipient: string, replies: number) {
  const a = await upsertEnvAccount(db, {
    name: "box",
    address: "box@empresa.test",
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: "starttls",
    imapUser: "box",
    mailboxes: ["INBOX"],
  });
  const m = await storeArrival(
    db,
    a.id,
    "INBOX",
    1,
    {
      uid: 1,
      raw: new TextEncoder().encode("Subject: x\r\n\r\nx"),
      sha256: "abc",
      internalDate: null,
    },
    false,
    T0,
  );
  for (let i = 0; i < replies; i++) {
    const key = `${crypto.randomUUID()}-${i}`;
    await enqueueReply(db, {
      dedupKey: key,
      messageId: m.id,
      accountId: a.id,
      ruleName: "ack",
      recipient,
      recipientName: "",
      fromAddress: "box@empresa.test",
      fromName: "",
      subject: `Re: ${i}`,
      text: "ok",
      html: null,
      messageIdHeader: `<carteiro.${key}@empresa.test>`,
      inReplyTo: null,
      references: [],
      headers: { "Auto-Submitted": "auto-replied" },
      deadlineAt: new Date(T0.getTime() + 86_400_000),
    }, T0);
  }
  return a.id;
}

/** A drain into Postfix at the time `clock()` says. */
function drainer(db: Db, clock: () => Date, parallel = 1) {
  const sender = createSmtpSender({
    host: SMTP.host,
    port: SMTP.port,
    secure: false,
    requireTls: false,
    user: null,
    pass: null,
  });
  const deps: SendDeps = {
    db,
    senderFor: () => Promise.resolve(sender),
    now: clock,
    newToken: () => crypto.randomUUID(),
    log: createLogger({ quiet: true }),
    parallel,
  };
  return { drain: () => drainOutbox(deps), close: () => sender.close() };
}

async function statuses(db: Db) {
  return await db.query<{ status: string; n: number; next: Date }>(
    `SELECT status, count(*)::int AS n, max(next_attempt_at) AS next FROM outbox
     GROUP BY status ORDER BY status`,
  );
}

storeTest("a budget of 5 a minute: 5 of 12 go out, 7 wait for the minute", async (db) => {
  await ensureMailstack();
  const ana = await freshUser("ana");
  const accountId = await seed(db, ana.address, 12);
  await setSendBudget(db, accountId, { perMinute: 5, perDay: null });
  let now = T0;
  const s = drainer(db, () => now);
  try {
    const first = await s.drain();
    assert.deepEqual([first.sent, first.waiting, first.failed, first.retry], [5, 7, 0, 0]);
    const after = await statuses(db);
    assert.deepEqual(after.map((r) => [r.status, r.n]), [["retry", 7], ["sent", 5]]);
    // They wait until the minute of the first send is over, not a moment less.
    assert.equal(new Date(after[0].next).getTime(), T0.getTime() + 60_000);
    const [why] = await db.query<{ last_error: string }>(
      "SELECT last_error FROM outbox WHERE status = 'retry' LIMIT 1",
    );
    assert.match(why.last_error, /send budget \(5 a minute\)/);

    now = new Date(T0.getTime() + 30_000);
    const early = await s.drain();
    assert.deepEqual([early.claimed, early.sent], [0, 0], "nothing goes out within the minute");

    now = new Date(T0.getTime() + 60_000);
    const second = await s.drain();
    assert.deepEqual([second.sent, second.waiting], [5, 2]);
    now = new Date(T0.getTime() + 120_000);
    const third = await s.drain();
    assert.deepEqual([third.sent, third.waiting], [2, 0]);
    const end = await statuses(db);
    assert.deepEqual(end.map((r) => [r.status, r.n]), [["sent", 12]]);
    const failed = await db.query("SELECT 1 FROM outbox WHERE attempts > 1");
    assert.equal(failed.length, 0, "a wait for the budget is not an attempt");
  } finally {
    s.close();
  }
});

storeTest("drains at once never send the 6th reply of a budget of 5", async (db) => {
  await ensureMailstack();
  const ana = await freshUser("ana");
  const accountId = await seed(db, ana.address, 12);
  await setSendBudget(db, accountId, { perMinute: 5, perDay: null });
  // Four instances, each claiming up to three rows at a time (three in flight), all at once.
  const drains = [1, 2, 3, 4].map(() => drainer(db, () => T0, 3));
  try {
    const sums = await Promise.all(drains.map((d) => d.drain()));
    const sent = sums.map((x) => x.sent);
    assert.equal(sent.reduce((a, b) => a + b), 5, `sent ${sent.join(" + ")}`);
    const after = await statuses(db);
    assert.deepEqual(after.map((r) => [r.status, r.n]), [["retry", 7], ["sent", 5]]);
  } finally {
    for (const d of drains) d.close();
  }
});

storeTest("replies another sender holds count against the budget until they settle", async (db) => {
  await ensureMailstack();
  const ana = await freshUser("ana");
  const accountId = await seed(db, ana.address, 12);
  await setSendBudget(db, accountId, { perMinute: 5, perDay: null });
  // Another instance claimed 5 and is still sending them.
  const held = await claimDue(db, T0, 300_000, "other-instance", 5);
  assert.equal(held.length, 5);
  const s = drainer(db, () => new Date(T0.getTime() + 1000));
  try {
    const r = await s.drain();
    assert.deepEqual([r.claimed, r.sent, r.waiting], [0, 0, 7]);
  } finally {
    s.close();
  }
});

storeTest("an account with no budget sends everything due", async (db) => {
  await ensureMailstack();
  const ana = await freshUser("ana");
  await seed(db, ana.address, 7);
  const s = drainer(db, () => T0);
  try {
    const r = await s.drain();
    assert.deepEqual([r.sent, r.waiting], [7, 0]);
  } finally {
    s.close();
  }
});

storeTest(
  "a refused login pauses the account until the re-check; a reply accepted clears it",
  async (db) => {
    const provider = await startProviderSmtp({
      refuseLogin: "535 5.7.8 Username and Password not accepted",
    });
    const accountId = await seed(db, "ana@example.test", 3);
    const other = await upsertEnvAccount(db, {
      name: "other",
      address: "other@empresa.test",
      imapHost: "127.0.0.1",
      imapPort: 1143,
      imapTls: "starttls",
      imapUser: "other",
      mailboxes: ["INBOX"],
    });
    await db.query(
      `INSERT INTO outbox (dedup_key, account_id, rule_name, status, recipient, from_address, subject,
       text_body, message_id_header, next_attempt_at, deadline_at, created_at, updated_at)
     VALUES ('other-1', $1, 'ack', 'pending', 'bia@example.test', 'other@empresa.test', 'Re: x',
       'ok', '<carteiro.other-1@empresa.test>', $2::timestamptz, $3::timestamptz, $2::timestamptz,
       $2::timestamptz)`,
      [other.id, T0.toISOString(), new Date(T0.getTime() + 86_400_000).toISOString()],
    );
    const senders = new Map<number, ReturnType<typeof createSmtpSender>>();
    let now = T0;
    const deps: SendDeps = {
      db,
      senderFor: (id) => {
        const open = senders.get(id) ?? createSmtpSender({
          host: "127.0.0.1",
          port: provider.port,
          secure: false,
          requireTls: false,
          user: "box",
          pass: "secret",
          pooled: false,
        });
        senders.set(id, open);
        return Promise.resolve(open);
      },
      now: () => now,
      newToken: () => crypto.randomUUID(),
      log: createLogger({ quiet: true }),
      authRecheckMs: 30 * 60_000,
      forgetSender: (id) => {
        senders.get(id)?.close();
        senders.delete(id);
      },
    };
    const state = async () =>
      (await db.query<{ smtp_auth_failure: string | null }>(
        "SELECT smtp_auth_failure FROM accounts WHERE id = $1",
        [accountId],
      ))[0].smtp_auth_failure;
    try {
      // The other account's reply is first in line and goes through the same refusing server:
      // it is paused too, but on its own, and the first account is tried on its own.
      const first = await drainOutbox(deps);
      assert.deepEqual([first.claimed, first.retry, first.failed, first.sent], [2, 2, 0, 0]);
      assert.match((await state()) ?? "", /535 5\.7\.8/);
      assert.equal(provider.logins, 2, "one login tried per account, not one per reply");

      now = new Date(T0.getTime() + 10 * 60_000);
      assert.equal((await drainOutbox(deps)).claimed, 0, "paused within the re-check interval");

      // The re-check: one reply of each account is tried; still refused, the wait starts over.
      now = new Date(T0.getTime() + 31 * 60_000);
      const recheck = await drainOutbox(deps);
      assert.deepEqual([recheck.claimed, recheck.retry], [2, 2]);
      assert.equal(provider.logins, 4);

      // Fixed at the server: at the next re-check the replies go out and the state clears.
      provider.script.refuseLogin = undefined;
      now = new Date(T0.getTime() + 62 * 60_000);
      const fixed = await drainOutbox(deps);
      assert.deepEqual([fixed.sent, fixed.failed], [4, 0]);
      assert.equal(await state(), null);
      const events = await db.query<{ event: string; account_id: number }>(
        "SELECT event, account_id FROM audit_events WHERE event LIKE 'smtp_auth%' ORDER BY id",
      );
      assert.deepEqual(
        events.filter((e) => e.account_id === accountId).map((e) => e.event),
        ["smtp_auth_failed", "smtp_auth_cleared"],
        "one event per change of state, not one per attempt",
      );
    } finally {
      for (const s of senders.values()) s.close();
      await provider.close();
    }
  },
);
