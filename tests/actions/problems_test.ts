/**
 * The problems actions return instead of changing anything: invalid input, a conflict told by
 * SQLSTATE, a missing row, a row in the wrong status. On PGlite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { createRule, reorderRules, updateRule } from "../../src/actions/rules.ts";
import { createToken, revokeToken } from "../../src/actions/tokens.ts";
import { addUser } from "../../src/actions/users.ts";
import { applyOutboxAction } from "../../src/actions/outbox.ts";
import { type AccountSettings, saveAccount } from "../../src/actions/accounts.ts";
import { correctClassification } from "../../src/actions/messages.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import { isUniqueViolation, SqlState, sqlStateOf } from "../../src/store/sql_state.ts";
import { ACK, auditRows, failingWithin, outboxRow, T } from "./support.ts";

const deps = (db: Db) => ({ db, now: () => T });

storeTest("SQLSTATE is read from the driver's error, whichever the driver", async (db) => {
  await db.query("CREATE TABLE t (id int PRIMARY KEY, parent int REFERENCES t (id))");
  await db.query("INSERT INTO t (id) VALUES (1)");
  const failure = async (sql: string) => {
    try {
      await db.transaction((tx) => tx.query(sql));
    } catch (e) {
      return e;
    }
    assert.fail(`${sql} should fail`);
  };
  const duplicate = await failure("INSERT INTO t (id) VALUES (1)");
  assert.equal(sqlStateOf(duplicate), SqlState.uniqueViolation);
  assert.ok(isUniqueViolation(duplicate));
  assert.equal(sqlStateOf(await failure("INSERT INTO t VALUES (2, 99)")), "23503");
  assert.equal(sqlStateOf(new Error("duplicate key value violates unique constraint")), null);
  assert.equal(sqlStateOf(new Error("wrapped", { cause: duplicate })), "23505");
  assert.equal(sqlStateOf(null), null);
});

storeTest("rules: invalid, not found, and a name taken meanwhile is a conflict", async (db) => {
  const invalid = await createRule(deps(db), { ...ACK, when: { kind: "dirct" } }, "ana");
  assert.equal(!invalid.ok && invalid.problem.code, "invalid");
  assert.ok(!invalid.ok && invalid.problem.details?.some((d) => d.includes("when.kind:")));
  const missing = await updateRule(deps(db), 999, ACK, "ana");
  assert.equal(!missing.ok && missing.problem.code, "not_found");
  const order = await reorderRules(deps(db), [999], "ana");
  assert.equal(!order.ok && order.problem.code, "invalid");

  assert.ok((await createRule(deps(db), ACK, "ana")).ok);
  // A second person's check of the names ran before the first one's insert: the names read in
  // the transaction miss "ack", and the unique key says no (SQLSTATE 23505).
  const blind = failingWithin(db, /^$/);
  const raced = await createRule(
    {
      db: {
        ...blind,
        transaction: (fn) =>
          blind.transaction((tx) =>
            fn({
              query: (text, params) =>
                /FROM rules ORDER BY position/.test(text)
                  ? Promise.resolve([])
                  : tx.query(text, params),
            })
          ),
      },
      now: () => T,
    },
    ACK,
    "bia",
  );
  assert.deepEqual(raced, {
    ok: false,
    problem: {
      code: "conflict",
      message: "name: another rule has this name",
      details: ["name: another rule has this name"],
    },
  });
  assert.equal((await auditRows(db, "rule_changed")).length, 1);
});

storeTest("tokens and users: invalid input, a taken name, a missing token", async (db) => {
  const bad = await createToken(deps(db), { name: "-no" }, "ana");
  assert.equal(!bad.ok && bad.problem.code, "invalid");
  assert.ok((await createToken(deps(db), { name: "ci" }, "ana")).ok);
  const again = await createToken(deps(db), { name: "ci" }, "ana");
  assert.equal(!again.ok && again.problem.code, "conflict");
  assert.equal(!again.ok && again.problem.message, 'name: a token called "ci" already exists');
  assert.equal((await auditRows(db, "token_created")).length, 1);
  const gone = await revokeToken(deps(db), 999, "ana");
  assert.equal(!gone.ok && gone.problem.code, "not_found");

  const short = await addUser(deps(db), { email: "a@example.test", password: "short" }, "cli");
  assert.equal(!short.ok && short.problem.message, "the password must be at least 12 characters");
  const password = "a long enough passphrase";
  assert.ok((await addUser(deps(db), { email: "A@example.test", password }, "cli")).ok);
  const taken = await addUser(deps(db), { email: "a@example.test", password }, "cli");
  assert.equal(!taken.ok && taken.problem.code, "conflict");
  assert.deepEqual(await auditRows(db, "user_created"), [
    { email: "a@example.test", by: "cli", role: "admin" },
  ]);
});

storeTest("accounts, messages and the outbox: conflict, not found, wrong status", async (db) => {
  const box = createSecretBox("test-secret-key-0123456789abcdef");
  const account = (name: string): AccountSettings => ({
    settings: {
      name,
      address: `${name}@empresa.test`,
      displayName: "",
      enabled: true,
      imapHost: "imap.empresa.test",
      imapPort: 993,
      imapTls: "tls",
      imapUser: name,
      mailboxes: ["INBOX"],
      smtpHost: null,
      smtpPort: null,
      smtpTls: null,
      smtpUser: null,
      copyToSent: true,
    },
    passwords: { imap: "secret", smtp: "" },
  });
  const id = await outboxRow(db, "pending");
  const first = await saveAccount({ ...deps(db), box }, null, account("vendas"), "ana");
  assert.ok(first.ok);
  const dup = await saveAccount({ ...deps(db), box }, null, account("vendas"), "ana");
  assert.equal(!dup.ok && dup.problem.code, "conflict");
  const missing = await saveAccount({ ...deps(db), box }, 999, account("x"), "ana");
  assert.equal(!missing.ok && missing.problem.code, "not_found");
  const env = await saveAccount({ ...deps(db), box }, 1, account("box"), "ana");
  assert.equal(!env.ok && env.problem.code, "read_only");
  assert.equal((await auditRows(db, "account_changed")).length, 1);

  const rerunRules = () => Promise.resolve(true);
  const nobody = await correctClassification(
    { ...deps(db), rerunRules },
    999,
    { kind: "direct", originalFromAddress: "", originalFromName: "" },
    "ana",
  );
  assert.equal(!nobody.ok && nobody.problem.code, "not_found");
  const noSender = await correctClassification(
    { ...deps(db), rerunRules },
    999,
    { kind: "forwarded", originalFromAddress: "", originalFromName: "" },
    "ana",
  );
  assert.equal(!noSender.ok && noSender.problem.code, "invalid");

  const wrong = await applyOutboxAction(deps(db), id, { type: "retry" }, "ana");
  assert.deepEqual(wrong, {
    ok: false,
    problem: { code: "wrong_status", message: "the row is pending; this action needs failed" },
  });
  assert.ok((await applyOutboxAction(deps(db), id, { type: "cancel" }, "ana")).ok);
  assert.deepEqual((await auditRows(db, "cancelled")).map((d) => d.to_status), ["cancelled"]);
});
