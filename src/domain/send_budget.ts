/**
 * The send budget of an account: how many replies its SMTP server takes in a minute and in a
 * day before it refuses or throttles. Defaults come from the provider the SMTP host and address
 * name (docs/sending_limits.md); a person may set their own. Each reply has one recipient, so a
 * provider's "recipients a day" is replies a day here. Windows slide: a reply sent at 10:00:30
 * counts against the minute until 10:01:30.
 */

/** Replies a minute and a day; null: no limit in that window. */
export interface SendBudget {
  perMinute: number | null;
  perDay: number | null;
}

/** The providers whose limits Carteiro knows. */
export type Provider = "gmail" | "workspace" | "exchange_online" | "other";

/** The largest budget a person may set in either window. */
export const MAX_BUDGET = 1_000_000;

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Each provider's default: Gmail 500 a day, Workspace 2,000, Exchange Online 30/min, 10,000/day. */
export const PROVIDER_BUDGETS: Record<Provider, SendBudget | null> = {
  gmail: { perMinute: null, perDay: 500 },
  workspace: { perMinute: null, perDay: 2_000 },
  exchange_online: { perMinute: 30, perDay: 10_000 },
  other: null,
};

/**
 * SMTP connections each provider takes at once from one account (null: no known limit).
 * Exchange Online allows three concurrent SMTP AUTH submissions per mailbox and answers a fourth
 * with `432 4.3.2 Concurrent connections limit exceeded` (Microsoft Learn, "Message storage and
 * concurrent connection throttling for SMTP Authenticated Submission") — an answer read as the
 * account's quota, which holds all its replies for minutes. Google publishes no number for SMTP
 * submission (users report refused logins around 16 at once); at 500 or 2,000 replies a day more
 * connections only add logins, so Gmail and Workspace get Exchange's three as well.
 */
export const PROVIDER_CONNECTIONS: Record<Provider, number | null> = {
  gmail: 3,
  workspace: 3,
  exchange_online: 3,
  other: null,
};

/**
 * How many SMTP connections to open to an account's server for `inFlight` replies sent at once:
 * no more than its provider takes. Replies beyond that wait for a connection and go out back to
 * back on it.
 */
export function smtpConnections(inFlight: number, smtpHost: string | null): number {
  const cap = PROVIDER_CONNECTIONS[providerOf(smtpHost, "")];
  return Math.max(1, cap === null ? inFlight : Math.min(inFlight, cap));
}

/**
 * The provider an account sends through, from its SMTP host and its address: Google's SMTP
 * with a gmail.com or googlemail.com address is Gmail, with another domain Workspace;
 * Microsoft's submission hosts are Exchange Online (Outlook.com included).
 */
export function providerOf(smtpHost: string | null, address: string): Provider {
  const host = (smtpHost ?? "").toLowerCase().replace(/\.$/, "");
  const domain = address.toLowerCase().split("@").pop() ?? "";
  if (host === "smtp.gmail.com" || host === "smtp.googlemail.com") {
    return domain === "gmail.com" || domain === "googlemail.com" ? "gmail" : "workspace";
  }
  if (
    host === "smtp.office365.com" || host === "smtp-mail.outlook.com" ||
    host.endsWith(".outlook.com") || host.endsWith(".office365.com")
  ) {
    return "exchange_online";
  }
  return "other";
}

/** The budget in force: the one a person set, else the provider's default (null: none). */
export function effectiveBudget(
  stored: SendBudget | null,
  smtpHost: string | null,
  address: string,
): { budget: SendBudget | null; source: "set" | "default"; provider: Provider } {
  const provider = providerOf(smtpHost, address);
  if (stored) return { budget: isUnlimited(stored) ? null : stored, source: "set", provider };
  return { budget: PROVIDER_BUDGETS[provider], source: "default", provider };
}

function isUnlimited(b: SendBudget): boolean {
  return b.perMinute === null && b.perDay === null;
}

/** One window of a budget: its length and how many replies it holds. */
export interface BudgetWindow {
  windowMs: number;
  limit: number;
}

/** The windows a budget counts in (none for no budget). */
export function budgetWindows(budget: SendBudget | null): BudgetWindow[] {
  if (!budget) return [];
  const windows: BudgetWindow[] = [];
  if (budget.perMinute !== null) windows.push({ windowMs: MINUTE, limit: budget.perMinute });
  if (budget.perDay !== null) windows.push({ windowMs: DAY, limit: budget.perDay });
  return windows;
}

/**
 * What a window holds now: the replies it counts, and the send time of the `limit`-th most
 * recent of them (null when it holds fewer).
 */
export interface WindowUse extends BudgetWindow {
  count: number;
  limitthRecent: Date | null;
}

/**
 * How many more replies the budget lets go out now, and, when none, the moment it frees: when the
 * send that filled the fullest window leaves it.
 */
export function budgetRoom(
  use: WindowUse[],
): { room: number; freesAt: Date | null } {
  let room = Infinity;
  let freesAt: Date | null = null;
  for (const w of use) {
    room = Math.min(room, Math.max(0, w.limit - w.count));
    if (w.count >= w.limit) {
      // With no send in the window (a limit of 0), it never frees by itself: try a window later.
      const at = w.limitthRecent ? w.limitthRecent.getTime() + w.windowMs : null;
      if (at !== null && (freesAt === null || at > freesAt.getTime())) freesAt = new Date(at);
    }
  }
  return { room, freesAt: room > 0 ? null : freesAt };
}

/** A budget as typed (form, API, CLI): whole numbers or empty (no limit in that window). */
export function parseSendBudget(
  input: { perMinute: string | number | null; perDay: string | number | null },
): { budget: SendBudget; errors: string[] } {
  const errors: string[] = [];
  const read = (v: string | number | null, field: string): number | null => {
    if (v === null || v === "") return null;
    const s = String(v).trim();
    const n = Number(s);
    if (!/^\d{1,7}$/.test(s) || n < 1 || n > MAX_BUDGET) {
      errors.push(`${field}: a whole number from 1 to ${MAX_BUDGET}, or empty for no limit`);
      return null;
    }
    return n;
  };
  return {
    budget: {
      perMinute: read(input.perMinute, "per_minute"),
      perDay: read(input.perDay, "per_day"),
    },
    errors,
  };
}

/** A budget as the API, the CLI and the audit log write it. */
export function budgetJson(
  b: SendBudget | null,
): { per_minute: number | null; per_day: number | null } | null {
  return b ? { per_minute: b.perMinute, per_day: b.perDay } : null;
}
