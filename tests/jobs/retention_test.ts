/**
 * Retention and erasure on both databases, through the real ingest path (stored raw bytes,
 * parsed, classified and decided by src/jobs/process_messages.ts with the decide step of
 * src/jobs/ingest.ts): messages older than an account's setting are gone after the purge with
 * their decisions and replies, newer ones untouched, older raw sources dropped while the parsed
 * message stays, the audit summary counts it all; an erased address appears in no text or jsonb
 * column of any table; and a copy of a purged or erased message that arrives again is not
 * answered a second time.
 */
import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { listAccounts, upsertEnvAccount } from "../../src/store/accounts.ts";
import { storeArrival } from "../../src/store/messages.ts";
import { replaceRules } from "../../src/store/rule_set.ts";
import { parseRules } from "../../src/domain/rules.ts";
import { DEFAULT_RATE_LIMIT_POLICY } from "../../src/domain/rate_limit.ts";
import { sha256Hex } from "../../src/domain/sha256.ts";
import { addressHash } from "../../src/domain/retention.ts";
import { decideStep } from "../../src/jobs/ingest.ts";
import { processPending } from "../../src/jobs/process_messages.ts";
import { readAccountContext } from "../../src/jobs/account_context.ts";
import { analyzeMessage } from "../../src/mail/analyze.ts";
import { purgeExpired } from "../../src/jobs/retention_purge.ts";
import { saveAccountSettings } from "../../src/actions/account_settings.ts";
import { eraseAddress, saveRetentionSettings } from "../../src/actions/retention.ts";
import { getMessageDetail, getRawMessage } from "../../src/store/message_detail.ts";
import { addressPattern } from "../../src/store/erasure.ts";
import { insertWebhookEndpoint } from "../../src/store/webhooks.ts";

const NOW = new Date("2026-06-01T10:00:00Z");
const DAY = 86_400_000;
const BOX = "box@example.test";

const decide = decideStep({
  policy: DEFAULT_RATE_LIMIT_POLICY,
  sendDeadlineMs: 86_400_000,
  accountContext: (q, id) => readAccountContext(q, id, "UTC"),
  ownAddresses: async (q) => (await listAccounts(q)).map((a) => a.address),
});

/** An account answering every direct message, and the ingest of one raw message at a time. */
async function setup(db: Db) {
  const account = await upsertEnvAccount(db, {
    name: "box",
    address: BOX,
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: "plain",
    imapUser: "box",
    mailboxes: ["INBOX"],
  });
  await db.query("UPDATE accounts SET connected_at = '2026-01-01T00:00:00Z'");
  const rules = parseRules([{
    name: "ack",
    enabled: true,
    when: { kind: "direct" },
    reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos, {{from_name}}." },
  }]);
  assert.ok(rules.ok);
  await replaceRules(db, rules.rules, NOW);
  let uid = 0;
  /** Stores `raw` as arrived at `at`, then parses, classifies and decides it; returns its id. */
  const arrive = async (raw: Uint8Array, at: Date): Promise<number> => {
    const stored = await storeArrival(
      db,
      account.id,
      "INBOX",
      1,
      {
        uid: ++uid,
        raw,
        sha256: sha256Hex(raw),
        internalDate: at,
      },
      false,
      at,
    );
    const done = await processPending(
      { db, analyze: analyzeMessage, now: () => at, afterClassified: decide },
      account.id,
    );
    assert.equal(done.parsed, 1);
    return stored.id;
  };
  return { account, arrive };
}

function letter(from: string, subject: string, at: Date, messageId: string = crypto.randomUUID()) {
  return new TextEncoder().encode(
    `From: Cliente <${from}>\r\nTo: ${BOX}\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${messageId}@cliente.test>\r\nDate: ${at.toUTCString()}\r\n\r\n` +
      `Bom dia, escrevo de ${from}.\r\n`,
  );
}

async function decisionOf(db: Db, messageId: number) {
  const [d] = await db.query<{ outcome: string; reason: string | null; detail: string | null }>(
    "SELECT outcome, reason, detail FROM decisions WHERE message_id = $1",
    [messageId],
  );
  return d;
}

async function repliesOf(db: Db, messageId: number): Promise<number> {
  const [r] = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outbox WHERE message_id = $1",
    [messageId],
  );
  return r.n;
}

