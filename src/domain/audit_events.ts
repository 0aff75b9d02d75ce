/**
 * The audit log's vocabulary: every event a part of Carteiro writes, with the shape of its
 * `detail`. `src/store/audit.ts` writes only these, so a name cannot drift between the places
 * that write it, and a reader (the audit page, the API, an export) knows what each row holds.
 */

/** Who did something a person asked for: an e-mail, `token:NAME`, `cli` or `setup`. */
type By = { by: string };

/** One send attempt as the sender saw it (`sent`, `send_retry`, `send_failed`, …). */
export interface SendAttemptDetail {
  outbox_id: number;
  recipient: string;
  attempt: number;
  result: string;
  error?: string;
  response?: string;
}

/** A person's action on an outbox row: the status it left and the one it reached. */
export interface OutboxActionDetail extends By {
  outbox_id: number;
  choice?: "sent" | "send_again";
  from_status: string;
  to_status: string;
}

/** What a person did to one rule (or to the order, `rule: "*"`). */
export interface RuleEditDetail extends By {
  action: "created" | "updated" | "enabled" | "disabled" | "moved" | "reordered" | "deleted";
  rule: string;
  /** The rule's name before an edit renamed it. */
  was?: string;
  direction?: "up" | "down";
}

/** Every rule replaced by an import from a file (`deno task cli rules import`). */
export interface RulesImportDetail {
  via: "cli import";
  rules: string[];
}

/** An entry of the never-answer list: its id, pattern and account (null: every account). */
export interface NeverAnswerDetail extends By {
  id: number;
  pattern: string;
  account_id: number | null;
}

/** Each event's `detail`, by event name. */
export interface AuditDetails {
  // Collection (src/jobs/collect_account.ts).
  collected: { mailbox: string; uid: number; size: number };
  collect_failed: { error: string };
  uidvalidity_changed: { mailbox: string; from: number | null; to: number };
  // Parsing and classification (src/jobs/process_messages.ts).
  parse_failed: { error: string };
  classified: { kind: string; confidence: number; original_from: string | null };
  // The reply decision (src/jobs/reply_step.ts).
  rule_matched: { rule: string; action: "reply" | "ignore" };
  reply_suppressed: { rule: string; reason: string; detail: string };
  breaker_tripped: { scope: string; detail: string };
  enqueued: { rule: string; outbox_id: number; recipient: string; dedup_key: string };
  // Sending (src/jobs/send_outbox.ts).
  sent: SendAttemptDetail;
  send_retry: SendAttemptDetail;
  send_failed: SendAttemptDetail;
  /** An attempt whose outcome is unknown, or a lease that ran out while sending. */
  send_unknown: SendAttemptDetail | { outbox_id: number; why: string };
  claim_lost: SendAttemptDetail;
  // A person's actions (src/actions/).
  settled: OutboxActionDetail;
  retry_requested: OutboxActionDetail;
  cancelled: OutboxActionDetail;
  classification_overridden: By & { kind: "forwarded" | "direct"; original_from: string | null };
  /**
   * A rule created, edited, moved or deleted, or the rules replaced by an import. Rows written
   * as `rules_changed` before migration 0007 were imports; that migration renamed them.
   */
  rule_changed: RuleEditDetail | RulesImportDetail;
  account_changed: By & {
    action: "created" | "updated";
    name: string;
    imap_password_changed: boolean;
    smtp_password_changed: boolean;
  };
  connection_tested: By & { ok: boolean; problem: string | null };
  /** An account connected with an OAuth provider; `identity` is who signed in. */
  oauth_connected: By & { provider: string; identity: string; name: string };
  /** An OAuth account signed in again (Reconnect): collection and sending resume. */
  oauth_reconnected: By & { provider: string; identity: string };
  /** The provider refused the refresh token: the account needs a person to reconnect it. */
  oauth_refresh_refused: { provider: string; error: string };
  token_created: By & { name: string };
  token_revoked: By & { id: number };
  /** An entry of the never-answer list added or removed (`account`: null is every account). */
  never_answer_added: NeverAnswerDetail;
  never_answer_removed: NeverAnswerDetail;
  user_created: By & { email: string; ip?: string };
  // Sessions (routes/login.tsx).
  login: { email: string; ip: string };
  login_failed: { email: string; ip: string };
  logout: { email: string };
}

/** The name of an event. */
export type AuditEventName = keyof AuditDetails;

// A record, so that the compiler finds a name missing from the list.
const NAMES: Record<AuditEventName, true> = {
  collected: true,
  collect_failed: true,
  uidvalidity_changed: true,
  parse_failed: true,
  classified: true,
  rule_matched: true,
  reply_suppressed: true,
  breaker_tripped: true,
  enqueued: true,
  sent: true,
  send_retry: true,
  send_failed: true,
  send_unknown: true,
  claim_lost: true,
  settled: true,
  retry_requested: true,
  cancelled: true,
  classification_overridden: true,
  rule_changed: true,
  account_changed: true,
  connection_tested: true,
  oauth_connected: true,
  oauth_reconnected: true,
  oauth_refresh_refused: true,
  token_created: true,
  token_revoked: true,
  never_answer_added: true,
  never_answer_removed: true,
  user_created: true,
  login: true,
  login_failed: true,
  logout: true,
};

/** Every event name, in the order of `AuditDetails` (the docs list them all; a test checks). */
export const AUDIT_EVENT_NAMES = Object.keys(NAMES) as AuditEventName[];

/** One event of kind `E`, as written: when, about which account and message, and its detail. */
export interface AuditEventOf<E extends AuditEventName> {
  event: E;
  at: Date;
  accountId?: number | null;
  messageId?: number | null;
  detail: AuditDetails[E];
}

/** Any one event of the vocabulary (a union discriminated by `event`). */
export type AuditEvent = { [E in AuditEventName]: AuditEventOf<E> }[AuditEventName];
