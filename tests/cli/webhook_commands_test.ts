/**
 * `webhook list | add | remove | enable | disable | deliveries | resend | deliver --once`: JSON on
 * stdout, problems on stderr with exit 1, a malformed command line exit 2.
 */
import assert from "node:assert/strict";
import { openTestStore, seedBoxAccount } from "../support/databases.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { webhookCommand } from "../../src/cli/webhook_commands.ts";
import { needsDatabase, USAGE } from "../../src/cli/run_cli.ts";
import { recordEvent } from "../../src/store/audit.ts";
import type { WebhookSummary } from "../../src/jobs/deliver_webhooks.ts";

function io() {
  const printed: unknown[] = [];
  const said: string[] = [];
  const value: AdminIo = {
    readLine: () => Promise.resolve(null),
    print: (d) => printed.push(d),
    say: (l) => said.push(l),
    now: () => new Date("2026-03-10T12:00:00Z"),
  };
  return { io: value, printed, said };
}

Deno.test("webhook adds, lists, disables, lists deliveries, resends and removes", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    const { id: box } = await seedBoxAccount(db);
    const drained: WebhookSummary = {
      expired: 0,
      claimed: 0,
      delivered: 0,
      retry: 0,
      failed: 0,
      lost: 0,
    };
    const run = async (...args: string[]) => {
      const r = io();
      const code = await webhookCommand(db, args, r.io, () => Promise.resolve(drained));
      return { code, printed: r.printed as Array<Record<string, unknown>>, said: r.said };
    };
    const added = await run(
      "add",
      "https://hooks.example.com/in",
      "--events",
      "reply.sent,reply.unknown",
      "--account",
      "box",
    );
    assert.equal(added.code, 0, added.said.join("\n"));
    assert.equal(added.printed[0].added, true);
    assert.match(String(added.printed[0].secret), /^whsec_/);
    assert.deepEqual(added.printed[0].events, ["reply.sent", "reply.unknown"]);
    assert.equal(added.printed[0].account_id, box);

    const listed = await run("list");
    const [one] = listed.printed[0] as unknown as Array<Record<string, unknown>>;
    assert.equal(one.url, "https://hooks.example.com/in");
    assert.equal(one.secret, undefined, "the list never prints a secret");

    const bad = await run("add", "ftp://x.test/", "--events", "reply.lost");
    assert.equal(bad.code, 1);
    assert.match(bad.said.join("\n"), /only http:\/\/ and https:\/\//);
    assert.match(bad.said.join("\n"), /"reply\.lost"/);
    assert.equal(
      (await run("add", "https://x.test/", "--events", "*", "--account", "nope")).code,
      1,
    );

    await recordEvent(db, {
      event: "sent",
      at: new Date(),
      accountId: box,
      detail: { outbox_id: 1, recipient: "ana@x.test", attempt: 1, result: "accepted" },
    });
    const deliveries = await run("deliveries", "--status", "pending");
    const [d] = deliveries.printed[0] as unknown as Array<Record<string, unknown>>;
    assert.equal(d.event_type, "reply.sent");
    assert.deepEqual((await run("resend", String(d.id))).printed, [{ resent: true, id: d.id }]);
    assert.equal((await run("resend", "99")).code, 1);
    assert.deepEqual((await run("deliver", "--once")).printed, [drained]);

    assert.equal((await run("disable", "1")).printed[0].enabled, false);
    assert.equal((await run("enable", "1")).printed[0].enabled, true);
    assert.deepEqual((await run("remove", "1")).printed, [{ removed: true, id: 1 }]);
    assert.equal((await run("remove", "1")).code, 1);

    for (const args of [[], ["add"], ["add", "https://x.test/"], ["remove", "x"], ["deliver"]]) {
      const r = await run(...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.said.join("\n"), /^usage: webhook list/);
    }
    assert.ok(needsDatabase(["webhook", "list"]));
    assert.match(USAGE, /webhook add URL --events EVENT,\.\.\./);
  } finally {
    await store.close();
  }
});
