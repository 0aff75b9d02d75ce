/**
 * `/api/v1`: JSON for programs, behind API tokens (`Authorization: Bearer`). Lists page by
 * keyset (`next_cursor` / `next_before`), errors are `{ "error": { "code", "message" } }` with a
 * stable code. Documented in docs/api.md.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { idParam } from "./render.tsx";
import { isId, Params } from "./params.ts";
import { parseAuditQuery, parseMessageQuery, parseOutboxQuery, readList } from "./list_queries.ts";
import { auditEventJson } from "./audit_export.ts";
import { DRY_RUN_MAX_DAYS, DRY_RUN_MAX_MESSAGES } from "./rules.tsx";
import { testAccount } from "./accounts.tsx";
import { encodeCursor, listMessages, type MessageListRow } from "../src/store/message_list.ts";
import { encodeAuditCursor, listAudit } from "../src/store/audit_list.ts";
import {
  getMessageDetail,
  getRawMessage,
  getStoredEmail,
  type MessageDetail,
  storedEmailsSince,
} from "../src/store/message_detail.ts";
import {
  applyOutboxAction,
  listOutbox,
  type OutboxAction,
  type OutboxListRow,
} from "../src/store/outbox_admin.ts";
import {
  deleteRule,
  getRuleRow,
  insertRule,
  listRuleRows,
  reorderRules,
  type RuleRow,
  setRuleEnabled,
  updateRule,
} from "../src/store/rules_admin.ts";
import { loadRules } from "../src/store/rule_set.ts";
import { type AccountView, getAccountView, listAccountViews } from "../src/store/accounts_admin.ts";
import { readStats } from "../src/store/stats.ts";
import {
  type AccountHealth,
  healthOf,
  idleStatusJson,
  progressJson,
  readAccountHealth,
} from "../src/store/account_health.ts";
import { recordEvent } from "../src/store/audit.ts";
import { readRuleInput } from "../src/admin/rule_input.ts";
import { type DryRunItem, dryRunRule, previewRule } from "../src/admin/rule_simulation.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";

/** Stable error codes of the API. */
export type ApiErrorCode =
  | "unauthorized"
  | "not_found"
  | "invalid_json"
  | "invalid_request"
  | "wrong_status"
  | "conflict"
  | "internal";

/** An error answer: `{ "error": { "code", "message", "details"? } }`. */
export function apiError(
  c: Context,
  status: ContentfulStatusCode,
  code: ApiErrorCode,
  message: string,
  details?: string[],
) {
  return c.json({ error: { code, message, ...(details ? { details } : {}) } }, status);
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

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
    })),
  };
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
  };
}

