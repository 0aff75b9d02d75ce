import type { Queryable } from "./db.ts";
import { WhereClause } from "./where_clause.ts";

/** What the rules decided, or "undecided" while no decision is stored. */
export type ReplyStatus = "reply" | "suppressed" | "no_rule" | "ignored" | "undecided";
export const REPLY_STATUSES: readonly ReplyStatus[] = [
  "reply",
  "suppressed",
  "no_rule",
  "ignored",
  "undecided",
];

/** Filters of the message list; every one that is set must hold. */
export interface MessageFilters {
  accountId?: number;
  kind?: "forwarded" | "direct";
  reply?: ReplyStatus;
  /** received_at >= since */
  since?: Date;
  /** received_at < until */
  until?: Date;
  /** Only messages that failed to parse or are not parsed yet. */
  unparsed?: boolean;
  /** Full-text query (web-search syntax: words, "phrases", -exclusions, or). */
  q?: string;
}

/** A position in the list: the last row of the previous page. */
export interface MessageCursor {
  /** received_at in microseconds since the epoch, exactly as stored. */
  micros: number;
  id: number;
}

export interface MessageListRow {
  id: number;
  /** Null when its account was deleted and the message kept ("(deleted account)"). */
  accountId: number | null;
  accountName: string | null;
  mailbox: string;
  receivedAt: Date;
  fromAddress: string | null;
  fromName: string | null;
  subject: string | null;
  kind: "forwarded" | "direct" | null;
  confidence: number | null;
  originalFromAddress: string | null;
  parseStatus: "pending" | "parsed" | "failed";
  decision: ReplyStatus;
  ruleName: string | null;
  reason: string | null;
  /** Status of the newest outbox row the message produced, if any. */
  outboxStatus: string | null;
  cursor: MessageCursor;
}

export interface MessagePage {
  rows: MessageListRow[];
  /** The cursor of the next (older) page, or null at the end. */
  next: MessageCursor | null;
}

/** Encodes a cursor for a URL. */
export function encodeCursor(c: MessageCursor): string {
  return `${c.micros}.${c.id}`;
}

/** Reads a cursor from a URL; null when it is not one. */
export function decodeCursor(text: string | null | undefined): MessageCursor | null {
  const m = /^(-?\d{1,17})\.(\d{1,15})$/.exec(text ?? "");
  if (!m) return null;
  return { micros: Number(m[1]), id: Number(m[2]) };
}

/** A further window of a list is at most this many times the rows tested before it. */
const WINDOW_GROWTH = 4;

/**
 * How many of the newest rows that pass the other filters a search tests before it turns to the
 * full-text index (`probeRows` of listMessages; tests make it small).
 */
export const SEARCH_PROBE_ROWS = 1000;

const COLUMNS = `m.id, m.account_id, a.name AS account_name, m.mailbox, m.received_at,
       (extract(epoch FROM m.received_at) * 1000000)::bigint AS micros,
       m.from_address, m.from_name, m.subject, m.kind, m.confidence, m.original_from_address,
       m.parse_status, d.outcome, d.rule_name, d.reason,
       (SELECT o.status FROM outbox o WHERE o.message_id = m.id ORDER BY o.id DESC LIMIT 1)
         AS outbox_status`;
const DETAILS = `LEFT JOIN accounts a ON a.id = m.account_id
     LEFT JOIN decisions d ON d.message_id = m.id`;
const NEWEST_FIRST = "ORDER BY m.received_at DESC, m.id DESC";

/**
 * One page of messages, newest first, by keyset on (received_at, id): the cost of a page does
 * not grow with its depth, unlike OFFSET. The search matches the Portuguese or the English
 * reading of the query against both stemmings stored in `message_search.search`
 * (migrations/0028_message_search.sql).
 *
 * A search or a reply status (a test on another table, or on the text, that the date index cannot
 * answer) runs in steps whose plans cannot go wrong whatever the planner guesses — a guess it makes
 * blind once postgres.js reuses a generic plan: the newest `probeRows` rows that pass the filters
 * on the message are tested, which fills the page when matches are common in recent mail; when
 * some matched but too few, a second window sized by the density seen (for a reply status alone,
 * up to three, each at most four times what was tested); when the page is still
 * short, every older match — by the full-text index for a search, which is cheap for a rare word,
 * or by the date index for a reply status alone. The status "undecided" is the absence of a
 * decision, which no probe of recent mail bounds (none may be recent): its few messages are walked
 * in order from their own table instead, with or without a text.
 */
