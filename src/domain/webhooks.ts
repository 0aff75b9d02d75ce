/**
 * Signed webhooks: the events an endpoint may ask for, the JSON body each delivery carries, the
 * signature header, and when a failed delivery is tried again. Pure: the event id and the clock
 * are passed in. The signature is a timestamped HMAC-SHA256 over `t + "." + body` (the scheme
 * Stripe documents), so a receiver can refuse both a forged body and an old one replayed.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { retryDelayMs } from "./retry_backoff.ts";
import { insideHost } from "./private_address.ts";
import type { AuditEvent, AuditEventName } from "./audit_events.ts";

/** Every event a webhook endpoint may ask for. */
export const WEBHOOK_EVENTS = [
  "message.stored",
  "message.classified",
  "reply.queued",
  "reply.sent",
  "reply.suppressed",
  "reply.unknown",
  "account.failing",
  "account.recovered",
] as const;

export type WebhookEventType = typeof WEBHOOK_EVENTS[number];

/** The header that carries the signature. */
export const SIGNATURE_HEADER = "Carteiro-Signature";

/** One event as it is told: `id` is the same on every attempt, so receivers can drop repeats. */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  createdAt: Date;
  accountId: number | null;
  data: Record<string, unknown>;
}

/** Where a delivery is in its life. */
export type WebhookDeliveryStatus = "pending" | "sending" | "retry" | "delivered" | "failed";

export const WEBHOOK_DELIVERY_STATUSES: readonly WebhookDeliveryStatus[] = [
  "pending",
  "sending",
  "retry",
  "delivered",
  "failed",
];

/** How long a delivery is retried before it is given up (`failed`). */
export const WEBHOOK_DEADLINE_MS = 24 * 3_600_000;

/** The JSON body of an event, in a fixed key order: the bytes that are signed and sent. */
export function webhookBody(e: WebhookEvent): string {
  return JSON.stringify({
    id: e.id,
    type: e.type,
    created_at: e.createdAt.toISOString(),
    account_id: e.accountId,
    data: e.data,
  });
}

