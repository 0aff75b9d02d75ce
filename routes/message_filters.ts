/** Reads the message-list filters from a query string, for the pages and the API alike. */
import {
  decodeCursor,
  type MessageCursor,
  type MessageFilters,
  REPLY_STATUSES,
} from "../src/store/message_list.ts";
import { endOfDay, type Params } from "./params.ts";

/** The filters as typed (to put back in the form) and as understood. */
export interface ParsedMessageQuery {
  form: {
    account: string;
    kind: string;
    reply: string;
    since: string;
    until: string;
    unparsed: boolean;
    q: string;
  };
  filters: MessageFilters;
  cursor: MessageCursor | null;
  limit: number;
  errors: string[];
}

/**
 * Parses `account, kind, reply, since, until (YYYY-MM-DD, inclusive), unparsed, q, after, limit`
 * from a query string (`Params.ofQuery`).
 */
export function parseMessageQuery(
  params: Params,
  maxLimit = 200,
  defaultLimit = 50,
): ParsedMessageQuery {
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
  filters.since = params.day("since");
  const until = params.day("until");
  if (until) filters.until = endOfDay(until);
  if (filters.since && filters.until && filters.since >= filters.until) {
    params.problem("since", "must not be after until");
  }
  if (form.unparsed) filters.unparsed = true;
  if (form.q) filters.q = form.q;
  const afterName = params.text("after", 40) ? "after" : "cursor";
  const after = params.text(afterName, 40);
  const cursor = after ? decodeCursor(after) : null;
  if (after && !cursor) params.problem(afterName, "not a cursor from this list");
  const limit = params.int("limit", 1, maxLimit, defaultLimit);
  return { form, filters, cursor, limit, errors: params.errors };
}

/** The query string of a filter form (without the cursor), for links and pushed URLs. */
export function messageQueryString(form: ParsedMessageQuery["form"], after?: string): string {
  const p = new URLSearchParams();
  for (const [k, val] of Object.entries(form)) {
    if (val === true) p.set(k, "1");
    else if (typeof val === "string" && val) p.set(k, val);
  }
  if (after) p.set("after", after);
  const s = p.toString();
  return s ? `?${s}` : "";
}
