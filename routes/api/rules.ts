/**
 * `/api/v1/rules`: list, read, create, edit, enable, reorder and delete rules (the actions of
 * src/actions/rules.ts), a rule's preview and dry-run, which send nothing, and its replay over
 * stored mail (src/actions/rule_replay.ts).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../app_env.ts";
import { actorName } from "../app_env.ts";
import type { AppDeps } from "../deps.ts";
import { idParam } from "../render.tsx";
import { isId, Params } from "../params.ts";
import { apiError, badJson, field, iso, jsonBody, notFound, problemAnswer } from "./answers.ts";
import { getRuleRow, listRuleRows, type RuleRow } from "../../src/store/rules_admin.ts";
import { getStoredEmail } from "../../src/store/message_detail.ts";
import { readRuleInput } from "../../src/admin/rule_input.ts";
import {
  DRY_RUN_MAX_DAYS,
  type DryRunItem,
  dryRunStored,
  previewRule,
} from "../../src/admin/rule_simulation.ts";
import {
  createRule,
  deleteRule,
  mergeRules,
  reorderRules,
  setRuleEnabled,
  updateRule,
} from "../../src/actions/rules.ts";
import { addRuleAttachment, removeRuleAttachment } from "../../src/actions/rule_attachments.ts";
import { listRuleAttachments, ruleAttachmentJson } from "../../src/store/rule_attachments.ts";
import { replayRule } from "../../src/actions/rule_replay.ts";
import { replayJson } from "../../src/admin/replay_json.ts";
import { parseReplayQuery } from "../list_queries.ts";

/** The message list's filters a replay reads from its JSON body. */
const REPLAY_FILTERS = ["account", "kind", "reply", "since", "until", "unparsed", "q"];

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

function dryRunItemJson(i: DryRunItem) {
  return {
    message_id: i.messageId,
    subject: i.subject,
    from: i.from,
    received_at: iso(i.receivedAt),
    result: i.result,
  };
}

