import type { Classification, ParsedEmail } from "../domain/email.ts";
import type { Queryable } from "./db.ts";
import { bytesSql, bytesValue } from "./bytes_param.ts";
import { pgSafe } from "./pg_safe.ts";

/** A message's exact bytes and where they were found. */
export interface RawArrival {
  uid: number;
  raw: Uint8Array;
  sha256: string;
  internalDate: Date | null;
}

export type ArrivalOutcome = "stored" | "remapped" | "present";

/**
 * Stores a message's raw bytes at its place (account, mailbox, UIDVALIDITY, UID), before anything
 * reads it. In a rescan after a UIDVALIDITY change, a stored message with the same content that
 * has not been matched yet takes the new place instead ("remapped"): nothing is imported twice
 * and nothing is lost. A place already stored is left alone ("present").
 */
export async function storeArrival(
  q: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  m: RawArrival,
  rescanning: boolean,
  at: Date,
): Promise<{ outcome: ArrivalOutcome; id: number }> {
  const storedAt = async () =>
    (await q.query<{ id: number }>(
      `SELECT id FROM messages WHERE account_id = $1 AND mailbox = $2 AND uidvalidity = $3 AND uid = $4`,
      [accountId, mailbox, uidValidity, m.uid],
    ))[0]?.id;
  if (rescanning) {
    const here = await storedAt();
    if (here !== undefined) return { outcome: "present", id: here };
    const moved = await q.query<{ id: number }>(
      `UPDATE messages SET uidvalidity = $3, uid = $4
       WHERE id = (SELECT id FROM messages
                   WHERE account_id = $1 AND mailbox = $2 AND content_sha256 = $5
                     AND uidvalidity <> $3
                   ORDER BY id LIMIT 1 FOR UPDATE)
       RETURNING id`,
      [accountId, mailbox, uidValidity, m.uid, m.sha256],
    );
    if (moved.length > 0) return { outcome: "remapped", id: moved[0].id };
  }
  const [r] = await storeArrivals(q, accountId, mailbox, uidValidity, [m], at);
  if (r.outcome === "stored") return r;
  return { outcome: "present", id: (await storedAt())! };
}

/**
 * Stores a batch of new arrivals with one statement (the first sync of a mailbox, not a rescan):
 * each is "stored" with its new id, or "present" when its place was already stored.
 */
export async function storeArrivals(
  q: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  arrivals: RawArrival[],
  at: Date,
): Promise<Array<{ outcome: "stored"; id: number } | { outcome: "present" }>> {
  const out: Array<{ outcome: "stored"; id: number } | { outcome: "present" }> = [];
  // Runs of ordinary messages go in one statement each; a large one goes alone, in pieces, so
  // that ids keep the order of the UIDs.
  let run: RawArrival[] = [];
  const flush = async () => {
    if (run.length === 0) return;
    out.push(...await insertArrivals(q, accountId, mailbox, uidValidity, run, at));
    run = [];
  };
  for (const m of arrivals) {
    if (m.raw.length <= PIECE_BYTES) {
      run.push(m);
      continue;
    }
    await flush();
    out.push(await insertInPieces(q, accountId, mailbox, uidValidity, m, at));
  }
  await flush();
  return out;
}

/**
 * Raw bytes sent in one parameter at most. The driver turns a parameter into text and copies it
 * three or four times on its way to the socket (postgres.js: the string, its Bind message, a
 * concatenation, the write buffer), so a 42 MB message sent whole cost ~250 MB of this process's
 * memory; in pieces of 2 MB it costs a few pieces' worth.
 */
const PIECE_BYTES = 2 << 20;

async function insertArrivals(
  q: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  arrivals: RawArrival[],
  at: Date,
): Promise<Array<{ outcome: "stored"; id: number } | { outcome: "present" }>> {
  const params: unknown[] = [accountId, mailbox, uidValidity, at.toISOString()];
  const rows = arrivals.map((m) => {
    const n = params.push(
      m.uid,
      m.sha256,
      bytesValue(q, m.raw),
      m.raw.length,
      m.internalDate?.toISOString() ?? null,
    );
    return `($1, $2, $3, $${n - 4}, $${n - 3}, ${bytesSql(q, `$${n - 2}`)}, $${
      n - 1
    }, $${n}::timestamptz, $4::timestamptz)`;
  });
  const inserted = await q.query<{ id: number; uid: number }>(
    `INSERT INTO messages (account_id, mailbox, uidvalidity, uid, content_sha256, raw, size,
       internal_date, collected_at)
     VALUES ${rows.join(", ")}
     ON CONFLICT (account_id, mailbox, uidvalidity, uid) DO NOTHING
     RETURNING id, uid`,
    params,
  );
  const ids = new Map(inserted.map((r) => [Number(r.uid), r.id]));
  return arrivals.map((m) => {
    const id = ids.get(m.uid);
    return id === undefined ? { outcome: "present" as const } : { outcome: "stored" as const, id };
  });
}

