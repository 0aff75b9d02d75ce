import assert from "node:assert/strict";
import { storeTest } from "../support/databases.ts";
import { upsertEnvAccount } from "../../src/store/accounts.ts";
import {
  pendingMessages,
  type RawArrival,
  storeArrival,
  storeArrivals,
} from "../../src/store/messages.ts";
import type { AuditEvent } from "../../src/domain/audit_events.ts";
import { recordEvents } from "../../src/store/audit.ts";
import { advanceMailbox, reconcileMailbox } from "../../src/store/mailbox_state.ts";
import { migrate, readMigrations } from "../../src/store/migrate.ts";
import { LockNamespace } from "../../src/store/db.ts";
import { readStats } from "../../src/store/stats.ts";
import type { Db } from "../../src/store/db.ts";

const AT = new Date("2026-01-02T03:04:05Z");

async function account(db: Db) {
  return await upsertEnvAccount(db, {
    name: "test",
    address: "box@example.test",
    imapHost: "127.0.0.1",
    imapPort: 1143,
    imapTls: "starttls",
    imapUser: "box@example.test",
    mailboxes: ["INBOX"],
  });
}

function arrival(uid: number, body: string, sha = `sha-${body}`): RawArrival {
  return {
    uid,
    raw: new TextEncoder().encode(`Subject: ${body}\r\n\r\n${body}\r\n`),
    sha256: sha,
    internalDate: null,
  };
}

async function places(db: Db) {
  return (await db.query<{ uidvalidity: number; uid: number; content_sha256: string }>(
    "SELECT uidvalidity, uid, content_sha256 FROM messages ORDER BY id",
  )).map((r) => `${r.uidvalidity}/${r.uid}/${r.content_sha256}`);
}

storeTest("migrations apply once and again as a no-op", async (db) => {
  const again = await migrate(db, await readMigrations());
  assert.deepEqual(again, []);
  const names = await db.query<{ name: string }>("SELECT name FROM schema_migrations");
  assert.ok(names.some((n) => n.name === "0001_messages.sql"));
});

storeTest("a place is stored once; raw bytes come back identical", async (db) => {
  const a = await account(db);
  const m = arrival(1, "hello");
  m.raw = new Uint8Array([0x00, 0xff, 0x0d, 0x0a, 0xe7, 0xe3]);
  const first = await storeArrival(db, a.id, "INBOX", 7, m, false, AT);
  const second = await storeArrival(db, a.id, "INBOX", 7, m, false, AT);
  assert.equal(first.outcome, "stored");
  assert.deepEqual(second, { outcome: "present", id: first.id });
  const [row] = await db.query<{ raw: Uint8Array; size: number }>(
    "SELECT raw, size FROM messages WHERE id = $1",
    [first.id],
  );
  assert.deepEqual(new Uint8Array(row.raw), m.raw);
  assert.equal(row.size, 6);
});

storeTest(
  "a large message is stored in pieces, byte for byte, in UID order with the rest",
  async (db) => {
    const a = await account(db);
    // 5 MB and a bit: three pieces of 2 MB, the last one short; every byte value present.
    const big = new Uint8Array(5 * 2 ** 20 + 12345);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;
    const arrivals = [
      arrival(1, "before"),
      { uid: 2, raw: big, sha256: "sha-big", internalDate: null },
      arrival(3, "after"),
    ];
    const stored = await db.transaction((tx) => storeArrivals(tx, a.id, "INBOX", 7, arrivals, AT));
    assert.deepEqual(stored.map((s) => s.outcome), ["stored", "stored", "stored"]);
    const ids = stored.map((s) => (s as { id: number }).id);
    assert.ok(ids[0] < ids[1] && ids[1] < ids[2], "ids keep the order of the UIDs");
    const [row] = await db.query<{ raw: Uint8Array; size: number }>(
      "SELECT raw, size FROM messages WHERE uid = 2",
    );
    assert.equal(row.size, big.length);
    assert.ok(new Uint8Array(row.raw).every((b, i) => b === big[i]), "the bytes are the same");
    assert.equal(new Uint8Array(row.raw).length, big.length);
    // Stored again (another run): present, nothing added; the pieces' table is gone at commit.
    const again = await db.transaction((tx) =>
      storeArrivals(tx, a.id, "INBOX", 7, [arrivals[1]], AT)
    );
    assert.deepEqual(again, [{ outcome: "present" }]);
    const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM messages");
    assert.equal(n, 3);
  },
);

