/**
 * Erasure of one address (docs/retention.md): every message that names it — as sender, recipient,
 * original author of a forward, or anywhere in its headers, text or source — with its decision,
 * replies and Sent copies; every other reply to it; the audit rows about those messages or naming
 * it; and the rate-limit, breaker, never-answer and login rows keyed by it. Answered messages
 * leave their keys, hashed only, so that a copy delivered again is not answered again.
 */
import type { Queryable } from "./db.ts";
import { LockNamespace } from "./db.ts";
import { forgetKeys, removeMessages } from "./retention.ts";
import { forgottenKeys } from "../domain/retention.ts";
import { sha256Hex } from "../domain/sha256.ts";

/** What an erasure removed, by table, and what still names the address (to change by hand). */
export interface ErasureReport {
  removed: {
    messages: number;
    decisions: number;
    outbox: number;
    sent_copies: number;
    audit_events: number;
    reply_limits: number;
    reply_breakers: number;
    never_answer: number;
    login_attempts: number;
    login_counters: number;
    /** Webhook deliveries whose event names the address, told or not yet. */
    webhook_deliveries: number;
  };
  /** Rules whose definition names the address, and whether a user logs in with it. */
  left: { rules: string[]; user: boolean };
}

/**
 * A case-insensitive PostgreSQL regular expression for the address as a whole: not inside a
 * longer address (`joana@x` is not `ana@x`; `ana@x.com.br` is not `ana@x.com`), a sentence's full
 * stop after it allowed.
 */
export function addressPattern(address: string): string {
  const quoted = address.replace(/[\\^$.*+?()[\]{}|-]/g, "\\$&");
  return `(?<![[:alnum:]._%+=!#$&'*/?^\`{|}~-])${quoted}(?![[:alnum:]-]|\\.[[:alnum:]-])`;
}

// Every column of a message that may hold an address, as one text. The source is read with
// `escape` encoding: bytes stay as they are but NUL and those above 127, which are written \ooo.
const MESSAGE_TEXT = `concat_ws(' ', m.from_address, m.from_name, m.original_from_address,
  m.original_from_name, m.sender::text, m.reply_to::text, m.to_addresses::text,
  m.cc_addresses::text, m.headers::text, m.subject, m.original_subject, m.text_body, m.html_body,
  m.evidence::text, m.parse_error, m.attachments::text, m.in_reply_to, m."references"::text)`;

const OUTBOX_TEXT = `concat_ws(' ', o.recipient, o.recipient_name, o.from_address, o.subject,
  o.text_body, o.html_body, o.in_reply_to, o."references"::text, o.headers::text, o.cc::text,
  o.bcc::text, o.reply_to, o.last_error, o.smtp_response, o.dsn_diagnostic)`;

/**
 * Removes everything naming `address` (lower-case) in the caller's transaction, holding off every
 * account's collection meanwhile; returns the counts per table. Returns `sending`, having changed
 * nothing, while one of the replies it would remove is being sent: the sender's record of that
 * send would name the address again.
 */
export async function eraseAddressRows(
  q: Queryable,
  address: string,
  at: Date,
): Promise<ErasureReport | "sending"> {
  const accounts = await q.query<{ id: number }>("SELECT id FROM accounts ORDER BY id");
  for (const a of accounts) {
    await q.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [LockNamespace.collect, a.id]);
  }
  const pattern = addressPattern(address);
  const ids = (await q.query<{ id: number }>(
    `SELECT m.id FROM messages m
     WHERE ${MESSAGE_TEXT} ~* $1
       OR (m.raw IS NOT NULL AND encode(m.raw, 'escape') ~* $1)
     ORDER BY m.id FOR UPDATE`,
    [pattern],
  )).map((r) => Number(r.id));
  const audit = await q.query(
    `DELETE FROM audit_events WHERE message_id = ANY($1::bigint[]) OR detail::text ~* $2
     RETURNING id`,
    [ids, pattern],
  );
  // Replies to the address for messages that do not name it (a forward answered to its author).
  const replies = await q.query<{ id: number }>(
    `SELECT o.id FROM outbox o
     WHERE (o.message_id IS NULL OR NOT (o.message_id = ANY($2::bigint[]))) AND ${OUTBOX_TEXT} ~* $1`,
    [pattern, ids],
  );
  const replyIds = replies.map((r) => Number(r.id));
  const inFlight = await q.query(
    `SELECT 1 AS ok FROM outbox WHERE status = 'sending'
       AND (message_id = ANY($1::bigint[]) OR id = ANY($2::bigint[])) LIMIT 1`,
    [ids, replyIds],
  );
  if (inFlight.length > 0) return "sending";
  await forgetReplyKeys(q, replyIds, at);
  const [copies] = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM sent_copies WHERE outbox_id = ANY($1::bigint[])",
    [replyIds],
  );
  await q.query("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [replyIds]);
  const removed = await removeMessages(q, ids, at);
  const count = async (sql: string, params: unknown[]) => (await q.query(sql, params)).length;
  const report: ErasureReport = {
    removed: {
      messages: removed.messages,
      decisions: removed.decisions,
      outbox: removed.replies + replyIds.length,
      sent_copies: removed.sentCopies + copies.n,
      audit_events: audit.length,
      reply_limits: await count(
        "DELETE FROM reply_limits WHERE lower(recipient) = $1 RETURNING 1 AS ok",
        [address],
      ),
      reply_breakers: await count(
        "DELETE FROM reply_breakers WHERE lower(recipient) = $1 RETURNING 1 AS ok",
        [address],
      ),
      never_answer: await count(
        "DELETE FROM never_answer WHERE pattern = $1 RETURNING 1 AS ok",
        [address],
      ),
      login_attempts: await count(
        "DELETE FROM login_attempts WHERE lower(email) = $1 RETURNING 1 AS ok",
        [address],
      ),
      login_counters: await count(
        "DELETE FROM login_counters WHERE key = $1 RETURNING 1 AS ok",
        [`email:${address}`],
      ),
      webhook_deliveries: await count(
        "DELETE FROM webhook_deliveries WHERE body ~* $1 RETURNING 1 AS ok",
        [pattern],
      ),
    },
    left: {
      rules: (await q.query<{ name: string }>(
        "SELECT name FROM rules WHERE definition::text ~* $1 ORDER BY name",
        [pattern],
      )).map((r) => r.name),
      user: (await q.query("SELECT 1 AS ok FROM users WHERE email = $1", [address])).length > 0,
    },
  };
  return report;
}

/** Keeps the hashed dedup keys of replies about to be removed (those not cancelled). */
async function forgetReplyKeys(q: Queryable, ids: number[], at: Date): Promise<void> {
  if (ids.length === 0) return;
  const rows = await q.query<
    {
      account_id: number | null;
      dedup_key: string;
      content_sha256: string | null;
      mid: string | null;
    }
  >(
    `SELECT o.account_id, o.dedup_key, m.content_sha256, m.message_id AS mid
     FROM outbox o LEFT JOIN messages m ON m.id = o.message_id
     WHERE o.id = ANY($1::bigint[]) AND o.status <> 'cancelled'`,
    [ids],
  );
  await forgetKeys(
    q,
    rows.flatMap((r) =>
      r.account_id !== null && r.content_sha256 !== null
        ? forgottenKeys({
          accountId: r.account_id,
          rawSha256: r.content_sha256,
          messageIdHeader: r.mid,
          dedupKeys: [r.dedup_key],
        })
        : [{ kind: "dedup" as const, sha256: sha256Hex(r.dedup_key) }]
    ),
    at,
  );
}
