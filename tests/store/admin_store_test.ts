/** The admin's store functions, on PGlite and on PostgreSQL alike. */
import assert from "node:assert/strict";
import { seedBoxAccount, storeTest } from "../support/databases.ts";
import type { Db } from "../../src/store/db.ts";
import { eml, seedMessage } from "../routes/support.ts";
import { listMessages, type MessageCursor } from "../../src/store/message_list.ts";
import { applyOutboxAction } from "../../src/actions/outbox.ts";
import { insertRule, listRuleRows, moveRule, reorderRules } from "../../src/store/rules_admin.ts";
import { createSession, deleteExpiredSessions, findSession } from "../../src/store/sessions.ts";
import { recentFailures, recordLoginAttempt } from "../../src/store/login_attempts.ts";
import { createUser } from "../../src/store/users.ts";
import {
  createAccount,
  getAccountSecrets,
  getAccountView,
  updateAccount,
} from "../../src/store/accounts_admin.ts";
import { listAudit } from "../../src/store/audit_list.ts";
import type { AuditEvent } from "../../src/domain/audit_events.ts";
import { recordEvents } from "../../src/store/audit.ts";

const T = new Date("2026-03-10T12:00:00Z");

async function account(db: Db) {
  await seedBoxAccount(db);
}

storeTest(
  "message list: keyset pages, ties on the same instant, search in both languages",
  async (db) => {
    await account(db);
    const ids: number[] = [];
    for (let i = 0; i < 9; i++) {
      ids.push(
        await seedMessage(
          db,
          eml({
            subject: i === 4 ? "Faturas atrasadas" : `Assunto ${i}`,
            text: i === 7 ? "Please send the invoices" : "oi",
          }),
          {
            // Three messages per instant, with microseconds the keyset must keep exactly.
            receivedAt: new Date(Date.parse("2026-03-01T00:00:00.123Z") + Math.floor(i / 3) * 1000),
          },
        ),
      );
    }
    const seen: number[] = [];
    let cursor: MessageCursor | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const page = await listMessages(db, {}, cursor, 2);
      seen.push(...page.rows.map((r) => r.id));
      if (!page.next) break;
      cursor = page.next;
    }
    assert.deepEqual(seen, [...ids].sort((a, b) => b - a));
    const pt = await listMessages(db, { q: "fatura atrasada" }, null, 10);
    assert.deepEqual(pt.rows.map((r) => r.id), [ids[4]]);
    const en = await listMessages(db, { q: "invoice" }, null, 10);
    assert.deepEqual(en.rows.map((r) => r.id), [ids[7]]);
    const range = await listMessages(
      db,
      {
        since: new Date("2026-03-01T00:00:01Z"),
        until: new Date("2026-03-01T00:00:02Z"),
      },
      null,
      10,
    );
    assert.deepEqual(range.rows.map((r) => r.id), [ids[5], ids[4], ids[3]]);
  },
);

storeTest("outbox actions are guarded by the status they start from", async (db) => {
  await account(db);
  const m = await seedMessage(db, eml({}), { outbox: { status: "unknown" } });
  const [{ id }] = await db.query<{ id: number }>("SELECT id FROM outbox WHERE message_id = $1", [
    m,
  ]);
  const deps = { db, now: () => T };
  const first = await applyOutboxAction(
    deps,
    Number(id),
    { type: "settle", choice: "sent" },
    "ana",
  );
  assert.ok(first.ok);
  assert.equal(first.ok && first.value.status, "sent");
  const second = await applyOutboxAction(
    deps,
    Number(id),
    { type: "settle", choice: "send_again" },
    "bia",
  );
  assert.deepEqual(second, {
    ok: false,
    problem: { code: "wrong_status", message: "the row is sent; this action needs unknown" },
  });
  const missing = await applyOutboxAction(deps, 999, { type: "retry" }, "x");
  assert.deepEqual(missing, {
    ok: false,
    problem: { code: "not_found", message: "no such outbox row" },
  });
  const events = await db.query<{ detail: Record<string, unknown> }>(
    "SELECT detail FROM audit_events WHERE event = 'settled'",
  );
  assert.deepEqual(events.map((e) => [e.detail.from_status, e.detail.to_status, e.detail.by]), [
    ["unknown", "sent", "ana"],
  ]);
});

