/**
 * Webhook endpoints and their deliveries. A delivery row is enqueued in the transaction of the
 * change it tells of, one per enabled endpoint that wants the event; the drain claims rows with
 * `FOR UPDATE SKIP LOCKED` and a lease, one at a time per endpoint and account, in the order they
 * were enqueued: a later event waits until the earlier one is delivered or given up.
 */
import type { Queryable } from "./db.ts";
import { pgSafe } from "./pg_safe.ts";
import { camelRow } from "./row.ts";
import {
  WEBHOOK_DEADLINE_MS,
  webhookBody,
  type WebhookDeliveryStatus,
  type WebhookEvent,
  type WebhookEventType,
} from "../domain/webhooks.ts";

/** An endpoint as stored. `accountId` null: every account's events. */
export interface WebhookEndpoint {
  id: number;
  accountId: number | null;
  url: string;
  secret: string;
  events: WebhookEventType[];
  enabled: boolean;
  description: string;
  createdAt: Date;
  updatedAt: Date;
}

const ENDPOINT_COLUMNS =
  "id, account_id, url, secret, events, enabled, description, created_at, updated_at";

/** What a person sets on an endpoint. */
export interface WebhookEndpointInput {
  accountId: number | null;
  url: string;
  events: WebhookEventType[];
  enabled: boolean;
  description: string;
}

/** Stores a new endpoint with its secret; returns its id. */
export async function insertWebhookEndpoint(
  q: Queryable,
  e: WebhookEndpointInput & { secret: string },
  at: Date,
): Promise<number> {
  const [row] = await q.query<{ id: number }>(
    `INSERT INTO webhook_endpoints (account_id, url, secret, events, enabled, description,
       created_at, updated_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7::timestamptz, $7::timestamptz) RETURNING id`,
    [
      e.accountId,
      e.url,
      e.secret,
      JSON.stringify(e.events),
      e.enabled,
      pgSafe(e.description),
      at.toISOString(),
    ],
  );
  return row.id;
}

/** Replaces what a person sets on endpoint `id`; false when there is none. */
export async function updateWebhookEndpoint(
  q: Queryable,
  id: number,
  e: WebhookEndpointInput,
  at: Date,
): Promise<boolean> {
  const rows = await q.query(
    `UPDATE webhook_endpoints SET account_id = $2, url = $3, events = $4::jsonb, enabled = $5,
       description = $6, updated_at = $7::timestamptz
     WHERE id = $1 RETURNING 1 AS ok`,
    [
      id,
      e.accountId,
      e.url,
      JSON.stringify(e.events),
      e.enabled,
      pgSafe(e.description),
      at.toISOString(),
    ],
  );
  return rows.length > 0;
}

/** Deletes endpoint `id` and its deliveries; false when there is none. */
export async function deleteWebhookEndpoint(q: Queryable, id: number): Promise<boolean> {
  const rows = await q.query("DELETE FROM webhook_endpoints WHERE id = $1 RETURNING 1 AS ok", [id]);
  return rows.length > 0;
}

/** Endpoint `id`, or null. */
export async function getWebhookEndpoint(
  q: Queryable,
  id: number,
): Promise<WebhookEndpoint | null> {
  const [row] = await q.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1`, [
    id,
  ]);
  return row ? endpoint(row) : null;
}

/** Every endpoint, oldest first. */
export async function listWebhookEndpoints(q: Queryable): Promise<WebhookEndpoint[]> {
  const rows = await q.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id`);
  return rows.map(endpoint);
}

function endpoint(r: Record<string, unknown>): WebhookEndpoint {
  const e = camelRow<WebhookEndpoint>(r);
  const events = typeof e.events === "string" ? JSON.parse(e.events) : e.events;
  return { ...e, id: Number(e.id), events };
}

/**
 * Enqueues each event for every enabled endpoint that wants it (an endpoint of one account only
 * for that account's events), in the caller's transaction and in the order given. Returns the
 * number of deliveries enqueued.
 */
export async function enqueueWebhooks(
  q: Queryable,
  events: readonly WebhookEvent[],
  at: Date,
): Promise<number> {
  if (events.length === 0) return 0;
  const incoming = events.map((e, n) => ({
    n,
    event_id: e.id,
    type: e.type,
    account_id: e.accountId,
    body: webhookBody(pgSafe(e)),
  }));
  const rows = await q.query(
    enqueueWebhooksSql(
      `SELECT * FROM jsonb_to_recordset($1::jsonb)
         AS x(n integer, event_id text, type text, account_id integer, body text)`,
      "$2::timestamptz",
      "$3::timestamptz",
    ),
    [
      JSON.stringify(incoming),
      at.toISOString(),
      new Date(at.getTime() + WEBHOOK_DEADLINE_MS).toISOString(),
    ],
  );
  return rows.length;
}

/**
 * The statement that enqueues each event `source` gives (a query with `n`, its order, `event_id`,
 * `type`, `account_id` and `body`) for every enabled endpoint that wants it; `at` and `deadline`
 * are SQL expressions. `enqueueWebhooks` runs it alone, the outbox's settlement (`settleSends`)
 * inside its own statement.
 */