export async function listMessages(
  q: Queryable,
  filters: MessageFilters,
  cursor: MessageCursor | null,
  limit: number,
  probeRows = SEARCH_PROBE_ROWS,
): Promise<MessagePage> {
  const text = filters.q?.trim().slice(0, 500) || null;
  const want = limit + 1;
  let rows: Record<string, unknown>[];
  if (filters.reply === "undecided") {
    rows = await q.query(...undecidedSql(filters, cursor, text, want));
  } else if (!text && !filters.reply) {
    rows = await q.query(...restSql(filters, cursor, null, 0, want));
  } else {
    rows = await q.query(...windowSql(filters, cursor, text, 0, probeRows, want));
    let tested = probeRows;
    // A text is tested once more at most (it costs microseconds a row), and only when it matched
    // recent mail; a reply status alone (a probe of decisions' key a row) up to three times.
    for (let step = 0; rows.length < want && step < (text ? 1 : 3); step++) {
      if (text && rows.length === 0) break;
      const density = rows.length / tested;
      const more = Math.min(
        tested * WINDOW_GROWTH,
        density > 0 ? Math.ceil(((want - rows.length) / density) * 2) : Infinity,
      );
      rows = rows.concat(
        await q.query(...windowSql(filters, cursor, text, tested, more, want - rows.length)),
      );
      tested += more;
    }
    if (rows.length < want) {
      rows = rows.concat(
        await q.query(...restSql(filters, cursor, text, tested, want - rows.length)),
      );
    }
  }
  const page = rows.slice(0, limit).map(toRow);
  return { rows: page, next: rows.length > limit ? page[page.length - 1].cursor : null };
}

/**
 * The ids of the parsed messages of existing accounts that pass `filters` (the text too), oldest
 * first, at most `limit`: what a replay of a rule looks at (src/actions/rule_replay.ts). The
 * search is tested row by row, which a replay's bounded batch affords.
 */
export async function oldestMatchingIds(
  q: Queryable,
  filters: MessageFilters,
  limit: number,
): Promise<number[]> {
  const where = filterWhere(filters, null);
  where.and("m.parse_status = 'parsed'");
  where.and("m.account_id IS NOT NULL");
  const text = filters.q?.trim().slice(0, 500);
  if (text) where.and(messageMatches("m.id", where.param(text)));
  const rows = await q.query<{ id: number }>(
    `SELECT m.id FROM messages m LEFT JOIN decisions d ON d.message_id = m.id
     ${where} ORDER BY m.received_at, m.id LIMIT ${where.param(limit)}`,
    where.params,
  );
  return rows.map((r) => Number(r.id));
}

/**
 * Every filter but the text, and the cursor, as conditions on `m` — and on `d`, the decision,
 * unless `withReply` is false (the caller then adds `replyCondition` where it joins `d`).
 */
function filterWhere(
  filters: MessageFilters,
  cursor: MessageCursor | null,
  withReply = true,
  params: unknown[] = [],
): WhereClause {
  const where = new WhereClause(params);
  const p = (v: unknown) => where.param(v);
  if (filters.accountId !== undefined) where.and(`m.account_id = ${p(filters.accountId)}`);
  if (filters.kind) where.and(`m.kind = ${p(filters.kind)}`);
  if (filters.since) where.and(`m.received_at >= ${p(filters.since.toISOString())}::timestamptz`);
  if (filters.until) where.and(`m.received_at < ${p(filters.until.toISOString())}::timestamptz`);
  if (filters.unparsed) where.and(`m.parse_status <> 'parsed'`);
  const reply = withReply ? replyCondition(filters, where) : null;
  if (reply) where.and(reply);
  if (cursor) where.before("m.received_at", "m.id", cursor);
  return where;
}

