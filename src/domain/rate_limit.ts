/**
 * Per-sender rate limit and loop circuit breaker, the pure half. The store reserves replies in
 * SQL and counts them; these functions say which counts to read and decide, from those counts,
 * whether a reply may go out, is suppressed as rate-limited, or trips a breaker because a loop
 * is suspected (RFC 3834 §1's "sorcerer's apprentice mode": a responder that ignores the RFCs).
 *
 * Counting windows are seconds back from one clock, the database's now() (a backward clock step
 * in the app then cannot reopen a window early).
 */

/** What a breaker counts: replies to one recipient, or every reply of the account. */
export type BreakerScope = "recipient" | "account";

/** One breaker: more than `max` replies in its scope within `withinSeconds` trips it. */
export interface BreakerThreshold {
  scope: BreakerScope;
  max: number;
  withinSeconds: number;
}

/** The rate-limit settings of an account. */
export interface RateLimitPolicy {
  /**
   * One reply per (account, rule, recipient) within this many seconds: RFC 5230 §4.1 `:days`,
   * default 7 days (RFC 3834 §2: the same response to the same sender at most once within
   * several days).
   */
  windowSeconds: number;
  breakers: readonly BreakerThreshold[];
  /** Seconds after which a tripped breaker closes by itself; null: only a person resets it. */
  coolDownSeconds: number | null;
}

const DAY = 86_400;

/** Allowed range of `windowSeconds`: 1 day to 60 days (Pigeonhole's vacation min and max). */
export const WINDOW_LIMITS = Object.freeze({ minSeconds: DAY, maxSeconds: 60 * DAY });

/**
 * Defaults: 7-day window; breakers at 3 replies to one recipient per hour, 120 per account in
 * 10 minutes and 600 per account in an hour; a tripped breaker closes after an hour. A loop is
 * many replies to the same few recipients (the recipient breaker), not many customers: a busy
 * Monday morning stays below the account breakers, a runaway responder on many addresses not.
 */
export const DEFAULT_RATE_LIMIT_POLICY: RateLimitPolicy = Object.freeze({
  windowSeconds: 7 * DAY,
  breakers: Object.freeze([
    Object.freeze({ scope: "recipient" as const, max: 3, withinSeconds: 3_600 }),
    Object.freeze({ scope: "account" as const, max: 120, withinSeconds: 600 }),
    Object.freeze({ scope: "account" as const, max: 600, withinSeconds: 3_600 }),
  ]),
  coolDownSeconds: 3_600,
});

/**
 * What the store must count before `decideRate`: replies reserved in the scope at or after
 * `now() - withinSeconds` (inclusive, so a reply exactly one window old still counts).
 */
export interface CountRequest {
  /** The key under which `decideRate` expects the count. */
  key: string;
  /**
   * `rule_recipient`: replies reserved by this rule of this account to this recipient;
   * `recipient`: replies of this account to this recipient, any rule;
   * `account`: every reply of this account.
   */
  scope: "rule_recipient" | BreakerScope;
  withinSeconds: number;
}

/** The counts the store read, by `CountRequest.key`. */
export type RateCounts = Readonly<Record<string, number>>;

/** When each breaker scope last tripped for this (account, recipient); null when closed. */
export interface BreakerState {
  recipientTrippedAt: Date | null;
  accountTrippedAt: Date | null;
}

/** The decision for one reply that passed the guard. */
export type RateDecision =
  | { action: "allow" }
  | { action: "suppress"; reason: "rate_limited"; detail: string }
  | { action: "suppress"; reason: "loop_suspected"; scope: BreakerScope; detail: string }
  | {
    action: "trip";
    reason: "loop_suspected";
    scope: BreakerScope;
    threshold: BreakerThreshold;
    detail: string;
  };

/** The counts `decideRate` needs under `policy`, deduplicated. */
export function countRequests(policy: RateLimitPolicy): CountRequest[] {
  const out: CountRequest[] = [
    {
      key: countKey("rule_recipient", policy.windowSeconds),
      scope: "rule_recipient",
      withinSeconds: policy.windowSeconds,
    },
  ];
  for (const b of policy.breakers) {
    const key = countKey(b.scope, b.withinSeconds);
    if (!out.some((r) => r.key === key)) {
      out.push({ key, scope: b.scope, withinSeconds: b.withinSeconds });
    }
  }
  return out;
}

function countKey(scope: CountRequest["scope"], seconds: number): string {
  return `${scope}:${seconds}`;
}

/**
 * Decides one reply from the store's counts (replies already reserved, not counting this one):
 * an open breaker suppresses (`loop_suspected`); a reply already sent by this rule to this
 * recipient within the window suppresses (`rate_limited`); a breaker whose count has reached
 * its `max` trips (`trip`, and this reply is not sent); otherwise `allow`. Throws a RangeError
 * when a count is missing or not a non-negative integer: a failed read must not become a send.
 */
export function decideRate(
  policy: RateLimitPolicy,
  counts: RateCounts,
  breakers: BreakerState,
  now: Date,
): RateDecision {
  for (
    const [scope, at] of [
      ["account", breakers.accountTrippedAt],
      ["recipient", breakers.recipientTrippedAt],
    ] as const
  ) {
    if (isBreakerOpen(at, now, policy)) {
      return {
        action: "suppress",
        reason: "loop_suspected",
        scope,
        detail: `the ${scope} breaker tripped at ${at!.toISOString()} and is still open`,
      };
    }
  }

  const sent = readCount(counts, countKey("rule_recipient", policy.windowSeconds));
  if (sent > 0) {
    return {
      action: "suppress",
      reason: "rate_limited",
      detail: `${sent} ${sent === 1 ? "reply" : "replies"} already sent to this recipient ` +
        `by this rule in the last ` +
        `${describeSeconds(policy.windowSeconds)}`,
    };
  }

  for (const threshold of policy.breakers) {
    const n = readCount(counts, countKey(threshold.scope, threshold.withinSeconds));
    if (n >= threshold.max) {
      return {
        action: "trip",
        reason: "loop_suspected",
        scope: threshold.scope,
        threshold,
        detail:
          `${n} replies ${
            threshold.scope === "recipient" ? "to this recipient" : "from this account"
          } ` +
          `in the last ${describeSeconds(threshold.withinSeconds)} (limit ${threshold.max})`,
      };
    }
  }
  return { action: "allow" };
}

