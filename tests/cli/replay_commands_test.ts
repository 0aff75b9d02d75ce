/**
 * `rules replay RULE --since DATE [filters] [--confirm TOKEN]`: the dry-run's JSON with its token,
 * then the confirmation that enqueues it; problems on stderr with exit 1, a malformed command line
 * exit 2.
 */
import assert from "node:assert/strict";
import { openTestStore, seedBoxAccount } from "../support/databases.ts";
import type { Queryable } from "../../src/store/db.ts";
import type { AdminIo } from "../../src/cli/admin_commands.ts";
import { rulesReplayCommand } from "../../src/cli/replay_commands.ts";
import { replayStep } from "../../src/jobs/reply_step.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { listAccounts } from "../../src/store/accounts.ts";
import { createRule } from "../../src/actions/rules.ts";
import { eml, seedMessage } from "../routes/support.ts";

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

const replayMessage = replayStep({
  policy: DEFAULT_RATE_LIMIT_POLICY,
  sendDeadlineMs: 86_400_000,
  accountContext: async (q: Queryable, accountId: number) => {
    const a = (await listAccounts(q)).find((x) => x.id === accountId)!;
    return {
      id: a.id,
      name: a.name,
      addresses: [a.address],
      connectedAt: a.connectedAt,
      messageIdDomain: "carteiro.empresa.test",
    };
  },
  ownAddresses: async (q: Queryable) => (await listAccounts(q)).map((a) => a.address),
});

Deno.test("rules replay: a dry-run prints the list and its token; --confirm enqueues it", async () => {
  const store = await openTestStore("pglite");
  try {
    const db = store.db;
    await seedBoxAccount(db);
    await db.query("UPDATE accounts SET connected_at = '2026-01-01T00:00:00Z'");
    const rule = await createRule({ db, now: () => new Date() }, {
      name: "ack",
      when: { kind: "direct" },
      reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos." },
    }, "ana");
    assert.ok(rule.ok);
    await seedMessage(db, eml({ from: "olga@cliente.test" }), {
      receivedAt: new Date("2026-02-10T10:00:00Z"),
    });
    const ana = await seedMessage(db, eml({}), { receivedAt: new Date("2026-03-02T10:00:00Z") });
    const run = async (...args: string[]) => {
      const r = io();
      const code = await rulesReplayCommand({ db, replayMessage }, args, r.io);
      return { code, printed: r.printed as Array<Record<string, unknown>>, said: r.said };
    };

    assert.equal((await run("ack")).code, 2, "--since is required");
    assert.equal((await run("ack", "--since", "2026-03-01", "--bogus")).code, 2);
    const bad = await run("nope", "--since", "2026-13-01", "--kind", "x", "--account", "zz");
    assert.equal(bad.code, 1);
    assert.deepEqual(bad.said, [
      "--since: must be a date (YYYY-MM-DD)",
      "--kind: must be forwarded or direct",
      '--account: no account is called "zz"',
      'RULE: no rule is called "nope"',
    ]);

    const dry = await run("ack", "--since", "2026-03-01", "--account", "box", "--kind", "direct");
    assert.equal(dry.code, 0, dry.said.join("\n"));
    const report = dry.printed[0];
    assert.equal(report.confirmed, false);
    assert.deepEqual([report.examined, report.replies], [1, 1]);
    assert.match(dry.said.at(-1)!, /1 replies would be enqueued.*--confirm [0-9a-f]{64}/);
    assert.equal((await db.query("SELECT 1 FROM outbox")).length, 0);

    const done = await run(
      "ack",
      "--since",
      "2026-03-01",
      "--account",
      "box",
      "--kind",
      "direct",
      "--confirm",
      report.token as string,
    );
    assert.equal(done.code, 0, done.said.join("\n"));
    assert.equal(done.printed[0].confirmed, true);
    assert.deepEqual(done.said, ["1 replies enqueued, 0 messages skipped"]);
    const rows = await db.query<{ message_id: number }>("SELECT message_id FROM outbox");
    assert.deepEqual(rows.map((r) => Number(r.message_id)), [ana]);

    // The same confirmation again: nothing new would be sent, so the token no longer matches.
    const again = await run(
      "ack",
      "--since",
      "2026-03-01",
      "--account",
      "box",
      "--kind",
      "direct",
      "--confirm",
      report.token as string,
    );
    assert.equal(again.code, 1);
    assert.match(again.said.join("\n"), /run the dry-run again/);
    assert.equal((await db.query("SELECT 1 FROM outbox")).length, 1);
  } finally {
    await store.close();
  }
});
