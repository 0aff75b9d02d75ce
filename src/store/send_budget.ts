/**
 * The SQL behind sending within limits: due rows locked for a claim, the account's row locked
 * while its budget is counted (two instances never both send the reply past it), the sliding
 * windows counted from the outbox's own rows, and the account's SMTP login state.
 */
import type { Queryable } from "./db.ts";
import { camelRow } from "./row.ts";
import { CLAIMED_COLUMNS, type ClaimedReply } from "./outbox.ts";
import type { BudgetWindow, SendBudget, WindowUse } from "../domain/send_budget.ts";

/** An account whose due rows a claim locked, with what its budget is counted from. */
export interface LockedAccount {
  stored: SendBudget | null;
  smtpHost: string | null;
  address: string;
}

/**
 * Due rows, locked for this transaction (`FOR UPDATE SKIP LOCKED`: another claimer skips them),
 * except those of accounts whose SMTP login was refused after `pausedSince` (they wait for a
 * person, or for the re-check once that time has passed); and, in the same statement, their
 * accounts' rows, locked in id order until the transaction ends (`FOR NO KEY UPDATE`: enqueueing
 * replies, which only reference the row, goes on), with their stored budgets. Claimers of one
 * account take turns here, so each counts what the one before it claimed.
 */
export async function lockDue(
  q: Queryable,
  at: Date,
  pausedSince: Date,
  limit: number,
): Promise<
  { due: Array<{ id: number; accountId: number }>; accounts: Map<number, LockedAccount> }
> {
  const rows = await q.query<{
    id: number;
    account_id: number;
    locked: boolean;
    send_budget: unknown;
    smtp_host: string | null;
    address: string | null;
  }>(
    // MATERIALIZED: each locking query runs once, as written, never folded into the join.
    `WITH due AS MATERIALIZED (
       SELECT o.id, o.account_id, o.next_attempt_at FROM outbox o
       WHERE o.status IN ('pending', 'retry') AND o.next_attempt_at <= $1::timestamptz
         -- A refused SMTP login pauses the account until its re-check; an account whose OAuth
         -- grant was refused can't log in at all: its replies wait until a person reconnects it.
         AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = o.account_id
                         AND (a.smtp_auth_failure_at > $2::timestamptz OR a.reauthorization_needed))
       ORDER BY o.next_attempt_at, o.id LIMIT $3
       FOR UPDATE OF o SKIP LOCKED
     ), locked AS MATERIALIZED (
       -- In id order: two claimers never wait for each other's account the other way round.
       SELECT a.id, a.send_budget, a.smtp_host, a.address FROM accounts a
       WHERE a.id IN (SELECT account_id FROM due) ORDER BY a.id
       FOR NO KEY UPDATE
     )
     SELECT due.id, due.account_id, l.id IS NOT NULL AS locked, l.send_budget, l.smtp_host,
       l.address
     FROM due LEFT JOIN locked l ON l.id = due.account_id
     ORDER BY due.next_attempt_at, due.id`,
    [at.toISOString(), pausedSince.toISOString(), limit],
    { prepare: true },
  );
  const accounts = new Map<number, LockedAccount>();
  for (const r of rows) {
    if (!r.locked || accounts.has(r.account_id)) continue;
    accounts.set(r.account_id, {
      stored: readBudget(r.send_budget),
      smtpHost: r.smtp_host,
      address: r.address ?? "",
    });
  }
  return { due: rows.map((r) => ({ id: Number(r.id), accountId: r.account_id })), accounts };
}

/** A stored `send_budget` value as a budget (null: the provider's default). */
export function readBudget(v: unknown): SendBudget | null {
  const o = (typeof v === "string" ? JSON.parse(v) : v) as Record<string, unknown> | null;
  if (!o || typeof o !== "object") return null;
  const n = (x: unknown) => (typeof x === "number" && x > 0 ? x : null);
  return { perMinute: n(o.per_minute), perDay: n(o.per_day) };
}

/**
 * What each window holds at `at`: the account's replies sent (at `sent_at`) or maybe sent (since
 * they were settled `unknown`) within it, those in flight counted as sent now (one may be
 * accepted at any moment of its lease, so its claim time would let it leave a window early),
 * and the time of the `limit`-th most recent.
 */