storeTest("rules: insert at the end, move, reorder (a permutation only)", async (db) => {
  const def = (name: string) => ({ name, when: {}, ignore: true });
  const a = await insertRule(
    db,
    { name: "a", enabled: true, priority: 0, definition: def("a") },
    T,
  );
  const b = await insertRule(
    db,
    { name: "b", enabled: true, priority: 0, definition: def("b") },
    T,
  );
  const c = await insertRule(
    db,
    { name: "c", enabled: true, priority: 0, definition: def("c") },
    T,
  );
  const names = async () => (await listRuleRows(db)).map((r) => r.name);
  assert.deepEqual(await names(), ["a", "b", "c"]);
  assert.ok(await db.transaction((tx) => moveRule(tx, c.id, "up", T)));
  assert.deepEqual(await names(), ["a", "c", "b"]);
  assert.ok(await db.transaction((tx) => moveRule(tx, a.id, "up", T)), "the first stays first");
  assert.deepEqual(await names(), ["a", "c", "b"]);
  assert.ok(await db.transaction((tx) => reorderRules(tx, [b.id, a.id, c.id], T)));
  assert.deepEqual(await names(), ["b", "a", "c"]);
  assert.ok(!await db.transaction((tx) => reorderRules(tx, [b.id, a.id], T)));
  assert.ok(!await db.transaction((tx) => reorderRules(tx, [b.id, a.id, a.id], T)));
  assert.deepEqual((await listRuleRows(db)).map((r) => r.position), [0, 1, 2]);
});

storeTest("sessions expire absolutely and when idle; login failures are counted", async (db) => {
  const u = await createUser(db, "Ana@Example.test", "pbkdf2-sha256$1$AA==$AA==", T);
  assert.equal(u.email, "ana@example.test");
  await createSession(db, {
    tokenHash: "h1",
    userId: u.id,
    csrfToken: "c1",
    at: T,
    expiresAt: new Date(T.getTime() + 3_600_000),
  });
  const later = (ms: number) => new Date(T.getTime() + ms);
  assert.equal((await findSession(db, "h1", later(60_000), 120_000))?.email, "ana@example.test");
  assert.equal(await findSession(db, "h1", later(200_000), 120_000), null, "idle");
  assert.equal(await findSession(db, "nope", T, 120_000), null);
  assert.equal(await deleteExpiredSessions(db, later(3_600_001)), 1);
  for (const ip of ["10.0.0.1", "10.0.0.1", "10.0.0.2"]) {
    await recordLoginAttempt(db, { email: "Ana@example.test", ip, success: false, at: T });
  }
  await recordLoginAttempt(db, { email: "bob@example.test", ip: "10.0.0.1", success: true, at: T });
  assert.deepEqual(await recentFailures(db, "ana@example.test", "10.0.0.1", later(-1)), {
    byEmail: 3,
    byIp: 2,
  });
  assert.deepEqual(await recentFailures(db, "ana@example.test", "10.0.0.1", later(1)), {
    byEmail: 0,
    byIp: 0,
  });
});

storeTest(
  "accounts: encrypted passwords kept when not retyped; audit listing pages by keyset",
  async (db) => {
    const input = {
      name: "vendas",
      address: "vendas@empresa.test",
      displayName: "",
      enabled: true,
      imapHost: "imap.test",
      imapPort: 993,
      imapTls: "tls" as const,
      imapUser: "vendas",
      mailboxes: ["INBOX"],
      smtpHost: null,
      smtpPort: null,
      smtpTls: null,
      smtpUser: null,
      copyToSent: true,
      imapPassEnc: "v1:aaa:bbb",
      smtpPassEnc: null,
    };
    const id = await createAccount(db, input, T);
    assert.ok(await updateAccount(db, id, { ...input, imapPassEnc: null, displayName: "V" }));
    assert.deepEqual(await getAccountSecrets(db, id), {
      authKind: "password",
      oauthProvider: null,
      imapPassEnc: "v1:aaa:bbb",
      smtpPassEnc: null,
      imap: { host: "imap.test", port: 993, tls: "tls", user: "vendas" },
      smtp: null,
    });
    const view = await getAccountView(db, id);
    assert.equal(view?.imapPasswordSet, true);
    assert.equal(view?.displayName, "V");
    assert.ok(!JSON.stringify(view).includes("v1:aaa"));
    for (let i = 0; i < 5; i++) {
      await recordEvents(db, [{ event: "e", at: T, detail: { i } } as unknown as AuditEvent]);
    }
    const p1 = await listAudit(db, { event: "e" }, null, 3);
    const p2 = await listAudit(db, { event: "e" }, p1.next, 3);
    assert.deepEqual([...p1.rows, ...p2.rows].map((r) => r.detail.i), [4, 3, 2, 1, 0]);
    assert.equal(p2.next, null);
  },
);
