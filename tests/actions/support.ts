import { seedBoxAccount } from "../support/databases.ts";
/** What the action tests share: a rule, an account with an outbox row, a database that fails. */
import type { Db, Queryable, Row } from "../../src/store/db.ts";
import { eml, seedMessage } from "../routes/support.ts";

export const T = new Date("2026-03-10T12:00:00Z");

/** A valid rule definition, as the rules file writes one. */
export const ACK = {
  name: "ack",
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Olá {{from_name}}, recebemos." },
};

/** An account, a message and its outbox row in `status`; returns the outbox row's id. */
export async function outboxRow(db: Db, status: string): Promise<number> {
  await seedBoxAccount(db);
  const m = await seedMessage(db, eml({}), { outbox: { status } });
  const [{ id }] = await db.query<{ id: number }>(
    "SELECT id FROM outbox WHERE message_id = $1",
    [m],
  );
  return Number(id);
}

/**
 * `db`, except that inside a transaction any statement `fails` matches throws: the transaction
 * is killed at that point, after whatever it wrote before.
 */
export function failingWithin(db: Db, fails: RegExp): Db {
  const guard = (tx: Queryable): Queryable => ({
    query: <T extends Row = Row>(text: string, params?: unknown[]): Promise<T[]> =>
      fails.test(text)
        ? Promise.reject(new Error(`killed before: ${text.slice(0, 40)}`))
        : tx.query<T>(text, params),
  });
  return {
    kind: db.kind,
    query: (text, params) => db.query(text, params),
    exec: (script) => db.exec(script),
    transaction: (fn) => db.transaction((tx) => fn(guard(tx))),
    tryWithLock: (namespace, key, fn) => db.tryWithLock(namespace, key, fn),
    withLock: (namespace, key, fn) => db.withLock(namespace, key, fn),
    close: () => db.close(),
  };
}

/** The audit rows of `event`, oldest first. */
export async function auditRows(db: Db, event: string): Promise<Record<string, unknown>[]> {
  return (await db.query<{ detail: Record<string, unknown> }>(
    "SELECT detail FROM audit_events WHERE event = $1 ORDER BY id",
    [event],
  )).map((r) => r.detail);
}
