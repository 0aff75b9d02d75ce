/**
 * The overview page's numbers: messages and replies over the last 30 days by UTC hour, replies
 * waiting for a person, and each account's health. One query per block; the message and reply
 * queries read only the last 30 days through the indexes on `received_at`, `decided_at` and
 * `sent_at`, so they stay cheap however many messages are stored.
 */
import type { Queryable } from "./db.ts";
import { type AccountHealth, healthOf, lagSeconds, readAccountHealth } from "./account_health.ts";
import {
  type Bucket,
  dailyBuckets,
  type HourCount,
  hourlyBuckets,
  type OverviewWindows,
  overviewWindows,
  type PeriodCounts,
  periodCounts,
} from "../domain/overview_buckets.ts";

/** One account's health as the overview shows it. */
export interface OverviewAccount {
  id: number;
  name: string;
  address: string;
  enabled: boolean;
  lastSyncAt: Date | null;
  /** Seconds since the last successful sync; null when there was none. */
  lagSeconds: number | null;
  /** Collections that failed in a row. */
  consecutiveFailures: number;
  lastError: string | null;
  /** The IDLE watcher's state as a running instance reports it; null when none does. */
  idleState: string | null;
  /** Loop breakers open (tripped, not cooled down or reset): the whole account's, per recipient. */
  breakers: { account: boolean; recipients: number };
  health: AccountHealth;
}

/** Everything the overview page and `GET /api/v1/overview` show. */
export interface Overview {
  at: Date;
  windows: OverviewWindows;
  messages: { all: PeriodCounts; forwarded: PeriodCounts; direct: PeriodCounts };
  replies: { sent: PeriodCounts; suppressed: Array<{ reason: string } & PeriodCounts> };
  /** Outbox rows whose send has an unknown outcome: a person settles them. */
  waiting: number;
  charts: {
    hourly: { messages: Bucket[]; sent: Bucket[]; suppressed: Bucket[] };
    daily: { messages: Bucket[]; sent: Bucket[]; suppressed: Bucket[] };
  };
  accounts: OverviewAccount[];
}

// Whole hours since the epoch: the same on every session time zone, and on PGlite.
const HOUR_OF = (col: string) => `floor(extract(epoch FROM ${col}) / 3600)::int`;

/**
 * Reads the overview as of `now`. A loop breaker counts as open until the time it closes by
 * itself, fixed when it tripped (`open_until`; null: until a person resets it), as the banner
 * and `/breakers` count it.
 */
export async function readOverview(q: Queryable, now: Date): Promise<Overview> {
  const w = overviewWindows(now);
  const since = w.month.toISOString();

  const messageRows = await q.query<{ hour: number; kind: string | null; n: number }>(
    `SELECT ${HOUR_OF("received_at")} AS hour, kind, count(*)::int AS n
     FROM messages WHERE received_at >= $1::timestamptz GROUP BY 1, 2`,
    [since],
  );
  const replyRows = await q.query<{ what: string; reason: string; hour: number; n: number }>(
    `SELECT 'sent' AS what, '' AS reason, ${HOUR_OF("sent_at")} AS hour, count(*)::int AS n
     FROM outbox WHERE sent_at >= $1::timestamptz GROUP BY 3
     UNION ALL
     SELECT 'suppressed', COALESCE(reason, 'unknown'), ${HOUR_OF("decided_at")}, count(*)::int
     FROM decisions WHERE decided_at >= $1::timestamptz AND outcome = 'suppressed' GROUP BY 2, 3`,
    [since],
  );
  const [{ n: waiting }] = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outbox WHERE status = 'unknown'",
  );
  const accounts = await q.query<Record<string, unknown>>(
    `SELECT a.id, a.name, a.address, a.enabled, a.last_sync_at, a.last_error,
       a.consecutive_failures,
       EXISTS (SELECT 1 FROM reply_breakers b WHERE b.account_id = a.id AND b.recipient = ''
         AND (b.open_until IS NULL OR b.open_until > $1::timestamptz)) AS account_breaker,
       (SELECT count(*)::int FROM reply_breakers b WHERE b.account_id = a.id AND b.recipient <> ''
         AND (b.open_until IS NULL OR b.open_until > $1::timestamptz)) AS recipient_breakers
     FROM accounts a ORDER BY a.id`,
    [now.toISOString()],
  );
  const health = await readAccountHealth(q, now);

  const hours = (rows: Array<{ hour: number; n: number }>): HourCount[] =>
    rows.map((r) => ({ hour: Number(r.hour), n: Number(r.n) }));
  const all = hours(messageRows);
  const ofKind = (k: string) => hours(messageRows.filter((r) => r.kind === k));
  const sent = hours(replyRows.filter((r) => r.what === "sent"));
  const suppressed = replyRows.filter((r) => r.what === "suppressed");
  const reasons = [...new Set(suppressed.map((r) => r.reason))].sort();
  const charts = (f: typeof hourlyBuckets) => ({
    messages: f(all, w),
    sent: f(sent, w),
    suppressed: f(hours(suppressed), w),
  });

  return {
    at: now,
    windows: w,
    messages: {
      all: periodCounts(all, w),
      forwarded: periodCounts(ofKind("forwarded"), w),
      direct: periodCounts(ofKind("direct"), w),
    },
    replies: {
      sent: periodCounts(sent, w),
      suppressed: reasons.map((reason) => ({
        reason,
        ...periodCounts(hours(suppressed.filter((r) => r.reason === reason)), w),
      })),
    },
    waiting,
    charts: { hourly: charts(hourlyBuckets), daily: charts(dailyBuckets) },
    accounts: accounts.map((a) => {
      const h = healthOf(health, a.id as number);
      const lastSyncAt = (a.last_sync_at as Date | null) ?? null;
      return {
        id: a.id as number,
        name: a.name as string,
        address: a.address as string,
        enabled: a.enabled as boolean,
        lastSyncAt,
        lagSeconds: lagSeconds(lastSyncAt, now),
        consecutiveFailures: a.consecutive_failures as number,
        lastError: (a.last_error as string | null) ?? null,
        idleState: h.idle?.state ?? null,
        breakers: {
          account: a.account_breaker as boolean,
          recipients: a.recipient_breakers as number,
        },
        health: h,
      };
    }),
  };
}
