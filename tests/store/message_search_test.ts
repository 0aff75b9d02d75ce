/**
 * The message list's search in its two steps (src/store/message_list.ts): the newest rows first,
 * then the full-text index for older matches. A tiny probe makes both steps, and the seam between
 * them, visible with a dozen messages; every probe size must give the same pages.
 */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { saveDecision } from "../../src/store/decisions.ts";
import { overrideClassification } from "../../src/store/message_detail.ts";
import { deleteAccount } from "../../src/store/accounts_admin.ts";
import {
  listMessages,
  type MessageCursor,
  type MessageFilters,
} from "../../src/store/message_list.ts";

const BASE = Date.parse("2026-03-01T00:00:00.250Z");
const at = (i: number) => new Date(BASE + i * 60_000);

/**
 * Twelve messages, i = 0 (oldest) … 11 (newest): "boleto" in every even one, "zeppelin" only in
 * 0, 1 and 3, the phrase "nota fiscal" in 2 and 5 and both words out of order in 8; every third
 * one forwarded; 4 and 7 decided ("reply"). Returns the ids by i.
 */
async function seed(db: Db): Promise<number[]> {
  await seedBoxAccount(db);
  const ids: number[] = [];
  for (let i = 0; i < 12; i++) {
    const words = [
      i % 2 === 0 ? "boleto" : "",
      [0, 1, 3].includes(i) ? "zeppelin" : "",
      [2, 5].includes(i) ? "segue a nota fiscal" : "",
      i === 8 ? "fiscal da nota" : "",
    ];
    ids.push(
      await seedMessage(
        db,
        eml({ subject: `Assunto ${i}`, text: `Olá. ${words.join(" ")}` }),
        {
          receivedAt: at(i),
          kind: i % 3 === 0 ? "forwarded" : "direct",
          decision: [4, 7].includes(i)
            ? { outcome: "reply", ruleName: "ack", reason: "rule matched", detail: null, trail: [] }
            : undefined,
        },
      ),
    );
  }
  return ids;
}

/** Every page, two rows each, following the cursor; the ids in order. */
async function allPages(db: Db, filters: MessageFilters, probeRows: number): Promise<number[]> {
  const seen: number[] = [];
  let cursor: MessageCursor | null = null;
  for (let guard = 0; guard < 20; guard++) {
    const page = await listMessages(db, filters, cursor, 2, probeRows);
    seen.push(...page.rows.map((r) => r.id));
    if (!page.next) return seen;
    assert.equal(page.rows.length, 2, "a page with a next cursor is full");
    cursor = page.next;
  }
  throw new Error("the pages never end");
}

storeTest(
  "message search: probe and full-text index give the same pages, with every filter",
  async (db) => {
    const ids = await seed(db);
    const byI = (...is: number[]) => is.map((i) => ids[i]);
    const cases: { filters: MessageFilters; expected: number[] }[] = [
      // Rare, and older than any probe window but the largest.
      { filters: { q: "zeppelin" }, expected: byI(3, 1, 0) },
      // Common: in every second message, so a probe finds some and the index the rest.
      { filters: { q: "boleto" }, expected: byI(10, 8, 6, 4, 2, 0) },
      { filters: { q: "xilofone" }, expected: [] },
      { filters: { q: '"nota fiscal"' }, expected: byI(5, 2) },
      { filters: { q: "nota fiscal" }, expected: byI(8, 5, 2) },
      { filters: { q: "boleto", kind: "forwarded" }, expected: byI(6, 0) },
      { filters: { q: "zeppelin", kind: "direct" }, expected: byI(1) },
      { filters: { q: "boleto", since: at(2), until: at(10) }, expected: byI(8, 6, 4, 2) },
      {
        filters: { q: "boleto", kind: "direct", since: at(1), until: at(11) },
        expected: byI(10, 8, 4, 2),
      },
      { filters: { q: "boleto", reply: "reply" }, expected: byI(4) },
      { filters: { q: "boleto", reply: "undecided" }, expected: byI(10, 8, 6, 2, 0) },
      { filters: { q: "zeppelin -boleto" }, expected: byI(3, 1) },
      // A reply status alone takes the same steps, the last one by the date index.
      { filters: { reply: "reply" }, expected: byI(7, 4) },
      { filters: { reply: "undecided" }, expected: byI(11, 10, 9, 8, 6, 5, 3, 2, 1, 0) },
      { filters: { reply: "undecided", kind: "forwarded" }, expected: byI(9, 6, 3, 0) },
    ];
    for (const { filters, expected } of cases) {
      for (const probeRows of [1, 2, 3, 5, 1000]) {
        assert.deepEqual(
          await allPages(db, filters, probeRows),
          expected,
          `${JSON.stringify(filters)} with a probe of ${probeRows}`,
        );
      }
    }
  },
);