storeTest(
  "a long raw source is compressed with lz4 where the server has it, else stored as it is",
  async (db) => {
    const a = await account(db);
    const m = arrival(1, "x");
    m.raw = new TextEncoder().encode(
      "Subject: long\r\n\r\n" + "Bom dia, tudo bem?\r\n".repeat(2000),
    );
    const [stored] = await storeArrivals(db, a.id, "INBOX", 7, [m], AT);
    const [row] = await db.query<{ method: string | null; raw: Uint8Array }>(
      "SELECT pg_column_compression(raw) AS method, raw FROM messages WHERE id = $1",
      [(stored as { id: number }).id],
    );
    // Never pglz: it took a third of the insert's CPU. PGlite is built without lz4.
    assert.notEqual(row.method, "pglz");
    if (db.kind === "pglite") assert.equal(row.method, null);
    assert.deepEqual(new Uint8Array(row.raw), m.raw);
  },
);

storeTest(
  "a UIDVALIDITY change remaps stored messages by content and adds only new ones",
  async (db) => {
    const a = await account(db);
    let s = await reconcileMailbox(db, a.id, "INBOX", 100);
    assert.equal(s.changed, false);
    // Two identical messages (same bytes at two UIDs) and one other.
    await storeArrival(db, a.id, "INBOX", 100, arrival(1, "same"), s.rescanning, AT);
    await storeArrival(db, a.id, "INBOX", 100, arrival(2, "same"), s.rescanning, AT);
    await storeArrival(db, a.id, "INBOX", 100, arrival(3, "other"), s.rescanning, AT);
    await advanceMailbox(db, a.id, "INBOX", 100, 3);

    s = await reconcileMailbox(db, a.id, "INBOX", 200);
    assert.deepEqual({ changed: s.changed, lastUid: s.lastUid, rescanning: s.rescanning }, {
      changed: true,
      lastUid: 0,
      rescanning: true,
    });
    const outcomes = [];
    for (const m of [arrival(10, "same"), arrival(11, "same"), arrival(12, "other")]) {
      outcomes.push((await storeArrival(db, a.id, "INBOX", 200, m, true, AT)).outcome);
    }
    // A third copy, and a message that arrived during the change, are new.
    outcomes.push(
      (await storeArrival(db, a.id, "INBOX", 200, arrival(13, "same"), true, AT)).outcome,
    );
    outcomes.push(
      (await storeArrival(db, a.id, "INBOX", 200, arrival(14, "new"), true, AT)).outcome,
    );
    assert.deepEqual(outcomes, ["remapped", "remapped", "remapped", "stored", "stored"]);
    assert.deepEqual(await places(db), [
      "200/10/sha-same",
      "200/11/sha-same",
      "200/12/sha-other",
      "200/13/sha-same",
      "200/14/sha-new",
    ]);
    // Replaying the rescan (a run killed before its commit) finds every place present.
    const replay = await storeArrival(db, a.id, "INBOX", 200, arrival(10, "same"), true, AT);
    assert.equal(replay.outcome, "present");
  },
);

storeTest("the mailbox mark only moves forward", async (db) => {
  const a = await account(db);
  await reconcileMailbox(db, a.id, "INBOX", 5);
  await advanceMailbox(db, a.id, "INBOX", 5, 40);
  await advanceMailbox(db, a.id, "INBOX", 5, 20);
  const s = await reconcileMailbox(db, a.id, "INBOX", 5);
  assert.equal(s.lastUid, 40);
});

