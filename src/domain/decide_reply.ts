/**
 * The reply decision for each classified message, in two pure steps. `decideReply`: which rule
 * answers it, whether the RFC 3834 guard lets the reply go, and the reply itself with its dedup
 * key. `settleReply`: the final word on a reply, from the facts the job read in its transaction
 * (one reply per message, the per-sender rate limit and the loop breakers of
 * src/domain/rate_limit.ts); the job then only trips, reserves, enqueues and records.
 */

import type { Address, Classification, ParsedEmail } from "./email.ts";
import { checkAutoReply, type GuardPolicy, type SuppressionReason } from "./auto_reply_guard.ts";
import {
  type ComposedReply,
  composeReply,
  dedupKey,
  type ReferencesLimits,
  type ReplyAttachment,
  replyFrom,
} from "./reply_composer.ts";
import { detectLanguage } from "./reply_language.ts";
import { chooseReplyVariant } from "./reply_variant.ts";
import {
  type BreakerScope,
  type BreakerState,
  decideRate,
  type RateCounts,
  type RateLimitOverrides,
  type RateLimitPolicy,
  recipientKey,
} from "./rate_limit.ts";
import type { Rule, RuleBudget, RuleTrailEntry } from "./rules.ts";
import { decideRule } from "./rule_match.ts";
import { templateValues } from "./template.ts";
import type { HolidayCalendar } from "./schedule.ts";
import type { VerdictPolicy } from "./sender_verdicts.ts";

/** The account that received the message, as the decision needs it. */
export interface AccountContext {
  id: string | number;
  /** The account's name (the `account` rule condition and template variable). */
  name: string;
  /** The account's addresses: the first is its main address, the others aliases. */
  addresses: readonly string[];
  /** Display name on the reply's From; "" for none. */
  displayName?: string;
  /** Mail received before this is history and never answered. */
  connectedAt: Date;
  /** The domain of our replies' Message-IDs. */
  messageIdDomain: string;
  /** IANA zone of schedules and dates (the account's, else the server's); default UTC. */
  timeZone?: string;
  /** Which receiving-server verdicts stop a reply (authserv-ids, SPF/DMARC, spam). */
  verdicts?: Partial<VerdictPolicy>;
  /** Who may forward mail to be answered to its author; default: the account's domains. */
  trustedForwarders?: readonly string[];
  /** Addresses, globs and domains never answered (the global list and the account's). */
  neverAnswer?: readonly string[];
  /** The account's rate window, breakers and cool-down over the defaults (a rule's go over these). */
  limits?: RateLimitOverrides | null;
}

/** Everything `decideReply` reads. No clock: times come in. */
export interface DecideReplyInput {
  email: ParsedEmail;
  classification: Classification;
  account: AccountContext;
  /** Every address this installation manages (all accounts); defaults to the account's. */
  ownAddresses?: readonly string[];
  /** When the message reached the mailbox (IMAP INTERNALDATE). */
  receivedAt: Date;
  /** SHA-256 hex of the raw message bytes as stored. */
  rawSha256: string;
  rules: readonly Rule[];
  /** The regex work the rules may do for this message; defaults to `DEFAULT_RULE_BUDGET`. */
  ruleBudget?: RuleBudget;
  guardPolicy?: Partial<GuardPolicy>;
  /** Subject when the original had none (RFC 5230 §5.3); defaults to "Resposta automática". */
  defaultSubject?: string;
  referencesLimits?: ReferencesLimits;
  /** Public holidays by calendar and year, remembered by the caller; computed when absent. */
  holidays?: HolidayCalendar;
  /** The files stored with each rule (by rule name), attached to its replies. */
  attachments?: ReadonlyMap<string, readonly ReplyAttachment[]>;
}

/** Why a decision suppressed the reply: a guard reason, or a rule whose templates fail. */
export type DecisionSuppressionReason = SuppressionReason | "invalid_rule";

