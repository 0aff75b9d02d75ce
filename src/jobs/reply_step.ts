import type { Queryable } from "../store/db.ts";
import { recordEvent, recordEvents } from "../store/audit.ts";
import { type DecisionRecord, saveDecision, saveDecisions } from "../store/decisions.ts";
import { loadRules } from "../store/rule_set.ts";
import { attachmentsByRule } from "../store/rule_attachments.ts";
import {
  breakerState,
  countReplies,
  enqueueReply,
  hasReply,
  lastHardBounce,
  reserveReplyLimit,
  tripBreaker,
} from "../store/outbox.ts";
import {
  type AccountContext,
  decideReply,
  type Decision,
  type ReplyDecision,
  type ReplyFacts,
  type SettledReply,
  settleReply,
} from "../domain/decide_reply.ts";
import {
  countRequests,
  type RateLimitPolicy,
  recipientKey,
  resolveRateLimitPolicy,
} from "../domain/rate_limit.ts";
import type { ClassifiedMessage } from "./process_messages.ts";
import { anyForgotten } from "../store/retention.ts";
import { contentKey, messageIdKey } from "../domain/retention.ts";
import { sha256Hex } from "../domain/sha256.ts";
import type { HolidayCalendar } from "../domain/schedule.ts";
import type { AuditDetails, AuditEvent, AuditEventName } from "../domain/audit_events.ts";
import type { Rule } from "../domain/rules.ts";
import type { StoredEmail } from "../store/message_detail.ts";
import type { ReplayOutcome } from "../domain/rule_replay.ts";

export interface ReplyStepDeps {
  /**
   * The account as the decision needs it (addresses, connection time, Message-ID domain), read
   * through the step's own transaction (the embedded database has one connection).
   */
  accountContext: (q: Queryable, accountId: number) => Promise<AccountContext>;
  /** Every address this installation manages: never answered. */
  ownAddresses: (q: Queryable) => Promise<string[]>;
  /** The defaults; an account's settings and then a rule's `limits` go over them. */
  policy: RateLimitPolicy;
  /** How long temporary SMTP failures are retried before the reply fails. */
  sendDeadlineMs: number;
  /** Public holidays of schedules' calendars, remembered across messages. */
  holidays?: HolidayCalendar;
}

/**
 * Decides the reply to a classified message and enqueues it, inside the transaction that saves
 * the classification (STYLE §4): the decision, its audit events, the per-sender reservation and
 * the outbox row commit together or not at all. The outbox's unique dedup key makes a second
 * pass over the same message a no-op.
 */
export function replyStep(deps: ReplyStepDeps) {
  const { decide, account } = decider(deps);
  return async (
    tx: Queryable,
    m: ClassifiedMessage,
    at: Date,
    options: { rerun?: boolean } = {},
  ): Promise<void> => {
    const decision = await decide(tx, m);
    const rerun = options.rerun ?? false;
    if (decision.outcome !== "reply") {
      await saveDecision(tx, asRecord(m.id, decision), at, rerun);
      const event = quietEvent(m, decision, at);
      if (event) await recordEvent(tx, event);
      return;
    }
    await answer(
      deps,
      tx,
      m,
      decision,
      await account(tx, m.accountId),
      at,
      rerun ? "rerun" : "collect",
    );
  };
}

/**
 * The reply step for a batch of new messages, in their order, in the transaction saving them:
 * the decisions that send nothing (no rule, suppressed, ignored — all of a mailbox's history on
 * its first sync) are written together; each reply is decided against the database in turn.
 */
export function replyBatchStep(deps: ReplyStepDeps) {
  const { decide, account } = decider(deps);
  return async (tx: Queryable, messages: ClassifiedMessage[], at: Date): Promise<void> => {
    const records: DecisionRecord[] = [];
    const events: AuditEvent[] = [];
    const flush = async () => {
      await saveDecisions(tx, records.splice(0), at);
      await recordEvents(tx, events.splice(0));
    };
    for (const m of messages) {
      const decision = await decide(tx, m);
      if (decision.outcome !== "reply") {
        records.push(asRecord(m.id, decision));
        const event = quietEvent(m, decision, at);
        if (event) events.push(event);
        continue;
      }
      await flush();
      await answer(deps, tx, m, decision, await account(tx, m.accountId), at, "collect");
    }
    await flush();
  };
}

/**
 * The reply step of a replay (src/actions/rule_replay.ts): `rule` alone, as enabled, decides for
 * one stored message (as the rules see it: src/store/message_detail.ts), and a reply goes through
 * the same settlement, rate-window reservation and outbox insert — the same dedup key — as the
 * collector's, so a message already answered is never answered again. The person's date (`since`) stands in for the account's connection time
 * in the guard: they chose to answer the mail received from that date on. A message the replay
 * does not answer is left as it was (its decision and the audit log keep the collector's word,
 * the replay's own audit event counts it); a reply replaces the message's decision.
 */