storeTest("an advisory lock is held by one taker at a time", async (db) => {
  let inner: unknown = "not run";
  const outer = await db.tryWithLock(LockNamespace.collect, 1, async () => {
    inner = await db.tryWithLock(LockNamespace.collect, 1, () => Promise.resolve("second"));
    const other = await db.tryWithLock(LockNamespace.collect, 2, () => Promise.resolve("other"));
    return other;
  });
  assert.deepEqual(inner, { acquired: false });
  assert.deepEqual(outer, { acquired: true, value: { acquired: true, value: "other" } });
  const after = await db.tryWithLock(LockNamespace.collect, 1, () => Promise.resolve("again"));
  assert.deepEqual(after, { acquired: true, value: "again" });
});

storeTest("text with NUL characters is stored without them; stats count by kind", async (db) => {
  const a = await account(db);
  const stored = await storeArrival(db, a.id, "INBOX", 1, arrival(1, "x"), false, AT);
  const { saveParsed } = await import("../../src/store/messages.ts");
  await saveParsed(
    db,
    stored.id,
    {
      messageId: "<a\u0000b@example.test>",
      from: [{ name: "N\u0000ame", address: "a@example.test" }],
      sender: null,
      replyTo: [],
      to: [],
      cc: [],
      subject: "sub\u0000ject",
      date: null,
      inReplyTo: null,
      references: [],
      headers: { "x-nul": ["a\u0000b"] },
      text: "te\u0000xt",
      html: null,
      attachments: [],
      attachedMessages: [],
    },
    { kind: "forwarded", original: null, confidence: 0.9, evidence: ["e"] },
    AT,
  );
  const [row] = await db.query<{ subject: string; text_body: string; headers: unknown }>(
    "SELECT subject, text_body, headers FROM messages WHERE id = $1",
    [stored.id],
  );
  assert.equal(row.subject, "subject");
  assert.equal(row.text_body, "text");
  assert.deepEqual(row.headers, { "x-nul": ["ab"] });
  const stats = await readStats(db, AT);
  assert.deepEqual(
    { m: stats.messages, f: stats.forwarded, d: stats.direct, u: stats.unparsed },
    { m: 1, f: 1, d: 0, u: 0 },
  );
  assert.equal(stats.accounts[0].messages, 1);
});

storeTest(
  "a batch of parse results is saved with one statement, each on its own row",
  async (db) => {
    const a = await account(db);
    const one = await storeArrival(db, a.id, "INBOX", 1, arrival(1, "one"), false, AT);
    const two = await storeArrival(db, a.id, "INBOX", 1, arrival(2, "two"), false, AT);
    const left = await storeArrival(db, a.id, "INBOX", 1, arrival(3, "three"), false, AT);
    const { saveParsedBatch } = await import("../../src/store/messages.ts");
    const email = (subject: string, text: string) => ({
      messageId: `<${subject}@example.test>`,
      from: [{ name: "", address: `${subject}@example.test` }],
      sender: null,
      replyTo: [],
      to: [{ name: "To", address: "to@example.test" }],
      cc: [],
      subject,
      date: new Date("2025-12-31T23:00:00Z"),
      inReplyTo: null,
      references: ["<r@example.test>"],
      headers: { subject: [subject] },
      text,
      html: null,
      attachments: [],
      attachedMessages: [],
    });
    await saveParsedBatch(db, [
      {
        id: one.id,
        // A lone surrogate (broken UTF-16) is kept as U+FFFD, as a text parameter keeps it.
        email: email("first", "broken \ud800 text"),
        classification: {
          kind: "forwarded",
          original: {
            fromAddress: "orig@example.test",
            fromName: "Orig",
            subject: "Pedido",
            date: "1 Jan",
            dateIso: "2025-01-01T00:00:00.000Z",
          },
          confidence: 0.75,
          evidence: ["marker"],
        },
      },
      {
        id: two.id,
        email: email("second", "plain"),
        classification: { kind: "direct", original: null, confidence: 1, evidence: [] },
      },
    ], AT);
    const rows = await db.query<{
      id: number;
      parse_status: string;
      subject: string | null;
      text_body: string | null;
      from_address: string | null;
      kind: string | null;
      confidence: number | null;
      original_from_address: string | null;
      original_date_iso: Date | null;
      sent_date: Date | null;
      sender_is_json_null: boolean | null;
      to_addresses: unknown;
      references: unknown;
      parsed_at: Date | null;
      hits: number;
    }>(
      `SELECT id, parse_status, subject, text_body, from_address, kind, confidence,
         original_from_address, original_date_iso, sent_date,
         sender = 'null'::jsonb AS sender_is_json_null, to_addresses, "references", parsed_at,
         COALESCE((SELECT (s.search @@ to_tsquery('portuguese', 'pedido'))::int
                   FROM message_search s WHERE s.message_id = messages.id), 0) AS hits
       FROM messages ORDER BY id`,
    );
    assert.deepEqual(rows.map((r) => [r.id, r.parse_status, r.subject, r.kind]), [
      [one.id, "parsed", "first", "forwarded"],
      [two.id, "parsed", "second", "direct"],
      [left.id, "pending", null, null],
    ]);
    assert.equal(rows[0].text_body, "broken \ufffd text");
    assert.equal(rows[0].from_address, "first@example.test");
    assert.equal(rows[0].confidence, 0.75);
    assert.equal(rows[0].original_from_address, "orig@example.test");
    assert.equal(rows[0].original_date_iso?.toISOString(), "2025-01-01T00:00:00.000Z");
    assert.equal(rows[0].sent_date?.toISOString(), "2025-12-31T23:00:00.000Z");
    assert.equal(rows[0].parsed_at?.toISOString(), AT.toISOString());
    // A null JSON value stays a JSON null, as a single message's save left it.
    assert.equal(rows[1].sender_is_json_null, true);
    assert.deepEqual(rows[1].to_addresses, [{ name: "To", address: "to@example.test" }]);
    assert.deepEqual(rows[1].references, ["<r@example.test>"]);
    // The search vector is computed from what was saved: the original's subject is found.
    assert.deepEqual(rows.map((r) => r.hits), [1, 0, 0]);
  },
);

