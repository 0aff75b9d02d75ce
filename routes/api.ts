/**
 * `/api/v1`: JSON for programs, behind API tokens (`Authorization: Bearer`). Lists page by
 * keyset (`next_cursor` / `next_before`), errors are `{ "error": { "code", "message" } }` with a
 * stable code. Documented in docs/api.md.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { idParam } from "./render.tsx";
import { Params } from "./params.ts";
import { parseAuditQuery, parseMessageQuery, parseOutboxQuery, readList } from "./list_queries.ts";
import { auditEventJson } from "./audit_export.ts";
import { apiError, badJson, field, iso, jsonBody, notFound, problemAnswer } from "./api/answers.ts";
import { ruleApiRoutes } from "./api/rules.ts";
import { neverAnswerApiRoutes } from "./api/never_answer.ts";
import { testAccount } from "./account_check.ts";
import { encodeCursor, listMessages, type MessageListRow } from "../src/store/message_list.ts";
import { encodeAuditCursor, listAudit } from "../src/store/audit_list.ts";
import {
  getMessageDetail,
  getRawMessage,
  type MessageDetail,
} from "../src/store/message_detail.ts";
import {
  type DeliveryReportFields,
  listOutbox,
  type OutboxListRow,
} from "../src/store/outbox_admin.ts";
import type { OutboxAction } from "../src/store/outbox_status.ts";
import { type AccountView, getAccountView, listAccountViews } from "../src/store/accounts_admin.ts";
import { readStats } from "../src/store/stats.ts";
import { type Overview, readOverview } from "../src/store/overview.ts";
import type { Bucket, PeriodCounts } from "../src/domain/overview_buckets.ts";
import {
  type AccountHealth,
  healthOf,
  idleStatusJson,
  progressJson,
  readAccountHealth,
} from "../src/store/account_health.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";
import { applyOutboxAction } from "../src/actions/outbox.ts";
import { testAccountConnection } from "../src/actions/accounts.ts";

function periodsJson(p: PeriodCounts) {
  return { today: p.today, days_7: p.days7, days_30: p.days30 };
}

function chartJson(series: Record<"messages" | "sent" | "suppressed", Bucket[]>) {
  return series.messages.map((b, i) => ({
    start: b.start.toISOString(),
    messages: b.n,
    sent: series.sent[i].n,
    suppressed: series.suppressed[i].n,
  }));
}

/** The overview page's numbers (docs/api.md, `GET /api/v1/overview`). */
function overviewJson(o: Overview) {
  return {
    at: o.at.toISOString(),
    periods: {
      today: o.windows.today.toISOString(),
      days_7: o.windows.week.toISOString(),
      days_30: o.windows.month.toISOString(),
    },
    messages: {
      all: periodsJson(o.messages.all),
      forwarded: periodsJson(o.messages.forwarded),
      direct: periodsJson(o.messages.direct),
    },
    replies: {
      sent: periodsJson(o.replies.sent),
      suppressed: Object.fromEntries(o.replies.suppressed.map((r) => [r.reason, periodsJson(r)])),
    },
    waiting: o.waiting,
    accounts: o.accounts.map((a) => ({
      id: a.id,
      name: a.name,
      address: a.address,
      enabled: a.enabled,
      last_sync_at: iso(a.lastSyncAt),
      lag_seconds: a.lagSeconds,
      consecutive_failures: a.consecutiveFailures,
      last_error: a.lastError,
      idle: a.health.idle && idleStatusJson(a.health.idle),
      progress: a.health.progress && progressJson(a.health.progress),
      breakers: { account: a.breakers.account, recipients: a.breakers.recipients },
    })),
    hourly: chartJson(o.charts.hourly),
    daily: chartJson(o.charts.daily),
  };
}

function messageJson(m: MessageListRow) {
  return {
    id: m.id,
    account_id: m.accountId,
    account: m.accountName,
    mailbox: m.mailbox,
    received_at: iso(m.receivedAt),
    from: m.fromAddress ? { address: m.fromAddress, name: m.fromName ?? "" } : null,
    subject: m.subject,
    kind: m.kind,
    confidence: m.confidence,
    original_from: m.originalFromAddress,
    parse_status: m.parseStatus,
    decision: { outcome: m.decision, rule: m.ruleName, reason: m.reason },
    outbox_status: m.outboxStatus,
  };
}