export function enqueueWebhooksSql(source: string, at: string, deadline: string): string {
  return `INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, account_id, body,
       status, next_attempt_at, deadline_at, created_at, updated_at)
     SELECT w.id, x.event_id::uuid, x.type, x.account_id, x.body, 'pending', ${at},
       ${deadline}, ${at}, ${at}
     FROM (${source}) AS x
     JOIN webhook_endpoints w ON w.enabled AND w.events @> jsonb_build_array(x.type)
       AND (w.account_id IS NULL OR w.account_id = x.account_id)
     ORDER BY x.n, w.id
     ON CONFLICT (endpoint_id, event_id) DO NOTHING
     RETURNING 1 AS ok`;
}

/** A delivery claimed for sending, with what the request needs. */
export interface ClaimedDelivery {
  id: number;
  endpointId: number;
  eventId: string;
  eventType: string;
  accountId: number | null;
  body: string;
  url: string;
  secret: string;
  attempts: number;
  deadlineAt: Date;
  claimToken: string;
}

/**
 * Claims due deliveries (`FOR UPDATE SKIP LOCKED`, each with the claim token and a lease; the
 * attempt counted now). Only the first open delivery of each endpoint and account is due: one
 * still pending, retrying or being sent holds back every later one of the same pair. An
 * endpoint that is disabled holds its deliveries until it is enabled again.
 */
export async function claimWebhookDeliveries(
  q: Queryable,
  at: Date,
  leaseMs: number,
  token: string,
  limit: number,
): Promise<ClaimedDelivery[]> {
  const rows = await q.query(
    `UPDATE webhook_deliveries d SET status = 'sending', claim_token = $2,
       lease_until = $3::timestamptz, attempts = attempts + 1, updated_at = $1::timestamptz
     FROM webhook_endpoints w
     WHERE w.id = d.endpoint_id AND d.id IN (
       SELECT c.id FROM webhook_deliveries c JOIN webhook_endpoints e ON e.id = c.endpoint_id
       WHERE c.status IN ('pending', 'retry') AND c.next_attempt_at <= $1::timestamptz
         AND e.enabled
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o
           WHERE o.endpoint_id = c.endpoint_id
             AND o.account_id IS NOT DISTINCT FROM c.account_id
             AND o.id < c.id AND o.status IN ('pending', 'retry', 'sending'))
       ORDER BY c.next_attempt_at, c.id LIMIT $4 FOR UPDATE OF c SKIP LOCKED)
     RETURNING d.id, d.endpoint_id, d.event_id, d.event_type, d.account_id, d.body, w.url,
       w.secret, d.attempts, d.deadline_at, d.claim_token`,
    [at.toISOString(), token, new Date(at.getTime() + leaseMs).toISOString(), limit],
  );
  return rows.map((r) => {
    const c = camelRow<ClaimedDelivery>(r);
    return { ...c, id: Number(c.id), eventId: String(c.eventId) };
  });
}

/** How a delivery attempt ended. */
export type DeliveryOutcome =
  | { status: "delivered"; httpStatus: number }
  | { status: "retry"; httpStatus: number | null; error: string; nextAttemptAt: Date }
  | { status: "failed"; httpStatus: number | null; error: string };

/**
 * Settles a claimed delivery, only while the claim still holds (a drain whose lease ran out
 * changes nothing: the row went back to be sent again). Returns whether it took.
 */
export async function settleWebhookDelivery(
  q: Queryable,
  id: number,
  token: string,
  outcome: DeliveryOutcome,
  at: Date,
): Promise<boolean> {
  const rows = await q.query(
    `UPDATE webhook_deliveries SET status = $3, updated_at = $4::timestamptz, claim_token = NULL,
       lease_until = NULL, last_status = $5, last_error = $6,
       next_attempt_at = COALESCE($7::timestamptz, next_attempt_at),
       delivered_at = CASE WHEN $3 = 'delivered' THEN $4::timestamptz ELSE delivered_at END
     WHERE id = $1 AND claim_token = $2 AND status = 'sending'
     RETURNING 1 AS ok`,
    [
      id,
      token,
      outcome.status,
      at.toISOString(),
      outcome.httpStatus,
      "error" in outcome ? pgSafe(outcome.error) : null,
      outcome.status === "retry" ? outcome.nextAttemptAt.toISOString() : null,
    ],
  );
  return rows.length > 0;
}

/**
 * Deliveries still `sending` after their lease ran out: their drain died at an unknown point,
 * maybe after the receiver took the event. Unlike a reply, an event is sent again (at least once;
 * the event id lets the receiver drop the repeat): they are due now. Returns their ids.
 */
export async function expireWebhookLeases(q: Queryable, at: Date): Promise<number[]> {
  const rows = await q.query<{ id: number }>(
    `UPDATE webhook_deliveries SET status = 'retry', claim_token = NULL, lease_until = NULL,
       next_attempt_at = $1::timestamptz, updated_at = $1::timestamptz,
       last_error = 'the delivery stopped while sending (lease expired); it is sent again'
     WHERE status = 'sending' AND lease_until < $1::timestamptz
     RETURNING id`,
    [at.toISOString()],
  );
  return rows.map((r) => Number(r.id));
}

