/**
 * Bounces of our replies, on both databases: a delivery status notification for a reply is tied
 * to its outbox row (`bounced`, with status and diagnostic, and a `reply_bounced` audit row), is
 * itself not answered, and the recipient that hard-bounced is not answered again in the window
 * (`recipient_bounced`); a delay only notes the report.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import { postfixDsn } from "../support/dsn.ts";
import type { Db } from "../../src/store/db.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import { saveParsed, storeArrival } from "../../src/store/messages.ts";
import { replaceRules } from "../../src/store/rule_set.ts";
import { lastHardBounce } from "../../src/store/outbox.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { classify } from "../../src/domain/classifier.ts";
import { parseMessage } from "../../src/mail/parse_message.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { decideStep } from "../../src/jobs/ingest.ts";
import { readAccountContext } from "../../src/jobs/account_context.ts";
import type { ClassifiedMessage } from "../../src/jobs/process_messages.ts";

const T0 = new Date("2026-06-01T10:00:00Z");
const BOX = "box@example.test";

const decide = decideStep({
  policy: DEFAULT_RATE_LIMIT_POLICY,
  sendDeadlineMs: 86_400_000,
  accountContext: (q, id) => readAccountContext(q, id, "UTC"),
  ownAddresses: async (q) => (await listAccounts(q)).map((a) => a.address),
});

async function setup(db: Db) {
  const account = await upsertEnvAccount(db, {
    name: "box",
    address: BOX,
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: "starttls",
    imapUser: "box",
    mailboxes: ["INBOX"],
  });
  await db.query("UPDATE accounts SET connected_at = '2026-01-01T00:00:00Z'");
  const rules = parseRules([{
    name: "ack",
    enabled: true,
    when: {},
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Ok." },
  }]);
  assert.ok(rules.ok);
  await replaceRules(db, rules.rules, T0);
  let uid = 0;
  /** Stores, parses and classifies one message, then runs the decide step on it at `at`. */
  const arrive = async (raw: Uint8Array, at: Date): Promise<number> => {
    const parsed = await parseMessage(raw);
    assert.ok(parsed.ok);
    const sha256 = await sha256Hex(raw);
    const stored = await storeArrival(
      db,
      account.id,
      "INBOX",
      1,
      {
        uid: ++uid,
        raw,
        sha256,
        internalDate: at,
      },
      false,
      at,
    );
    const classification = classify(parsed.email);
    const m: ClassifiedMessage = {
      id: stored.id,
      accountId: account.id,
      email: parsed.email,
      classification,
      sha256,
      internalDate: at,
      collectedAt: at,
    };
    await db.transaction(async (tx) => {
      await saveParsed(tx, m.id, parsed.email, classification, at);
      await decide(tx, [m], at);
    });
    return m.id;
  };
  return { account, arrive };
}

function letter(from: string, subject: string, at: Date) {
  return new TextEncoder().encode(
    `From: <${from}>\r\nTo: ${BOX}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${crypto.randomUUID()}@cliente.test>\r\nDate: ${at.toUTCString()}\r\n\r\nOi\r\n`,
  );
}

/** The reply's header block as the receiving server returns it. */
async function returnedReply(db: Db, outboxId: number) {
  const [r] = await db.query<{ message_id_header: string; subject: string; recipient: string }>(
    "SELECT message_id_header, subject, recipient FROM outbox WHERE id = $1",
    [outboxId],
  );
  return `From: ${BOX}\r\nTo: ${r.recipient}\r\nSubject: ${r.subject}\r\n` +
    `Message-ID: ${r.message_id_header}\r\nAuto-Submitted: auto-replied\r\n\r\nOk.\r\n`;
}

async function decisionOf(db: Db, messageId: number) {
  const [d] = await db.query<{ outcome: string; reason: string | null; detail: string | null }>(
    "SELECT outcome, reason, detail FROM decisions WHERE message_id = $1",
    [messageId],
  );
  return d;
}