/**
 * A large message: its pieces go to a temporary table of the transaction (no WAL, dropped at
 * commit), and one statement joins them into the message's row, so the row is written once,
 * whole — appending to the row instead would write a new version of the growing value per piece.
 */
async function insertInPieces(
  q: Queryable,
  accountId: number,
  mailbox: string,
  uidValidity: number,
  m: RawArrival,
  at: Date,
): Promise<{ outcome: "stored"; id: number } | { outcome: "present" }> {
  await q.query(
    "CREATE TEMPORARY TABLE IF NOT EXISTS raw_pieces (n integer PRIMARY KEY, piece bytea NOT NULL) ON COMMIT DROP",
  );
  await q.query("DELETE FROM raw_pieces");
  for (let at = 0, n = 0; at < m.raw.length; at += PIECE_BYTES, n++) {
    await q.query(`INSERT INTO raw_pieces (n, piece) VALUES ($1, ${bytesSql(q, "$2")})`, [
      n,
      bytesValue(q, m.raw.subarray(at, at + PIECE_BYTES)),
    ]);
  }
  const inserted = await q.query<{ id: number }>(
    `INSERT INTO messages (account_id, mailbox, uidvalidity, uid, content_sha256, raw, size,
       internal_date, collected_at)
     SELECT $1, $2, $3, $4, $5, string_agg(piece, ''::bytea ORDER BY n), $6, $7::timestamptz,
       $8::timestamptz
     FROM raw_pieces
     ON CONFLICT (account_id, mailbox, uidvalidity, uid) DO NOTHING
     RETURNING id`,
    [
      accountId,
      mailbox,
      uidValidity,
      m.uid,
      m.sha256,
      m.raw.length,
      m.internalDate?.toISOString() ?? null,
      at.toISOString(),
    ],
  );
  await q.query("DELETE FROM raw_pieces");
  return inserted.length === 1 ? { outcome: "stored", id: inserted[0].id } : { outcome: "present" };
}

/**
 * Stored messages of an account that have not been parsed yet, oldest first, after `afterId`: at
 * most `limit` of them and, past the first, no more than about `maxBytes` of raw bytes, so that
 * reading back large messages left pending holds a few of them at a time, not `limit`.
 */
export async function pendingMessages(
  q: Queryable,
  accountId: number,
  limit: number,
  afterId = 0,
  maxBytes = 16 << 20,
): Promise<
  Array<{
    id: number;
    raw: Uint8Array;
    sha256: string;
    internalDate: Date | null;
    collectedAt: Date;
  }>
> {
  const rows = await q.query<
    {
      id: number;
      raw: Uint8Array;
      content_sha256: string;
      internal_date: Date | null;
      collected_at: Date;
    }
  >(
    `WITH next AS (
       SELECT id, sum(size::bigint) OVER (ORDER BY id) - size AS before
       FROM messages
       WHERE account_id = $1 AND parse_status = 'pending' AND id > $3 ORDER BY id LIMIT $2)
     SELECT m.id, m.raw, m.content_sha256, m.internal_date, m.collected_at
     FROM next JOIN messages m ON m.id = next.id
     WHERE next.before = 0 OR next.before < $4
     ORDER BY m.id`,
    [accountId, limit, afterId, maxBytes],
  );
  return rows.map((r) => ({
    id: r.id,
    raw: r.raw,
    sha256: r.content_sha256,
    internalDate: r.internal_date,
    collectedAt: r.collected_at,
  }));
}

/** Saves what the parser and the classifier made of a stored message. */
export async function saveParsed(
  q: Queryable,
  id: number,
  email: ParsedEmail,
  c: Classification,
  at: Date,
): Promise<void> {
  await saveParsedBatch(q, [{ id, email, classification: c }], at);
}

/** What the parser and the classifier made of one stored message, to save. */
export interface ParsedResult {
  id: number;
  email: ParsedEmail;
  classification: Classification;
}

/**
 * Saves what the parser and the classifier made of several stored messages with one statement:
 * the rows travel as one JSON array, so the server plans and starts one UPDATE (its generated
 * search column included) per batch instead of one per message.
 */
