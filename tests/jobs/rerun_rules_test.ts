import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db, Queryable } from "../../src/store/db.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import { saveParsed, storeArrival } from "../../src/store/messages.ts";
import { replaceRules } from "../../src/store/rule_set.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { parseMessage } from "../../src/mail/parse_message.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { replyStep } from "../../src/jobs/reply_step.ts";
import { rerunRules } from "../../src/jobs/rerun_rules.ts";

const T0 = new Date("2026-06-01T10:00:00Z");
const RAW = new TextEncoder().encode(
  "From: Paulo <paulo@example.test>\r\nTo: box@example.test\r\nSubject: Pedido\r\n" +
    "Message-ID: <p1@example.test>\r\nDate: Mon, 1 Jun 2026 09:59:00 +0000\r\n\r\n" +
    "Veja abaixo.\r\n\r\nDe: Joana <joana@cliente.example.test>\r\nAssunto: Pedido\r\n\r\nOi\r\n",
);

const step = replyStep({
  policy: DEFAULT_RATE_LIMIT_POLICY,
  sendDeadlineMs: 86_400_000,
  accountContext: async (q: Queryable, id: number) => {
    const a = (await listAccounts(q)).find((x) => x.id === id)!;
    return {
      id: a.id,
      name: a.name,
      addresses: [a.address],
      connectedAt: a.connectedAt,
      messageIdDomain: "example.test",
    };
  },
  ownAddresses: async (q: Queryable) => (await listAccounts(q)).map((a) => a.address),
});

async function seed(db: Db): Promise<number> {
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
  const parsed = await parseMessage(RAW);
  assert.ok(parsed.ok);
  const m = await storeArrival(
    db,
    account.id,
    "INBOX",
    1,
    {
      uid: 1,
      raw: RAW,
      sha256: await sha256Hex(RAW),
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
  const rules = parseRules([
    {
      name: "ack-direct",
      enabled: true,
      when: { kind: "direct" },
      reply: { to: "sender", subject: "Re: {{subject}}", text: "Ok.", html: "<p>Ok.</p>" },
    },
    {
      name: "ack-forwarded",
      enabled: true,
      when: { kind: "forwarded" },
      reply: { to: "original_sender", subject: "Re: {{subject}}", text: "Ok.", html: "<p>Ok.</p>" },
    },
  ]);
  assert.ok(rules.ok);
  await replaceRules(db, rules.rules, T0);
  return m.id;
}

storeTest(
  "a corrected classification runs the rules again but never adds a second reply",
  async (db) => {
    const id = await seed(db);
    const rerun = (at: Date) =>
      db.transaction((tx) => rerunRules({ parse: parseMessage, replyStep: step }, tx, id, at));
    assert.equal(await rerun(T0), true);
    let outbox = await db.query<{ recipient: string; rule_name: string }>(
      "SELECT recipient, rule_name FROM outbox",
    );
    assert.deepEqual(outbox, [{ recipient: "paulo@example.test", rule_name: "ack-direct" }]);

    // A person says it was a forward from Joana: the rules run again, and the other rule matches.
    await db.query(
      `UPDATE messages SET kind = 'forwarded', original_from_address = 'joana@cliente.example.test',
       original_from_name = 'Joana' WHERE id = $1`,
      [id],
    );
    assert.equal(await rerun(new Date(T0.getTime() + 60_000)), true);
    outbox = await db.query("SELECT recipient, rule_name FROM outbox");
    assert.equal(outbox.length, 1, "still one reply");
    const [decision] = await db.query<{ outcome: string; reason: string; rule_name: string }>(
      "SELECT outcome, reason, rule_name FROM decisions WHERE message_id = $1",
      [id],
    );
    assert.deepEqual(decision, {
      outcome: "suppressed",
      reason: "already_answered",
      rule_name: "ack-forwarded",
    });
  },
);

storeTest("a message first left unanswered is answered after a correction", async (db) => {
  const id = await seed(db);
  await db.query(
    "UPDATE rules SET enabled = false, definition = definition || '{\"enabled\": false}' WHERE name = 'ack-direct'",
  );
  const rerun = (at: Date) =>
    db.transaction((tx) => rerunRules({ parse: parseMessage, replyStep: step }, tx, id, at));
  await rerun(T0);
  assert.equal((await db.query("SELECT 1 FROM outbox")).length, 0);
  await db.query(
    `UPDATE messages SET kind = 'forwarded', original_from_address = 'joana@cliente.example.test',
       original_from_name = 'Joana' WHERE id = $1`,
    [id],
  );
  await rerun(new Date(T0.getTime() + 60_000));
  const outbox = await db.query<{ recipient: string }>("SELECT recipient FROM outbox");
  assert.deepEqual(outbox, [{ recipient: "joana@cliente.example.test" }]);
});