/** The reply-status filter as a condition on `d` (LEFT JOINed decisions), or null. */
function replyCondition(filters: MessageFilters, where: WhereClause): string | null {
  if (filters.reply === "undecided") return "d.message_id IS NULL";
  if (filters.reply) return `d.outcome = ${where.param(filters.reply)}`;
  return null;
}

/** `search @@ …` for the query in either language; `column` is the tsvector. */
function matches(column: string, text: string): string {
  return `${column} @@ (websearch_to_tsquery('portuguese', ${text}) || websearch_to_tsquery('english', ${text}))`;
}

/**
 * Whether the message `id` (a column) matches the query: its vector read by its key, a subquery
 * run for each row tested, so the rows decide which vectors are read — as a join, the planner
 * (which takes every word for a rare one: the vectors have no statistics) may read all of a
 * common word's matches from the full-text index instead, for a few hundred rows.
 */
function messageMatches(id: string, text: string): string {
  return `(SELECT ${matches("s.search", text)} FROM message_search s WHERE s.message_id = ${id})`;
}

/**
 * The matches among the rows `skip` … `skip + rows` (newest first) of those that pass the filters
 * on the message itself. The inner LIMIT keeps the text test and the decision out of the index
 * walk, so the walk stops after that many rows whatever the query (and is too short to be worth
 * parallel workers, whose start costs more than it).
 */
function windowSql(
  filters: MessageFilters,
  cursor: MessageCursor | null,
  text: string | null,
  skip: number,
  rows: number,
  want: number,
): [string, unknown[]] {
  const where = filterWhere(filters, cursor, false);
  const inner = `SELECT m.id, m.received_at FROM messages m
             ${where} ${NEWEST_FIRST} OFFSET ${where.param(skip)} LIMIT ${where.param(rows)}`;
  const outer = [text && messageMatches("p.id", where.param(text)), replyCondition(filters, where)];
  return [
    `SELECT ${COLUMNS}
     FROM (SELECT p.id FROM (${inner}) p
           LEFT JOIN decisions d ON d.message_id = p.id
           WHERE ${outer.filter(Boolean).join(" AND ")}
           ORDER BY p.received_at DESC, p.id DESC LIMIT ${where.param(want)}) hit
     JOIN messages m ON m.id = hit.id ${DETAILS}
     ${NEWEST_FIRST}`,
    where.params,
  ];
}

/**
 * The undecided messages that pass the filters (the text too), by a walk of `undecided_messages`
 * (migrations/0027_undecided_messages.sql) in the list's order: they are few, so the walk is short
 * whatever the other filters, where a walk of the date index probing `decisions` reads every
 * message newer than the undecided ones.
 */
function undecidedSql(
  filters: MessageFilters,
  cursor: MessageCursor | null,
  text: string | null,
  want: number,
): [string, unknown[]] {
  const where = filterWhere(
    { ...filters, reply: undefined, since: undefined, until: undefined },
    null,
  );
  const p = (v: unknown) => where.param(v);
  if (filters.since) where.and(`u.received_at >= ${p(filters.since.toISOString())}::timestamptz`);
  if (filters.until) where.and(`u.received_at < ${p(filters.until.toISOString())}::timestamptz`);
  if (cursor) where.before("u.received_at", "u.message_id", cursor);
  if (text) where.and(messageMatches("m.id", p(text)));
  return [
    `SELECT ${COLUMNS}
     FROM (SELECT u.message_id AS id FROM undecided_messages u JOIN messages m ON m.id = u.message_id
           ${where} ORDER BY u.received_at DESC, u.message_id DESC LIMIT ${p(want)}) page
     JOIN messages m ON m.id = page.id ${DETAILS}
     ${NEWEST_FIRST}`,
    where.params,
  ];
}