storeTest("a hard bounce marks the reply bounced and holds back its recipient", async (db) => {
  const { account, arrive } = await setup(db);
  const first = await arrive(letter("ninguem@cliente.test", "Pedido 1", T0), T0);
  const [row] = await db.query<{ id: number }>("SELECT id FROM outbox WHERE message_id = $1", [
    first,
  ]);
  assert.ok(row, "the first message is answered");
  const outboxId = Number(row.id);
  await db.query("UPDATE outbox SET status = 'sent', sent_at = $2 WHERE id = $1", [
    outboxId,
    T0.toISOString(),
  ]);

  const t1 = new Date(T0.getTime() + 60_000);
  const dsn = await arrive(
    postfixDsn({
      to: BOX,
      recipient: "ninguem@cliente.test",
      returned: await returnedReply(db, outboxId),
    }),
    t1,
  );
  const [bounced] = await db.query<Record<string, unknown>>(
    `SELECT status, dsn_action, dsn_status, dsn_diagnostic, dsn_message_id, dsn_at
     FROM outbox WHERE id = $1`,
    [outboxId],
  );
  assert.deepEqual(
    { ...bounced, dsn_message_id: Number(bounced.dsn_message_id) },
    {
      status: "bounced",
      dsn_action: "failed",
      dsn_status: "5.1.1",
      dsn_diagnostic: "550 5.1.1 <ninguem@cliente.test>: Recipient address rejected: User " +
        "unknown in virtual mailbox table",
      dsn_message_id: dsn,
      dsn_at: t1,
    },
  );
  // The notification is recorded and decided, never answered: the RFC 3834 guard refuses it
  // (Postfix marks its notifications Auto-Submitted, the first thing the guard reads).
  assert.deepEqual(
    { ...await decisionOf(db, dsn), detail: undefined },
    { outcome: "suppressed", reason: "auto_submitted", detail: undefined },
  );
  assert.equal(
    (await db.query("SELECT 1 FROM outbox WHERE message_id = $1", [dsn])).length,
    0,
  );
  const events = await db.query<{ event: string; message_id: number; detail: unknown }>(
    "SELECT event, message_id, detail FROM audit_events WHERE event = 'reply_bounced'",
  );
  assert.deepEqual(events.map((e) => ({ ...e, message_id: Number(e.message_id) })), [{
    event: "reply_bounced",
    message_id: dsn,
    detail: {
      outbox_id: outboxId,
      recipient: "ninguem@cliente.test",
      reply_to_message: first,
      action: "failed",
      status: "5.1.1",
      diagnostic: "550 5.1.1 <ninguem@cliente.test>: Recipient address rejected: User unknown " +
        "in virtual mailbox table",
      matched_by: "returned_message",
    },
  }]);
  assert.deepEqual(await lastHardBounce(db, account.id, "Ninguem@Cliente.test"), t1);

  // A later message from the same address, within the window: not answered.
  const t2 = new Date(t1.getTime() + 3_600_000);
  const again = await arrive(letter("ninguem@cliente.test", "Pedido 2", t2), t2);
  const d = await decisionOf(db, again);
  assert.equal(d.outcome, "suppressed");
  assert.equal(d.reason, "recipient_bounced");
  assert.match(d.detail ?? "", /bounced permanently at 2026-06-01T10:01:00\.000Z/);
  // Another sender is still answered.
  const other = await arrive(letter("ana@cliente.test", "Pedido 3", t2), t2);
  assert.equal((await decisionOf(db, other)).outcome, "reply");

  // The same notification seen again (a second copy) changes nothing and writes no event.
  await arrive(
    postfixDsn({
      to: BOX,
      recipient: "ninguem@cliente.test",
      returned: await returnedReply(db, outboxId),
    }),
    t2,
  );
  const [{ n }] = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE event = 'reply_bounced'",
  );
  assert.equal(n, 1);
  const [after] = await db.query<{ dsn_message_id: number }>(
    "SELECT dsn_message_id FROM outbox WHERE id = $1",
    [outboxId],
  );
  assert.equal(Number(after.dsn_message_id), dsn);
});

storeTest("a delay is only noted; a report about no reply of ours changes nothing", async (db) => {
  const { account, arrive } = await setup(db);
  const first = await arrive(letter("lento@cliente.test", "Pedido 1", T0), T0);
  const [row] = await db.query<{ id: number }>("SELECT id FROM outbox WHERE message_id = $1", [
    first,
  ]);
  const outboxId = Number(row.id);
  await db.query("UPDATE outbox SET status = 'sent' WHERE id = $1", [outboxId]);
  const t1 = new Date(T0.getTime() + 60_000);
  await arrive(
    postfixDsn({
      to: BOX,
      recipient: "lento@cliente.test",
      returned: (await returnedReply(db, outboxId)).split("\r\n\r\n")[0],
      returnedAs: "text/rfc822-headers",
      action: "delayed",
      status: "4.4.1",
      diagnostic: "X-Postfix; connect to mx.cliente.test[192.0.2.1]:25: Connection timed out",
    }),
    t1,
  );
  const [delayed] = await db.query<Record<string, unknown>>(
    "SELECT status, dsn_action, dsn_status, dsn_diagnostic FROM outbox WHERE id = $1",
    [outboxId],
  );
  assert.deepEqual(delayed, {
    status: "sent",
    dsn_action: "delayed",
    dsn_status: "4.4.1",
    dsn_diagnostic: "connect to mx.cliente.test[192.0.2.1]:25: Connection timed out",
  });
  assert.equal(await lastHardBounce(db, account.id, "lento@cliente.test"), null);
  const events = await db.query<{ event: string }>(
    "SELECT event FROM audit_events WHERE event IN ('reply_bounced', 'reply_delayed')",
  );
  assert.deepEqual(events.map((e) => e.event), ["reply_delayed"]);

  // A bounce of a message we never sent (someone's own mail through this mailbox).
  await arrive(
    postfixDsn({
      to: BOX,
      recipient: "x@cliente.test",
      returned: `From: ${BOX}\r\nMessage-ID: <not-ours@example.test>\r\n\r\nOi\r\n`,
    }),
    t1,
  );
  const statuses = await db.query<{ status: string }>("SELECT status FROM outbox ORDER BY id");
  assert.deepEqual(statuses.map((s) => s.status), ["sent"]);
});
