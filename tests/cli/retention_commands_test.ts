/**
 * `purge [--dry-run]`, `erase ADDRESS [--dry-run]`, `retention show | set` and the keep days of
 * `account set`: JSON on stdout, problems on stderr with exit 1, a malformed command line exit 2.
 */
import assert from "node:assert/strict";
import { openTestStore, seedBoxAccount } from "../support/databases.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { retentionCommand } from "../../src/cli/retention_commands.ts";
import { accountCommand } from "../../src/cli/limits_commands.ts";
import { needsDatabase } from "../../src/cli/run_cli.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import { eml, seedMessage } from "../routes/support.ts";
import type { Db } from "../../src/store/db.ts";

const NOW = new Date("2026-06-01T10:00:00Z");
const DAY = 86_400_000;

function runner(db: Db) {
  const box = createSecretBox("a-very-long-secret-key-for-tests");
  return async (...args: string[]) => {
    const printed: unknown[] = [];
    const said: string[] = [];
    const io: AdminIo = {
      readLine: () => Promise.resolve(null),
      print: (d) => printed.push(d),
      say: (l) => said.push(l),
      now: () => NOW,
    };
    const code = args[0] === "account"
      ? await accountCommand(db, args.slice(1), io, box)
      : await retentionCommand(db, args, io);
    return { code, printed: printed as Array<Record<string, unknown>>, said };
  };
}

Deno.test("purge, erase and retention from the command line", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    await seedBoxAccount(db);
    const run = runner(db);
    for (const c of ["purge", "erase", "retention"]) assert.ok(needsDatabase([c]));
    await seedMessage(db, eml({ from: "Ana <ana@cliente.test>" }), {
      receivedAt: new Date(NOW.getTime() - 40 * DAY),
      outbox: { status: "sent", recipient: "ana@cliente.test" },
    });
    await seedMessage(db, eml({ from: "Zeca <zeca@cliente.test>" }), {
      receivedAt: new Date(NOW.getTime() - DAY),
    });

    const set = await run("account", "set", "box", '{"keep_messages_days": 30}');
    assert.equal(set.code, 0, set.said.join("\n"));
    assert.equal(set.printed[0].keep_messages_days, 30);

    const dry = await run("purge", "--dry-run");
    assert.equal(dry.code, 0);
    assert.equal(dry.printed[0].dry_run, true);
    assert.deepEqual(dry.printed[0].accounts, [{
      account_id: 1,
      account: "box",
      keep_raw_days: null,
      keep_messages_days: 30,
      raw: 0,
      messages: 1,
      replies: 1,
    }]);
    assert.equal((await db.query("SELECT id FROM messages")).length, 2);
    const purged = await run("purge");
    assert.equal(purged.code, 0);
    assert.deepEqual(purged.printed[0].totals, {
      raw: 0,
      messages: 1,
      decisions: 0,
      replies: 1,
      audit: 0,
    });
    assert.equal((await db.query("SELECT id FROM messages")).length, 1);

    const dryErase = await run("erase", "zeca@cliente.test", "--dry-run");
    assert.equal(dryErase.code, 0);
    assert.equal((dryErase.printed[0].removed as Record<string, number>).messages, 1);
    assert.equal((await db.query("SELECT id FROM messages")).length, 1);
    const erased = await run("erase", "Zeca@Cliente.test");
    assert.equal(erased.code, 0);
    assert.equal((await db.query("SELECT id FROM messages")).length, 0);
    const bad = await run("erase", "zeca");
    assert.deepEqual([bad.code, bad.said], [1, [
      "address: must be one e-mail address, like ana@example.com",
    ]]);

    assert.deepEqual((await run("retention", "show")).printed, [{ keep_audit_days: null }]);
    assert.deepEqual((await run("retention", "set", "--audit-days", "400")).printed, [{
      keep_audit_days: 400,
    }]);
    assert.deepEqual((await run("retention", "set", "--audit-days", "never")).printed, [{
      keep_audit_days: null,
    }]);
    assert.equal((await run("retention", "set", "--audit-days", "0")).code, 1);

    for (
      const args of [["purge", "now"], ["erase"], ["erase", "a@b.test", "c@d.test"], [
        "retention",
      ], ["retention", "set"]]
    ) {
      assert.equal((await run(...args)).code, 2, args.join(" "));
    }
  } finally {
    await store.close();
  }
});
