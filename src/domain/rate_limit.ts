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
 * Defaults: 7-day window; breakers at 5 replies to one recipient in an hour and 10 in a day,
 * 120 per account in 10 minutes and 600 per account in an hour; a tripped breaker closes after
 * an hour. A loop is many replies to the same few recipients, not many customers: each rule's
 * window already allows one reply per recipient a week, so a recipient past 5 in an hour (or 10
 * in a day) is being answered by rule after rule, which is a loop or a storm, while a busy
 * Monday morning of distinct customers stays far below the account breakers. The account
 * breakers stop a runaway responder on many addresses.
 */
export const DEFAULT_RATE_LIMIT_POLICY: RateLimitPolicy = Object.freeze({
  windowSeconds: 7 * DAY,
  breakers: Object.freeze([
    Object.freeze({ scope: "recipient" as const, max: 5, withinSeconds: 3_600 }),
    Object.freeze({ scope: "recipient" as const, max: 10, withinSeconds: DAY }),
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
  /**
   * When each closes by itself, fixed when it tripped by the cool-down then in force (the store
   * keeps it); null: only a person resets it; absent: `policy.coolDownSeconds` from the trip.
   */
  recipientOpenUntil?: Date | null;
  accountOpenUntil?: Date | null;
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
    /** When the breaker closes by itself (the policy's cool-down); null: a person resets it. */
    openUntil: Date | null;
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
    const [scope, at, until] of [
      ["account", breakers.accountTrippedAt, breakers.accountOpenUntil],
      ["recipient", breakers.recipientTrippedAt, breakers.recipientOpenUntil],
    ] as const
  ) {
    const open = until === undefined
      ? isBreakerOpen(at, now, policy)
      : at !== null && (until === null || now.getTime() < until.getTime());
    if (open) {
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
        openUntil: breakerOpenUntil(now, policy),
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

/** When a breaker tripping at `trippedAt` closes by itself under `policy`; null: never. */
export function breakerOpenUntil(
  trippedAt: Date,
  policy: Pick<RateLimitPolicy, "coolDownSeconds">,
): Date | null {
  return policy.coolDownSeconds === null
    ? null
    : new Date(trippedAt.getTime() + policy.coolDownSeconds * 1_000);
}

/** The key a recipient is counted under: the address trimmed and lower-cased. */
export function recipientKey(address: string): string {
  return address.trim().toLowerCase();
}

/**
 * Rate-limit settings that replace the defaults' (an account's) or the account's (a rule's);
 * an absent key inherits. The JSON form (rules, account settings, API) is snake_case:
 * `{"window_seconds", "breakers": [{"scope", "max", "within_seconds"}], "cool_down_seconds"}`.
 */
export interface RateLimitOverrides {
  windowSeconds?: number;
  breakers?: readonly BreakerThreshold[];
  /** null: a tripped breaker stays open until a person resets it. */
  coolDownSeconds?: number | null;
}

/** Overrides checked by `parseRateLimitOverrides`, with notes on values moved into range. */
export type RateLimitOverridesParse =
  | { ok: true; overrides: RateLimitOverrides; notes: string[] }
  | { ok: false; errors: string[] };

/** A policy checked by `parseRateLimitPolicy`, with notes on values it moved into range. */
export type RateLimitPolicyParse =
  | { ok: true; policy: RateLimitPolicy; notes: string[] }
  | { ok: false; errors: string[] };

const LIMIT_KEYS = ["window_seconds", "breakers", "cool_down_seconds"];
const BREAKER_KEYS = ["scope", "max", "within_seconds"];
/** At most this many breakers in one policy. */
export const MAX_BREAKERS = 10;
/** The longest cool-down: 30 days (longer is "until a person resets it", null). */
export const MAX_COOL_DOWN_SECONDS = 30 * DAY;

/**
 * Validates rate-limit settings from a rule, an account form, the API or a file; each error
 * names its place under `path` (`limits.breakers[1].max: …`). Zero, negative and non-numeric
 * values are refused, and so is an empty list of breakers (a breaker cannot be switched off);
 * a window outside 1–60 days is moved to the nearest bound, with a note (RFC 5230 §4.1: sites
 * may impose a minimum and a maximum).
 */
export function parseRateLimitOverrides(input: unknown, path = ""): RateLimitOverridesParse {
  const at = (key: string) => (path === "" ? key : `${path}.${key}`);
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return {
      ok: false,
      errors: [`${path === "" ? "rate limit settings" : path}: must be an object`],
    };
  }
  const raw = input as Record<string, unknown>;
  const errors: string[] = [];
  const notes: string[] = [];
  const overrides: RateLimitOverrides = {};
  for (const key of Object.keys(raw)) {
    if (!LIMIT_KEYS.includes(key)) {
      errors.push(`${at(key)}: unknown setting (known: ${LIMIT_KEYS.join(", ")})`);
    }
  }

  const window = raw.window_seconds;
  if (window !== undefined) {
    if (!isPositiveInteger(window)) {
      errors.push(`${at("window_seconds")}: must be a whole number of seconds greater than 0`);
    } else if (window < WINDOW_LIMITS.minSeconds) {
      overrides.windowSeconds = WINDOW_LIMITS.minSeconds;
      notes.push(
        `${
          at("window_seconds")
        }: ${window} is below the minimum; using ${WINDOW_LIMITS.minSeconds}`,
      );
    } else if (window > WINDOW_LIMITS.maxSeconds) {
      overrides.windowSeconds = WINDOW_LIMITS.maxSeconds;
      notes.push(
        `${
          at("window_seconds")
        }: ${window} is above the maximum; using ${WINDOW_LIMITS.maxSeconds}`,
      );
    } else {
      overrides.windowSeconds = window;
    }
  }

  if (raw.breakers !== undefined) {
    if (!Array.isArray(raw.breakers) || raw.breakers.length === 0) {
      errors.push(`${at("breakers")}: must be a non-empty list (a breaker cannot be switched off)`);
    } else if (raw.breakers.length > MAX_BREAKERS) {
      errors.push(`${at("breakers")}: at most ${MAX_BREAKERS} breakers`);
    } else {
      const breakers: BreakerThreshold[] = [];
      raw.breakers.forEach((b: unknown, i: number) => {
        const here = `${at("breakers")}[${i}]`;
        if (typeof b !== "object" || b === null || Array.isArray(b)) {
          errors.push(`${here}: must be an object with scope, max and within_seconds`);
          return;
        }
        const r = b as Record<string, unknown>;
        for (const key of Object.keys(r)) {
          if (!BREAKER_KEYS.includes(key)) {
            errors.push(`${here}.${key}: unknown field (known: ${BREAKER_KEYS.join(", ")})`);
          }
        }
        if (r.scope !== "recipient" && r.scope !== "account") {
          errors.push(`${here}.scope: must be "recipient" or "account"`);
        }
        if (!isPositiveInteger(r.max)) errors.push(`${here}.max: must be a whole number above 0`);
        if (!isPositiveInteger(r.within_seconds) || r.within_seconds > DAY) {
          errors.push(`${here}.within_seconds: must be a whole number of seconds from 1 to ${DAY}`);
        }
        if (
          (r.scope === "recipient" || r.scope === "account") && isPositiveInteger(r.max) &&
          isPositiveInteger(r.within_seconds)
        ) {
          breakers.push({ scope: r.scope, max: r.max, withinSeconds: r.within_seconds });
        }
      });
      overrides.breakers = breakers;
    }
  }

  const coolDown = raw.cool_down_seconds;
  if (coolDown !== undefined) {
    if (
      coolDown !== null && (!isPositiveInteger(coolDown) || coolDown > MAX_COOL_DOWN_SECONDS)
    ) {
      errors.push(
        `${at("cool_down_seconds")}: must be null (a person resets the breaker) or seconds ` +
          `from 1 to ${MAX_COOL_DOWN_SECONDS}`,
      );
    } else {
      overrides.coolDownSeconds = coolDown as number | null;
    }
  }

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, overrides, notes };
}

/** Validates a whole policy; missing fields take the defaults (`parseRateLimitOverrides`). */
export function parseRateLimitPolicy(input: unknown): RateLimitPolicyParse {
  const parsed = parseRateLimitOverrides(input);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    policy: resolveRateLimitPolicy(DEFAULT_RATE_LIMIT_POLICY, parsed.overrides),
    notes: parsed.notes,
  };
}

/**
 * The policy in force: each layer's settings replace the ones before it, key by key — the
 * defaults, then the account's, then the rule's.
 */
export function resolveRateLimitPolicy(
  base: RateLimitPolicy,
  ...layers: ReadonlyArray<RateLimitOverrides | null | undefined>
): RateLimitPolicy {
  let policy: RateLimitPolicy = { ...base, breakers: [...base.breakers] };
  for (const layer of layers) {
    if (!layer) continue;
    policy = {
      windowSeconds: layer.windowSeconds ?? policy.windowSeconds,
      breakers: layer.breakers ? [...layer.breakers] : policy.breakers,
      coolDownSeconds: layer.coolDownSeconds !== undefined
        ? layer.coolDownSeconds
        : policy.coolDownSeconds,
    };
  }
  return policy;
}

/** The JSON form of overrides, the shape `parseRateLimitOverrides` reads. */
export function exportRateLimitOverrides(o: RateLimitOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.windowSeconds !== undefined) out.window_seconds = o.windowSeconds;
  if (o.breakers !== undefined) {
    out.breakers = o.breakers.map((b) => ({
      scope: b.scope,
      max: b.max,
      within_seconds: b.withinSeconds,
    }));
  }
  if (o.coolDownSeconds !== undefined) out.cool_down_seconds = o.coolDownSeconds;
  return out;
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
