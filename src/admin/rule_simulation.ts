/**
 * What a rule would do, computed with the same pure decision the collector uses
 * (`decideReply`) and without sending or storing anything: the preview of one stored message and
 * the dry-run over recent ones. The RFC 3834 guard decides as for real mail; in the dry-run the
 * rate window and the loop breakers count the replies the dry-run itself would have sent, in the
 * messages' order of arrival (src/domain/limit_simulation.ts), so it shows what they would do.
 */
import { type AccountContext, decideReply, type ReplyDecision } from "../domain/decide_reply.ts";
import { LimitSimulation } from "../domain/limit_simulation.ts";
import {
  DEFAULT_RATE_LIMIT_POLICY,
  type RateLimitPolicy,
  resolveRateLimitPolicy,
} from "../domain/rate_limit.ts";
import type { Rule, RuleTrailEntry } from "../domain/rules.ts";
import { type StoredEmail, storedEmailsSince } from "../store/message_detail.ts";
import { loadRules } from "../store/rule_set.ts";
import type { Queryable } from "../store/db.ts";

export interface SimulationDeps {
  /** The account as the decision needs it (the same function the reply job uses). */
  accountContext: (accountId: number) => Promise<AccountContext>;
  /** Every address this installation manages. */
  ownAddresses: () => Promise<string[]>;
  /** Milliseconds from any origin, read to keep a dry-run within its budget; `performance.now`. */
  clock?: () => number;
  /** How long a dry-run may compute before it stops and reports how far it got. */
  budgetMs?: number;
  /** The installation's rate-limit policy, before each account's and rule's (default: ours). */
  policy?: RateLimitPolicy;
}

/** Most messages one dry-run looks at, and the longest period (pages and the API alike). */
export const DRY_RUN_MAX_MESSAGES = 5_000;
export const DRY_RUN_MAX_DAYS = 365;

/** A dry-run's default time budget. */
export const DRY_RUN_BUDGET_MS = 2_000;
/** Messages decided between two yields to the event loop, so that other requests get a turn. */
const YIELD_EVERY = 50;

/** What the candidate rule does to one message. */
export type RuleOutcome =
  | {
    outcome: "reply";
    recipient: string;
    /** The rule's copies (Bcc: envelope only). */
    cc: string[];
    bcc: string[];
    subject: string;
    text: string;
    html: string;
    trail: RuleTrailEntry[];
  }
  | { outcome: "suppressed"; reason: string; detail: string; trail: RuleTrailEntry[] }
  | { outcome: "ignored"; trail: RuleTrailEntry[] }
  | { outcome: "no_match"; why: string; trail: RuleTrailEntry[] }
  | { outcome: "other_rule"; rule: string; trail: RuleTrailEntry[] };

async function contexts(deps: SimulationDeps) {
  const cache = new Map<number, AccountContext>();
  const own = await deps.ownAddresses();
  return {
    own,
    account: async (id: number) => {
      let c = cache.get(id);
      if (!c) {
        c = await deps.accountContext(id);
        cache.set(id, c);
      }
      return c;
    },
  };
}

function decideWith(
  rules: readonly Rule[],
  candidate: Rule,
  m: StoredEmail,
  account: AccountContext,
  own: readonly string[],
): { outcome: RuleOutcome; reply: ReplyDecision | null } {
  const outcome = (o: RuleOutcome) => ({ outcome: o, reply: null });
  const d = decideReply({
    email: m.email,
    classification: m.classification,
    account,
    ownAddresses: own,
    receivedAt: m.receivedAt,
    rawSha256: m.rawSha256,
    rules,
  });
  if (d.outcome === "no_rule") {
    const mine = d.trail.find((t) => t.rule === candidate.name);
    return outcome({ outcome: "no_match", why: mine?.why ?? "not evaluated", trail: d.trail });
  }
  if (d.rule.name !== candidate.name) {
    return outcome({ outcome: "other_rule", rule: d.rule.name, trail: d.trail });
  }
  if (d.outcome === "ignored") return outcome({ outcome: "ignored", trail: d.trail });
  if (d.outcome === "suppressed") {
    return outcome({ outcome: "suppressed", reason: d.reason, detail: d.detail, trail: d.trail });
  }
  return {
    outcome: {
      outcome: "reply",
      recipient: d.recipient.address,
      cc: d.reply.cc,
      bcc: d.reply.bcc,
      subject: d.reply.subject,
      text: d.reply.text,
      html: d.reply.html,
      trail: d.trail,
    },
    reply: d,
  };
}

/** The candidate rule alone (enabled) against one stored message: the reply it would write. */
export async function previewRule(
  candidate: Rule,
  message: StoredEmail,
  deps: SimulationDeps,
): Promise<RuleOutcome> {
  const c = await contexts(deps);
  const rule = { ...candidate, enabled: true };
  return decideWith([rule], rule, message, await c.account(message.accountId), c.own).outcome;
}

