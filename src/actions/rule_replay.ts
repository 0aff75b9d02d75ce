/**
 * A person replays a rule over stored mail: the messages of the message list's filter received
 * on or after a date (required), at most `REPLAY_MAX_MESSAGES`. The dry-run runs the replay's
 * very steps — the reply step's decision, settlement, reservations and outbox inserts, message
 * by message, each seeing the ones before — in a transaction that is then rolled back, so its
 * list is what a confirmation would do. The confirmation runs them again in one transaction and
 * commits only when they come to the replies the dry-run listed (its token); the outbox's dedup
 * keys make a second replay a no-op.
 */
import type { Queryable } from "../store/db.ts";
import { recordEvent } from "../store/audit.ts";
import { getRuleRow } from "../store/rules_admin.ts";
import { type MessageFilters, oldestMatchingIds } from "../store/message_list.ts";
import { type StoredEmail, storedEmailsByIds } from "../store/message_detail.ts";
import { parseRules, type Rule } from "../domain/rules.ts";
import {
  REPLAY_MAX_MESSAGES,
  type ReplayItem,
  type ReplayOutcome,
  replayReport,
  type ReplayResult,
} from "../domain/rule_replay.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** The replay's reply step (src/jobs/reply_step.ts `replayStep`), over a stored message. */
export type ReplayMessage = (
  tx: Queryable,
  m: StoredEmail,
  rule: Rule,
  at: Date,
  since: Date,
) => Promise<ReplayOutcome>;

export interface ReplayDeps extends ActionDeps {
  replayMessage: ReplayMessage;
}

/** What a person asks to replay. */
export interface ReplayRequest {
  /** The message list's filters; `since` is required (only mail received from then on). */
  filters: MessageFilters;
  /** The filters as typed, kept in the audit event and in the token. */
  typed: Record<string, string>;
  /** Null: a dry-run. Otherwise the token of the dry-run being confirmed. */
  confirm: string | null;
}

const CHANGED = "what the replay would do changed since its dry-run: run the dry-run again";

/**
 * Replays rule `id`: a dry-run (nothing kept) when `request.confirm` is null, else the replay
 * the token was given for, enqueued and audited as `rule_replayed` in one transaction.
 */
export async function replayRule(
  deps: ReplayDeps,
  id: number,
  request: ReplayRequest,
  by: string,
): Promise<Result<ReplayResult>> {
  const since = request.filters.since;
  if (!since) {
    return problem("invalid", "a replay needs a date", [
      "since: required: only mail received on or after this date is replayed",
    ]);
  }
  const at = deps.now();
  if (request.confirm === null) {
    return await rehearse(deps, (tx) => plan(deps, tx, id, request, since, at));
  }
  const token = request.confirm;
  return await transact(deps.db, async (tx) => {
    const r = await plan(deps, tx, id, request, since, at);
    if (!r.ok) return r;
    if (r.value.token !== token) return problem("conflict", CHANGED, [`confirm: ${CHANGED}`]);
    await recordEvent(tx, {
      event: "rule_replayed",
      at,
      detail: {
        rule: r.value.rule,
        since: since.toISOString(),
        filters: request.typed,
        examined: r.value.items.length,
        enqueued: r.value.replies,
        skipped: r.value.skipped,
        capped: r.value.capped,
        by,
      },
    });
    return done({ ...r.value, confirmed: true });
  }, CHANGED);
}

/** Carries a dry-run's result out of its transaction, so that the transaction rolls back. */
class Rehearsed<T> extends Error {
  constructor(readonly result: T) {
    super("rehearsed");
  }
}

/** Runs `fn` in a transaction that is always rolled back, and gives its result. */
async function rehearse<T>(
  deps: ActionDeps,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  try {
    await deps.db.transaction(async (tx) => {
      throw new Rehearsed(await fn(tx));
    });
  } catch (e) {
    if (e instanceof Rehearsed) return e.result as T;
    throw e;
  }
  throw new Error("a rehearsed transaction committed");
}

/** The replay of rule `id` over the request's messages, in `tx`. */
async function plan(
  deps: ReplayDeps,
  tx: Queryable,
  id: number,
  request: ReplayRequest,
  since: Date,
  at: Date,
): Promise<Result<ReplayResult>> {
  const row = await getRuleRow(tx, id);
  if (!row) return problem("not_found", "no such rule");
  const parsed = parseRules([row.definition]);
  if (!parsed.ok) return problem("invalid", "the stored rule is invalid", parsed.errors);
  const rule = parsed.rules[0];
  if (rule.action.type !== "reply") {
    return problem("invalid", "only a rule that replies can be replayed", [
      `rule: "${rule.name}" ignores the messages it matches`,
    ]);
  }
  const filters = { ...request.filters, since };
  const ids = await oldestMatchingIds(tx, filters, REPLAY_MAX_MESSAGES + 1);
  const capped = ids.length > REPLAY_MAX_MESSAGES;
  const messages = await storedEmailsByIds(tx, ids.slice(0, REPLAY_MAX_MESSAGES));
  const items: ReplayItem[] = [];
  for (const m of messages) {
    items.push({
      messageId: m.id,
      receivedAt: m.receivedAt,
      subject: m.subject,
      from: m.fromAddress,
      result: await deps.replayMessage(tx, m, rule, at, since),
    });
  }
  const report = replayReport({
    ruleId: row.id,
    rule: row.name,
    ruleUpdatedAt: row.updatedAt,
    since,
    filters: request.typed,
    items,
    capped,
  });
  return done({ ...report, confirmed: false });
}