/** The outcome for one message, always with the rule trail. */
export type Decision =
  | {
    outcome: "reply";
    rule: Rule;
    reply: ComposedReply;
    dedupKey: string;
    recipient: Address;
    trail: RuleTrailEntry[];
  }
  | {
    outcome: "suppressed";
    rule: Rule;
    reason: DecisionSuppressionReason;
    detail: string;
    trail: RuleTrailEntry[];
  }
  | { outcome: "no_rule"; trail: RuleTrailEntry[] }
  | { outcome: "ignored"; rule: Rule; trail: RuleTrailEntry[] };

/**
 * Decides what to do with one message: the first matching rule (by priority, then order); for
 * a reply, the guard on the address the reply would go to, then the composed reply with its
 * dedup key (`v1/{account}/{raw sha256}/{rule}`) and Message-ID derived from it.
 */
export function decideReply(input: DecideReplyInput): Decision {
  const { email, classification, account } = input;
  const { matched: rule, trail } = decideRule(input.rules, {
    email,
    classification,
    account: { name: account.name, addresses: account.addresses },
    at: input.receivedAt,
    timeZone: account.timeZone,
    holidays: input.holidays,
  }, input.ruleBudget);
  if (rule === null) return { outcome: "no_rule", trail };
  if (rule.action.type === "ignore") return { outcome: "ignored", rule, trail };

  const verdict = checkAutoReply({
    email,
    classification,
    target: rule.action.to,
    accountAddresses: account.addresses,
    ownAddresses: input.ownAddresses,
    messageIdDomain: account.messageIdDomain,
    connectedAt: account.connectedAt,
    receivedAt: input.receivedAt,
    policy: input.guardPolicy,
    force: rule.action.force,
    verdicts: account.verdicts,
    trustedForwarders: account.trustedForwarders,
    neverAnswer: account.neverAnswer,
  });
  if (!verdict.allowed) {
    return { outcome: "suppressed", rule, reason: verdict.reason, detail: verdict.detail, trail };
  }

  const from = replyFrom(email, account.addresses, account.displayName ?? "");
  const key = dedupKey({ accountId: account.id, rawSha256: input.rawSha256, ruleName: rule.name });
  // The language is looked for only when there is a choice to make.
  const chosen = chooseReplyVariant(
    rule.action,
    rule.action.variants ? detectLanguage(email) : null,
  );
  if (rule.action.variants) trail.push({ rule: rule.name, hit: true, why: chosen.why });
  const composed = composeReply({
    parent: email,
    from,
    to: verdict.recipient,
    template: chosen.template,
    cc: rule.action.cc,
    bcc: rule.action.bcc,
    replyTo: rule.action.replyTo,
    attachments: input.attachments?.get(rule.name) ?? [],
    values: templateValues({
      email,
      classification,
      recipient: verdict.recipient,
      accountName: account.name,
      accountAddress: from.address,
      receivedAt: input.receivedAt,
      timeZone: account.timeZone,
      locale: chosen.locale,
    }),
    dedupKey: key,
    messageIdDomain: account.messageIdDomain,
    defaultSubject: input.defaultSubject,
    referencesLimits: input.referencesLimits,
  });
  if (!composed.ok) {
    return {
      outcome: "suppressed",
      rule,
      reason: "invalid_rule",
      detail: composed.errors.join("; "),
      trail,
    };
  }
  return {
    outcome: "reply",
    rule,
    reply: composed.reply,
    dedupKey: key,
    recipient: verdict.recipient,
    trail,
  };
}

/** A decision to reply, before the store's facts have had their say. */
export type ReplyDecision = Extract<Decision, { outcome: "reply" }>;

/** What the job read in its transaction about a reply the rules and the guard allowed. */
export interface ReplyFacts {
  /** The message already has a reply in the outbox (one that was not cancelled). */
  alreadyAnswered: boolean;
  /**
   * A copy of this message (the same dedup key, content or Message-ID) was answered and then
   * removed by retention or erasure: it is not answered again (src/domain/retention.ts).
   */
  answeredBeforeRemoval?: boolean;
  /** Replies already reserved, by the keys of `countRequests(policy)`. */
  counts: RateCounts;
  /** When this account's and this recipient's breakers tripped, if they are tripped. */
  breakers: BreakerState;
  /**
   * Set when the rate window's reservation, made because an earlier call said "reply", was
   * refused: a reply to this recipient by this rule holds it (a concurrent pass, or a reply
   * since cancelled).
   */
  reservationLost?: boolean;
  /**
   * When a reply of this account to this recipient last bounced permanently (a 5.x.x delivery
   * status notification, src/domain/delivery_status.ts); null or absent when none did.
   */
  recipientBouncedAt?: Date | null;
}