export function replayStep(deps: ReplyStepDeps) {
  const { decide, account } = decider(deps);
  return async (
    tx: Queryable,
    e: StoredEmail,
    rule: Rule,
    at: Date,
    since: Date,
  ): Promise<ReplayOutcome> => {
    const m: ClassifiedMessage = {
      id: e.id,
      accountId: e.accountId,
      email: e.email,
      classification: e.classification,
      sha256: e.rawSha256,
      internalDate: e.receivedAt,
      collectedAt: e.receivedAt,
    };
    const stored = await account(tx, m.accountId);
    const connectedAt = since < stored.connectedAt ? since : stored.connectedAt;
    const decision = await decide(tx, m, {
      rules: [{ ...rule, enabled: true }],
      account: { ...stored, connectedAt },
    });
    if (decision.outcome === "no_rule") {
      const why = decision.trail.find((t) => t.rule === rule.name)?.why ?? "not evaluated";
      return { outcome: "skipped", reason: "no_match", detail: why };
    }
    if (decision.outcome === "ignored") {
      return { outcome: "skipped", reason: "ignored", detail: "the rule ignores this message" };
    }
    if (decision.outcome === "suppressed") {
      return { outcome: "skipped", reason: decision.reason, detail: decision.detail };
    }
    return await answer(deps, tx, m, decision, stored, at, "replay");
  };
}

/** Decides by the rules; the rules and accounts are read once per transaction. */
function decider(deps: ReplyStepDeps) {
  const loaded = new WeakMap<Queryable, Map<string, Promise<unknown>>>();
  const once = <T>(tx: Queryable, key: string, load: () => Promise<T>): Promise<T> => {
    let entries = loaded.get(tx);
    if (!entries) loaded.set(tx, entries = new Map());
    if (!entries.has(key)) entries.set(key, load());
    return entries.get(key) as Promise<T>;
  };
  const account = (tx: Queryable, accountId: number) =>
    once(tx, `account:${accountId}`, () => deps.accountContext(tx, accountId));
  const decide = async (
    tx: Queryable,
    m: ClassifiedMessage,
    only?: { rules: Rule[]; account: AccountContext },
  ): Promise<Decision> =>
    decideReply({
      email: m.email,
      classification: m.classification,
      account: only?.account ?? await account(tx, m.accountId),
      ownAddresses: await once(tx, "own", () => deps.ownAddresses(tx)),
      receivedAt: m.internalDate ?? m.collectedAt,
      rawSha256: m.sha256,
      rules: only?.rules ?? await once(tx, "rules", () => loadRules(tx)),
      holidays: deps.holidays,
      attachments: await once(tx, "attachments", () => attachmentsByRule(tx)),
    });
  return { decide, account };
}

/** The audit event of a decision that sends nothing, if it has one. */
function quietEvent(m: ClassifiedMessage, decision: Decision, at: Date): AuditEvent | null {
  const base = { at, accountId: m.accountId, messageId: m.id };
  if (decision.outcome === "suppressed") {
    return {
      ...base,
      event: "reply_suppressed",
      detail: { rule: decision.rule.name, reason: decision.reason, detail: decision.detail },
    };
  }
  if (decision.outcome === "ignored") {
    return {
      ...base,
      event: "rule_matched",
      detail: { rule: decision.rule.name, action: "ignore" },
    };
  }
  return null;
}

/**
 * Who runs the reply step: the collector (a message's first decision), a person's correction of
 * its classification (`rerun`: the decision is replaced) or a replay (`replay`: only a reply is
 * recorded, replacing the decision; what the replay does not send leaves no trace of its own).
 */
type StepMode = "collect" | "rerun" | "replay";

/**
 * A rule matched with a reply: the facts for it are read in this transaction, `settleReply`
 * gives the final decision under the policy in force (the rule's limits over the account's over
 * the defaults), and this only trips a breaker, reserves the rate window, enqueues and records
 * what it said.
 */
