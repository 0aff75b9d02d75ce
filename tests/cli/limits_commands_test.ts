/**
 * `breakers list | reset` and `account settings | set`: JSON on stdout, problems on stderr with
 * exit 1, a malformed command line exit 2.
 */
import assert from "node:assert/strict";
import { openTestStore, seedBoxAccount } from "../support/databases.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { accountCommand, breakersCommand } from "../../src/cli/limits_commands.ts";
import { needsDatabase, USAGE } from "../../src/cli/run_cli.ts";
import { tripBreaker } from "../../src/store/outbox.ts";
import type { Db } from "../../src/store/db.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";

const NOW = new Date("2026-03-10T12:00:00Z");
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

function runner(db: Db, command: typeof breakersCommand) {
  return async (...args: string[]) => {
    const printed: unknown[] = [];
    const said: string[] = [];
    const io: AdminIo = {
      readLine: () => Promise.resolve(null),
      print: (d) => printed.push(d),
      say: (l) => said.push(l),
      now: () => NOW,
    };
    const code = await command(db, args, io);
    return { code, printed, said };
  };
}

Deno.test("breakers list, reset one, reset --all; usage on a malformed line", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    const box = (await seedBoxAccount(db)).id;
    await tripBreaker(db, box, "ana@cliente.test", minutes(-5), "5 replies", minutes(55));
    await tripBreaker(db, box, null, minutes(-3), "120 replies", null);
    await tripBreaker(db, box, "old@cliente.test", minutes(-90), "cooled", minutes(-30));
    const run = runner(db, breakersCommand);

    const listed = await run("list");
    assert.equal(listed.code, 0);
    const rows = listed.printed[0] as Array<Record<string, unknown>>;
    assert.deepEqual(rows.map((r) => [r.scope, r.recipient, r.open, r.account]), [
      ["account", null, true, "box"],
      ["recipient", "ana@cliente.test", true, "box"],
      ["recipient", "old@cliente.test", false, "box"],
    ]);
    assert.equal((((await run("list", "--open")).printed[0]) as unknown[]).length, 2);

    const one = await run("reset", String(rows[1].id));
    assert.equal(one.code, 0);
    assert.deepEqual(
      (one.printed[0] as { reset: Array<{ recipient: string }> }).reset.map((r) => r.recipient),
      ["ana@cliente.test"],
    );
    const again = await run("reset", String(rows[1].id));
    assert.deepEqual([again.code, again.said], [1, ["no such breaker (it may have been reset)"]]);
    const all = await run("reset", "--all");
    assert.deepEqual(
      (all.printed[0] as { reset: Array<{ scope: string }> }).reset.map((r) => r.scope),
      ["account"],
    );
    const by = await db.query<{ by: string }>(
      "SELECT detail->>'by' AS by FROM audit_events WHERE event = 'breaker_reset'",
    );
    assert.deepEqual(by.map((r) => r.by), ["cli", "cli"]);

    for (const bad of [[], ["reset"], ["reset", "x"], ["list", "--all"], ["drop"]]) {
      const r = await run(...bad);
      assert.equal(r.code, 2, bad.join(" "));
      assert.match(r.said[0], /^usage: breakers list/);
    }
    assert.ok(needsDatabase(["breakers", "list"]));
    assert.ok(needsDatabase(["account", "settings", "box"]));
    assert.match(USAGE, /breakers reset ID \| breakers reset --all/);
    assert.match(USAGE, /account set NAME JSON/);
  } finally {
    await store.close();
  }
});

Deno.test("account settings and account set: JSON in, JSON out, each problem on stderr", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    await seedBoxAccount(db);
    const box = createSecretBox("a-very-long-secret-key-for-tests");
    const run = runner(db, (d, a, io) => accountCommand(d, a, io, box));

    const shown = await run("settings", "box");
    assert.equal(shown.code, 0);
    assert.deepEqual((shown.printed[0] as Record<string, unknown>).time_zone, null);
    assert.equal((shown.printed[0] as Record<string, unknown>).account, "box");

    const set = await run(
      "set",
      "box",
      '{"time_zone": "Europe/Lisbon", "limits": {"cool_down_seconds": 1800}}',
    );
    assert.equal(set.code, 0, set.said.join("\n"));
    const doc = set.printed[0] as Record<string, Record<string, unknown> | string>;
    assert.equal(doc.time_zone, "Europe/Lisbon");
    assert.deepEqual(doc.limits, { cool_down_seconds: 1800 });
    assert.equal((doc.limits_in_force as Record<string, unknown>).cool_down_seconds, 1800);

    const bad = await run("set", "box", '{"time_zone": "Lisboa", "check_spam": 0}');
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.said.map((l) => l.split(":")[0]), ["time_zone", "check_spam"]);
    const notJson = await run("set", "box", "{time");
    assert.equal(notJson.code, 1);
    assert.match(notJson.said[0], /^JSON: /);
    const nobody = await run("settings", "nobody");
    assert.deepEqual([nobody.code, nobody.said], [1, ['no account is called "nobody"']]);
    for (const args of [[], ["settings"], ["set", "box"], ["set", "box", "{}", "more"]]) {
      assert.equal((await run(...args)).code, 2, args.join(" "));
    }
    const events = await db.query(
      "SELECT 1 FROM audit_events WHERE event = 'account_settings_changed'",
    );
    assert.equal(events.length, 1);
  } finally {
    await store.close();
  }
});
