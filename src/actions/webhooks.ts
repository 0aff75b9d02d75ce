/**
 * Webhook endpoints, from the webhooks page, `/api/v1/webhooks` or `deno task cli webhook`:
 * adding one (its signing secret made here), changing, removing, and sending a delivery again —
 * each with its audit event in the same transaction. The secret is never audited.
 */
import {
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  insertWebhookEndpoint,
  resendWebhookDelivery,
  updateWebhookEndpoint,
  webhookDeliveryStatus,
  type WebhookEndpoint,
  type WebhookEndpointInput,
} from "../store/webhooks.ts";
import { listAccounts } from "../store/accounts.ts";
import { recordEvent } from "../store/audit.ts";
import type { Queryable } from "../store/db.ts";
import { newSecret } from "../auth/tokens.ts";
import { checkWebhookUrl, parseWebhookEvents } from "../domain/webhooks.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

/** What a person sends for an endpoint. */
export interface WebhookRequestInput {
  url: string;
  /** A list, or `"reply.sent,reply.unknown"`; `*` for all. */
  events: string | readonly string[];
  /** An account's id: only its events; null or omitted: every account's. */
  accountId?: number | null;
  /** Omitted: enabled. */
  enabled?: boolean;
  description?: string;
}

/** What adding or changing an endpoint needs besides the database and the clock. */
export interface WebhookActionDeps extends ActionDeps {
  /** WEBHOOK_ALLOW_PRIVATE: an endpoint may be on this machine or a private network. */
  webhookAllowPrivate?: boolean;
}

/** Reads and checks the input; every problem is listed. */
async function readInput(
  q: Queryable,
  input: WebhookRequestInput,
  allowPrivate: boolean,
): Promise<{ ok: true; value: WebhookEndpointInput } | { ok: false; errors: string[] }> {
  const errors: string[] = [];
  const url = checkWebhookUrl(input.url ?? "", allowPrivate);
  if (!url.ok) errors.push(url.error);
  const events = parseWebhookEvents(input.events ?? "");
  if (!events.ok) errors.push(events.error);
  const accountId = input.accountId ?? null;
  if (accountId !== null && !(await listAccounts(q)).some((a) => a.id === accountId)) {
    errors.push(`account: no account with id ${accountId}`);
  }
  const description = (input.description ?? "").trim();
  if (description.length > 200) errors.push("description: at most 200 characters");
  if (!url.ok || !events.ok || errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      url: url.url,
      events: events.events,
      accountId,
      enabled: input.enabled ?? true,
      description,
    },
  };
}

/** An endpoint just added, with its secret (also readable later by an admin). */
export type CreatedWebhook = WebhookEndpoint;

/** Adds an endpoint with a new signing secret (`whsec_` + 256 random bits). */
export function createWebhook(
  deps: WebhookActionDeps,
  input: WebhookRequestInput,
  by: string,
): Promise<Result<CreatedWebhook>> {
  return transact(deps.db, async (tx) => {
    const read = await readInput(tx, input, deps.webhookAllowPrivate === true);
    if (!read.ok) return problem("invalid", read.errors.join("; "), read.errors);
    const at = deps.now();
    const secret = `whsec_${newSecret()}`;
    const id = await insertWebhookEndpoint(tx, { ...read.value, secret }, at);
    const e = read.value;
    await recordEvent(tx, {
      event: "webhook_created",
      at,
      detail: { id, url: e.url, events: e.events, account_id: e.accountId, by },
    });
    return done((await getWebhookEndpoint(tx, id))!);
  }, "the webhook changed meanwhile");
}

/** Replaces endpoint `id`'s URL, events, account, enabled flag and description. */
export function updateWebhook(
  deps: WebhookActionDeps,
  id: number,
  input: WebhookRequestInput,
  by: string,
): Promise<Result<WebhookEndpoint>> {
  return transact(deps.db, async (tx) => {
    const read = await readInput(tx, input, deps.webhookAllowPrivate === true);
    if (!read.ok) return problem("invalid", read.errors.join("; "), read.errors);
    const at = deps.now();
    if (!await updateWebhookEndpoint(tx, id, read.value, at)) {
      return problem("not_found", "no such webhook");
    }
    const e = read.value;
    await recordEvent(tx, {
      event: "webhook_changed",
      at,
      detail: { id, url: e.url, events: e.events, account_id: e.accountId, enabled: e.enabled, by },
    });
    return done((await getWebhookEndpoint(tx, id))!);
  }, "the webhook changed meanwhile");
}

/** Turns endpoint `id` on or off; its pending deliveries wait while it is off. */
export function setWebhookEnabled(
  deps: ActionDeps,
  id: number,
  enabled: boolean,
  by: string,
): Promise<Result<WebhookEndpoint>> {
  return transact(deps.db, async (tx) => {
    const e = await getWebhookEndpoint(tx, id);
    if (!e) return problem("not_found", "no such webhook");
    const at = deps.now();
    await updateWebhookEndpoint(tx, id, { ...e, enabled }, at);
    await recordEvent(tx, {
      event: "webhook_changed",
      at,
      detail: { id, url: e.url, events: e.events, account_id: e.accountId, enabled, by },
    });
    return done({ ...e, enabled });
  }, "the webhook changed meanwhile");
}

/** Removes endpoint `id` with its deliveries. */
export function removeWebhook(deps: ActionDeps, id: number, by: string): Promise<Result<number>> {
  return transact(deps.db, async (tx) => {
    const e = await getWebhookEndpoint(tx, id);
    if (!e || !await deleteWebhookEndpoint(tx, id)) return problem("not_found", "no such webhook");
    await recordEvent(tx, {
      event: "webhook_removed",
      at: deps.now(),
      detail: { id, url: e.url, by },
    });
    return done(id);
  }, "the webhook changed meanwhile");
}

/**
 * Sends delivery `id` again, the same event id and body, due now with a fresh day of retries. One
 * being sent right now is `wrong_status`.
 */
export function resendDelivery(deps: ActionDeps, id: number, by: string): Promise<Result<number>> {
  return transact(deps.db, async (tx) => {
    const at = deps.now();
    const resent = await resendWebhookDelivery(tx, id, at);
    if (!resent) {
      return await webhookDeliveryStatus(tx, id)
        ? problem("wrong_status", "the delivery is being sent right now")
        : problem("not_found", "no such delivery");
    }
    await recordEvent(tx, {
      event: "webhook_resent",
      at,
      detail: { delivery_id: id, endpoint_id: resent.endpointId, from_status: resent.from, by },
    });
    return done(id);
  }, "the delivery changed meanwhile");
}