/** One message of a dry-run and what the candidate did to it. */
export interface DryRunItem {
  messageId: number;
  subject: string | null;
  from: string | null;
  receivedAt: Date;
  result: RuleOutcome;
}

export interface DryRunReport {
  /** Messages decided; fewer than `total` when the budget ran out. */
  examined: number;
  /** Messages the dry-run was given. */
  total: number;
  /** True when the time budget ran out before the last message. */
  stoppedAtBudget: boolean;
  /** Time spent, by the clock of the deps. */
  elapsedMs: number;
  replied: DryRunItem[];
  suppressed: DryRunItem[];
  ignored: DryRunItem[];
  /** Messages another rule took first. */
  otherRule: DryRunItem[];
  unmatched: number;
}

/**
 * The candidate among the stored rules, over the given messages: which it would answer, which
 * it would suppress and why, which an earlier rule would take. It takes the place of the stored
 * rule named `replaces` (the rule being edited; default: its own name), or comes last, and
 * counts as enabled. It stops when `deps.budgetMs` have passed on `deps.clock`, and says how
 * many messages it decided.
 */
export async function dryRunRule(
  candidate: Rule,
  storedRules: readonly Rule[],
  messages: readonly StoredEmail[],
  deps: SimulationDeps,
  replaces: string = candidate.name,
): Promise<DryRunReport> {
  const c = await contexts(deps);
  const rule = { ...candidate, enabled: true };
  const same = (r: Rule, name: string) => r.name.toLowerCase() === name.toLowerCase();
  const rules: Rule[] = [];
  for (const r of storedRules) {
    if (same(r, replaces)) rules.push(rule);
    else if (!same(r, candidate.name)) rules.push(r);
  }
  if (!rules.includes(rule)) rules.push(rule);
  const clock = deps.clock ?? (() => performance.now());
  const budgetMs = deps.budgetMs ?? DRY_RUN_BUDGET_MS;
  const start = clock();
  const report: DryRunReport = {
    examined: 0,
    total: messages.length,
    stoppedAtBudget: false,
    elapsedMs: 0,
    replied: [],
    suppressed: [],
    ignored: [],
    otherRule: [],
    unmatched: 0,
  };
  // The window and the breakers count what came before: the messages in order of arrival; the
  // lists keep the order they were given in.
  const limits = new LimitSimulation();
  const position = new Map(messages.map((m, i) => [m, i]));
  const inOrder = [...messages].sort((a, b) =>
    a.receivedAt.getTime() - b.receivedAt.getTime() || position.get(a)! - position.get(b)!
  );
  for (const m of inOrder) {
    const elapsed = clock() - start;
    if (elapsed >= budgetMs) {
      report.stoppedAtBudget = true;
      break;
    }
    if (report.examined > 0 && report.examined % YIELD_EVERY === 0) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const account = await c.account(m.accountId);
    const decided = decideWith(rules, rule, m, account, c.own);
    let result = decided.outcome;
    if (decided.reply) {
      const policy = resolveRateLimitPolicy(
        deps.policy ?? DEFAULT_RATE_LIMIT_POLICY,
        account.limits,
        decided.reply.rule.limits,
      );
      const settled = limits.settle(decided.reply, m.accountId, m.receivedAt, policy);
      if (settled.outcome === "suppressed") {
        result = {
          outcome: "suppressed",
          reason: settled.reason,
          detail: settled.detail,
          trail: settled.trail,
        };
      }
    }
    report.examined++;
    const item = {
      messageId: m.id,
      subject: m.subject,
      from: m.fromAddress,
      receivedAt: m.receivedAt,
      result,
    };
    if (result.outcome === "reply") report.replied.push(item);
    else if (result.outcome === "suppressed") report.suppressed.push(item);
    else if (result.outcome === "ignored") report.ignored.push(item);
    else if (result.outcome === "other_rule") report.otherRule.push(item);
    else report.unmatched++;
  }
  report.elapsedMs = Math.round(clock() - start);
  const byId = new Map(messages.map((m) => [m.id, m]));
  const given = (item: DryRunItem) => position.get(byId.get(item.messageId)!)!;
  for (const list of [report.replied, report.suppressed, report.ignored, report.otherRule]) {
    list.sort((a, b) => given(a) - given(b));
  }
  return report;
}

/** A dry-run over the messages stored in the last `days` days, read through `q`. */
export async function dryRunStored(
  q: Queryable,
  candidate: Rule,
  opts: { days: number; now: Date; replaces: string },
  deps: SimulationDeps,
): Promise<{ report: DryRunReport; capped: boolean }> {
  const since = new Date(opts.now.getTime() - opts.days * 86_400_000);
  const messages = await storedEmailsSince(q, since, DRY_RUN_MAX_MESSAGES);
  const report = await dryRunRule(candidate, await loadRules(q), messages, deps, opts.replaces);
  return { report, capped: messages.length >= DRY_RUN_MAX_MESSAGES };
}
