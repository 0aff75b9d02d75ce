/**
 * `/api/v1`: JSON for programs, behind API tokens (`Authorization: Bearer`). Lists page by
 * keyset (`next_cursor` / `next_before`), errors are `{ "error": { "code", "message" } }` with a
 * stable code. Documented in docs/api.md.
 */
import { sentCopyJson } from "./sent_copy_note.tsx";
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
import { breakerApiRoutes } from "./api/breakers.ts";
import { webhookApiRoutes } from "./api/webhooks.ts";
import { accountSettingsApiRoutes } from "./api/account_settings.ts";
import { retentionApiRoutes } from "./api/retention.ts";
import { testAccount } from "./account_check.ts";
import { messageExportHandler, outboxExportHandler } from "./exports.tsx";
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
  mailboxProblemJson,
  mailboxWatchJson,
  progressJson,
  readAccountHealth,
} from "../src/store/account_health.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";
import { applyOutboxAction } from "../src/actions/outbox.ts";
import {
  removeAccount,
  saveAccount,
  saveSendBudget,
  setAccountEnabledAction,
  setAfterProcessing,
  testAccountConnection,
} from "../src/actions/accounts.ts";
import { formBodyOfJson, formOf, readAccountForm } from "../src/admin/account_form.ts";
import { maxMessageMb } from "../src/domain/message_size.ts";
import { budgetJson, effectiveBudget, parseSendBudget } from "../src/domain/send_budget.ts";

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
    raw_purged_at: iso(m.rawPurgedAt),
    after_processing: m.afterProcessing && {
      state: m.afterProcessing.state,
      action: m.afterProcessing.action,
      folder: m.afterProcessing.folder,
      error: m.afterProcessing.error,
      attempts: m.afterProcessing.attempts,
      at: iso(m.afterProcessing.at),
    },
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
      sent_copy: sentCopyJson(o.sentCopy),
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
    cc: r.cc,
    bcc: r.bcc,
    reply_to: r.replyTo,
    attachments: r.attachments,
    subject: r.subject,
    attempts: r.attempts,
    last_error: r.lastError,
    smtp_response: r.smtpResponse,
    next_attempt_at: iso(r.nextAttemptAt),
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    sent_at: iso(r.sentAt),
    delivery_report: reportJson(r.report),
    sent_copy: sentCopyJson(r.sentCopy),
  };
}

/**
 * An account without any secret: only whether each password is set. `health` adds the IMAP IDLE
 * state a running instance reports and the collection under way.
 */
export function accountJson(
  a: AccountView,
  now: Date,
  health: AccountHealth,
  envSmtpHost?: AppDeps["envSmtpHost"],
) {
  return {
    id: a.id,
    name: a.name,
    address: a.address,
    display_name: a.displayName,
    source: a.source,
    enabled: a.enabled,
    auth: a.authKind === "oauth"
      ? { kind: "oauth", provider: a.oauthProvider, identity: a.oauthIdentity }
      : { kind: "password" },
    imap: {
      host: a.imapHost,
      port: a.imapPort,
      tls: a.imapTls,
      user: a.imapUser,
      mailboxes: a.mailboxes,
      /** The cap set on the account; null: the provider's default (`health.connection_cap`). */
      connection_cap: a.imapConnectionCap,
      password_set: a.imapPasswordSet,
    },
    after_processing: { mode: a.afterProcessing, folder: a.afterFolder },
    /** The largest message collected whole; a larger one is kept with its headers only. */
    max_message_mb: maxMessageMb(a.maxMessageBytes),
    smtp: a.smtpHost
      ? {
        host: a.smtpHost,
        port: a.smtpPort,
        tls: a.smtpTls,
        user: a.smtpUser,
        password_set: a.smtpPasswordSet,
      }
      : null,
    copy_to_sent: a.copyToSent,
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
      reauthorization_needed: a.reauthorizationNeeded,
      reauthorization_reason: a.reauthorizationReason,
      idle: health.idle && idleStatusJson(health.idle),
      connection_cap: health.connectionCap,
      idle_mailboxes: health.mailboxes.map(mailboxWatchJson),
      progress: health.progress && progressJson(health.progress),
      mailbox_problems: health.mailboxProblems.map(mailboxProblemJson),
      smtp_auth_failure: a.smtpAuthFailure
        ? { error: a.smtpAuthFailure, at: iso(a.smtpAuthFailureAt) }
        : null,
    },
    send_budget: sendBudgetJson(a, envSmtpHost),
  };
}