export async function saveParsedBatch(
  q: Queryable,
  items: readonly ParsedResult[],
  at: Date,
): Promise<void> {
  if (items.length === 0) return;
  const rows = items.map(({ id, email, classification: c }) => {
    const e = pgSafe(email);
    const o = pgSafe(c.original);
    return {
      id,
      message_id: e.messageId,
      from_address: e.from[0]?.address ?? null,
      from_name: e.from[0]?.name || null,
      sender: e.sender,
      reply_to: e.replyTo,
      to_addresses: e.to,
      cc_addresses: e.cc,
      subject: e.subject,
      sent_date: e.date?.toISOString() ?? null,
      in_reply_to: e.inReplyTo,
      references: e.references,
      headers: e.headers,
      text_body: e.text,
      html_body: e.html,
      attachments: e.attachments,
      kind: c.kind,
      confidence: c.confidence,
      evidence: pgSafe(c.evidence),
      original_from_address: o?.fromAddress ?? null,
      original_from_name: o?.fromName ?? null,
      original_subject: o?.subject ?? null,
      original_date: o?.date ?? null,
      original_date_iso: o?.dateIso ?? null,
    };
  });
  // The jsonb columns always hold a JSON value (`null` included), never SQL NULL, which is what
  // json_to_recordset makes of a JSON null: COALESCE puts it back.
  await q.query(
    `UPDATE messages m SET parse_status = 'parsed', parse_error = NULL,
       parsed_at = $2::timestamptz, message_id = p.message_id, from_address = p.from_address,
       from_name = p.from_name, sender = COALESCE(p.sender, 'null'),
       reply_to = COALESCE(p.reply_to, 'null'), to_addresses = COALESCE(p.to_addresses, 'null'),
       cc_addresses = COALESCE(p.cc_addresses, 'null'), subject = p.subject,
       sent_date = p.sent_date, in_reply_to = p.in_reply_to,
       "references" = COALESCE(p."references", 'null'), headers = COALESCE(p.headers, 'null'),
       text_body = p.text_body, html_body = p.html_body,
       attachments = COALESCE(p.attachments, 'null'), kind = p.kind, confidence = p.confidence,
       evidence = COALESCE(p.evidence, 'null'), original_from_address = p.original_from_address,
       original_from_name = p.original_from_name, original_subject = p.original_subject,
       original_date = p.original_date, original_date_iso = p.original_date_iso,
       classified_at = $2::timestamptz
     FROM json_to_recordset($1::json) AS p(id bigint, message_id text, from_address text,
       from_name text, sender jsonb, reply_to jsonb, to_addresses jsonb, cc_addresses jsonb,
       subject text, sent_date timestamptz, in_reply_to text, "references" jsonb, headers jsonb,
       text_body text, html_body text, attachments jsonb, kind text, confidence real,
       evidence jsonb, original_from_address text, original_from_name text,
       original_subject text, original_date text, original_date_iso timestamptz)
     WHERE m.id = p.id`,
    [JSON.stringify(rows, wellFormed), at.toISOString()],
  );
}

/**
 * A JSON.stringify replacer: a lone UTF-16 surrogate (broken mail decoded as UTF-16) becomes
 * U+FFFD, as it does in a text parameter, instead of an escape that PostgreSQL's JSON refuses.
 */
function wellFormed(_key: string, value: unknown): unknown {
  return typeof value === "string" ? value.toWellFormed() : value;
}

/**
 * Marks a stored message as one over its account's limit: its raw bytes are its header block
 * only, `size` is the whole message's on the server, and `reason` says so where a person looks.
 * It is failed, so it is never classified or answered.
 */
export async function markTooLarge(
  q: Queryable,
  id: number,
  size: number,
  reason: string,
  at: Date,
): Promise<void> {
  await q.query(
    `UPDATE messages SET too_large = true, size = $2, parse_status = 'failed', parse_error = $3,
       parsed_at = $4::timestamptz
     WHERE id = $1`,
    [id, Math.min(size, 2 ** 31 - 1), reason, at.toISOString()],
  );
}

/** Marks a stored message as unparsable, with the parser's words; it stays listed and shown. */
export async function saveParseFailure(
  q: Queryable,
  id: number,
  error: string,
  at: Date,
): Promise<void> {
  await q.query(
    `UPDATE messages SET parse_status = 'failed', parse_error = $2, parsed_at = $3::timestamptz
     WHERE id = $1`,
    [id, pgSafe(error), at.toISOString()],
  );
}