export async function budgetUse(
  q: Queryable,
  accountId: number,
  windows: BudgetWindow[],
  at: Date,
): Promise<WindowUse[]> {
  const use: WindowUse[] = [];
  for (const w of windows) {
    const since = new Date(at.getTime() - w.windowMs).toISOString();
    const [r] = await q.query<{ n: number; nth: Date | null }>(
      `WITH recent AS (
         SELECT CASE WHEN status = 'sending' THEN $4::timestamptz
           ELSE COALESCE(sent_at, updated_at) END AS t FROM outbox
         WHERE account_id = $1 AND status IN ('sent', 'sending', 'unknown', 'bounced')
           AND (status = 'sending' OR COALESCE(sent_at, updated_at) > $2::timestamptz))
       SELECT (SELECT count(*)::int FROM recent) AS n,
         (SELECT t FROM recent ORDER BY t DESC OFFSET $3 LIMIT 1) AS nth`,
      [accountId, since, w.limit - 1, at.toISOString()],
      { prepare: true },
    );
    use.push({ ...w, count: r.n, limitthRecent: r.nth ? new Date(r.nth) : null });
  }
  return use;
}

/** Claims rows this transaction locked: `sending`, with a claim token and a lease. */
export async function claimLocked(
  q: Queryable,
  ids: number[],
  at: Date,
  leaseMs: number,
  token: string,
): Promise<ClaimedReply[]> {
  if (ids.length === 0) return [];
  const rows = await q.query<Record<string, unknown>>(
    `UPDATE outbox SET status = 'sending', claim_token = $2, lease_until = $3::timestamptz,
       attempts = attempts + 1, updated_at = $1::timestamptz
     WHERE id = ANY($4::bigint[]) AND status IN ('pending', 'retry')
     RETURNING ${CLAIMED_COLUMNS}`,
    [at.toISOString(), token, new Date(at.getTime() + leaseMs).toISOString(), ids],
    { prepare: true },
  );
  return rows.map(camelRow<ClaimedReply>)
    .sort((a, b) => ids.indexOf(Number(a.id)) - ids.indexOf(Number(b.id)));
}

/**
 * Moves the account's due rows (those no other claimer holds) to `until`, as `retry` with
 * `why`: they wait for the budget or the server's quota. Their attempts are not counted.
 */
export async function deferAccount(
  q: Queryable,
  accountId: number,
  at: Date,
  until: Date,
  why: string,
): Promise<number> {
  const rows = await q.query(
    `UPDATE outbox SET status = 'retry', next_attempt_at = $3::timestamptz, last_error = $4,
       updated_at = $2::timestamptz
     WHERE id IN (SELECT id FROM outbox WHERE account_id = $1 AND status IN ('pending', 'retry')
                  AND next_attempt_at < $3::timestamptz FOR UPDATE SKIP LOCKED)
     RETURNING 1 AS ok`,
    [accountId, at.toISOString(), until.toISOString(), why],
  );
  return rows.length;
}

/**
 * Records that the account's SMTP server refused its login; true when the account was not in
 * that state already (the start of a failure, worth an audit event).
 *
 * The account row is locked `FOR NO KEY UPDATE`, never `FOR UPDATE`: a settling send has already
 * inserted rows that reference the account (its audit event), which holds a `KEY SHARE` lock on
 * it, so two sends settling at once under `FOR UPDATE` would each wait for the other's lock.
 */
export async function markSmtpAuthFailure(
  q: Queryable,
  accountId: number,
  error: string,
  at: Date,
): Promise<boolean> {
  const [r] = await q.query<{ was: string | null }>(
    `UPDATE accounts a SET smtp_auth_failure = $2, smtp_auth_failure_at = $3::timestamptz
     FROM (SELECT id, smtp_auth_failure FROM accounts WHERE id = $1 FOR NO KEY UPDATE) before
     WHERE a.id = before.id
     RETURNING before.smtp_auth_failure AS was`,
    [accountId, error, at.toISOString()],
  );
  return r !== undefined && r.was === null;
}

/**
 * Clears the account's SMTP login failure; returns what it was (null: there was none). An
 * account with no failure is not locked at all: every accepted send asks this.
 */
export async function clearSmtpAuthFailure(
  q: Queryable,
  accountId: number,
): Promise<string | null> {
  const [r] = await q.query<{ was: string | null }>(
    `UPDATE accounts a SET smtp_auth_failure = NULL, smtp_auth_failure_at = NULL
     FROM (SELECT id, smtp_auth_failure FROM accounts
           WHERE id = $1 AND smtp_auth_failure IS NOT NULL FOR NO KEY UPDATE) before
     WHERE a.id = before.id
     RETURNING before.smtp_auth_failure AS was`,
    [accountId],
  );
  return r?.was ?? null;
}

/** Stores the budget a person set for the account (null: back to the provider's default). */
export async function setSendBudget(
  q: Queryable,
  accountId: number,
  budget: SendBudget | null,
): Promise<boolean> {
  const rows = await q.query(
    "UPDATE accounts SET send_budget = $2::jsonb WHERE id = $1 RETURNING 1 AS ok",
    [
      accountId,
      budget ? JSON.stringify({ per_minute: budget.perMinute, per_day: budget.perDay }) : null,
    ],
  );
  return rows.length > 0;
}