/**
 * The budget a person set (null: none, the provider's default applies) and the one in force with
 * its provider (for the environment's account, from the SMTP host the environment names).
 */
function sendBudgetJson(a: AccountView, env?: AppDeps["envSmtpHost"]) {
  const host = a.id === env?.accountId ? env.host : a.smtpHost;
  const { budget, provider } = effectiveBudget(a.sendBudget, host, a.address);
  return { set: budgetJson(a.sendBudget), in_force: budgetJson(budget), provider };
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

  // Before `/messages/:id`, which would take "export" for an id.
  api.get("/messages/export", messageExportHandler(deps, badQuery));

  api.get("/messages/:id", async (c) => {
    const id = idParam(c.req.param("id"));
    const m = id ? await getMessageDetail(deps.db, id) : null;
    return m ? c.json({ data: messageDetailJson(m) }) : notFound(c, "message");
  });

  api.get("/messages/:id/raw", async (c) => {
    const id = idParam(c.req.param("id"));
    const raw = id ? await getRawMessage(deps.db, id) : null;
    if (!raw || !id) return notFound(c, "message");
    if (raw === "purged") {
      return apiError(c, 410, "raw_purged", "the raw source was purged by retention");
    }
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

  api.get("/outbox/export", outboxExportHandler(deps, badQuery));

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

  // --- loop breakers and accounts' reply settings (routes/api/) ------------------------------
  api.route("/", breakerApiRoutes(deps));
  api.route("/", accountSettingsApiRoutes(deps));
  api.route("/", retentionApiRoutes(deps));

  // --- webhook endpoints and their deliveries (routes/api/webhooks.ts) ------------------------
  api.route("/", webhookApiRoutes(deps));

  // --- accounts and stats ---------------------------------------------------------------------
  api.get("/accounts", async (c) => {
    const now = deps.now();
    const health = await readAccountHealth(deps.db, now);
    return c.json({
      data: (await listAccountViews(deps.db)).map((a) =>
        accountJson(a, now, healthOf(health, a.id), deps.envSmtpHost)
      ),
    });
  });

  api.get("/accounts/:id", async (c) => {
    const a = await getAccountView(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!a) return notFound(c, "account");
    const now = deps.now();
    return c.json({
      data: accountJson(
        a,
        now,
        healthOf(await readAccountHealth(deps.db, now), a.id),
        deps.envSmtpHost,
      ),
    });
  });

  /** Creates (`id` null) or edits an account from a JSON body with the form's field names. */
  async function putAccount(c: Context<AppEnv>, id: number | null) {
    const body = await jsonBody(c);
    if (!body.ok || typeof body.value !== "object" || body.value === null) return badJson(c);
    let base = undefined;
    if (id !== null) {
      const existing = await getAccountView(deps.db, id);
      if (!existing) return notFound(c, "account");
      base = formOf(existing);
    }
    const read = readAccountForm(formBodyOfJson(body.value as Record<string, unknown>, base));
    if (!read.input) return apiError(c, 422, "invalid_request", read.errors[0], read.errors);
    const saved = await saveAccount(
      { ...deps, box },
      id,
      { settings: read.input, passwords: read.passwords },
      actorName(c.get("actor")),
    );
    if (!saved.ok) return problemAnswer(c, saved.problem);
    const now = deps.now();
    const a = (await getAccountView(deps.db, saved.value))!;
    return c.json(
      { data: accountJson(a, now, healthOf(await readAccountHealth(deps.db, now), a.id)) },
      id === null ? 201 : 200,
    );
  }

  api.post("/accounts", (c) => putAccount(c, null));

  api.put("/accounts/:id", (c) => {
    const id = idParam(c.req.param("id"));
    return id ? putAccount(c, id) : notFound(c, "account");
  });

  for (const [verb, enabled] of [["disable", false], ["enable", true]] as const) {
    api.post(`/accounts/:id/${verb}`, async (c) => {
      const saved = await setAccountEnabledAction(
        deps,
        idParam(c.req.param("id")) ?? 0,
        enabled,
        actorName(c.get("actor")),
      );
      if (!saved.ok) return problemAnswer(c, saved.problem);
      const now = deps.now();
      const health = healthOf(await readAccountHealth(deps.db, now), saved.value.id);
      return c.json({ data: accountJson(saved.value, now, health, deps.envSmtpHost) });
    });
  }

  api.delete("/accounts/:id", async (c) => {
    const removed = await removeAccount(
      deps,
      idParam(c.req.param("id")) ?? 0,
      c.req.query("messages"),
      actorName(c.get("actor")),
    );
    if (!removed.ok) return problemAnswer(c, removed.problem);
    const r = removed.value;
    return c.json({
      data: {
        name: r.name,
        messages: c.req.query("messages"),
        message_count: r.messages,
        replies_cancelled: r.repliesCancelled,
      },
    });
  });

  api.put("/accounts/:id/after_processing", async (c) => {
    const id = idParam(c.req.param("id"));
    if (!id) return notFound(c, "account");
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const mode = field(body.value, "mode");
    const folder = field(body.value, "folder") ?? "";
    if (typeof mode !== "string" || typeof folder !== "string") {
      return apiError(c, 422, "invalid_request", "mode and folder: strings");
    }
    const saved = await setAfterProcessing(deps, id, { mode, folder }, actorName(c.get("actor")));
    if (!saved.ok) return problemAnswer(c, saved.problem);
    const now = deps.now();
    const health = healthOf(await readAccountHealth(deps.db, now), id);
    return c.json({ data: accountJson(saved.value, now, health) });
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

  api.put("/accounts/:id/send_budget", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    let budget = null;
    if (field(body.value, "default") !== true) {
      // A number or a string is read as a figure; any other JSON value (an object, a list, a
      // boolean) is not one, and is refused as such — never turned into text, which an object
      // with a `toString` key makes throw.
      const raw = (k: string) => {
        const v = field(body.value, k);
        if (v === null || v === undefined) return null;
        return typeof v === "number" || typeof v === "string" ? v : "(not a number)";
      };
      const parsed = parseSendBudget({ perMinute: raw("per_minute"), perDay: raw("per_day") });
      if (parsed.errors.length > 0) {
        return apiError(c, 422, "invalid_request", parsed.errors[0], parsed.errors);
      }
      budget = parsed.budget;
    }
    const saved = await saveSendBudget(
      deps,
      idParam(c.req.param("id")) ?? 0,
      budget,
      actorName(c.get("actor")),
    );
    if (!saved.ok) return problemAnswer(c, saved.problem);
    const now = deps.now();
    return c.json({
      data: accountJson(
        saved.value,
        now,
        healthOf(await readAccountHealth(deps.db, now), saved.value.id),
        deps.envSmtpHost,
      ),
    });
  });

  api.get("/stats", async (c) => c.json({ data: await readStats(deps.db, deps.now()) }));

  api.get(
    "/overview",
    async (c) => c.json({ data: overviewJson(await readOverview(deps.db, deps.now())) }),
  );

  api.notFound((c) => apiError(c, 404, "not_found", "no such endpoint"));
  return api;
}