/** Marks every reply as sent, as the outbox drain would have. */
async function sendAll(db: Db) {
  await db.query(
    "UPDATE outbox SET status = 'sent', sent_at = created_at WHERE status = 'pending'",
  );
}

storeTest("the purge removes what is older than each setting and nothing newer", async (db) => {
  const { account, arrive } = await setup(db);
  const old = await arrive(
    letter("ana@cliente.test", "Antigo", new Date(NOW.getTime() - 40 * DAY)),
    new Date(NOW.getTime() - 40 * DAY),
  );
  const middle = await arrive(
    letter("bia@cliente.test", "Do meio", new Date(NOW.getTime() - 10 * DAY)),
    new Date(NOW.getTime() - 10 * DAY),
  );
  const recent = await arrive(
    letter("caio@cliente.test", "Recente", new Date(NOW.getTime() - DAY)),
    new Date(NOW.getTime() - DAY),
  );
  await sendAll(db);
  for (const id of [old, middle, recent]) assert.equal(await repliesOf(db, id), 1);
  await db.query("INSERT INTO audit_events (event, at, detail) VALUES ('login', $1, '{}')", [
    new Date(NOW.getTime() - 100 * DAY).toISOString(),
  ]);

  const deps = { db, now: () => NOW };
  const set = await saveAccountSettings(
    deps,
    account.id,
    { keep_raw_days: 7, keep_messages_days: 30 },
    "admin@example.test",
  );
  assert.ok(set.ok, JSON.stringify(set));
  assert.ok((await saveRetentionSettings(deps, { keep_audit_days: 90 }, "admin@example.test")).ok);

  const dry = await purgeExpired(deps, { dryRun: true, by: "cli" });
  assert.deepEqual(
    { ...dry.totals, decisions: 0 },
    { raw: 1, messages: 1, decisions: 0, replies: 1, audit: 1 },
  );
  assert.equal((await db.query("SELECT id FROM messages")).length, 3, "a dry run changes nothing");

  const report = await purgeExpired({ ...deps, batch: 1 }, { dryRun: false, by: "cron" });
  assert.deepEqual(report.totals, { raw: 1, messages: 1, decisions: 1, replies: 1, audit: 1 });
  // The old message is gone with its decision and reply; the newer ones are all there.
  assert.deepEqual(
    (await db.query<{ id: number }>("SELECT id FROM messages ORDER BY id")).map((r) =>
      Number(r.id)
    ),
    [middle, recent],
  );
  assert.equal(await decisionOf(db, old), undefined);
  assert.equal(await repliesOf(db, old), 0);
  // The middle one keeps its parsed message without its raw source; the recent one keeps both.
  assert.equal(await getRawMessage(db, middle), "purged");
  const detail = await getMessageDetail(db, middle);
  assert.equal(detail?.subject, "Do meio");
  assert.deepEqual(detail?.rawPurgedAt, NOW);
  assert.equal(await repliesOf(db, middle), 1);
  assert.ok((await getRawMessage(db, recent)) instanceof Uint8Array);
  assert.equal((await getMessageDetail(db, recent))?.rawPurgedAt, null);
  // One summary for the run, with the counts per kind and per account.
  const summaries = await db.query<{ detail: Record<string, unknown> }>(
    "SELECT detail FROM audit_events WHERE event = 'retention_purged'",
  );
  assert.equal(summaries.length, 1);
  assert.deepEqual(summaries[0].detail, {
    raw: 1,
    messages: 1,
    decisions: 1,
    replies: 1,
    audit: 1,
    accounts: [{ account_id: account.id, raw: 1, messages: 1, replies: 1 }],
    by: "cron",
  });
  assert.equal(
    (await db.query("SELECT id FROM audit_events WHERE event = 'login'")).length,
    0,
    "the audit row older than 90 days is gone",
  );

  // A second run finds nothing more, and says so in its own summary.
  const again = await purgeExpired(deps, { dryRun: false, by: "cron" });
  assert.deepEqual(again.totals, { raw: 0, messages: 0, decisions: 0, replies: 0, audit: 0 });
  assert.equal(
    (await db.query("SELECT id FROM audit_events WHERE event = 'retention_purged'")).length,
    2,
  );
});

