/**
 * The never-answer list decides: with the real account context (src/jobs/account_context.ts),
 * the reply step and a real database, a message from a listed sender is `suppressed` with the
 * reason `never_answer` while another sender's is answered.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import { saveParsed, storeArrival } from "../../src/store/messages.ts";
import { replaceRules } from "../../src/store/rule_set.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { parseMessage } from "../../src/mail/parse_message.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { replyStep } from "../../src/jobs/reply_step.ts";
import { rerunRules } from "../../src/jobs/rerun_rules.ts";
import { readAccountContext } from "../../src/jobs/account_context.ts";
import { addNeverAnswer } from "../../src/actions/never_answer.ts";

const T0 = new Date("2026-06-01T10:00:00Z");

const step = replyStep({
  policy: DEFAULT_RATE_LIMIT_POLICY,
  sendDeadlineMs: 86_400_000,
  accountContext: (q, id) => readAccountContext(q, id, "UTC"),
  ownAddresses: async (q) => (await listAccounts(q)).map((a) => a.address),
});

/** Stores and classifies a direct message from `from`; returns its id. */
async function arrive(db: Db, accountId: number, uid: number, from: string): Promise<number> {
  const raw = new TextEncoder().encode(
    `From: <${from}>\r\nTo: box@example.test\r\nSubject: Pedido ${uid}\r\n` +
      `Message-ID: <m${uid}@example.test>\r\nDate: Mon, 1 Jun 2026 09:59:00 +0000\r\n\r\nOi\r\n`,
  );
  const parsed = await parseMessage(raw);
  assert.ok(parsed.ok);
  const m = await storeArrival(
    db,
    accountId,
    "INBOX",
    1,
    {
      uid,
      raw,
      sha256: await sha256Hex(raw),
      internalDate: T0,
    },
    false,
    T0,
  );
  await saveParsed(db, m.id, parsed.email, {
    kind: "direct",
    original: null,
    confidence: 0.9,
    evidence: ["no forward marker"],
  }, T0);
  return m.id;
}

storeTest("a sender on the never-answer list is not answered; another one is", async (db) => {
  const account = await upsertEnvAccount(db, {
    name: "box",
    address: "box@example.test",
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
    when: { kind: "direct" },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Ok." },
  }]);
  assert.ok(rules.ok);
  await replaceRules(db, rules.rules, T0);
  const listed = await arrive(db, account.id, 1, "ana@fornecedor.test");
  const other = await arrive(db, account.id, 2, "paulo@cliente.test");
  // A domain on the account's own list, and a global entry that matches nobody here.
  const deps = { db, now: () => T0 };
  assert.ok(
    (await addNeverAnswer(deps, { pattern: "fornecedor.test", accountId: account.id }, "ana")).ok,
  );
  assert.ok((await addNeverAnswer(deps, { pattern: "*@spam.test", accountId: null }, "ana")).ok);

  // Both in one transaction: the account's context is read once and serves both.
  await db.transaction(async (tx) => {
    for (const id of [listed, other]) {
      await rerunRules({ parse: parseMessage, replyStep: step }, tx, id, T0);
    }
  });
  const decisions = await db.query<{ message_id: number; outcome: string; reason: string | null }>(
    "SELECT message_id, outcome, reason FROM decisions ORDER BY message_id",
  );
  assert.deepEqual(decisions.map((d) => [Number(d.message_id), d.outcome, d.reason]), [
    [listed, "suppressed", "never_answer"],
    [other, "reply", null],
  ]);
  assert.deepEqual(await db.query("SELECT recipient FROM outbox"), [
    { recipient: "paulo@cliente.test" },
  ]);
});
