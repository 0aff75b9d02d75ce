/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4), behind an API token:
 * messages collected, parse failures, outbox by status, send failures, suppressions by reason,
 * loop breakers open by scope, and per account: the age of its last successful sync, whether IMAP
 * IDLE listens, failures in a row, what a collection under way has left to store, and whether its
 * SMTP login is refused.
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type MetricsSnapshot, readMetrics } from "../src/store/metrics.ts";

/** A label value, escaped as the format requires (backslash, double quote, line feed). */
function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

type Account = MetricsSnapshot["accounts"][number];

/** Renders a snapshot as exposition text. */
export function renderMetrics(m: MetricsSnapshot, now: Date): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  metric("carteiro_messages_collected_total", "counter", "Messages stored.", [
    ["", m.messagesCollected],
  ]);
  metric("carteiro_messages_by_kind", "gauge", "Stored messages by classification.", [
    ['{kind="forwarded"}', m.messagesByKind.forwarded],
    ['{kind="direct"}', m.messagesByKind.direct],
  ]);
  metric("carteiro_parse_failures_total", "counter", "Messages that could not be parsed.", [
    ["", m.parseFailures],
  ]);
  metric(
    "carteiro_outbox_rows",
    "gauge",
    "Outbox rows by status.",
    Object.entries(m.outbox).map(([s, n]) => [`{status="${label(s)}"}`, n]),
  );
  metric("carteiro_send_failures_total", "counter", "Send attempts that did not succeed.", [
    ['{outcome="retry"}', m.sendFailures.retry],
    ['{outcome="failed"}', m.sendFailures.failed],
    ['{outcome="unknown"}', m.sendFailures.unknown],
  ]);
  metric(
    "carteiro_replies_suppressed_total",
    "counter",
    "Replies suppressed, by reason.",
    Object.entries(m.suppressionsByReason).map(([r, n]) => [`{reason="${label(r)}"}`, n]),
  );
  metric(
    "carteiro_reply_breakers_open",
    "gauge",
    "Loop breakers open now (replies held back), by scope: a whole account or one recipient.",
    [
      ['{scope="account"}', m.breakersOpen.account],
      ['{scope="recipient"}', m.breakersOpen.recipient],
    ],
  );
  metric(
    "carteiro_account_last_sync_age_seconds",
    "gauge",
    "Seconds since the account's last successful sync (-1: never).",
    m.accounts.map((a) => [
      `{account="${label(a.name)}"}`,
      a.lastSyncAt ? Math.max(0, Math.round((now.getTime() - a.lastSyncAt.getTime()) / 1000)) : -1,
    ]),
  );
  const perAccount = (name: string, help: string, value: (a: Account) => number) =>
    metric(
      name,
      "gauge",
      help,
      m.accounts.map((a) => [`{account="${label(a.name)}"}`, value(a)]),
    );
  perAccount(
    "carteiro_account_idle_up",
    "1 when a running instance reported in the last two minutes that IMAP IDLE listens, else 0.",
    (a) => (a.idleUp ? 1 : 0),
  );
  perAccount(
    "carteiro_account_collect_consecutive_failures",
    "Collections of the account that failed in a row.",
    (a) => a.consecutiveFailures,
  );
  perAccount(
    "carteiro_account_idle_consecutive_failures",
    "IMAP IDLE sessions that failed in a row (the most any running instance reports).",
    (a) => a.idleConsecutiveFailures,
  );
  perAccount(
    "carteiro_account_sync_remaining_messages",
    "Messages the collection under way has still to store (0 when none runs).",
    (a) => a.syncRemaining,
  );
  perAccount(
    "carteiro_account_mailboxes_unavailable",
    "Configured mailboxes the server refused to open at the last collection (missing, renamed).",
    (a) => a.mailboxesUnavailable,
  );
  metric(
    "carteiro_after_processing_messages",
    "gauge",
    "Messages by after-processing state (marked read or moved on the server).",
    Object.entries(m.afterProcessing).map(([s, n]) => [`{state="${label(s)}"}`, n]),
  );
  perAccount(
    "carteiro_account_imap_connection_cap",
    "The most IMAP connections Carteiro holds to the account, across instances.",
    (a) => a.connectionCap,
  );
  perAccount(
    "carteiro_account_idle_mailboxes_held",
    "Mailboxes of the account an instance watches with IMAP IDLE now (one lease each).",
    (a) => a.idleMailboxesHeld,
  );
  perAccount(
    "carteiro_account_idle_mailboxes_cron_only",
    "Mailboxes over the account's connection cap: collected by the minute cron only.",
    (a) => a.idleMailboxesCronOnly,
  );
  perAccount(
    "carteiro_account_smtp_auth_failed",
    "1 while the account's SMTP server refuses its login (its replies wait), else 0.",
    (a) => (a.smtpAuthFailed ? 1 : 0),
  );
  perAccount(
    "carteiro_account_reauthorization_needed",
    "1 when the OAuth provider refused the account's grant: not collected nor sent from until someone presses Reconnect.",
    (a) => (a.reauthorizationNeeded ? 1 : 0),
  );
  return out.join("\n") + "\n";
}

export function metricsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/metrics", async (c) => {
    const now = deps.now();
    return c.body(renderMetrics(await readMetrics(deps.db, now), now), 200, {
      "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
  return app;
}
