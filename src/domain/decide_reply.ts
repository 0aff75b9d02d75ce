/**
 * The one decision the collect job asks for each classified message: which rule answers it,
 * whether the RFC 3834 guard lets the reply go, and the reply itself with its dedup key. The
 * per-sender rate limit and the loop breaker are applied afterwards by the job, with the
 * store's counts (src/domain/rate_limit.ts), in the same transaction as the enqueue.
 */

import type { Address, Classification, ParsedEmail } from "./email.ts";
import { checkAutoReply, type GuardPolicy, type SuppressionReason } from "./auto_reply_guard.ts";
import {
  type ComposedReply,
  composeReply,
  dedupKey,
  type ReferencesLimits,
  replyFrom,
} from "./reply_composer.ts";
import type { Rule, RuleBudget, RuleTrailEntry } from "./rules.ts";
import { decideRule } from "./rule_match.ts";
import { templateValues } from "./template.ts";

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
  });
  if (!verdict.allowed) {
    return { outcome: "suppressed", rule, reason: verdict.reason, detail: verdict.detail, trail };
  }

  const from = replyFrom(email, account.addresses, account.displayName ?? "");
  const key = dedupKey({ accountId: account.id, rawSha256: input.rawSha256, ruleName: rule.name });
  const composed = composeReply({
    parent: email,
    from,
    to: verdict.recipient,
    template: { subject: rule.action.subject, text: rule.action.text, html: rule.action.html },
    values: templateValues({
      email,
      classification,
      recipient: verdict.recipient,
      accountName: account.name,
      accountAddress: from.address,
      receivedAt: input.receivedAt,
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
