/**
 * The rate window and the loop breakers over a dry-run: what they would have done had the rule
 * answered the dry-run's messages one after the other, from no replies. Each reply the dry-run
 * would send is counted as the store counts reserved replies, breakers trip and close by the same
 * policy, and `settleReply` decides as it does for real mail.
 */
import { type ReplyDecision, type SettledReply, settleReply } from "./decide_reply.ts";
import {
  type BreakerState,
  countRequests,
  type RateLimitPolicy,
  recipientKey,
} from "./rate_limit.ts";

interface SimulatedReply {
  at: number;
  accountId: number;
  rule: string;
  recipient: string;
}

interface SimulatedTrip {
  at: number;
  accountId: number;
  /** null: the account's breaker. */
  recipient: string | null;
  openUntil: Date | null;
}

/** A dry-run's own count of replies and breakers; one per dry-run, fed in time order. */
export class LimitSimulation {
  #replies: SimulatedReply[] = [];
  #trips: SimulatedTrip[] = [];

  /** Settles one reply the rules and the guard allowed, at the message's arrival, and counts it. */
  settle(
    decision: ReplyDecision,
    accountId: number,
    at: Date,
    policy: RateLimitPolicy,
  ): SettledReply {
    const recipient = recipientKey(decision.recipient.address);
    const t = at.getTime();
    const counts: Record<string, number> = {};
    for (const req of countRequests(policy)) {
      const since = t - req.withinSeconds * 1000;
      counts[req.key] = this.#replies.filter((r) =>
        r.accountId === accountId && r.at >= since && r.at <= t &&
        (req.scope === "account" ||
          (r.recipient === recipient &&
            (req.scope === "recipient" || r.rule === decision.rule.name)))
      ).length;
    }
    const settled = settleReply(
      decision,
      { alreadyAnswered: false, counts, breakers: this.#breakers(accountId, recipient) },
      policy,
      at,
    );
    if (settled.outcome === "reply") {
      this.#replies.push({ at: t, accountId, rule: decision.rule.name, recipient });
    } else if (settled.trip) {
      this.#trips.push({
        at: t,
        accountId,
        recipient: settled.trip.recipient === null ? null : recipient,
        openUntil: settled.trip.openUntil,
      });
    }
    return settled;
  }

  #breakers(accountId: number, recipient: string): BreakerState {
    const last = (forRecipient: boolean) =>
      this.#trips.findLast((b) =>
        b.accountId === accountId &&
        (forRecipient ? b.recipient === recipient : b.recipient === null)
      );
    const r = last(true);
    const a = last(false);
    return {
      recipientTrippedAt: r ? new Date(r.at) : null,
      recipientOpenUntil: r ? r.openUntil : undefined,
      accountTrippedAt: a ? new Date(a.at) : null,
      accountOpenUntil: a ? a.openUntil : undefined,
    };
  }
}
