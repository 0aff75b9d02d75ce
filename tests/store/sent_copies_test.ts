/** Copies owed to the Sent mailbox: owed once, claimed by one claimant, settled by its claim. */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { enqueueReply } from "../../src/store/outbox.ts";
import { claimCopies, oweSentCopies, settleCopy } from "../../src/store/sent_copies.ts";
import { getOutboxRow } from "../../src/store/outbox_admin.ts";

const T0 = new Date("2026-03-01T12:00:00Z");
const later = (ms: number) => new Date(T0.getTime() + ms);
const DAY = 86_400_000;
// Bytes that are not text: the copy must be the bytes given, whatever they are.
const RAW = Uint8Array.from([0x46, 0x72, 0x6f, 0x6d, 0x3a, 0x20, 0xe9, 0x00, 0xff, 0x0d, 0x0a]);

async function sentReply(db: Db, key: string): Promise<number> {
  const account = await seedBoxAccount(db);
  const { id } = await enqueueReply(db, {
    dedupKey: key,
    messageId: null as unknown as number,
    accountId: account.id,
    ruleName: "ack",
    recipient: "ana@example.test",
    recipientName: "Ana",
    fromAddress: "box@empresa.test",
    fromName: "",
    subject: "Re: x",
    text: "ok",
    html: null,
    messageIdHeader: `<carteiro.${key}@empresa.test>`,
    inReplyTo: null,
    references: [],
    headers: {},
    deadlineAt: later(DAY),
  }, T0);
  await db.query("UPDATE outbox SET status = 'sent' WHERE id = $1", [id]);
  return id;
}

storeTest(
  "a copy is owed once, with the exact bytes, only where the account keeps copies",
  async (db) => {
    const id = await sentReply(db, "a");
    assert.equal(await oweSentCopies(db, [{ outboxId: id, raw: RAW }], T0, later(7 * DAY)), 1);
    assert.equal(
      await oweSentCopies(db, [{ outboxId: id, raw: RAW }], later(1), later(7 * DAY)),
      0,
      "owed once",
    );
    const [claimed] = await claimCopies(db, T0, 60_000, "t1", 5);
    assert.deepEqual(new Uint8Array(claimed.raw), RAW);
    assert.equal(claimed.messageIdHeader, "<carteiro.a@empresa.test>");
    assert.equal(claimed.attempts, 1);

    await db.query("UPDATE accounts SET copy_to_sent = false");
    const other = await sentReply(db, "b");
    assert.equal(await oweSentCopies(db, [{ outboxId: other, raw: RAW }], T0, later(7 * DAY)), 0);
    assert.equal((await getOutboxRow(db, other))?.sentCopy, null);
  },
);

storeTest(
  "a claimed copy is nobody else's until its lease runs out; then the next claim counts a second attempt",
  async (db) => {
    const ids = [await sentReply(db, "a"), await sentReply(db, "b")];
    await oweSentCopies(db, ids.map((id) => ({ outboxId: id, raw: RAW })), T0, later(7 * DAY));
    const first = await claimCopies(db, T0, 60_000, "t1", 1);
    const second = await claimCopies(db, T0, 60_000, "t2", 5);
    assert.deepEqual(
      [...first, ...second].map((c) => c.outboxId).sort(),
      [...ids].sort(),
      "each claimed by one claimant",
    );
    assert.deepEqual(await claimCopies(db, later(59_000), 60_000, "t3", 5), []);
    // The first claimant died: its lease runs out and the copy is claimed again.
    const again = await claimCopies(db, later(61_000), 60_000, "t4", 5);
    assert.deepEqual(again.map((c) => [c.outboxId, c.attempts]), [
      [first[0].outboxId, 2],
      [second[0].outboxId, 2],
    ]);
    // The dead claim can no longer settle it; the live one can, once.
    const copied = { status: "copied" as const, mailbox: "Sent", uid: 7 };
    assert.equal(await settleCopy(db, first[0].outboxId, "t1", copied, later(62_000)), false);
    assert.equal(await settleCopy(db, first[0].outboxId, "t4", copied, later(62_000)), true);
    assert.equal(await settleCopy(db, first[0].outboxId, "t4", copied, later(63_000)), false);
    const retry = { status: "retry" as const, error: "IMAP down", nextAttemptAt: later(120_000) };
    assert.equal(await settleCopy(db, second[0].outboxId, "t4", retry, later(62_000)), true);
    assert.deepEqual(await claimCopies(db, later(119_000), 60_000, "t5", 5), [], "not before due");
    assert.equal((await claimCopies(db, later(120_000), 60_000, "t6", 5)).length, 1);

    const shown = await getOutboxRow(db, first[0].outboxId);
    assert.deepEqual(
      [shown?.sentCopy?.status, shown?.sentCopy?.mailbox, shown?.sentCopy?.attempts],
      ["copied", "Sent", 2],
    );
    const waiting = await getOutboxRow(db, second[0].outboxId);
    assert.equal(waiting?.sentCopy?.status, "owed");
    assert.equal(waiting?.sentCopy?.lastError, "IMAP down");
  },
);
