/** Reads the message-list filters from a query string, for the pages and the API alike. */
import {
  decodeCursor,
  type MessageCursor,
  type MessageFilters,
  REPLY_STATUSES,
  type ReplyStatus,
} from "../src/store/message_list.ts";

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

const DAY = 86_400_000;

function day(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const d = new Date(`${text}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Parses `account, kind, reply, since, until (YYYY-MM-DD, inclusive), unparsed, q, after, limit`. */
export function parseMessageQuery(
  get: (name: string) => string | undefined,
  maxLimit = 200,
  defaultLimit = 50,
): ParsedMessageQuery {
  const v = (name: string) => (get(name) ?? "").trim();
  const form = {
    account: v("account"),
    kind: v("kind"),
    reply: v("reply"),
    since: v("since"),
    until: v("until"),
    unparsed: ["1", "true", "on"].includes(v("unparsed")),
    q: v("q").slice(0, 500),
  };
  const errors: string[] = [];
  const filters: MessageFilters = {};
  if (form.account) {
    if (/^\d{1,9}$/.test(form.account)) filters.accountId = Number(form.account);
    else errors.push(`account: "${form.account.slice(0, 40)}" is not an account id`);
  }
  if (form.kind) {
    if (form.kind === "forwarded" || form.kind === "direct") filters.kind = form.kind;
    else errors.push("kind: must be forwarded or direct");
  }
  if (form.reply) {
    if ((REPLY_STATUSES as readonly string[]).includes(form.reply)) {
      filters.reply = form.reply as ReplyStatus;
    } else errors.push(`reply: must be one of ${REPLY_STATUSES.join(", ")}`);
  }
  if (form.since) {
    const d = day(form.since);
    if (d) filters.since = d;
    else errors.push("since: must be a date (YYYY-MM-DD)");
  }
  if (form.until) {
    const d = day(form.until);
    if (d) filters.until = new Date(d.getTime() + DAY);
    else errors.push("until: must be a date (YYYY-MM-DD)");
  }
  if (filters.since && filters.until && filters.since >= filters.until) {
    errors.push("since: must not be after until");
  }
  if (form.unparsed) filters.unparsed = true;
  if (form.q) filters.q = form.q;
  const after = v("after") || v("cursor");
  const cursor = after ? decodeCursor(after) : null;
  if (after && !cursor) errors.push("after: not a cursor from this list");
  let limit = defaultLimit;
  const l = v("limit");
  if (l) {
    if (/^\d{1,4}$/.test(l) && Number(l) >= 1 && Number(l) <= maxLimit) limit = Number(l);
    else errors.push(`limit: must be from 1 to ${maxLimit}`);
  }
  return { form, filters, cursor, limit, errors };
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