function hmacHex(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/** The signature header's value: `t=UNIX_SECONDS,v1=hex(HMAC-SHA256(secret, t + "." + body))`. */
export function signWebhook(secret: string, at: Date, body: string): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${hmacHex(secret, t, body)}`;
}

/**
 * What a receiver does: true when `header` holds a `v1` signature of `body` under `secret` made
 * within `toleranceSeconds` of `now` (either side). Compared in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string,
  now: Date,
  toleranceSeconds = 300,
): boolean {
  const parts = header.split(",").map((p) => p.trim().split("="));
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  if (!Number.isInteger(t)) return false;
  if (Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) return false;
  const expected = new TextEncoder().encode(hmacHex(secret, t, body));
  return parts.some(([k, v]) => {
    if (k !== "v1" || v === undefined) return false;
    const given = new TextEncoder().encode(v);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * When attempt `attempt` (1 for the first) is followed by the next: exponential from `baseMs`
 * (default ten seconds), capped at an hour, or null once that falls past the deadline (the
 * delivery is then given up).
 */
export function nextWebhookAttempt(
  at: Date,
  attempt: number,
  deadline: Date,
  baseMs = 10_000,
): Date | null {
  const next = new Date(at.getTime() + retryDelayMs(attempt, baseMs));
  return next > deadline ? null : next;
}

/** Whether an HTTP status means the receiver took the event: any 2xx. */
export function isDelivered(status: number): boolean {
  return status >= 200 && status < 300;
}

function isEventType(s: string): s is WebhookEventType {
  return (WEBHOOK_EVENTS as readonly string[]).includes(s);
}

/**
 * Reads the events a person named, as a list or as one string separated by commas or spaces;
 * `*` means all. Each once, in the canonical order; an unknown name or none is an error.
 */
export function parseWebhookEvents(
  input: string | readonly string[],
): { ok: true; events: WebhookEventType[] } | { ok: false; error: string } {
  const words = (typeof input === "string" ? input.split(/[\s,]+/) : [...input])
    .map((w) => w.trim().toLowerCase())
    .filter((w) => w !== "");
  if (words.includes("*")) return { ok: true, events: [...WEBHOOK_EVENTS] };
  const unknown = words.filter((w) => !isEventType(w));
  if (unknown.length > 0) {
    return {
      ok: false,
      error: `events: unknown ${unknown.map((u) => `"${u}"`).join(", ")}; use ${
        WEBHOOK_EVENTS.join(", ")
      } or *`,
    };
  }
  if (words.length === 0) return { ok: false, error: "events: name at least one event (or *)" };
  return { ok: true, events: WEBHOOK_EVENTS.filter((e) => words.includes(e)) };
}

/**
 * Checks an endpoint's URL as typed: absolute http or https, a host, no user name or password
 * (the signature authenticates us; credentials in a URL end up in logs), and, unless
 * `allowPrivate` (WEBHOOK_ALLOW_PRIVATE), a host that is not this machine or a private network
 * by its very name (`localhost`, an address literal), whose every delivery would be refused. A
 * host name is resolved only at each delivery, where the same check is made on its addresses.
 */
export function checkWebhookUrl(
  text: string,
  allowPrivate = false,
): { ok: true; url: string } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, error: "url: an absolute http:// or https:// address" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, error: "url: only http:// and https:// addresses" };
  }
  if (url.hostname === "") return { ok: false, error: "url: the address names no host" };
  if (url.username !== "" || url.password !== "") {
    return { ok: false, error: "url: no user name or password in the address" };
  }
  if (url.href.length > 2000) return { ok: false, error: "url: at most 2000 characters" };
  const host = allowPrivate ? null : insideHost(url.hostname);
  if (host !== null) {
    return {
      ok: false,
      error: `url: ${host} is this machine or a private network, where deliveries are refused ` +
        "(set WEBHOOK_ALLOW_PRIVATE=1 to allow it)",
    };
  }
  return { ok: true, url: url.href };
}

/** An account is `failing` once this many collections in a row have failed. */
export const ACCOUNT_FAILING_AFTER = 3;

/**
 * What a collection's outcome changes in the account's health, from the failures in a row before
 * it: `failing` when this failure makes the run reach the threshold, `recovered` when a success
 * ends a run that had reached it.
 */
export function accountHealthChange(
  failuresBefore: number,
  failed: boolean,
): "failing" | "recovered" | null {
  if (failed) return failuresBefore + 1 === ACCOUNT_FAILING_AFTER ? "failing" : null;
  return failuresBefore >= ACCOUNT_FAILING_AFTER ? "recovered" : null;
}

/** The audit events that are told to webhooks, and as which event. */
const TOLD: Partial<Record<AuditEventName, WebhookEventType>> = {
  collected: "message.stored",
  classified: "message.classified",
  enqueued: "reply.queued",
  sent: "reply.sent",
  reply_suppressed: "reply.suppressed",
  send_unknown: "reply.unknown",
  collect_failing: "account.failing",
  collect_recovered: "account.recovered",
  smtp_auth_failed: "account.failing",
  smtp_auth_cleared: "account.recovered",
};

/** Where an account's failure or recovery was seen. */
const SOURCE: Partial<Record<AuditEventName, string>> = {
  collect_failing: "imap",
  collect_recovered: "imap",
  smtp_auth_failed: "smtp",
  smtp_auth_cleared: "smtp",
};

/**
 * The webhook event an audit event is told as, or null: each change a webhook may tell of is
 * audited, and the delivery is enqueued with its audit row. `data` is the audit detail with the
 * message's id (and, for account events, where the problem was seen); `newId` gives the event id.
 */
export function webhookEventOf(e: AuditEvent, newId: () => string): WebhookEvent | null {
  const type = TOLD[e.event];
  if (!type) return null;
  const source = SOURCE[e.event];
  const data: Record<string, unknown> = type.startsWith("account.")
    ? { source, ...e.detail }
    : { message_id: e.messageId ?? null, ...e.detail };
  return { id: newId(), type, createdAt: e.at, accountId: e.accountId ?? null, data };
}
