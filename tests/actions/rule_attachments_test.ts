/**
 * Files attached to a rule's replies: adding (unknown rule, empty, the 10 MB limit), listing,
 * the bytes read back for sending, removing (kept while an enqueued reply names it), and each
 * change with its audit row. On PGlite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { replaceRules } from "../../src/store/rule_set.ts";
import {
  attachmentsByRule,
  listRuleAttachments,
  loadAttachmentFiles,
} from "../../src/store/rule_attachments.ts";
import { addRuleAttachment, removeRuleAttachment } from "../../src/actions/rule_attachments.ts";
import { MAX_RULE_ATTACHMENT_BYTES } from "../../src/domain/rule_attachment.ts";
import { ACK, auditRows, outboxRow, T } from "./support.ts";

const deps = (db: Db) => ({ db, now: () => T });

async function withRule(db: Db) {
  const parsed = parseRules([ACK]);
  assert.ok(parsed.ok);
  await replaceRules(db, parsed.rules, T);
}

const BYTES = new Uint8Array([0, 1, 2, 255, 254, 37, 80, 68, 70]);

storeTest("rule files: add, list, read back byte for byte, remove, audited", async (db) => {
  await withRule(db);
  const added = await addRuleAttachment(deps(db), {
    rule: "ack",
    filename: "C:\\docs\\Horários.pdf",
    contentType: "application/pdf; name=x",
    content: BYTES,
  }, "ana@empresa.test");
  assert.ok(added.ok, JSON.stringify(added));
  if (!added.ok) return;
  assert.deepEqual(added.value, {
    id: added.value.id,
    rule: "ack",
    filename: "Horários.pdf",
    contentType: "application/pdf",
    size: BYTES.length,
  });
  const listed = await listRuleAttachments(db, "ack");
  assert.deepEqual(listed.map((a) => [a.filename, a.size, a.createdBy]), [
    ["Horários.pdf", 9, "ana@empresa.test"],
  ]);
  assert.deepEqual([...(await attachmentsByRule(db)).keys()], ["ack"]);
  const [file] = await loadAttachmentFiles(db, [added.value.id]);
  assert.deepEqual([...file.content], [...BYTES]);
  const [event] = await auditRows(db, "rule_attachment_added");
  assert.equal(event.filename, "Horários.pdf");
  assert.equal(event.size, 9);
  assert.equal(event.by, "ana@empresa.test");

  const removed = await removeRuleAttachment(deps(db), "ack", added.value.id, "ana@empresa.test");
  assert.ok(removed.ok);
  assert.deepEqual(await listRuleAttachments(db, "ack"), []);
  assert.equal((await auditRows(db, "rule_attachment_removed")).length, 1);
  // Nothing named it: the bytes are gone too.
  assert.deepEqual(await db.query("SELECT id FROM rule_attachments"), []);
  const again = await removeRuleAttachment(deps(db), "ack", added.value.id, "ana@empresa.test");
  assert.equal(!again.ok && again.problem.code, "not_found");
});

storeTest("rule files: unknown rule, empty file and the 10 MB limit are refused", async (db) => {
  await withRule(db);
  const add = (rule: string, content: Uint8Array, filename = "a.pdf") =>
    addRuleAttachment(deps(db), { rule, filename, contentType: "", content }, "ana");
  const unknown = await add("nope", BYTES);
  assert.equal(!unknown.ok && unknown.problem.code, "not_found");
  const empty = await add("ack", new Uint8Array(0), "");
  assert.deepEqual(!empty.ok && empty.problem.details, [
    "file: a file with a name is required",
    "file: the file is empty",
  ]);
  const big = await add("ack", new Uint8Array(MAX_RULE_ATTACHMENT_BYTES - 100), "big.bin");
  assert.ok(big.ok);
  assert.equal(big.ok && big.value.contentType, "application/octet-stream");
  const over = await add("ack", new Uint8Array(101), "one-more.txt");
  assert.equal(!over.ok && over.problem.code, "invalid");
  assert.deepEqual(!over.ok && over.problem.details, [
    "file: 1 KB would bring the rule's files to 10.0 MB; the limit is 10.0 MB per rule " +
    "(remove a file or send a smaller one)",
  ]);
  assert.ok((await add("ack", new Uint8Array(100), "fits.txt")).ok);
  assert.equal((await auditRows(db, "rule_attachment_added")).length, 2);
});

storeTest("a removed file stays for the reply already enqueued with it", async (db) => {
  await withRule(db);
  const added = await addRuleAttachment(deps(db), {
    rule: "ack",
    filename: "a.pdf",
    contentType: "application/pdf",
    content: BYTES,
  }, "ana");
  assert.ok(added.ok);
  if (!added.ok) return;
  const outbox = await outboxRow(db, "pending");
  await db.query("UPDATE outbox SET attachment_ids = $2::jsonb WHERE id = $1", [
    outbox,
    JSON.stringify([added.value.id]),
  ]);
  assert.ok((await removeRuleAttachment(deps(db), "ack", added.value.id, "ana")).ok);
  assert.deepEqual(await listRuleAttachments(db, "ack"), []);
  assert.equal((await loadAttachmentFiles(db, [added.value.id])).length, 1);
  // Once the reply is sent, the next change to the rule's files deletes it.
  await db.query("UPDATE outbox SET status = 'sent' WHERE id = $1", [outbox]);
  assert.ok(
    (await addRuleAttachment(deps(db), {
      rule: "ack",
      filename: "b.pdf",
      contentType: "application/pdf",
      content: BYTES,
    }, "ana")).ok,
  );
  await assert.rejects(() => loadAttachmentFiles(db, [added.value.id]), /no longer stored/);
});
