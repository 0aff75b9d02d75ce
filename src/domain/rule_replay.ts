/**
 * Replaying a rule over stored mail a person chose (a filter of the message list and a date):
 * how much one replay may cover, what it came to for each message, and the confirmation token
 * that ties a replay to the dry-run the person saw — the token is a digest of the replies the
 * dry-run listed, so a replay whose replies would differ (new mail, a changed rule, a reply
 * enqueued meanwhile) is refused instead of sending something nobody saw.
 */
import { sha256Hex } from "./sha256.ts";

/** Most messages one replay looks at; a filter that matches more is said to, and cut. */
export const REPLAY_MAX_MESSAGES = 1_000;

/** What the replay does, or would do, for one message. */
export type ReplayOutcome =
  | {
    outcome: "reply";
    recipient: string;
    subject: string;
    dedupKey: string;
    /** The outbox row, once enqueued (a confirmed replay). */
    outboxId?: number;
  }
  | {
    outcome: "skipped";
    /**
     * Why nothing is sent: `no_match` (the rule's conditions), `ignored` (an ignore rule), a
     * guard reason (src/domain/auto_reply_guard.ts), or a settlement's (`already_answered`,
     * `rate_limited`, `loop_suspected`, `recipient_bounced`).
     */
    reason: string;
    detail: string;
  };

/** One message of a replay. */
export interface ReplayItem {
  messageId: number;
  receivedAt: Date;
  subject: string | null;
  from: string | null;
  result: ReplayOutcome;
}

/** A replay's list and counts, as its dry-run shows them and its confirmation repeats them. */
export interface ReplayReport {
  ruleId: number;
  rule: string;
  /** Only mail received at or after this instant is looked at. */
  since: Date;
  /** The filters as the person typed them (the message list's parameters). */
  filters: Record<string, string>;
  /** The messages looked at, oldest first. */
  items: ReplayItem[];
  replies: number;
  skipped: number;
  /** Skipped messages by reason. */
  reasons: Record<string, number>;
  /**
   * True when the filter matches more than `REPLAY_MAX_MESSAGES`: only the oldest that many are
   * looked at, and `items`' last one says from when to replay again for the rest.
   */
  capped: boolean;
  /** The digest a confirmation must carry. */
  token: string;
}

/** A replay's report; `confirmed` when its replies were enqueued (else a dry-run's). */
export type ReplayResult = ReplayReport & { confirmed: boolean };

/** What a replay looked at, before its counts and token. */
export interface ReplayPlan {
  ruleId: number;
  rule: string;
  /** When the rule was last changed: an edit after the dry-run changes the token. */
  ruleUpdatedAt: Date;
  since: Date;
  filters: Record<string, string>;
  items: ReplayItem[];
  capped: boolean;
}

/**
 * The confirmation token of a replay: a SHA-256 of the rule (its id and last change), the date,
 * the filters, and each reply it would enqueue (message, dedup key, recipient). Skipped messages
 * do not count: confirming sends exactly the replies listed.
 */
export function replayToken(plan: ReplayPlan): string {
  const replies = plan.items.flatMap((i) =>
    i.result.outcome === "reply"
      ? [[i.messageId, i.result.dedupKey, i.result.recipient.toLowerCase()]]
      : []
  );
  const filters = Object.entries(plan.filters).filter(([, v]) => v !== "").sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  );
  const material = JSON.stringify([
    "replay/v1",
    plan.ruleId,
    plan.ruleUpdatedAt.toISOString(),
    plan.since.toISOString(),
    filters,
    replies,
  ]);
  return sha256Hex(material);
}

/** The report of a plan: its counts by outcome and reason, and its token. */
export function replayReport(plan: ReplayPlan): ReplayReport {
  const reasons: Record<string, number> = {};
  let replies = 0;
  for (const i of plan.items) {
    if (i.result.outcome === "reply") replies++;
    else reasons[i.result.reason] = (reasons[i.result.reason] ?? 0) + 1;
  }
  return {
    ruleId: plan.ruleId,
    rule: plan.rule,
    since: plan.since,
    filters: plan.filters,
    items: plan.items,
    replies,
    skipped: plan.items.length - replies,
    reasons,
    capped: plan.capped,
    token: replayToken(plan),
  };
}
