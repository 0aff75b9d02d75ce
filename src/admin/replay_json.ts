/**
 * A rule replay's report as JSON, the same for `/api/v1/rules/:id/replay` and
 * `cli rules replay`: counts, the confirmation token, and one item per message looked at.
 */
import { REPLAY_MAX_MESSAGES, type ReplayResult } from "../domain/rule_replay.ts";

export function replayJson(r: ReplayResult) {
  return {
    rule_id: r.ruleId,
    rule: r.rule,
    since: r.since.toISOString(),
    filters: r.filters,
    confirmed: r.confirmed,
    examined: r.items.length,
    replies: r.replies,
    skipped: r.skipped,
    reasons: r.reasons,
    capped: r.capped,
    max_messages: REPLAY_MAX_MESSAGES,
    token: r.token,
    items: r.items.map((i) => ({
      message_id: i.messageId,
      received_at: i.receivedAt.toISOString(),
      subject: i.subject,
      from: i.from,
      ...(i.result.outcome === "reply"
        ? {
          outcome: "reply",
          recipient: i.result.recipient,
          reply_subject: i.result.subject,
          dedup_key: i.result.dedupKey,
          // A dry-run's rows were rolled back: only a confirmed replay names them.
          outbox_id: r.confirmed ? i.result.outboxId ?? null : null,
        }
        : { outcome: "skipped", reason: i.result.reason, detail: i.result.detail }),
    })),
  };
}
