/**
 * Reads what a list is asked for — its filters, where the page starts and how long it is — from
 * a query string: one parser per list (messages, audit events, outbox rows), used by the pages
 * and by `/api/v1` alike, each value checked by the one parameter reader (routes/params.ts).
 * Writes the filters back as the query string of links and of the URL htmx pushes.
 */
import {
  decodeCursor,
  type MessageCursor,
  type MessageFilters,
  REPLY_STATUSES,
} from "../src/store/message_list.ts";
import { type AuditCursor, type AuditFilters, decodeAuditCursor } from "../src/store/audit_list.ts";
import { OUTBOX_STATUSES } from "../src/store/outbox_status.ts";
import type { OutboxStatus } from "../src/store/outbox.ts";
import type { Queryable } from "../src/store/db.ts";
import type { Context } from "hono";
import { endOfDay, Params } from "./params.ts";

/** The filter fields as typed: text, or a checkbox. */
export type QueryForm = Record<string, string | boolean>;

/**
 * A list query: the filters as typed (to put back in the form and in links) and as understood,
 * the page's start (`cursor`; `at`, its text, "" on the first page; `param`, the parameter that
 * carries it in links), its size, and the problems, each starting with the parameter's name.
 */
export interface ListQuery<Form extends QueryForm, Filters, Cursor> {
  form: Form;
  filters: Filters;
  cursor: Cursor | null;
  at: string;
  param: "after" | "before";
  limit: number;
  errors: string[];
}

/** The message list's query. */
export type MessageQuery = ListQuery<
  {
    account: string;
    kind: string;
    reply: string;
    since: string;
    until: string;
    unparsed: boolean;
    q: string;
  },
  MessageFilters,
  MessageCursor
>;

/** The audit log's query. */
export type AuditQuery = ListQuery<
  { event: string; account: string; message: string; since: string; until: string },
  AuditFilters,
  AuditCursor
>;

/** The outbox list's query; its cursor is the last id of the page before. */
export type OutboxQuery = ListQuery<
  { status: string; account: string },
  { status?: OutboxStatus; accountId?: number },
  number
>;

/** `since` and `until` (YYYY-MM-DD, inclusive) as a half-open range of instants. */
function dayRange(params: Params): { since?: Date; until?: Date } {
  const since = params.day("since");
  const until = params.day("until");
  return { since, until: until && endOfDay(until) };
}

/** A keyset cursor given as text, or null; text that `decode` refuses is a problem. */
function cursorParam<Cursor>(
  params: Params,
  name: string,
  decode: (text: string) => Cursor | null,
): { cursor: Cursor | null; at: string } {
  const at = params.text(name, 40);
  const cursor = at ? decode(at) : null;
  if (at && !cursor) params.problem(name, "not a cursor from this list");
  return { cursor, at: cursor ? at : "" };
}

/**
 * Parses `account, kind, reply, since, until, unparsed, q, after (or cursor), limit`: the page
 * allows up to 200 a page, the API passes its own `maxLimit`.
 */
export function parseMessageQuery(params: Params, maxLimit = 200): MessageQuery {
  const form = {
    account: params.text("account", 20),
    kind: params.text("kind", 20),
    reply: params.text("reply", 20),
    since: params.text("since", 20),
    until: params.text("until", 20),
    unparsed: params.flag("unparsed"),
    q: params.text("q", 500),
  };
  const filters: MessageFilters = {};
  filters.accountId = params.id("account", "an account id");
  filters.kind = params.oneOf("kind", ["forwarded", "direct"] as const);
  filters.reply = params.oneOf("reply", REPLY_STATUSES);
  const { since, until } = dayRange(params);
  filters.since = since;
  if (until) filters.until = until;
  if (since && until && since >= until) params.problem("since", "must not be after until");
  if (form.unparsed) filters.unparsed = true;
  if (form.q) filters.q = form.q;
  const start = cursorParam(params, params.text("after", 40) ? "after" : "cursor", decodeCursor);
  const limit = params.int("limit", 1, maxLimit, 50);
  return { form, filters, ...start, param: "after", limit, errors: params.errors };
}