/**
 * Deletes up to `limit` deliveries delivered or given up before `before` (they have been listed
 * long enough); returns how many went.
 */
export async function forgetOldDeliveries(
  q: Queryable,
  before: Date,
  limit = 1000,
): Promise<number> {
  const rows = await q.query(
    `DELETE FROM webhook_deliveries WHERE id IN (
       SELECT id FROM webhook_deliveries
       WHERE status IN ('delivered', 'failed') AND updated_at < $1::timestamptz
       ORDER BY id LIMIT $2)
     RETURNING 1 AS ok`,
    [before.toISOString(), limit],
  );
  return rows.length;
}

/** A delivery as the admin lists it. */
export interface WebhookDeliveryRow {
  id: number;
  endpointId: number;
  url: string;
  eventId: string;
  eventType: string;
  accountId: number | null;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  nextAttemptAt: Date;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** The most recent deliveries, newest first; of one endpoint when `endpointId` is given. */
export async function listWebhookDeliveries(
  q: Queryable,
  options: { limit?: number; endpointId?: number | null; status?: string | null } = {},
): Promise<WebhookDeliveryRow[]> {
  const rows = await q.query(
    `SELECT d.id, d.endpoint_id, w.url, d.event_id, d.event_type, d.account_id, d.status,
       d.attempts, d.last_status, d.last_error, d.next_attempt_at, d.created_at, d.delivered_at
     FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
     WHERE ($2::integer IS NULL OR d.endpoint_id = $2) AND ($3::text IS NULL OR d.status = $3)
     ORDER BY d.id DESC LIMIT $1`,
    [options.limit ?? 50, options.endpointId ?? null, options.status ?? null],
  );
  return rows.map((r) => {
    const d = camelRow<WebhookDeliveryRow>(r);
    return { ...d, id: Number(d.id), eventId: String(d.eventId) };
  });
}

/**
 * Sends delivery `id` again, as it was (same event id and body), due now with a fresh day of
 * retries. A delivery being sent is left alone. Returns the status it left, or null when there is
 * no such delivery or it is being sent.
 */
export async function resendWebhookDelivery(
  q: Queryable,
  id: number,
  at: Date,
): Promise<{ from: WebhookDeliveryStatus; endpointId: number } | null> {
  const rows = await q.query<{ from_status: WebhookDeliveryStatus; endpoint_id: number }>(
    `UPDATE webhook_deliveries d SET status = 'pending', attempts = 0,
       next_attempt_at = $2::timestamptz, deadline_at = $3::timestamptz,
       updated_at = $2::timestamptz
     FROM (SELECT id, status AS from_status FROM webhook_deliveries WHERE id = $1 FOR UPDATE) old
     WHERE d.id = old.id AND d.status <> 'sending'
     RETURNING old.from_status, d.endpoint_id`,
    [id, at.toISOString(), new Date(at.getTime() + WEBHOOK_DEADLINE_MS).toISOString()],
  );
  return rows[0] ? { from: rows[0].from_status, endpointId: rows[0].endpoint_id } : null;
}

/** The status of delivery `id`, or null when there is none. */
export async function webhookDeliveryStatus(
  q: Queryable,
  id: number,
): Promise<WebhookDeliveryStatus | null> {
  const [row] = await q.query<{ status: WebhookDeliveryStatus }>(
    "SELECT status FROM webhook_deliveries WHERE id = $1",
    [id],
  );
  return row?.status ?? null;
}

/** Deliveries counted by status (every status present). */
export async function webhookDeliveryCounts(
  q: Queryable,
): Promise<Record<WebhookDeliveryStatus, number>> {
  const counts: Record<WebhookDeliveryStatus, number> = {
    pending: 0,
    sending: 0,
    retry: 0,
    delivered: 0,
    failed: 0,
  };
  const rows = await q.query<{ status: WebhookDeliveryStatus; n: number }>(
    "SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status",
  );
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

/** An endpoint as JSON; `secret` only when asked (`add` prints it, once, for the receiver). */
export function webhookJson(e: WebhookEndpoint, withSecret = false) {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    account_id: e.accountId,
    enabled: e.enabled,
    description: e.description,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
    ...(withSecret ? { secret: e.secret } : {}),
  };
}

/** A delivery as JSON. */
export function deliveryJson(d: WebhookDeliveryRow) {
  return {
    id: d.id,
    endpoint_id: d.endpointId,
    url: d.url,
    event_id: d.eventId,
    event_type: d.eventType,
    account_id: d.accountId,
    status: d.status,
    attempts: d.attempts,
    last_status: d.lastStatus,
    last_error: d.lastError,
    next_attempt_at: d.nextAttemptAt.toISOString(),
    created_at: d.createdAt.toISOString(),
    delivered_at: d.deliveredAt?.toISOString() ?? null,
  };
}