/**
 * Every match older than the first `tested` rows that pass the filters on the message (all of
 * them when `tested` is 0; none when fewer rows pass). With a text, the matches come from a
 * subquery of `message_search` that holds the full-text condition alone (OFFSET 0 keeps the other
 * conditions out of it), so its plan is the GIN index whatever the other filters are: no plan can
 * turn it into a filtered walk of a date index, nor AND it with a wide date range, and the vectors
 * have no statistics that could make a common word's plan a sequential scan. It reads the narrow
 * rows of the matches, not their vectors (unless a common word's matches outgrow the bitmap's
 * `work_mem`, when whole pages are tested row by row); the filters, the cursor and the order apply
 * to those rows only. Without a text, the date index is walked from there. Either way the page's ids come
 * first, then their details.
 */
function restSql(
  filters: MessageFilters,
  cursor: MessageCursor | null,
  text: string | null,
  tested: number,
  want: number,
): [string, unknown[]] {
  const ctes: string[] = [];
  const params: unknown[] = [];
  if (tested > 0) {
    const where = filterWhere(filters, cursor, false, params);
    ctes.push(`edge AS MATERIALIZED (SELECT m.received_at, m.id FROM messages m
       ${where} ${NEWEST_FIRST} OFFSET ${where.param(tested - 1)} LIMIT 1)`);
  }
  const hit = text &&
    `(SELECT s.message_id AS id, s.received_at, s.account_id, s.kind, s.parse_status
      FROM message_search s WHERE ${matches("s.search", `$${params.push(text)}`)} OFFSET 0)`;
  const where = filterWhere(filters, cursor, !text, params);
  if (tested > 0) where.and("(m.received_at, m.id) < (SELECT received_at, id FROM edge)");
  let ids: string;
  if (text && filters.reply) {
    // On the matches, the decision is looked up row by row (a subquery the planner keeps as
    // such: as a join it may hash the whole decisions table for a few thousand rows), and only
    // for the matches in order until the page is full (OFFSET 0 keeps the test out of the sorted
    // subquery): a word with 30,000 older matches costs a sort of them, not 30,000 lookups.
    const reply = where.param(filters.reply);
    ids = `SELECT m.id FROM (SELECT m.id, m.received_at FROM ${hit} m ${where} ${NEWEST_FIRST}
             OFFSET 0) m
           WHERE (SELECT d.outcome FROM decisions d WHERE d.message_id = m.id) = ${reply}
           LIMIT ${where.param(want)}`;
  } else {
    ids = `SELECT m.id FROM ${
      hit ? `${hit} m` : "messages m LEFT JOIN decisions d ON d.message_id = m.id"
    } ${where} ${NEWEST_FIRST} LIMIT ${where.param(want)}`;
  }
  return [
    `${ctes.length ? `WITH ${ctes.join(", ")}` : ""}
     SELECT ${COLUMNS}
     FROM (${ids}) page
     JOIN messages m ON m.id = page.id ${DETAILS}
     ${NEWEST_FIRST}`,
    params,
  ];
}

function toRow(r: Record<string, unknown>): MessageListRow {
  return {
    id: Number(r.id),
    accountId: (r.account_id as number | null) ?? null,
    accountName: (r.account_name as string | null) ?? null,
    mailbox: r.mailbox as string,
    receivedAt: r.received_at as Date,
    fromAddress: (r.from_address as string | null) ?? null,
    fromName: (r.from_name as string | null) ?? null,
    subject: (r.subject as string | null) ?? null,
    kind: (r.kind as "forwarded" | "direct" | null) ?? null,
    confidence: r.confidence === null ? null : Number(r.confidence),
    originalFromAddress: (r.original_from_address as string | null) ?? null,
    parseStatus: r.parse_status as MessageListRow["parseStatus"],
    decision: (r.outcome as ReplyStatus | null) ?? "undecided",
    ruleName: (r.rule_name as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    outboxStatus: (r.outbox_status as string | null) ?? null,
    cursor: { micros: Number(r.micros), id: Number(r.id) },
  };
}