storeTest(
  "message search: a word with a reply status pages through older matches in order, from the full-text step",
  async (db) => {
    // Ten messages with the word; the odd ones decided "reply", the others not; a probe of one
    // row leaves every older match to the full-text step, which tests decisions in date order.
    await seedBoxAccount(db);
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      ids.push(
        await seedMessage(db, eml({ subject: `Pedido ${i}`, text: "Olá. pedido de boleto" }), {
          receivedAt: at(i),
          decision: i % 2 === 1
            ? { outcome: "reply", ruleName: "ack", reason: "rule matched", detail: null, trail: [] }
            : undefined,
        }),
      );
    }
    const newestFirst = (is: number[]) => is.map((i) => ids[i]);
    for (const probeRows of [1, 2, 1000]) {
      assert.deepEqual(
        await allPages(db, { q: "boleto", reply: "reply" }, probeRows),
        newestFirst([9, 7, 5, 3, 1]),
        `a probe of ${probeRows}`,
      );
      assert.deepEqual(
        await allPages(db, { q: "boleto", reply: "undecided" }, probeRows),
        newestFirst([8, 6, 4, 2, 0]),
        `undecided, a probe of ${probeRows}`,
      );
    }
    // A page of three from the full-text step, then the rest from its cursor.
    const first = await listMessages(db, { q: "boleto", reply: "reply" }, null, 3, 1);
    assert.deepEqual(first.rows.map((r) => r.id), newestFirst([9, 7, 5]));
    const second = await listMessages(db, { q: "boleto", reply: "reply" }, first.next, 3, 1);
    assert.deepEqual(second.rows.map((r) => r.id), newestFirst([3, 1]));
    assert.equal(second.next, null);
  },
);

storeTest(
  "message search: a page that starts past the first one, at the default probe",
  async (db) => {
    const ids = await seed(db);
    const first = await listMessages(db, { q: "boleto" }, null, 4);
    assert.deepEqual(first.rows.map((r) => r.id), [ids[10], ids[8], ids[6], ids[4]]);
    const second = await listMessages(db, { q: "boleto" }, first.next, 4);
    assert.deepEqual(second.rows.map((r) => r.id), [ids[2], ids[0]]);
    assert.equal(second.next, null);
    // The rows carry the same details whichever step found them.
    const rare = await listMessages(db, { q: "zeppelin" }, null, 1, 1);
    assert.equal(rare.rows[0].subject, "Assunto 3");
    assert.equal(rare.rows[0].kind, "forwarded");
    assert.equal(rare.rows[0].accountName, "box");
  },
);

storeTest(
  "message list: undecided follows the decisions as they are written and removed",
  async (db) => {
    const ids = await seed(db);
    const undecided = async () =>
      (await listMessages(db, { reply: "undecided" }, null, 50)).rows.map((r) => r.id);
    const all = [11, 10, 9, 8, 6, 5, 3, 2, 1, 0].map((i) => ids[i]);
    assert.deepEqual(await undecided(), all);
    await saveDecision(db, {
      messageId: ids[10],
      outcome: "no_rule",
      ruleName: null,
      reason: "no rule matched",
      detail: null,
      trail: [],
    }, at(20));
    assert.deepEqual(await undecided(), all.filter((id) => id !== ids[10]));
    await db.query("DELETE FROM decisions WHERE message_id = $1", [ids[10]]);
    assert.deepEqual(
      await undecided(),
      all,
      "a decision removed makes its message undecided again",
    );
    await db.query("DELETE FROM messages WHERE id = $1", [ids[11]]);
    await db.query("DELETE FROM messages WHERE id = $1", [ids[4]]);
    assert.deepEqual(await undecided(), all.filter((id) => id !== ids[11]));
    const [{ n }] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM undecided_messages",
    );
    assert.equal(n, 9);
  },
);

