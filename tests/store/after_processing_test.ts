/** After-processing states and unavailable-mailbox reports, on PGlite and PostgreSQL. */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { storeArrivals } from "../../src/store/messages.ts";
import {
  afterProcessingCounts,
  dueAfterProcessing,
  markAfterPending,
  recordAfterOutcome,
} from "../../src/store/after_processing.ts";
import {
  clearMailboxProblem,
  forgetUnlistedMailboxes,
  readMailboxProblems,
  reportMailboxProblem,
} from "../../src/store/mailbox_problems.ts";
import { readAccountHealth } from "../../src/store/account_health.ts";
import { listAccounts } from "../../src/store/accounts.ts";

const T = new Date("2026-03-10T12:00:00Z");

async function stored(db: Db, accountId: number, uids: number[]) {
  const arrivals = uids.map((uid) => ({
    uid,
    raw: new TextEncoder().encode(`Subject: ${uid}\r\n\r\nx\r\n`),
    sha256: String(uid).padStart(64, "0"),
    internalDate: T,
  }));
  const out = await storeArrivals(db, accountId, "INBOX", 7, arrivals, T);
  return out.map((o) => (o.outcome === "stored" ? Number(o.id) : 0));
}

storeTest(
  "after processing: only processed messages are due, failures stay due, done ones leave",
  async (db) => {
    const { id: accountId } = await seedBoxAccount(db);
    const ids = await stored(db, accountId, [3, 5, 9]);
    await markAfterPending(db, ids);
    // Not yet parsed: nothing is due (never before the message is processed).
    assert.deepEqual(await dueAfterProcessing(db, accountId, "INBOX", 7, 0, 10), []);
    await db.query("UPDATE messages SET parse_status = 'parsed'");
    const due = await dueAfterProcessing(db, accountId, "INBOX", 7, 0, 10);
    assert.deepEqual(due.map((d) => [d.uid, d.attempts]), [[3, 0], [5, 0], [9, 0]]);
    // Another UIDVALIDITY or mailbox names other messages: none due there.
    assert.deepEqual(await dueAfterProcessing(db, accountId, "INBOX", 8, 0, 10), []);
    assert.deepEqual(await dueAfterProcessing(db, accountId, "Suporte", 7, 0, 10), []);
    // Paged by UID.
    assert.deepEqual(
      (await dueAfterProcessing(db, accountId, "INBOX", 7, 3, 1)).map((d) => d.uid),
      [5],
    );
    const move = { kind: "move" as const, folder: "Processados" };
    await recordAfterOutcome(db, [ids[0]], move, null, T);
    await recordAfterOutcome(db, [ids[1]], move, "refused", T);
    await recordAfterOutcome(db, [ids[1]], move, "refused again", T);
    const left = await dueAfterProcessing(db, accountId, "INBOX", 7, 0, 10);
    assert.deepEqual(left.map((d) => [d.uid, d.attempts]), [[5, 2], [9, 0]]);
    assert.deepEqual(await afterProcessingCounts(db), { pending: 1, done: 1, failed: 1 });
    // Marking again does not reset a message already under way.
    await markAfterPending(db, ids);
    assert.deepEqual(await afterProcessingCounts(db), { pending: 1, done: 1, failed: 1 });
  },
);

storeTest(
  "unavailable mailboxes: new once, cleared once, forgotten when no longer listed",
  async (db) => {
    const { id: accountId } = await seedBoxAccount(db);
    assert.equal(await reportMailboxProblem(db, accountId, "Naoexiste", "no such", T), true);
    const later = new Date(T.getTime() + 60_000);
    assert.equal(
      await reportMailboxProblem(db, accountId, "Naoexiste", "still none", later),
      false,
    );
    assert.equal(await reportMailboxProblem(db, accountId, "Velha", "gone", T), true);
    const [problems] = [...(await readMailboxProblems(db)).values()];
    assert.deepEqual(problems.map((p) => [p.mailbox, p.error, p.since, p.checkedAt]), [
      ["Naoexiste", "still none", T, later],
      ["Velha", "gone", T, T],
    ]);
    const health = (await readAccountHealth(db, T)).get(accountId);
    assert.deepEqual(health?.mailboxProblems.map((p) => p.mailbox), ["Naoexiste", "Velha"]);
    assert.equal(await clearMailboxProblem(db, accountId, "Naoexiste"), true);
    assert.equal(await clearMailboxProblem(db, accountId, "Naoexiste"), false);
    await forgetUnlistedMailboxes(db, accountId, ["INBOX"]);
    assert.equal((await readMailboxProblems(db)).size, 0);
    // The account's row carries its after-processing setting, `keep` by default.
    const [account] = await listAccounts(db);
    assert.deepEqual([account.afterProcessing, account.afterFolder], ["keep", null]);
  },
);