function messageDetailJson(m: MessageDetail) {
  return {
    id: m.id,
    account_id: m.accountId,
    account: m.accountName,
    mailbox: m.mailbox,
    uid: m.uid,
    size: m.size,
    received_at: iso(m.receivedAt),
    collected_at: iso(m.collectedAt),
    parse_status: m.parseStatus,
    parse_error: m.parseError,
    message_id: m.messageIdHeader,
    from: m.from,
    to: m.to,
    cc: m.cc,
    reply_to: m.replyTo,
    subject: m.subject,
    date: iso(m.sentDate),
    text: m.text,
    html: m.html,
    headers: m.headers,
    attachments: m.attachments,
    classification: {
      kind: m.kind,
      confidence: m.confidence,
      evidence: m.evidence,
      original: m.kind === "forwarded"
        ? {
          from_address: m.original.fromAddress,
          from_name: m.original.fromName,
          subject: m.original.subject,
          date: m.original.date,
        }
        : null,
    },
    decision: m.decision
      ? {
        decided_at: iso(m.decision.decidedAt),
        outcome: m.decision.outcome,
        rule: m.decision.ruleName,
        reason: m.decision.reason,
        detail: m.decision.detail,
        trail: m.decision.trail,
      }
      : null,
    outbox: m.outbox.map((o) => ({
      id: o.id,
      status: o.status,
      recipient: o.recipient,
      subject: o.subject,
      rule: o.ruleName,
      attempts: o.attempts,
      last_error: o.lastError,
      created_at: iso(o.createdAt),
      sent_at: iso(o.sentAt),
      delivery_report: reportJson(o.report),
    })),
    delivery_report_for: m.reportFor.map((r) => ({
      outbox_id: r.outboxId,
      status: r.status,
      recipient: r.recipient,
      message_id: r.messageId,
      delivery_report: reportJson(r.report),
    })),
  };
}

/** What a delivery status notification said of a reply (RFC 3464), or null. */
function reportJson(r: DeliveryReportFields | null) {
  return r
    ? {
      action: r.action,
      status: r.status,
      diagnostic: r.diagnostic,
      report_message_id: r.messageId,
      at: iso(r.at),
    }
    : null;
}

function outboxJson(r: OutboxListRow) {
  return {
    id: r.id,
    status: r.status,
    message_id: r.messageId,
    account_id: r.accountId,
    rule: r.ruleName,
    recipient: r.recipient,
    subject: r.subject,
    attempts: r.attempts,
    last_error: r.lastError,
    smtp_response: r.smtpResponse,
    next_attempt_at: iso(r.nextAttemptAt),
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    sent_at: iso(r.sentAt),
    delivery_report: reportJson(r.report),
  };
}

/**
 * An account without any secret: only whether each password is set. `health` adds the IMAP IDLE
 * state a running instance reports and the collection under way.
 */
export function accountJson(a: AccountView, now: Date, health: AccountHealth) {
  return {
    id: a.id,
    name: a.name,
    address: a.address,
    display_name: a.displayName,
    source: a.source,
    enabled: a.enabled,
    imap: {
      host: a.imapHost,
      port: a.imapPort,
      tls: a.imapTls,
      user: a.imapUser,
      mailboxes: a.mailboxes,
      password_set: a.imapPasswordSet,
    },
    smtp: a.smtpHost
      ? {
        host: a.smtpHost,
        port: a.smtpPort,
        tls: a.smtpTls,
        user: a.smtpUser,
        password_set: a.smtpPasswordSet,
      }
      : null,
    health: {
      connected_at: iso(a.connectedAt),
      last_sync_at: iso(a.lastSyncAt),
      last_error: a.lastError,
      last_error_at: iso(a.lastErrorAt),
      messages: a.messages,
      lag_seconds: a.lastSyncAt
        ? Math.max(0, Math.round((now.getTime() - a.lastSyncAt.getTime()) / 1000))
        : null,
      consecutive_failures: a.consecutiveFailures,
      idle: health.idle && idleStatusJson(health.idle),
      progress: health.progress && progressJson(health.progress),
    },
  };
}

