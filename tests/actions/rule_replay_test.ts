/**
 * Replaying a rule over stored mail: the dry-run lists what each message would get and keeps
 * nothing; the confirmation enqueues exactly that list through the reply step's settlement and
 * dedup keys, audited as `rule_replayed`; mail older than the date is untouched; a second replay
 * sends nothing new; a confirmation whose list changed is refused. On PGlite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db, Queryable } from "../../src/store/db.ts";
import { listAccounts } from "../../src/store/accounts.ts";
import { replayStep } from "../../src/jobs/reply_step.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { createRule } from "../../src/actions/rules.ts";
import { type ReplayRequest, replayRule } from "../../src/actions/rule_replay.ts";
import type { ReplayResult } from "../../src/domain/rule_replay.ts";
import { seedBoxAccount } from "../support/databases.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { ACK, auditRows, failingWithin, T } from "./support.ts";

const replyDeps = {
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
};

const deps = (db: Db) => ({ db, now: () => T, replayMessage: replayStep(replyDeps) });

const SINCE = new Date("2026-03-01T00:00:00Z");

function request(confirm: string | null, extra: Partial<ReplayRequest> = {}): ReplayRequest {
  return {
    filters: { since: SINCE, kind: "direct" },
    typed: { since: "2026-03-01", kind: "direct" },
    confirm,
    ...extra,
  };
}

const at = (day: string) => new Date(`${day}T10:00:00Z`);

/** The account (connected on 4 March: earlier mail is history to the collector), a rule, mail. */
async function seed(db: Db) {
  await seedBoxAccount(db);
  await db.query("UPDATE accounts SET connected_at = '2026-03-04T00:00:00Z'");
  const rule = await createRule({ db, now: () => T }, ACK, "ana");
  assert.ok(rule.ok);
  const m = {
    old: await seedMessage(db, eml({ from: "Olga <olga@cliente.test>" }), {
      receivedAt: at("2026-02-20"),
    }),
    bruno: await seedMessage(db, eml({ from: "Bruno <bruno@cliente.test>" }), {
      receivedAt: at("2026-03-02"),
    }),
    carla: await seedMessage(db, eml({ from: "Carla <carla@cliente.test>" }), {
      receivedAt: at("2026-03-05"),
    }),
    brunoAgain: await seedMessage(
      db,
      eml({ from: "Bruno <bruno@cliente.test>", subject: "De novo" }),
      { receivedAt: at("2026-03-06") },
    ),
    robot: await seedMessage(
      db,
      eml({ from: "robo@cliente.test", headers: { "Auto-Submitted": "auto-replied" } }),
      { receivedAt: at("2026-03-07") },
    ),
    forward: await seedMessage(db, eml({ from: "Davi <davi@empresa.test>" }), {
      receivedAt: at("2026-03-08"),
      kind: "forwarded",
    }),
  };
  return { ruleId: rule.value.id, m };
}

async function outbox(db: Db) {
  return (await db.query<{ message_id: number; recipient: string; dedup_key: string }>(
    "SELECT message_id, recipient, dedup_key FROM outbox ORDER BY id",
  )).map((r) => [Number(r.message_id), r.recipient, r.dedup_key]);
}

function outcomes(r: ReplayResult) {
  return r.items.map((i) => [
    i.messageId,
    i.result.outcome === "reply" ? "reply" : i.result.reason,
  ]);
}

storeTest(
  "replay: the dry-run lists and keeps nothing; the confirmation enqueues that list",
  async (db) => {
    const { ruleId, m } = await seed(db);
    const dry = await replayRule(deps(db), ruleId, request(null), "ana");
    assert.ok(dry.ok, JSON.stringify(dry));
    const expected = [
      [m.bruno, "reply"],
      [m.carla, "reply"],
      // The rate window holds the second message of a sender within the replay itself.
      [m.brunoAgain, "rate_limited"],
      [m.robot, "auto_submitted"],
    ];
    assert.deepEqual(outcomes(dry.value), expected);
    assert.equal(dry.value.confirmed, false);
    assert.deepEqual([dry.value.replies, dry.value.skipped], [2, 2]);
    assert.match(dry.value.token, /^[0-9a-f]{64}$/);
    // Nothing of the dry-run stays: no row, no reservation, no audit, no decision changed.
    assert.deepEqual(await outbox(db), []);
    assert.deepEqual(await auditRows(db, "enqueued"), []);
    assert.deepEqual(await auditRows(db, "rule_replayed"), []);
    assert.equal((await db.query("SELECT 1 FROM reply_limits")).length, 0);

    // A token that is not the dry-run's is refused, and nothing is enqueued.
    const wrong = await replayRule(deps(db), ruleId, request("0".repeat(64)), "ana");
    assert.equal(!wrong.ok && wrong.problem.code, "conflict");
    assert.deepEqual(await outbox(db), []);

    const done = await replayRule(deps(db), ruleId, request(dry.value.token), "ana");
    assert.ok(done.ok, JSON.stringify(done));
    assert.equal(done.value.confirmed, true);
    assert.deepEqual(outcomes(done.value), expected);
    const rows = await outbox(db);
    assert.deepEqual(rows.map((r) => r.slice(0, 2)), [
      [m.bruno, "bruno@cliente.test"],
      [m.carla, "carla@cliente.test"],
    ]);
    // The collector's dedup keys (src/domain/reply_composer.ts): v1/{account}/{sha256}/{rule}.
    for (const r of rows) assert.match(r[2] as string, /^v1\/\d+\/[0-9a-f]{64}\/ack$/);
    // Mail older than the date is untouched: no reply, and its decision is the collector's.
    assert.ok(!rows.some((r) => r[0] === m.old));
    const decisions = await db.query<{ message_id: number; outcome: string; rule_name: string }>(
      "SELECT message_id, outcome, rule_name FROM decisions ORDER BY message_id",
    );
    assert.deepEqual(
      decisions.map((d) => [Number(d.message_id), d.outcome, d.rule_name]),
      [[m.bruno, "reply", "ack"], [m.carla, "reply", "ack"]],
    );
    const [audit] = await auditRows(db, "rule_replayed");
    assert.deepEqual(audit, {
      rule: "ack",
      since: "2026-03-01T00:00:00.000Z",
      filters: { since: "2026-03-01", kind: "direct" },
      examined: 4,
      enqueued: 2,
      skipped: 2,
      capped: false,
      by: "ana",
    });
    assert.equal((await auditRows(db, "enqueued")).length, 2);
  },
);