/** Why the facts suppressed a reply the rules and the guard allowed. */
export type SettledSuppressionReason =
  | "already_answered"
  | "recipient_bounced"
  | "rate_limited"
  | "loop_suspected";

/** A breaker the job must trip (recipient null: the account's) before recording the decision. */
export interface BreakerTrip {
  scope: BreakerScope;
  recipient: string | null;
  detail: string;
  /** When it closes by itself (the cool-down of the policy in force); null: a person resets it. */
  openUntil: Date | null;
}

/** The final decision on a reply, with what the job must do for it. */
export type SettledReply =
  | {
    outcome: "reply";
    decision: ReplyDecision;
    /** The rate window the job reserves (atomically) before it enqueues. */
    reservation: { ruleName: string; recipient: string; windowSeconds: number };
    trip: null;
  }
  | {
    outcome: "suppressed";
    rule: Rule;
    reason: SettledSuppressionReason;
    detail: string;
    trail: RuleTrailEntry[];
    trip: BreakerTrip | null;
  };

/**
 * Settles a reply against the store's facts: a message already answered is never answered again
 * (after a correction, another rule may match); a recipient whose reply bounced permanently is
 * not answered again within the rate window (a reply to an address that does not exist only
 * brings another bounce); then the rate limit and the loop breakers decide
 * (`decideRate`), a breaker that trips suppressing this reply too; a lost reservation suppresses
 * as rate-limited. Throws a RangeError when a count is missing: a failed read must not send.
 */
export function settleReply(
  decision: ReplyDecision,
  facts: ReplyFacts,
  policy: RateLimitPolicy,
  now: Date,
): SettledReply {
  const suppressed = (
    reason: SettledSuppressionReason,
    detail: string,
    trip: BreakerTrip | null = null,
  ): SettledReply => ({
    outcome: "suppressed",
    rule: decision.rule,
    reason,
    detail,
    trail: decision.trail,
    trip,
  });
  if (facts.alreadyAnswered) {
    return suppressed("already_answered", "this message already has a reply in the outbox");
  }
  if (facts.answeredBeforeRemoval) {
    return suppressed(
      "already_answered",
      "a copy of this message was answered before it was removed (retention or erasure)",
    );
  }
  const bouncedAt = facts.recipientBouncedAt;
  if (bouncedAt && now.getTime() - bouncedAt.getTime() < policy.windowSeconds * 1000) {
    const until = new Date(bouncedAt.getTime() + policy.windowSeconds * 1000);
    return suppressed(
      "recipient_bounced",
      `a reply to ${decision.recipient.address} bounced permanently at ` +
        `${bouncedAt.toISOString()}; not answered again until ${until.toISOString()}`,
    );
  }
  const rate = decideRate(policy, facts.counts, facts.breakers, now);
  if (rate.action === "trip") {
    const recipient = rate.scope === "recipient" ? decision.recipient.address : null;
    return suppressed(rate.reason, rate.detail, {
      scope: rate.scope,
      recipient,
      detail: rate.detail,
      openUntil: rate.openUntil,
    });
  }
  if (rate.action === "suppress") return suppressed(rate.reason, rate.detail);
  if (facts.reservationLost) {
    return suppressed(
      "rate_limited",
      "a reply to this recipient by this rule is already reserved in the window",
    );
  }
  return {
    outcome: "reply",
    decision,
    reservation: {
      ruleName: decision.rule.name,
      recipient: recipientKey(decision.recipient.address),
      windowSeconds: policy.windowSeconds,
    },
    trip: null,
  };
}
