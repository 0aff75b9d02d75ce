/**
 * The never-answer list's actions: adding (invalid, unknown account, duplicate told by SQLSTATE),
 * removing, the patterns one account sees, and each change with its audit row or neither. On
 * PGlite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { upsertEnvAccount } from "../../src/store/accounts.ts";
import { listNeverAnswer, neverAnswerFor } from "../../src/store/never_answer.ts";
import { addNeverAnswer, removeNeverAnswer } from "../../src/actions/never_answer.ts";
import { auditRows, failingWithin, T } from "./support.ts";

const deps = (db: Db) => ({ db, now: () => T });

async function account(db: Db, name: string): Promise<number> {
  return (await upsertEnvAccount(db, {
    name,
    address: `${name}@empresa.test`,
    imapHost: "127.0.0.1",
    imapPort: 993,
    imapTls: "tls",
    imapUser: name,
    mailboxes: ["INBOX"],
  })).id;
}

storeTest("never-answer: add, list, the patterns one account sees, remove", async (db) => {
  const box = await account(db, "box");
  const other = await account(db, "other");
  const global = await addNeverAnswer(
    deps(db),
    { pattern: "  *@Spam.test ", accountId: null },
    "ana",
  );
  assert.deepEqual(global.ok && global.value.pattern, "*@spam.test");
  const own = await addNeverAnswer(
    deps(db),
    { pattern: "chefe@empresa.test", accountId: box },
    "ana",
  );
  assert.ok(own.ok);
  // The same pattern for another account, or globally beside an account's, is another entry.
  assert.ok(
    (await addNeverAnswer(deps(db), { pattern: "chefe@empresa.test", accountId: other }, "ana")).ok,
  );
  assert.ok(
    (await addNeverAnswer(deps(db), { pattern: "chefe@empresa.test", accountId: null }, "ana")).ok,
  );

  assert.deepEqual(
    (await listNeverAnswer(db)).map((r) => [r.pattern, r.accountName, r.createdBy]),
    [
      ["*@spam.test", null, "ana"],
      ["chefe@empresa.test", null, "ana"],
      ["chefe@empresa.test", "box", "ana"],
      ["chefe@empresa.test", "other", "ana"],
    ],
  );
  assert.deepEqual((await listNeverAnswer(db, null)).length, 2);
  assert.deepEqual((await listNeverAnswer(db, box)).map((r) => r.pattern), ["chefe@empresa.test"]);
  assert.deepEqual(await neverAnswerFor(db, box), ["*@spam.test", "chefe@empresa.test"]);

  const removed = await removeNeverAnswer(deps(db), own.ok ? own.value.id : 0, "bia");
  assert.ok(removed.ok);
  assert.equal((await listNeverAnswer(db, box)).length, 0);
  assert.deepEqual(await auditRows(db, "never_answer_removed"), [
    { id: own.ok && own.value.id, pattern: "chefe@empresa.test", account_id: box, by: "bia" },
  ]);
  assert.equal((await auditRows(db, "never_answer_added")).length, 4);
  assert.deepEqual((await auditRows(db, "never_answer_added"))[0], {
    id: global.ok && global.value.id,
    pattern: "*@spam.test",
    account_id: null,
    by: "ana",
  });
  // An account's entries go with the account.
  await db.query("DELETE FROM accounts WHERE id = $1", [other]);
  assert.equal((await listNeverAnswer(db)).length, 2);
});

storeTest("never-answer: invalid, unknown account, duplicate, missing entry", async (db) => {
  const box = await account(db, "box");
  for (
    const [pattern, says] of [
      ["", /is empty/],
      ["   ", /is empty/],
      ["x".repeat(321), /longer than 320/],
      ["ana silva@x.test", /not an address glob/],
      ["<ana@x.test>", /not an address glob/],
      ["a@b@x.test", /more than one @/],
      ["ana@", /nothing after @/],
      [42, /must be text/],
    ] as const
  ) {
    const r = await addNeverAnswer(deps(db), { pattern, accountId: null }, "ana");
    assert.equal(!r.ok && r.problem.code, "invalid", `${pattern}`);
    assert.match(!r.ok ? r.problem.details?.join() ?? "" : "", says, `${pattern}`);
  }
  const unknown = await addNeverAnswer(deps(db), { pattern: "x.test", accountId: 999 }, "ana");
  assert.equal(!unknown.ok && unknown.problem.code, "not_found");

  assert.ok((await addNeverAnswer(deps(db), { pattern: "x.test", accountId: box }, "ana")).ok);
  // Told by the unique index's SQLSTATE, whatever the case typed.
  const again = await addNeverAnswer(deps(db), { pattern: "X.TEST", accountId: box }, "ana");
  assert.equal(!again.ok && again.problem.code, "conflict");
  assert.match(!again.ok ? again.problem.message : "", /already on the list/);
  assert.ok((await addNeverAnswer(deps(db), { pattern: "x.test", accountId: null }, "ana")).ok);
  const globalAgain = await addNeverAnswer(deps(db), { pattern: "x.test", accountId: null }, "ana");
  assert.equal(!globalAgain.ok && globalAgain.problem.code, "conflict");

  const missing = await removeNeverAnswer(deps(db), 999, "ana");
  assert.equal(!missing.ok && missing.problem.code, "not_found");
  assert.equal((await auditRows(db, "never_answer_added")).length, 2);
  assert.equal((await auditRows(db, "never_answer_removed")).length, 0);
});

storeTest("never-answer: a change and its audit row, both or neither", async (db) => {
  const killed = { db: failingWithin(db, /^\s*INSERT INTO audit_events/), now: () => T };
  await assert.rejects(
    addNeverAnswer(killed, { pattern: "*@spam.test", accountId: null }, "ana"),
    /killed before/,
  );
  assert.deepEqual(await listNeverAnswer(db), []);
  assert.deepEqual(await auditRows(db, "never_answer_added"), []);

  const added = await addNeverAnswer(deps(db), { pattern: "*@spam.test", accountId: null }, "ana");
  assert.ok(added.ok);
  await assert.rejects(removeNeverAnswer(killed, added.value.id, "bia"), /killed before/);
  assert.equal((await listNeverAnswer(db)).length, 1);
  assert.deepEqual(await auditRows(db, "never_answer_removed"), []);
});