storeTest("with the default settings the purge keeps everything and writes nothing", async (db) => {
  const { arrive } = await setup(db);
  const at = new Date(NOW.getTime() - 400 * DAY);
  await arrive(letter("ana@cliente.test", "Muito antigo", at), at);
  const report = await purgeExpired({ db, now: () => NOW }, { dryRun: false, by: "cron" });
  assert.deepEqual(report.totals, { raw: 0, messages: 0, decisions: 0, replies: 0, audit: 0 });
  assert.equal((await db.query("SELECT id FROM messages WHERE raw IS NOT NULL")).length, 1);
  assert.equal(
    (await db.query("SELECT id FROM audit_events WHERE event = 'retention_purged'")).length,
    0,
  );
});

storeTest("a copy of a purged message that arrives again gets no second reply", async (db) => {
  const { account, arrive } = await setup(db);
  const at = new Date(NOW.getTime() - 40 * DAY);
  const raw = letter("ana@cliente.test", "Pedido", at, "pedido-1");
  const first = await arrive(raw, at);
  assert.equal(await repliesOf(db, first), 1);
  await sendAll(db);
  const deps = { db, now: () => NOW };
  assert.ok((await saveAccountSettings(deps, account.id, { keep_messages_days: 30 }, "a")).ok);
  assert.equal((await purgeExpired(deps, { dryRun: false, by: "cli" })).totals.messages, 1);
  assert.equal((await db.query("SELECT id FROM outbox")).length, 0);

  // The same bytes again (a new UID), and the same message with other trace headers.
  const copy = await arrive(raw, NOW);
  const retraced = await arrive(
    new Uint8Array([
      ...new TextEncoder().encode("Received: from mx2.cliente.test by mx.example.test\r\n"),
      ...raw,
    ]),
    NOW,
  );
  for (const id of [copy, retraced]) {
    assert.equal(await repliesOf(db, id), 0, `message ${id} was answered again`);
    const d = await decisionOf(db, id);
    assert.equal(d.outcome, "suppressed");
    assert.equal(d.reason, "already_answered");
    assert.match(d.detail ?? "", /removed/);
  }
  // Another message of the same sender is answered as usual.
  const other = await arrive(letter("ana@cliente.test", "Outro pedido", NOW), NOW);
  assert.equal(await repliesOf(db, other), 1);
});

/** Every (table, column) of the schema whose text or jsonb holds `needle`, case-insensitive. */
async function whereFound(db: Db, needle: string): Promise<string[]> {
  const columns = await db.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema
       AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
     WHERE c.table_schema = current_schema()
       AND c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'ARRAY',
         'bytea', 'tsvector')
     ORDER BY c.table_name, c.ordinal_position`,
  );
  assert.ok(columns.length > 50, `only ${columns.length} columns found`);
  const found: string[] = [];
  for (const { table_name: table, column_name: column, data_type: type } of columns) {
    // Raw bytes are read as text with `escape` encoding: ASCII stays as it is.
    const text = type === "bytea" ? `encode("${column}", 'escape')` : `"${column}"::text`;
    const [r] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${table}" WHERE strpos(lower(${text}), $1) > 0`,
      [needle.toLowerCase()],
    );
    if (r.n > 0) found.push(`${table}.${column} (${r.n})`);
  }
  return found;
}

