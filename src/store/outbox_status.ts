/**
 * The outbox's states and the transitions a person may ask for: the one place that says which
 * status each action starts from and which it reaches (the sender's own transitions are the
 * guarded updates in src/store/outbox.ts).
 */

/** Where a reply is in its life. */
export type OutboxStatus =
  | "pending"
  | "sending"
  | "sent"
  | "retry"
  | "failed"
  | "unknown"
  | "suppressed"
  | "cancelled"
  /** A delivery status notification came back: the reply was not delivered (RFC 3464). */
  | "bounced";

/** Every status, in the order the admin lists them. */
export const OUTBOX_STATUSES: readonly OutboxStatus[] = [
  "pending",
  "sending",
  "sent",
  "retry",
  "failed",
  "unknown",
  "suppressed",
  "cancelled",
  "bounced",
];

/** What a person can do to an outbox row. */
export type OutboxAction =
  | { type: "retry" }
  | { type: "settle"; choice: "sent" | "send_again" }
  | { type: "cancel" };

/** The statuses an action applies to, and the one it leaves the row in. */
export interface OutboxTransition {
  from: readonly OutboxStatus[];
  to: OutboxStatus;
}

/**
 * - retry: `failed` → `pending`, due now;
 * - settle "it was sent": `unknown` → `sent` (nothing is sent);
 * - settle "send again": `unknown` → `pending`, due now: a new attempt, chosen by a person,
 *   with the same Message-ID so that the recipient's software can recognise a duplicate;
 * - cancel: `pending` or `retry` → `cancelled`.
 */
export function outboxTransition(action: OutboxAction): OutboxTransition {
  switch (action.type) {
    case "retry":
      return { from: ["failed"], to: "pending" };
    case "settle":
      return { from: ["unknown"], to: action.choice === "sent" ? "sent" : "pending" };
    case "cancel":
      return { from: ["pending", "retry"], to: "cancelled" };
  }
}