storeTest("replay: replaying twice sends nothing new", async (db) => {
  const { ruleId, m } = await seed(db);
  const first = await replayRule(deps(db), ruleId, request(null), "ana");
  assert.ok(first.ok);
  assert.ok((await replayRule(deps(db), ruleId, request(first.value.token), "ana")).ok);
  const before = await outbox(db);
  assert.equal(before.length, 2);

  const again = await replayRule(deps(db), ruleId, request(null), "ana");
  assert.ok(again.ok);
  assert.equal(again.value.replies, 0);
  assert.deepEqual(outcomes(again.value).slice(0, 2), [
    [m.bruno, "already_answered"],
    [m.carla, "already_answered"],
  ]);
  const confirmed = await replayRule(deps(db), ruleId, request(again.value.token), "ana");
  assert.ok(confirmed.ok);
  assert.equal(confirmed.value.replies, 0);
  assert.deepEqual(await outbox(db), before);
  // The earlier token no longer matches what a replay would do.
  const stale = await replayRule(deps(db), ruleId, request(first.value.token), "ana");
  assert.equal(!stale.ok && stale.problem.code, "conflict");
  assert.deepEqual(await outbox(db), before);
});

storeTest("replay: a change after the dry-run refuses the confirmation", async (db) => {
  const { ruleId } = await seed(db);
  const dry = await replayRule(deps(db), ruleId, request(null), "ana");
  assert.ok(dry.ok);
  // New mail that the replay would answer arrives meanwhile.
  await seedMessage(db, eml({ from: "Eva <eva@cliente.test>" }), { receivedAt: at("2026-03-09") });
  const refused = await replayRule(deps(db), ruleId, request(dry.value.token), "ana");
  assert.equal(!refused.ok && refused.problem.code, "conflict");
  assert.deepEqual(await outbox(db), []);
  assert.deepEqual(await auditRows(db, "rule_replayed"), []);
});

storeTest("replay: the date is required; unknown and ignore rules are problems", async (db) => {
  const { ruleId } = await seed(db);
  const noDate = await replayRule(
    deps(db),
    ruleId,
    request(null, { filters: { kind: "direct" } }),
    "ana",
  );
  assert.equal(!noDate.ok && noDate.problem.code, "invalid");
  const missing = await replayRule(deps(db), 9999, request(null), "ana");
  assert.equal(!missing.ok && missing.problem.code, "not_found");
  const ignore = await createRule(
    { db, now: () => T },
    { name: "quiet", when: { kind: "direct" }, ignore: true },
    "ana",
  );
  assert.ok(ignore.ok);
  const ignored = await replayRule(deps(db), ignore.value.id, request(null), "ana");
  assert.equal(!ignored.ok && ignored.problem.code, "invalid");
});

storeTest("replay: a filter that matches more than the batch is cut and says so", async (db) => {
  const { ruleId } = await seed(db);
  // 1,001 more direct messages would be slow to seed one by one: copy one stored row.
  const [{ id }] = await db.query<{ id: number }>(
    "SELECT id FROM messages WHERE from_address = 'carla@cliente.test'",
  );
  await db.query(
    `INSERT INTO messages (account_id, mailbox, uidvalidity, uid, raw, content_sha256, size,
       internal_date, collected_at, parse_status, from_address, subject, kind,
       confidence, evidence, to_addresses)
     SELECT account_id, mailbox, uidvalidity, uid + 100000 + g, raw, md5(g::text) || md5(g::text),
       size, internal_date + g * interval '1 second', collected_at, parse_status, 'x' || g || '@cliente.test', subject, kind, confidence,
       evidence, to_addresses
     FROM messages, generate_series(1, 1001) g WHERE id = $1`,
    [id],
  );
  const dry = await replayRule(deps(db), ruleId, request(null), "ana");
  assert.ok(dry.ok, JSON.stringify(dry));
  assert.equal(dry.value.capped, true);
  assert.equal(dry.value.items.length, 1000);
});

storeTest("replay: the replies and the audit rows commit together or not at all", async (db) => {
  const { ruleId } = await seed(db);
  const dry = await replayRule(deps(db), ruleId, request(null), "ana");
  assert.ok(dry.ok);
  // The confirmation is killed at its first audit row, after an outbox row was inserted.
  const failing = failingWithin(db, /^\s*INSERT INTO audit_events/);
  await assert.rejects(
    replayRule({ ...deps(db), db: failing }, ruleId, request(dry.value.token), "ana"),
    /killed before/,
  );
  assert.deepEqual(await outbox(db), []);
  assert.deepEqual(await auditRows(db, "rule_replayed"), []);
  assert.equal((await db.query("SELECT 1 FROM reply_limits")).length, 0);
  // The same token still confirms: nothing of the killed attempt stayed.
  assert.ok((await replayRule(deps(db), ruleId, request(dry.value.token), "ana")).ok);
  assert.equal((await outbox(db)).length, 2);
});
