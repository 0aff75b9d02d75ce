/**
 * Drains the webhook deliveries like the outbox: deliveries whose lease ran out while `sending`
 * are due again (an event is told at least once), due ones are claimed with `FOR UPDATE SKIP
 * LOCKED` and a lease (only the first open one of each endpoint and account: in order), posted
 * with their signature, and settled by the claim they hold — delivered on a 2xx, else retried
 * with exponential backoff until a day has passed, then `failed`.
 */
import type { Db } from "../store/db.ts";
import {
  type ClaimedDelivery,
  claimWebhookDeliveries,
  type DeliveryOutcome,
  expireWebhookLeases,
  forgetOldDeliveries,
  settleWebhookDelivery,
} from "../store/webhooks.ts";
import { isDelivered, nextWebhookAttempt, signWebhook } from "../domain/webhooks.ts";
import type { WebhookRequest, WebhookResponse } from "./webhook_post.ts";
import type { Logger } from "../log.ts";

/** How long a delivery delivered or given up stays listed. */
const KEEP_DAYS = 30;

/** The points at which the fault-injection tests can end the process. */
export type WebhookStep = "webhook_claimed" | "webhook_posted";

export interface WebhookDrainDeps {
  db: Db;
  now: () => Date;
  newToken: () => string;
  log: Logger;
  /** Sends one request (src/jobs/webhook_post.ts `postWebhook`); never rejects. */
  post: (request: WebhookRequest) => Promise<WebhookResponse>;
  /** How long a claimed delivery may stay `sending`; longer than a request's timeout. */
  leaseMs: number;
  /** First retry delay; later ones double, up to an hour. */
  retryBaseMs?: number;
  /** Deliveries claimed, and posted side by side, at a time (each of another endpoint or account). */
  batch?: number;
  shouldStop?: () => boolean;
  checkpoint?: (step: WebhookStep) => void | Promise<void>;
}

export interface WebhookSummary {
  expired: number;
  claimed: number;
  delivered: number;
  retry: number;
  failed: number;
  lost: number;
}

/** Drains once: until nothing is due now (or `shouldStop`). */
export async function drainWebhooks(deps: WebhookDrainDeps): Promise<WebhookSummary> {
  const summary: WebhookSummary = {
    expired: 0,
    claimed: 0,
    delivered: 0,
    retry: 0,
    failed: 0,
    lost: 0,
  };
  const start = deps.now();
  summary.expired = (await expireWebhookLeases(deps.db, start)).length;
  await forgetOldDeliveries(deps.db, new Date(start.getTime() - KEEP_DAYS * 86_400_000));
  while (!deps.shouldStop?.()) {
    const claimed = await deps.db.transaction((tx) =>
      claimWebhookDeliveries(tx, deps.now(), deps.leaseMs, deps.newToken(), deps.batch ?? 8)
    );
    if (claimed.length === 0) break;
    summary.claimed += claimed.length;
    await deps.checkpoint?.("webhook_claimed");
    await Promise.all(claimed.map((d) => deliverOne(deps, d, summary)));
  }
  return summary;
}

async function deliverOne(deps: WebhookDrainDeps, d: ClaimedDelivery, summary: WebhookSummary) {
  const response = await deps.post({
    url: d.url,
    body: d.body,
    // Signed at each attempt: the timestamp says when this attempt was made.
    signature: signWebhook(d.secret, deps.now(), d.body),
    eventId: d.eventId,
    eventType: d.eventType,
  });
  await deps.checkpoint?.("webhook_posted");
  const at = deps.now();
  const outcome = settlement(response, d, at, deps.retryBaseMs);
  const ok = await settleWebhookDelivery(deps.db, d.id, d.claimToken, outcome, at);
  if (!ok) {
    summary.lost++;
    deps.log.warn("webhook delivery was no longer ours when its request ended", {
      delivery_id: d.id,
    });
    return;
  }
  summary[outcome.status]++;
  if (outcome.status === "failed") {
    deps.log.warn("webhook delivery given up", { delivery_id: d.id, error: outcome.error });
  }
}

function settlement(
  r: WebhookResponse,
  d: ClaimedDelivery,
  at: Date,
  retryBaseMs?: number,
): DeliveryOutcome {
  if (r.kind === "answered" && isDelivered(r.status)) {
    return { status: "delivered", httpStatus: r.status };
  }
  const httpStatus = r.kind === "answered" ? r.status : null;
  const error = r.kind === "answered" ? `the receiver answered HTTP ${r.status}` : r.error;
  // A private target is refused before anything is sent: trying again changes nothing.
  if (r.kind === "refused") return { status: "failed", httpStatus, error };
  const next = nextWebhookAttempt(at, d.attempts, d.deadlineAt, retryBaseMs);
  return next
    ? { status: "retry", httpStatus, error, nextAttemptAt: next }
    : { status: "failed", httpStatus, error: `gave up after a day of retries: ${error}` };
}
