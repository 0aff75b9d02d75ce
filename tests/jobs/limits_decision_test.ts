/**
 * The rate-limit policy in force: with the real account context and reply step on a real
 * database, a rule's `limits` go over the account's settings, which go over the defaults; a
 * tripped breaker keeps the cool-down of the policy that tripped it. The account's other reply
 * settings reach the decision's context.
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
import { readAccountContext } from "../../src/jobs/account_context.ts";
import { saveAccountSettings } from "../../src/actions/account_settings.ts";
import { listBreakers } from "../../src/store/breakers.ts";

const T0 = new Date("2026-06-01T10:00:00Z");

const step = replyStep({
  policy: DEFAULT_RATE_LIMIT_POLICY,
  sendDeadlineMs: 86_400_000,
  accountContext: (q, id) => readAccountContext(q, id, "UTC"),
  ownAddresses: async (q) => (await listAccounts(q)).map((a) => a.address),
});

async function arrive(db: Db, accountId: number, uid: number, subject: string) {
  const raw = new TextEncoder().encode(
    `From: Ana <ana@cliente.test>\r\nTo: box@example.test\r\nSubject: ${subject}\r\n` +
      `Message-ID: <m${uid}@cliente.test>\r\nDate: Mon, 1 Jun 2026 09:59:00 +0000\r\n\r\nOi\r\n`,
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
  const classification = {
    kind: "direct" as const,
    original: null,
    confidence: 0.9,
    evidence: ["no forward marker"],
  };
  await saveParsed(db, m.id, parsed.email, classification, T0);
  return {
    id: m.id,
    accountId,
    sha256: await sha256Hex(raw),
    email: parsed.email,
    classification,
    internalDate: T0,
    collectedAt: T0,
  };
}

storeTest("a rule's limits beat the account's, which beat the defaults", async (db) => {
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
  // The account: one reply per recipient an hour, a breaker that closes after 2 minutes.
  const saved = await saveAccountSettings({ db, now: () => T0 }, account.id, {
    time_zone: "America/Sao_Paulo",
    authserv_ids: ["mx.example.test"],
    check_spam: false,
    limits: {
      breakers: [{ scope: "recipient", max: 1, within_seconds: 3_600 }],
      cool_down_seconds: 120,
    },
  }, "ana");
  assert.ok(saved.ok, JSON.stringify(saved));
  const rule = (name: string, limits?: unknown) => ({
    name,
    when: { subject_contains: name },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Ok." },
    ...(limits ? { limits } : {}),
  });
  const rules = parseRules([
    rule("first"),
    // This rule allows 5 to one recipient an hour, whatever the account says.
    rule("second", { breakers: [{ scope: "recipient", max: 5, within_seconds: 3_600 }] }),
    rule("third"),
  ]);
  assert.ok(rules.ok, JSON.stringify(rules));
  await replaceRules(db, rules.rules, T0);

  const context = await readAccountContext(db, account.id, "UTC");
  assert.equal(context.timeZone, "America/Sao_Paulo");
  assert.deepEqual(context.verdicts, {
    authservIds: ["mx.example.test"],
    checkAuth: true,
    checkSpam: false,
  });
  assert.equal(context.trustedForwarders, undefined, "default: the account's own domain");

  for (const [uid, subject] of [[1, "first"], [2, "second"], [3, "third"]] as const) {
    const m = await arrive(db, account.id, uid, subject);
    await db.transaction((tx) => step(tx, m, T0));
  }
  const decisions = await db.query<{ rule_name: string; outcome: string; reason: string | null }>(
    "SELECT rule_name, outcome, reason FROM decisions ORDER BY message_id",
  );
  assert.deepEqual(decisions.map((d) => [d.rule_name, d.outcome, d.reason]), [
    ["first", "reply", null],
    ["second", "reply", null],
    ["third", "suppressed", "loop_suspected"],
  ]);
  const [breaker] = await listBreakers(db, T0);
  assert.equal(breaker.recipient, "ana@cliente.test");
  assert.deepEqual(breaker.openUntil, new Date(T0.getTime() + 120_000));
  assert.equal((await listBreakers(db, new Date(T0.getTime() + 120_000)))[0].open, false);
});