/** The messages a replay of a rule covers, as asked for (routes/rule_replay.tsx, the API). */
export interface ReplayQuery {
  /** The message list's filters; `since` is set when there is no problem. */
  filters: MessageFilters;
  /** The filters as typed, only those given (a checked box as "1"). */
  typed: Record<string, string>;
  form: MessageQuery["form"];
  errors: string[];
}

/**
 * Parses a replay's messages: the message list's filters (`account, kind, reply, since, until,
 * unparsed, q`), where `since` — only mail received on or after that day — is required.
 */
export function parseReplayQuery(params: Params): ReplayQuery {
  const q = parseMessageQuery(params);
  if (!q.filters.since && !q.form.since) {
    params.problem("since", "required: only mail received on or after this day is replayed");
  }
  const typed: Record<string, string> = {};
  for (const [k, v] of Object.entries(q.form)) {
    if (v === true) typed[k] = "1";
    else if (typeof v === "string" && v) typed[k] = v;
  }
  return { filters: q.filters, typed, form: q.form, errors: params.errors };
}

/** Parses `event, account, message, since, until, after, limit` (up to 500 a page). */
export function parseAuditQuery(params: Params): AuditQuery {
  const form = {
    event: params.text("event", 64),
    account: params.text("account", 20),
    message: params.text("message", 20),
    since: params.text("since", 20),
    until: params.text("until", 20),
  };
  const filters: AuditFilters = {};
  if (form.event) {
    if (/^[a-z_]{1,64}$/.test(form.event)) filters.event = form.event;
    else params.problem("event", "must be an event name");
  }
  filters.accountId = params.id("account", "an account id");
  filters.messageId = params.id("message", "a message id");
  const { since, until } = dayRange(params);
  filters.since = since;
  if (until) filters.until = until;
  const start = cursorParam(params, "after", decodeAuditCursor);
  const limit = params.int("limit", 1, 500, 50);
  return { form, filters, ...start, param: "after", limit, errors: params.errors };
}

/** Parses `status, account, before (the last id of the page before), limit` (up to 500). */
export function parseOutboxQuery(params: Params): OutboxQuery {
  const form = { status: params.text("status", 100), account: params.text("account", 20) };
  const status = params.oneOf("status", OUTBOX_STATUSES);
  const accountId = params.id("account", "an account id");
  const before = params.id("before", "an outbox id") ?? null;
  const limit = params.int("limit", 1, 500, 50);
  return {
    form,
    filters: { status, accountId },
    cursor: before,
    at: before === null ? "" : String(before),
    param: "before",
    limit,
    errors: params.errors,
  };
}

/**
 * The query string of `form` (only the fields that are set; a checked box as 1), with
 * `cursor` (its parameter's name and text) when given: "" or "?…".
 */
export function listQueryString(form: QueryForm, cursor?: [name: string, text: string]): string {
  const p = new URLSearchParams();
  for (const [k, val] of Object.entries(form)) {
    if (val === true) p.set(k, "1");
    else if (typeof val === "string" && val) p.set(k, val);
  }
  if (cursor?.[1]) p.set(...cursor);
  const s = p.toString();
  return s ? `?${s}` : "";
}

/**
 * The address of a list with the query's filters, at the page that starts at `at` (this page by
 * default; "" for the first page).
 */
export function listUrl(
  path: string,
  query: ListQuery<QueryForm, unknown, unknown>,
  at = query.at,
): string {
  return `${path}${listQueryString(query.form, [query.param, at])}`;
}

/**
 * Reads a list request: its query string, parsed by `parse`, and the page it asks for, read by
 * `list` (a store function: filters, cursor, limit); the page is null when the query was
 * refused, so that nothing of it reaches the database.
 */
export async function readList<
  Filters,
  Cursor,
  Query extends ListQuery<QueryForm, Filters, Cursor>,
  Page,
>(
  c: Context,
  db: Queryable,
  parse: (params: Params) => Query,
  list: (db: Queryable, filters: Filters, cursor: Cursor | null, limit: number) => Promise<Page>,
): Promise<{ query: Query; page: Page | null }> {
  const query = parse(Params.ofQuery(c));
  if (query.errors.length) return { query, page: null };
  return { query, page: await list(db, query.filters, query.cursor, query.limit) };
}