/**
 * Whether a breaker that tripped at `trippedAt` is still open at `now`: always, when the policy
 * has no cool-down (a person resets it), else until the cool-down has passed.
 */
export function isBreakerOpen(
  trippedAt: Date | null,
  now: Date,
  policy: Pick<RateLimitPolicy, "coolDownSeconds">,
): boolean {
  if (trippedAt === null) return false;
  if (policy.coolDownSeconds === null) return true;
  return now.getTime() < trippedAt.getTime() + policy.coolDownSeconds * 1_000;
}

/** The key a recipient is counted under: the address trimmed and lower-cased. */
export function recipientKey(address: string): string {
  return address.trim().toLowerCase();
}

/** A policy checked by `parseRateLimitPolicy`, with notes on values it moved into range. */
export type RateLimitPolicyParse =
  | { ok: true; policy: RateLimitPolicy; notes: string[] }
  | { ok: false; errors: string[] };

/**
 * Validates settings from the UI or a file; missing fields take the defaults. Zero, negative and
 * non-numeric values are refused; a window outside 1–60 days is moved to the nearest bound,
 * with a note (RFC 5230 §4.1: sites may impose a minimum and a maximum).
 */
export function parseRateLimitPolicy(input: unknown): RateLimitPolicyParse {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, errors: ["rate limit settings must be an object"] };
  }
  const raw = input as Record<string, unknown>;
  const errors: string[] = [];
  const notes: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!["windowSeconds", "breakers", "coolDownSeconds"].includes(key)) {
      errors.push(`${key}: unknown setting (known: windowSeconds, breakers, coolDownSeconds)`);
    }
  }

  let windowSeconds = DEFAULT_RATE_LIMIT_POLICY.windowSeconds;
  if (raw.windowSeconds !== undefined) {
    const v = raw.windowSeconds;
    if (!isPositiveInteger(v)) {
      errors.push("windowSeconds: must be a whole number of seconds greater than 0");
    } else if (v < WINDOW_LIMITS.minSeconds) {
      windowSeconds = WINDOW_LIMITS.minSeconds;
      notes.push(`windowSeconds: ${v} is below the minimum; using ${WINDOW_LIMITS.minSeconds}`);
    } else if (v > WINDOW_LIMITS.maxSeconds) {
      windowSeconds = WINDOW_LIMITS.maxSeconds;
      notes.push(`windowSeconds: ${v} is above the maximum; using ${WINDOW_LIMITS.maxSeconds}`);
    } else {
      windowSeconds = v;
    }
  }

  let breakers: BreakerThreshold[] = [...DEFAULT_RATE_LIMIT_POLICY.breakers];
  if (raw.breakers !== undefined) {
    if (!Array.isArray(raw.breakers) || raw.breakers.length === 0) {
      errors.push("breakers: must be a non-empty list (a breaker cannot be switched off)");
    } else {
      breakers = [];
      raw.breakers.forEach((b: unknown, i: number) => {
        const at = `breakers[${i}]`;
        if (typeof b !== "object" || b === null) {
          errors.push(`${at}: must be an object with scope, max and withinSeconds`);
          return;
        }
        const r = b as Record<string, unknown>;
        if (r.scope !== "recipient" && r.scope !== "account") {
          errors.push(`${at}.scope: must be "recipient" or "account"`);
        }
        if (!isPositiveInteger(r.max)) errors.push(`${at}.max: must be a whole number above 0`);
        if (!isPositiveInteger(r.withinSeconds) || r.withinSeconds > DAY) {
          errors.push(`${at}.withinSeconds: must be a whole number of seconds from 1 to ${DAY}`);
        }
        if (
          (r.scope === "recipient" || r.scope === "account") && isPositiveInteger(r.max) &&
          isPositiveInteger(r.withinSeconds)
        ) {
          breakers.push({ scope: r.scope, max: r.max, withinSeconds: r.withinSeconds });
        }
      });
    }
  }

  let coolDownSeconds: number | null = DEFAULT_RATE_LIMIT_POLICY.coolDownSeconds;
  if (raw.coolDownSeconds !== undefined) {
    if (raw.coolDownSeconds !== null && !isPositiveInteger(raw.coolDownSeconds)) {
      errors.push("coolDownSeconds: must be null (reset by a person) or seconds above 0");
    } else {
      coolDownSeconds = raw.coolDownSeconds as number | null;
    }
  }

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, policy: { windowSeconds, breakers, coolDownSeconds }, notes };
}

function isPositiveInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

function readCount(counts: RateCounts, key: string): number {
  const n = counts[key];
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(
      `rate count ${JSON.stringify(key)} is ${JSON.stringify(n)}; ` +
        "the store must supply every count from countRequests(policy)",
    );
  }
  return n;
}

function describeSeconds(seconds: number): string {
  if (seconds % DAY === 0) return `${seconds / DAY} day${seconds === DAY ? "" : "s"}`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