storeTest(
  "message search: the search rows follow their messages — parsed, failed, corrected, orphaned, deleted",
  async (db) => {
    await seedBoxAccount(db);
    const row = async (id: number) =>
      (await db.query<
        { account_id: number | null; kind: string | null; parse_status: string; words: number }
      >(
        `SELECT account_id, kind, parse_status, length(search)::int AS words
         FROM message_search WHERE message_id = $1`,
        [id],
      ))[0] ?? null;
    const found = async (filters: MessageFilters) => {
      const seen = new Set<number>();
      // Both steps: the probe of the newest rows and the full-text index.
      for (const probeRows of [1, 1000]) {
        for (const r of (await listMessages(db, filters, null, 50, probeRows)).rows) {
          seen.add(r.id);
        }
      }
      return [...seen].sort((a, b) => a - b);
    };

    const a = await seedMessage(db, eml({ subject: "Pedido", text: "Olá. zeppelin azul" }), {
      receivedAt: at(1),
    });
    const b = await seedMessage(db, eml({ subject: "Outro", text: "nada a ver" }), {
      receivedAt: at(2),
    });
    const failed = await seedMessage(db, eml({ subject: "Zeppelin", text: "zeppelin" }), {
      receivedAt: at(3),
      failParse: "broken",
    });
    // Stored and not parsed yet: no text, no row; a search finds only messages whose text was
    // read, even one that only excludes a word.
    const [{ pending }] = await db.query<{ pending: number }>(
      `INSERT INTO messages (account_id, mailbox, uidvalidity, uid, content_sha256, raw, size)
       SELECT account_id, mailbox, uidvalidity, 999, 'x', '\\x00'::bytea, 1 FROM messages
       WHERE id = $1 RETURNING id AS pending`,
      [a],
    );
    assert.equal(await row(pending), null);
    assert.deepEqual(await found({ q: "-boleto" }), [a, b]);
    const parsed = await row(a);
    assert.ok(parsed && parsed.words > 0);
    assert.equal(parsed.kind, "direct");
    assert.equal(parsed.parse_status, "parsed");
    assert.ok(parsed.account_id !== null);
    assert.equal(parsed.account_id, (await row(b))?.account_id);
    // Failed to parse: no text read, nothing to find, no row.
    assert.equal(await row(failed), null);
    assert.deepEqual(await found({ q: "zeppelin" }), [a]);
    assert.deepEqual(await found({ q: "zeppelin", unparsed: true }), []);

    // A kind corrected by hand, with the original sender it names: both searchable at once.
    assert.ok(
      await overrideClassification(db, b, {
        kind: "forwarded",
        originalFromAddress: "quixote@mancha.test",
        originalFromName: null,
        by: "admin@carteiro.test",
      }, at(5)),
    );
    assert.equal((await row(b))?.kind, "forwarded");
    assert.deepEqual(await found({ q: "quixote@mancha.test", kind: "forwarded" }), [b]);
    assert.deepEqual(await found({ q: "quixote@mancha.test", kind: "direct" }), []);

    // A change to a copied column alone copies it; the vector stays what it was.
    const before = await db.query(
      "SELECT search::text AS v FROM message_search WHERE message_id = $1",
      [a],
    );
    await db.query("UPDATE messages SET kind = 'forwarded' WHERE id = $1", [a]);
    assert.equal((await row(a))?.kind, "forwarded");
    assert.deepEqual(
      await db.query("SELECT search::text AS v FROM message_search WHERE message_id = $1", [a]),
      before,
    );
    assert.deepEqual(await found({ q: "zeppelin", kind: "forwarded" }), [a]);

    // The account deleted, its messages kept: no longer under the account's filter.
    const accountId = (await row(a))!.account_id!;
    await deleteAccount(db, accountId, "keep", at(6));
    assert.equal((await row(a))?.account_id, null);
    assert.deepEqual(await found({ q: "zeppelin" }), [a]);
    assert.deepEqual(await found({ q: "zeppelin", accountId }), []);

    // A message deleted takes its row along.
    await db.query("DELETE FROM messages WHERE id = $1", [a]);
    assert.equal(await row(a), null);
    assert.deepEqual(await found({ q: "zeppelin" }), []);
  },
);