storeTest(
  "an erased address appears nowhere, and a copy of its mail is not answered",
  async (db) => {
    const { arrive } = await setup(db);
    // A webhook told of every reply: its deliveries name the address too.
    await insertWebhookEndpoint(db, {
      accountId: null,
      url: "https://hooks.example.com/in",
      secret: "whsec_test",
      events: ["reply.queued", "reply.sent"],
      enabled: true,
      description: "",
    }, NOW);
    const ERASED = "Zeca.Erased@cliente.test";
    const at = new Date(NOW.getTime() - 2 * DAY);
    const raw = letter(ERASED, "Quero meus dados apagados", at, "zeca-1");
    const fromZeca = await arrive(raw, at);
    // Mail that names the address without being from it, and mail of someone else.
    const naming = await arrive(
      new TextEncoder().encode(
        `From: <lia@cliente.test>\r\nTo: ${BOX}\r\nCc: ${ERASED.toLowerCase()}\r\n` +
          `Subject: Sobre o Zeca\r\nMessage-ID: <lia-1@cliente.test>\r\n\r\nOi\r\n`,
      ),
      at,
    );
    const other = await arrive(letter("joana.erased@cliente.test", "Outra pessoa", at), at);
    await sendAll(db);
    assert.equal(await repliesOf(db, fromZeca), 1);
    assert.ok((await whereFound(db, ERASED)).length > 0, "the address was stored");
    await db.query(
      "INSERT INTO login_attempts (at, email, ip, success) VALUES ($1, lower($2), '10.0.0.1', false)",
      [at.toISOString(), ERASED],
    );

    const [told] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM webhook_deliveries WHERE strpos(lower(body), lower($1)) > 0",
      [ERASED],
    );
    assert.ok(told.n >= 1, "a webhook delivery names the address");
    const deps = { db, now: () => NOW };
    const dry = await eraseAddress(deps, ERASED, "admin@example.test", { dryRun: true });
    assert.ok(dry.ok);
    assert.equal(
      (await db.query("SELECT id FROM messages")).length,
      3,
      "a dry run changes nothing",
    );
    const erased = await eraseAddress(deps, ERASED, "admin@example.test", { dryRun: false });
    assert.ok(erased.ok);
    assert.deepEqual(erased.value.removed, dry.value.removed, "the dry run counted the same");
    assert.equal(erased.value.removed.messages, 2);
    assert.equal(erased.value.removed.decisions, 2);
    assert.equal(erased.value.removed.outbox, 2);
    assert.equal(erased.value.removed.reply_limits, 1);
    assert.equal(erased.value.removed.login_attempts, 1);
    assert.equal(erased.value.removed.webhook_deliveries, told.n);
    assert.ok(erased.value.removed.audit_events >= 4);

    assert.deepEqual(await whereFound(db, ERASED), []);
    assert.deepEqual(
      (await db.query<{ id: number }>("SELECT id FROM messages")).map((r) => Number(r.id)),
      [other],
      "joana's mail is not zeca's",
    );
    void naming;
    // The erasure is audited by the address's hash, never the address.
    const [audit] = await db.query<{ detail: { address_sha256: string; by: string } }>(
      "SELECT detail FROM audit_events WHERE event = 'address_erased'",
    );
    assert.equal(audit.detail.address_sha256, addressHash(ERASED));
    assert.equal(audit.detail.by, "admin@example.test");

    // The same message delivered again is not answered a second time.
    const copy = await arrive(raw, NOW);
    assert.equal(await repliesOf(db, copy), 0);
    assert.equal((await decisionOf(db, copy)).reason, "already_answered");
  },
);

storeTest(
  "an erasure refuses what is not an address, an account's own, and a send in flight",
  async (db) => {
    const { arrive } = await setup(db);
    const deps = { db, now: () => NOW };
    for (const bad of ["", "zeca", "@cliente.test", "a b@c.test", 42]) {
      const r = await eraseAddress(deps, bad, "cli", { dryRun: false });
      assert.ok(!r.ok && r.problem.code === "invalid", String(bad));
    }
    const own = await eraseAddress(deps, BOX.toUpperCase(), "cli", { dryRun: false });
    assert.ok(!own.ok && /account/.test(own.problem.message));
    // A reply being sent: the sender's record of it would name the address again.
    const zeca = await arrive(letter("zeca@cliente.test", "Pedido", NOW), NOW);
    await db.query(
      "UPDATE outbox SET status = 'sending', claim_token = 'c' WHERE message_id = $1",
      [
        zeca,
      ],
    );
    for (const dryRun of [true, false]) {
      const busy = await eraseAddress(deps, "zeca@cliente.test", "cli", { dryRun });
      assert.ok(!busy.ok && busy.problem.code === "conflict", JSON.stringify(busy));
    }
    assert.equal(await repliesOf(db, zeca), 1);
    assert.equal(
      (await db.query("SELECT id FROM audit_events WHERE event = 'address_erased'")).length,
      0,
    );
    // The address as a whole: not inside a longer one, a full stop after it allowed.
    const pattern = addressPattern("ana@cliente.test");
    const [m] = await db.query<Record<string, boolean>>(
      `SELECT 'Para: Ana <ana@cliente.test>' ~* $1 AS named, 'escreva a ana@cliente.test.' ~* $1 AS dot,
       'joana@cliente.test' ~* $1 AS longer_before, 'ana@cliente.test.br' ~* $1 AS longer_after,
       'ANA@Cliente.Test' ~* $1 AS cased`,
      [pattern],
    );
    assert.deepEqual(m, {
      named: true,
      dot: true,
      longer_before: false,
      longer_after: false,
      cased: true,
    });
  },
);