export function apiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const box = createSecretBox(deps.secretKey);

  // --- messages -------------------------------------------------------------------------------
  const badQuery = (c: Context, errors: string[]) =>
    apiError(c, 422, "invalid_request", "invalid query parameters", errors);

  api.get("/messages", async (c) => {
    const parse = (params: Params) => parseMessageQuery(params, 500);
    const { query, page } = await readList(c, deps.db, parse, listMessages);
    if (!page) return badQuery(c, query.errors);
    return c.json({
      data: page.rows.map(messageJson),
      next_cursor: page.next ? encodeCursor(page.next) : null,
    });
  });

  api.get("/messages/:id", async (c) => {
    const id = idParam(c.req.param("id"));
    const m = id ? await getMessageDetail(deps.db, id) : null;
    return m ? c.json({ data: messageDetailJson(m) }) : notFound(c, "message");
  });

  api.get("/messages/:id/raw", async (c) => {
    const id = idParam(c.req.param("id"));
    const raw = id ? await getRawMessage(deps.db, id) : null;
    if (!raw || !id) return notFound(c, "message");
    return c.body(raw as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "message/rfc822",
      "Content-Disposition": `attachment; filename="message-${id}.eml"`,
    });
  });

  // --- outbox ---------------------------------------------------------------------------------
  api.get("/outbox", async (c) => {
    const { query, page } = await readList(c, deps.db, parseOutboxQuery, listOutbox);
    if (!page) return badQuery(c, query.errors);
    return c.json({ data: page.rows.map(outboxJson), next_before: page.next });
  });

  const outboxAction = async (c: Context<AppEnv>, action: OutboxAction) => {
    const id = idParam(c.req.param("id"));
    if (!id) return notFound(c, "outbox row");
    const result = await applyOutboxAction(deps, id, action, actorName(c.get("actor")));
    return result.ok
      ? c.json({ data: outboxJson(result.value) })
      : problemAnswer(c, result.problem);
  };

  api.post("/outbox/:id/retry", (c) => outboxAction(c, { type: "retry" }));
  api.post("/outbox/:id/cancel", (c) => outboxAction(c, { type: "cancel" }));
  api.post("/outbox/:id/settle", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const choice = field(body.value, "choice");
    if (choice !== "sent" && choice !== "send_again") {
      return apiError(c, 422, "invalid_request", 'choice: must be "sent" or "send_again"');
    }
    return await outboxAction(c, { type: "settle", choice });
  });

  // --- audit ----------------------------------------------------------------------------------
  api.get("/audit", async (c) => {
    const { query, page } = await readList(c, deps.db, parseAuditQuery, listAudit);
    if (!page) return badQuery(c, query.errors);
    return c.json({
      data: page.rows.map(auditEventJson),
      next_cursor: page.next ? encodeAuditCursor(page.next) : null,
    });
  });

  // --- rules (routes/api/rules.ts) -------------------------------------------------------------
  api.route("/", ruleApiRoutes(deps));

  // --- the never-answer list (routes/api/never_answer.ts) -------------------------------------
  api.route("/", neverAnswerApiRoutes(deps));

  // --- accounts and stats ---------------------------------------------------------------------
  api.get("/accounts", async (c) => {
    const now = deps.now();
    const health = await readAccountHealth(deps.db, now);
    return c.json({
      data: (await listAccountViews(deps.db)).map((a) =>
        accountJson(a, now, healthOf(health, a.id))
      ),
    });
  });

  api.get("/accounts/:id", async (c) => {
    const a = await getAccountView(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!a) return notFound(c, "account");
    const now = deps.now();
    return c.json({
      data: accountJson(a, now, healthOf(await readAccountHealth(deps.db, now), a.id)),
    });
  });

  api.post("/accounts/:id/test", async (c) => {
    const tested = await testAccountConnection(
      deps,
      idParam(c.req.param("id")) ?? 0,
      (a) => testAccount(deps, box, a),
      actorName(c.get("actor")),
    );
    return tested.ok ? c.json({ data: tested.value.result }) : notFound(c, "account");
  });

  api.get("/stats", async (c) => c.json({ data: await readStats(deps.db, deps.now()) }));

  api.get(
    "/overview",
    async (c) => c.json({ data: overviewJson(await readOverview(deps.db, deps.now())) }),
  );

  api.notFound((c) => apiError(c, 404, "not_found", "no such endpoint"));
  return api;
}