function ruleJson(r: RuleRow) {
  return {
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    priority: r.priority,
    position: r.position,
    definition: r.definition,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
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

function dryRunItemJson(i: DryRunItem) {
  return {
    message_id: i.messageId,
    subject: i.subject,
    from: i.from,
    received_at: iso(i.receivedAt),
    result: i.result,
  };
}

/** Reads a JSON body; null (after answering 400) when it is not JSON. */
async function jsonBody(c: Context): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    const text = await c.req.text();
    return { ok: true, value: text.trim() === "" ? {} : JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

export function apiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const sim = { accountContext: deps.accountContext, ownAddresses: deps.ownAddresses };
  const box = createSecretBox(deps.secretKey);
  const badJson = (c: Context) => apiError(c, 400, "invalid_json", "the request body is not JSON");
  const notFound = (c: Context, what: string) => apiError(c, 404, "not_found", `no such ${what}`);

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
    const result = await deps.db.transaction((tx) =>
      applyOutboxAction(tx, id, action, actorName(c.get("actor")), deps.now())
    );
    if (result.ok) return c.json({ data: outboxJson(result.row) });
    if (result.reason === "not_found") return notFound(c, "outbox row");
    return apiError(
      c,
      409,
      "wrong_status",
      `the row is ${result.status}; this action needs ${
        action.type === "retry"
          ? "failed"
          : action.type === "settle"
          ? "unknown"
          : "pending or retry"
      }`,
    );
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

  // --- rules ----------------------------------------------------------------------------------
  const ruleAudit = (c: Context<AppEnv>, action: string, rule: string) =>
    recordEvent(deps.db, {
      event: "rule_changed",
      at: deps.now(),
      detail: { action, rule, by: actorName(c.get("actor")) },
    });

  const definitionOf = (v: unknown) => field(v, "definition") ?? v;

  api.get("/rules", async (c) => c.json({ data: (await listRuleRows(deps.db)).map(ruleJson) }));

  api.post("/rules", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const names = (await listRuleRows(deps.db)).map((r) => r.name);
    const input = readRuleInput(definitionOf(body.value), names);
    if (!input.ok) return apiError(c, 422, "invalid_request", "the rule is invalid", input.errors);
    const row = await insertRule(deps.db, {
      name: input.rule.name,
      enabled: input.rule.enabled,
      priority: input.rule.priority,
      definition: input.definition,
    }, deps.now());
    await ruleAudit(c, "created", row.name);
    return c.json({ data: ruleJson(row) }, 201);
  });

  api.put("/rules/order", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const ids = field(body.value, "ids");
    if (!Array.isArray(ids) || !ids.every(isId)) {
      return apiError(c, 422, "invalid_request", "ids: must be a list of rule ids");
    }
    const ok = await deps.db.transaction((tx) => reorderRules(tx, ids as number[], deps.now()));
    if (!ok) {
      return apiError(c, 422, "invalid_request", "ids: must list every rule exactly once");
    }
    await ruleAudit(c, "reordered", "*");
    return c.json({ data: (await listRuleRows(deps.db)).map(ruleJson) });
  });

  api.post("/rules/dry-run", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const days = field(body.value, "days") ?? 30;
    if (
      typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > DRY_RUN_MAX_DAYS
    ) {
      return apiError(c, 422, "invalid_request", `days: must be from 1 to ${DRY_RUN_MAX_DAYS}`);
    }
    // The candidate takes the place of the rule `replaces_id`, else of the stored rule with its
    // name, else comes last.
    const replacesId = field(body.value, "replaces_id");
    if (replacesId !== undefined && !isId(replacesId)) {
      return apiError(c, 422, "invalid_request", "replaces_id: must be a rule id");
    }
    const stored = await listRuleRows(deps.db);
    const name = field(field(body.value, "definition"), "name");
    const editing = replacesId !== undefined
      ? stored.find((r) => r.id === replacesId)
      : stored.find((r) => typeof name === "string" && r.name.toLowerCase() === name.toLowerCase());
    if (replacesId !== undefined && !editing) return notFound(c, "rule (replaces_id)");
    const others = stored.filter((r) => r.id !== editing?.id);
    const input = readRuleInput(field(body.value, "definition"), others.map((r) => r.name));
    if (!input.ok) return apiError(c, 422, "invalid_request", "the rule is invalid", input.errors);
    const since = new Date(deps.now().getTime() - days * 86_400_000);
    const messages = await storedEmailsSince(deps.db, since, DRY_RUN_MAX_MESSAGES);
    const report = await dryRunRule(
      input.rule,
      await loadRules(deps.db),
      messages,
      { ...sim, ...deps.dryRun },
      editing?.name ?? input.rule.name,
    );
    return c.json({
      data: {
        days,
        examined: report.examined,
        total: report.total,
        capped: messages.length >= DRY_RUN_MAX_MESSAGES,
        stopped_at_budget: report.stoppedAtBudget,
        elapsed_ms: report.elapsedMs,
        replied: report.replied.map(dryRunItemJson),
        suppressed: report.suppressed.map(dryRunItemJson),
        ignored: report.ignored.map(dryRunItemJson),
        other_rule: report.otherRule.map(dryRunItemJson),
        unmatched: report.unmatched,
      },
    });
  });

  api.post("/rules/preview", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const input = readRuleInput(field(body.value, "definition"), []);
    if (!input.ok) return apiError(c, 422, "invalid_request", "the rule is invalid", input.errors);
    const messageId = field(body.value, "message_id");
    if (!isId(messageId)) {
      return apiError(c, 422, "invalid_request", "message_id: must be a message id");
    }
    const message = await getStoredEmail(deps.db, messageId);
    if (!message) return notFound(c, "parsed message (message_id)");
    return c.json({ data: await previewRule(input.rule, message, sim) });
  });

  api.get("/rules/:id", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    return row ? c.json({ data: ruleJson(row) }) : notFound(c, "rule");
  });

  api.put("/rules/:id", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    const before = await getRuleRow(deps.db, id);
    if (!before) return notFound(c, "rule");
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const names = (await listRuleRows(deps.db)).filter((r) => r.id !== id).map((r) => r.name);
    const input = readRuleInput(definitionOf(body.value), names);
    if (!input.ok) return apiError(c, 422, "invalid_request", "the rule is invalid", input.errors);
    const row = await updateRule(deps.db, id, {
      name: input.rule.name,
      enabled: input.rule.enabled,
      priority: input.rule.priority,
      definition: input.definition,
    }, deps.now());
    if (!row) return notFound(c, "rule");
    await ruleAudit(c, "updated", row.name);
    return c.json({ data: ruleJson(row) });
  });

  api.post("/rules/:id/enabled", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const enabled = field(body.value, "enabled");
    if (typeof enabled !== "boolean") {
      return apiError(c, 422, "invalid_request", "enabled: must be true or false");
    }
    const row = await setRuleEnabled(deps.db, idParam(c.req.param("id")) ?? 0, enabled, deps.now());
    if (!row) return notFound(c, "rule");
    await ruleAudit(c, enabled ? "enabled" : "disabled", row.name);
    return c.json({ data: ruleJson(row) });
  });

  api.delete("/rules/:id", async (c) => {
    const name = await deleteRule(deps.db, idParam(c.req.param("id")) ?? 0);
    if (name === null) return notFound(c, "rule");
    await ruleAudit(c, "deleted", name);
    return c.json({ data: { deleted: name } });
  });

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
    const a = await getAccountView(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!a) return notFound(c, "account");
    const result = await testAccount(deps, box, a);
    await recordEvent(deps.db, {
      event: "connection_tested",
      at: deps.now(),
      accountId: a.id,
      detail: {
        ok: result.ok,
        problem: result.ok ? null : result.error,
        by: actorName(c.get("actor")),
      },
    });
    return c.json({ data: result });
  });

  api.get("/stats", async (c) => c.json({ data: await readStats(deps.db, deps.now()) }));

  api.notFound((c) => apiError(c, 404, "not_found", "no such endpoint"));
  return api;
}
