/**
 * A change and its audit row commit together or not at all: each action below is killed between
 * its change and its audit INSERT, and neither is found afterwards. On PGlite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import { createRule, deleteRule, setRuleEnabled } from "../../src/actions/rules.ts";
import { createToken } from "../../src/actions/tokens.ts";
import { applyOutboxAction } from "../../src/actions/outbox.ts";
import { listRuleRows } from "../../src/store/rules_admin.ts";
import { listApiTokens } from "../../src/store/api_tokens.ts";
import { getOutboxRow } from "../../src/store/outbox_admin.ts";
import { ACK, auditRows, failingWithin, outboxRow, T } from "./support.ts";

const AUDIT_INSERT = /^\s*INSERT INTO audit_events/;

storeTest("a rule change and its audit row: both or neither", async (db) => {
  const killed = { db: failingWithin(db, AUDIT_INSERT), now: () => T };
  await assert.rejects(createRule(killed, ACK, "ana"), /killed before/);
  assert.deepEqual(await listRuleRows(db), []);
  assert.deepEqual(await auditRows(db, "rule_changed"), []);

  // The same action on the whole database: the change and its row, once.
  const created = await createRule({ db, now: () => T }, ACK, "ana");
  assert.ok(created.ok);
  assert.deepEqual(await auditRows(db, "rule_changed"), [
    { action: "created", rule: "ack", by: "ana" },
  ]);
  // Later changes of the same rule are held back with their audit rows too.
  const id = created.value.id;
  await assert.rejects(setRuleEnabled(killed, id, false, "bia"), /killed before/);
  await assert.rejects(deleteRule(killed, id, "bia"), /killed before/);
  assert.deepEqual((await listRuleRows(db)).map((r) => [r.name, r.enabled]), [["ack", true]]);
  assert.equal((await auditRows(db, "rule_changed")).length, 1);
});

storeTest("a token's creation and its audit row: both or neither", async (db) => {
  const killed = { db: failingWithin(db, AUDIT_INSERT), now: () => T };
  await assert.rejects(createToken(killed, { name: "deploy" }, "ana"), /killed before/);
  assert.deepEqual(await listApiTokens(db), []);
  assert.deepEqual(await auditRows(db, "token_created"), []);

  const created = await createToken({ db, now: () => T }, { name: "deploy" }, "ana");
  assert.ok(created.ok && created.value.token.startsWith("crt_"));
  assert.deepEqual((await listApiTokens(db)).map((t) => t.name), ["deploy"]);
  assert.deepEqual(await auditRows(db, "token_created"), [
    { name: "deploy", by: "ana", scopes: ["read", "write", "metrics"], expires_at: null },
  ]);
});

storeTest("an outbox settlement and its audit row: both or neither", async (db) => {
  const id = await outboxRow(db, "unknown");
  const killed = { db: failingWithin(db, AUDIT_INSERT), now: () => T };
  await assert.rejects(
    applyOutboxAction(killed, id, { type: "settle", choice: "sent" }, "ana"),
    /killed before/,
  );
  assert.equal((await getOutboxRow(db, id))?.status, "unknown");
  assert.deepEqual(await auditRows(db, "settled"), []);

  const settled = await applyOutboxAction(
    { db, now: () => T },
    id,
    { type: "settle", choice: "sent" },
    "ana",
  );
  assert.ok(settled.ok);
  assert.equal((await getOutboxRow(db, id))?.status, "sent");
  assert.deepEqual(await auditRows(db, "settled"), [
    { outbox_id: id, by: "ana", choice: "sent", from_status: "unknown", to_status: "sent" },
  ]);
});
