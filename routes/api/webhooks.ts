/**
 * `/api/v1/webhooks`: list, add, change and remove webhook endpoints, list their recent
 * deliveries and send one again (the actions of src/actions/webhooks.ts). An endpoint's secret is
 * in the answer that creates it only.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../app_env.ts";
import { actorName } from "../app_env.ts";
import type { AppDeps } from "../deps.ts";
import { idParam } from "../render.tsx";
import { isId, parseId } from "../params.ts";
import { apiError, badJson, field, jsonBody, problemAnswer } from "./answers.ts";
import {
  deliveryJson,
  listWebhookDeliveries,
  listWebhookEndpoints,
  webhookJson,
} from "../../src/store/webhooks.ts";
import {
  createWebhook,
  removeWebhook,
  resendDelivery,
  updateWebhook,
  type WebhookRequestInput,
} from "../../src/actions/webhooks.ts";
import { WEBHOOK_DELIVERY_STATUSES } from "../../src/domain/webhooks.ts";

/** An endpoint's fields from a JSON body, or the error to answer. */
function readBody(value: unknown): { ok: true; input: WebhookRequestInput } | {
  ok: false;
  message: string;
} {
  const accountId = field(value, "account_id") ?? null;
  if (accountId !== null && !isId(accountId)) {
    return { ok: false, message: "account_id: an account's id, or null for every account" };
  }
  const url = field(value, "url");
  const events = field(value, "events");
  const enabled = field(value, "enabled") ?? true;
  const description = field(value, "description") ?? "";
  if (typeof url !== "string") return { ok: false, message: "url: a string" };
  if (
    !(typeof events === "string" ||
      (Array.isArray(events) && events.every((e) => typeof e === "string")))
  ) {
    return { ok: false, message: 'events: a list of event names, or "*"' };
  }
  if (typeof enabled !== "boolean") return { ok: false, message: "enabled: true or false" };
  if (typeof description !== "string") return { ok: false, message: "description: a string" };
  return { ok: true, input: { url, events, accountId, enabled, description } };
}

/** The webhook routes, mounted under `/api/v1` behind its token check. */
export function webhookApiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const by = (c: Context<AppEnv>) => actorName(c.get("actor"));
  const invalid = (c: Context<AppEnv>, message: string) =>
    apiError(c, 422, "invalid_request", message, [message]);

  api.get(
    "/webhooks",
    async (c) => c.json({ data: (await listWebhookEndpoints(deps.db)).map((e) => webhookJson(e)) }),
  );

  api.post("/webhooks", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const read = readBody(body.value);
    if (!read.ok) return invalid(c, read.message);
    const created = await createWebhook(deps, read.input, by(c));
    if (!created.ok) return problemAnswer(c, created.problem);
    // The secret is in this one answer: it must not be cached anywhere.
    c.header("Cache-Control", "no-store");
    return c.json({ data: webhookJson(created.value, true) }, 201);
  });

  api.put("/webhooks/:id{[0-9]+}", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const read = readBody(body.value);
    if (!read.ok) return invalid(c, read.message);
    const id = idParam(c.req.param("id")) ?? 0;
    const updated = await updateWebhook(deps, id, read.input, by(c));
    if (!updated.ok) return problemAnswer(c, updated.problem);
    return c.json({ data: webhookJson(updated.value) });
  });

  api.delete("/webhooks/:id{[0-9]+}", async (c) => {
    const removed = await removeWebhook(deps, idParam(c.req.param("id")) ?? 0, by(c));
    if (!removed.ok) return problemAnswer(c, removed.problem);
    return c.json({ data: { deleted: removed.value } });
  });

  api.get("/webhooks/deliveries", async (c) => {
    const endpoint = c.req.query("endpoint_id");
    const status = c.req.query("status");
    const limit = c.req.query("limit");
    const endpointId = endpoint === undefined ? null : parseId(endpoint);
    if (endpoint !== undefined && endpointId === null) {
      return invalid(c, "endpoint_id: an endpoint's id");
    }
    if (status !== undefined && !(WEBHOOK_DELIVERY_STATUSES as string[]).includes(status)) {
      return invalid(c, `status: one of ${WEBHOOK_DELIVERY_STATUSES.join(", ")}`);
    }
    const n = limit === undefined ? 50 : parseId(limit);
    if (n === null || n > 500) return invalid(c, "limit: 1 to 500");
    const rows = await listWebhookDeliveries(deps.db, {
      endpointId,
      status: status ?? null,
      limit: n,
    });
    return c.json({ data: rows.map(deliveryJson) });
  });

  api.post("/webhooks/deliveries/:id{[0-9]+}/resend", async (c) => {
    const resent = await resendDelivery(deps, idParam(c.req.param("id")) ?? 0, by(c));
    if (!resent.ok) return problemAnswer(c, resent.problem);
    return c.json({ data: { resent: resent.value } });
  });

  return api;
}