storeTest(
  "a batch is stored with one statement: new places stored, known ones present",
  async (db) => {
    const a = await account(db);
    const before = await storeArrival(db, a.id, "INBOX", 7, arrival(2, "two"), false, AT);
    const batch = [arrival(1, "one"), arrival(2, "two"), arrival(3, "three")];
    batch[2].raw = new Uint8Array([0x00, 0xff, 0x0d, 0x0a]);
    const out = await storeArrivals(db, a.id, "INBOX", 7, batch, AT);
    assert.equal(out[0].outcome, "stored");
    assert.deepEqual(out[1], { outcome: "present" });
    assert.equal(out[2].outcome, "stored");
    assert.deepEqual(await places(db), ["7/2/sha-two", "7/1/sha-one", "7/3/sha-three"]);
    const pending = await pendingMessages(db, a.id, 10);
    assert.deepEqual(pending.map((p) => p.id), [
      before.id,
      ...out.flatMap((o) => "id" in o ? [o.id] : []),
    ]);
    assert.deepEqual(new Uint8Array(pending[2].raw), batch[2].raw);
    // Read back in pages: after the last id seen, never the same message twice.
    assert.deepEqual(
      (await pendingMessages(db, a.id, 10, pending[1].id)).map((p) => p.id),
      [pending[2].id],
    );
    // A byte budget: the first message always, then as many as fit.
    assert.deepEqual((await pendingMessages(db, a.id, 10, 0, 1)).map((p) => p.id), [before.id]);
    assert.equal((await pendingMessages(db, a.id, 10, 0, 10_000)).length, 3);
    assert.deepEqual(await storeArrivals(db, a.id, "INBOX", 7, [], AT), []);
  },
);

storeTest("audit events are appended several at a time, in order", async (db) => {
  const a = await account(db);
  await recordEvents(db, []);
  await recordEvents(db, [
    { event: "first", at: AT, accountId: a.id, detail: { n: 1 } },
    { event: "second", at: AT, detail: { text: "nul \u0000 kept out" } },
  ] as unknown as AuditEvent[]);
  const rows = await db.query<{ event: string; account_id: number | null; detail: unknown }>(
    "SELECT event, account_id, detail FROM audit_events ORDER BY id",
  );
  assert.deepEqual(rows.map((r) => [r.event, r.account_id]), [["first", a.id], ["second", null]]);
  assert.deepEqual(rows[0].detail, { n: 1 });
});