/** The rules' routes, mounted under `/api/v1` behind its token check. */
export function ruleApiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const sim = { accountContext: deps.accountContext, ownAddresses: deps.ownAddresses };
  const by = (c: Context<AppEnv>) => actorName(c.get("actor"));
  const definitionOf = (v: unknown) => field(v, "definition") ?? v;

  api.get("/rules", async (c) => c.json({ data: (await listRuleRows(deps.db)).map(ruleJson) }));

  api.post("/rules", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const created = await createRule(deps, definitionOf(body.value), by(c));
    if (!created.ok) return problemAnswer(c, created.problem);
    return c.json({ data: ruleJson(created.value) }, 201);
  });

  api.put("/rules/order", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const ids = field(body.value, "ids");
    if (!Array.isArray(ids) || !ids.every(isId)) {
      return apiError(c, 422, "invalid_request", "ids: must be a list of rule ids");
    }
    const ordered = await reorderRules(deps, ids as number[], by(c));
    if (!ordered.ok) return problemAnswer(c, ordered.problem);
    return c.json({ data: ordered.value.map(ruleJson) });
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
    const { report, capped } = await dryRunStored(
      deps.db,
      input.rule,
      { days, now: deps.now(), replaces: editing?.name ?? input.rule.name },
      { ...sim, ...deps.dryRun },
    );
    return c.json({
      data: {
        days,
        examined: report.examined,
        total: report.total,
        capped,
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

  // One rule or a list, as exported: same names replace, new names are added, others stay.
  api.post("/rules/import", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const merged = await mergeRules(deps, body.value, by(c));
    if (!merged.ok) return problemAnswer(c, merged.problem);
    return c.json({ data: merged.value });
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
    const body = await jsonBody(c);
    // A rule that does not exist is a 404 whatever the body.
    if (!body.ok) return await getRuleRow(deps.db, id) ? badJson(c) : notFound(c, "rule");
    const updated = await updateRule(deps, id, definitionOf(body.value), by(c));
    if (!updated.ok) return problemAnswer(c, updated.problem);
    return c.json({ data: ruleJson(updated.value) });
  });

  api.post("/rules/:id/enabled", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const enabled = field(body.value, "enabled");
    if (typeof enabled !== "boolean") {
      return apiError(c, 422, "invalid_request", "enabled: must be true or false");
    }
    const changed = await setRuleEnabled(deps, idParam(c.req.param("id")) ?? 0, enabled, by(c));
    if (!changed.ok) return problemAnswer(c, changed.problem);
    return c.json({ data: ruleJson(changed.value) });
  });

  // Replays the rule over stored mail: a dry-run (`dry_run`, the default), then the replay of
  // what it listed (`dry_run: false` with its `confirm` token).
  api.post("/rules/:id/replay", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const value = body.value;
    const errors: string[] = [];
    const texts: Record<string, string[]> = {};
    for (const name of REPLAY_FILTERS) {
      const v = field(value, name);
      if (v === undefined || v === null || v === false) continue;
      if (typeof v === "string") texts[name] = [v];
      else if (typeof v === "number" && Number.isInteger(v)) texts[name] = [String(v)];
      else if (v === true && name === "unparsed") texts[name] = ["1"];
      else errors.push(`${name}: must be text`);
    }
    const dryRun = field(value, "dry_run") ?? true;
    if (typeof dryRun !== "boolean") errors.push("dry_run: must be true or false");
    const confirm = field(value, "confirm");
    if (dryRun === false && (typeof confirm !== "string" || !/^[0-9a-f]{64}$/.test(confirm))) {
      errors.push("confirm: the token of the dry-run being confirmed (64 hexadecimal digits)");
    }
    const query = parseReplayQuery(new Params((name) => texts[name] ?? []));
    errors.push(...query.errors);
    if (errors.length) return apiError(c, 422, "invalid_request", "the replay is invalid", errors);
    const replayed = await replayRule(deps, idParam(c.req.param("id")) ?? 0, {
      filters: query.filters,
      typed: query.typed,
      confirm: dryRun === false ? confirm as string : null,
    }, by(c));
    if (!replayed.ok) return problemAnswer(c, replayed.problem);
    return c.json({ data: replayJson(replayed.value) });
  });

  // A rule's files, attached to each of its replies: multipart upload in the field `file`.
  api.get("/rules/:id/attachments", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return notFound(c, "rule");
    return c.json({ data: (await listRuleAttachments(deps.db, row.name)).map(ruleAttachmentJson) });
  });

  api.post("/rules/:id/attachments", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return notFound(c, "rule");
    const type = c.req.header("Content-Type") ?? "";
    const body = /^multipart\/form-data/i.test(type) ? await c.req.parseBody() : {};
    const file = body.file;
    if (!(file instanceof File)) {
      return apiError(
        c,
        422,
        "invalid_request",
        'file: send the file as multipart/form-data in the field "file"',
      );
    }
    const added = await addRuleAttachment(deps, {
      rule: row.name,
      filename: file.name,
      contentType: file.type,
      content: new Uint8Array(await file.arrayBuffer()),
    }, by(c));
    if (!added.ok) return problemAnswer(c, added.problem);
    const [stored] = (await listRuleAttachments(deps.db, row.name))
      .filter((a) => a.id === added.value.id);
    return c.json({ data: ruleAttachmentJson(stored) }, 201);
  });

  api.delete("/rules/:id/attachments/:file", async (c) => {
    const row = await getRuleRow(deps.db, idParam(c.req.param("id")) ?? 0);
    if (!row) return notFound(c, "rule");
    const removed = await removeRuleAttachment(
      deps,
      row.name,
      idParam(c.req.param("file")) ?? 0,
      by(c),
    );
    if (!removed.ok) return problemAnswer(c, removed.problem);
    return c.json({ data: { deleted: removed.value.id } });
  });

  api.delete("/rules/:id", async (c) => {
    const deleted = await deleteRule(deps, idParam(c.req.param("id")) ?? 0, by(c));
    if (!deleted.ok) return problemAnswer(c, deleted.problem);
    return c.json({ data: { deleted: deleted.value } });
  });

  return api;
}