async function answer(
  deps: ReplyStepDeps,
  tx: Queryable,
  m: ClassifiedMessage,
  decision: ReplyDecision,
  account: AccountContext,
  at: Date,
  mode: StepMode,
): Promise<ReplayOutcome> {
  const policy = resolveRateLimitPolicy(deps.policy, account.limits, decision.rule.limits);
  const record = (d: Recordable) => saveDecision(tx, asRecord(m.id, d), at, mode !== "collect");
  const audit = <E extends AuditEventName>(event: E, detail: AuditDetails[E]) =>
    recordEvent(tx, { event, at, accountId: m.accountId, messageId: m.id, detail });
  if (mode !== "replay") await audit("rule_matched", { rule: decision.rule.name, action: "reply" });
  const facts = await replyFacts(tx, policy, m, decision, at);
  let settled = settleReply(decision, facts, policy, at);
  // A replay that reaches a breaker's count is a person's bulk action, not a loop: its replies
  // stop there (suppressed as the breaker says) without opening the breaker on new mail.
  if (settled.trip && mode !== "replay") {
    const { scope, recipient, detail, openUntil } = settled.trip;
    await tripBreaker(tx, m.accountId, recipient, at, detail, openUntil);
    await audit("breaker_tripped", {
      scope,
      detail,
      open_until: openUntil?.toISOString() ?? null,
    });
  }
  if (settled.outcome === "reply") {
    const { ruleName, recipient, windowSeconds } = settled.reservation;
    const reserved = await reserveReplyLimit(
      tx,
      m.accountId,
      ruleName,
      recipient,
      at,
      windowSeconds * 1000,
    );
    if (!reserved) {
      settled = settleReply(decision, { ...facts, reservationLost: true }, policy, at);
    }
  }
  if (settled.outcome === "suppressed") {
    const { reason, detail } = settled;
    if (mode !== "replay") {
      await record(settled);
      await audit("reply_suppressed", { rule: decision.rule.name, reason, detail });
    }
    return { outcome: "skipped", reason, detail };
  }
  const r = decision.reply;
  const queued = await enqueueReply(tx, {
    dedupKey: decision.dedupKey,
    messageId: m.id,
    accountId: m.accountId,
    ruleName: decision.rule.name,
    recipient: r.to.address,
    recipientName: r.to.name,
    fromAddress: r.from.address,
    fromName: r.from.name,
    subject: r.subject,
    text: r.text,
    html: r.html,
    messageIdHeader: r.messageId,
    inReplyTo: r.inReplyTo,
    references: r.references,
    headers: { ...r.headers },
    cc: r.cc,
    bcc: r.bcc,
    replyTo: r.replyTo,
    attachmentIds: r.attachments.map((a) => a.id),
    deadlineAt: new Date(at.getTime() + deps.sendDeadlineMs),
  }, at);
  if (!queued.enqueued && mode === "replay") {
    // A row with this dedup key was cancelled: the key still holds the place of this reply.
    return {
      outcome: "skipped",
      reason: "already_answered",
      detail: "a reply of this rule to this message is in the outbox (cancelled)",
    };
  }
  await record(decision);
  if (queued.enqueued) {
    await audit("enqueued", {
      rule: decision.rule.name,
      outbox_id: queued.id,
      recipient: r.to.address,
      dedup_key: decision.dedupKey,
    });
  }
  return {
    outcome: "reply",
    recipient: r.to.address,
    subject: r.subject,
    dedupKey: decision.dedupKey,
    outboxId: queued.id,
  };
}

/**
 * What the store holds that bears on a reply: an earlier reply (or the kept keys of an answered
 * message since removed: src/store/retention.ts), a hard bounce of the recipient, the counts,
 * the breakers.
 */
async function replyFacts(
  tx: Queryable,
  policy: RateLimitPolicy,
  m: ClassifiedMessage,
  decision: ReplyDecision,
  at: Date,
): Promise<ReplyFacts> {
  const { id: messageId, accountId } = m;
  const recipient = recipientKey(decision.recipient.address);
  const counts: Record<string, number> = {};
  for (const req of countRequests(policy)) {
    counts[req.key] = await countReplies(
      tx,
      accountId,
      req.scope,
      decision.rule.name,
      recipient,
      new Date(at.getTime() - req.withinSeconds * 1000),
    );
  }
  return {
    alreadyAnswered: await hasReply(tx, messageId),
    answeredBeforeRemoval: await anyForgotten(tx, [
      sha256Hex(decision.dedupKey),
      contentKey(accountId, m.sha256),
      ...[messageIdKey(accountId, m.email.messageId)].filter((k) => k !== null),
    ]),
    recipientBouncedAt: await lastHardBounce(tx, accountId, recipient),
    counts,
    breakers: await breakerState(tx, accountId, recipient),
  };
}

type Recordable = Decision | Extract<SettledReply, { outcome: "suppressed" }>;

function asRecord(messageId: number, d: Recordable) {
  return {
    messageId,
    outcome: d.outcome,
    ruleName: "rule" in d ? d.rule.name : null,
    reason: d.outcome === "suppressed" ? d.reason : null,
    detail: d.outcome === "suppressed" ? d.detail : null,
    trail: d.trail,
  };
}
