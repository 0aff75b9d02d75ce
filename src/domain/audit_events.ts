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

/** What a user may do, as a change records it before and after. */
export interface UserState {
  role: string;
  disabled: boolean;
}

/** One attempt at copying a sent reply to the account's Sent mailbox. */
export interface SentCopyDetail {
  outbox_id: number;
  attempt: number;
}

/** A person's action on an outbox row: the status it left and the one it reached. */
export interface OutboxActionDetail extends By {
  outbox_id: number;
  choice?: "sent" | "send_again";
  from_status: string;
  to_status: string;
}

/** What a delivery status notification (RFC 3464) said of one of our replies. */
export interface DeliveryReportDetail {
  outbox_id: number;
  recipient: string;
  /** The message the reply answered. */
  reply_to_message: number | null;
  action: string;
  status: string | null;
  diagnostic: string | null;
  /** How the notification was tied to the reply (returned_message, in_reply_to, …). */
  matched_by: string;
}

/** What a person did to one rule (or to the order, `rule: "*"`). */
export interface RuleEditDetail extends By {
  action: "created" | "updated" | "enabled" | "disabled" | "moved" | "reordered" | "deleted";
  rule: string;
  /** The rule's name before an edit renamed it. */
  was?: string;
  direction?: "up" | "down";
}

/**
 * Rules imported from a file: by the CLI (`rules import`, every rule replaced), or on the rules
 * page or `POST /api/v1/rules/import` (`admin import`: rules of the same name replaced, the others
 * added, the rest kept).
 */
export interface RulesImportDetail {
  via: "cli import" | "admin import";
  rules: string[];
  /** Admin import: who imported, and which rules were added and which replaced. */
  by?: string;
  created?: string[];
  updated?: string[];
}

/** An entry of the never-answer list: its id, pattern and account (null: every account). */
export interface NeverAnswerDetail extends By {
  id: number;
  pattern: string;
  account_id: number | null;
}

/** A file stored with a rule and attached to its replies. */
export interface RuleAttachmentDetail extends By {
  rule: string;
  id: number;
  filename: string;
  size: number;
  sha256: string;
}

/** Each event's `detail`, by event name. */
export interface AuditDetails {
  // Collection (src/jobs/collect_account.ts).
  collected: { mailbox: string; uid: number; size: number };
  /**
   * A message over the account's limit (`limit`, bytes; its `size` is the server's RFC822.SIZE):
   * stored with its headers only, marked failed with the reason; the collection went on.
   */
  message_too_large: { mailbox: string; uid: number; size: number; limit: number };
  collect_failed: { error: string };
  /**
   * The account's collections have failed `failures` times in a row: written once, when the run
   * of failures reaches the threshold (src/domain/webhooks.ts `ACCOUNT_FAILING_AFTER`).
   */
  collect_failing: { error: string; failures: number };
  /** A collection succeeded after the account was failing. */
  collect_recovered: { failures: number };
  uidvalidity_changed: { mailbox: string; from: number | null; to: number };
  /** A configured mailbox the server refused to open; written once, when the report begins. */
  mailbox_unavailable: { mailbox: string; error: string };
  /** A mailbox reported unavailable opened again: the report is cleared. */
  mailbox_available: { mailbox: string };
  // After processing, on the server (src/jobs/after_processing.ts).
  after_processed: { mailbox: string; action: "seen" | "move"; folder: string | null };
  /** Written at a message's first failure only; later runs try again without a new row. */
  after_processing_failed: {
    mailbox: string;
    action: "seen" | "move";
    folder: string | null;
    error: string;
  };
  // Parsing and classification (src/jobs/process_messages.ts).
  parse_failed: { error: string };
  classified: { kind: string; confidence: number; original_from: string | null };
  // The reply decision (src/jobs/reply_step.ts).
  rule_matched: { rule: string; action: "reply" | "ignore" };
  reply_suppressed: { rule: string; reason: string; detail: string };
  /** `open_until`: when it closes by itself; null: when a person resets it. */
  breaker_tripped: { scope: string; detail: string; open_until?: string | null };
  enqueued: { rule: string; outbox_id: number; recipient: string; dedup_key: string };
  // Sending (src/jobs/send_outbox.ts).
  sent: SendAttemptDetail;
  send_retry: SendAttemptDetail;
  send_failed: SendAttemptDetail;
  /** An attempt whose outcome is unknown, or a lease that ran out while sending. */
  send_unknown: SendAttemptDetail | { outbox_id: number; why: string };
  claim_lost: SendAttemptDetail;
  // Delivery status notifications of our replies (src/jobs/bounce_step.ts); the event's message
  // is the notification.
  /** The reply was not delivered: the row is `bounced`. */
  reply_bounced: DeliveryReportDetail;
  /** The reply is delayed and still being tried by a server on the way: only noted. */
  reply_delayed: DeliveryReportDetail;
  // The copy of a sent reply in the account's Sent mailbox (src/jobs/copy_sent.ts).
  /** Appended, or found there already by its Message-ID after an interrupted attempt. */
  sent_copied: SentCopyDetail & { mailbox: string; uid: number | null; already_there: boolean };
  /** Not made: the server files submitted mail itself (Gmail). */
  sent_copy_skipped: SentCopyDetail & { why: "server_files_sent_mail" };
  sent_copy_retry: SentCopyDetail & { error: string; next_attempt_at: string };
  sent_copy_failed: SentCopyDetail & { error: string };
  /** The account's SMTP server refused its login: its replies wait until this is cleared. */
  smtp_auth_failed: { error: string };
  /** The refused login is over: a reply went out, or a person edited the account. */
  smtp_auth_cleared: By & { reason: "send_accepted" | "account_edited"; was: string };
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
  /**
   * A rule applied to stored mail a person chose (a filter and a date) after its dry-run: how
   * many messages were looked at, how many replies were enqueued and how many were not.
   */
  rule_replayed: By & {
    rule: string;
    since: string;
    filters: Record<string, string>;
    examined: number;
    enqueued: number;
    skipped: number;
    capped: boolean;
  };
  account_changed: By & {
    action: "created" | "updated" | "send_budget" | "disabled" | "enabled" | "deleted";
    name: string;
    imap_password_changed: boolean;
    smtp_password_changed: boolean;
    /** On `deleted`: whether the account's messages were erased or kept detached, how many. */
    messages?: "erase" | "keep";
    message_count?: number;
    /** On `deleted`: replies not yet sent, cancelled so they never go out. */
    replies_cancelled?: number;
    /** The after-processing setting saved (src/domain/after_processing.ts). */
    after_processing?: "keep" | "seen" | "move";
    after_folder?: string | null;
    /** The largest message collected whole, bytes (src/domain/message_size.ts). */
    max_message_bytes?: number;
    /** The send budget set (null: the provider's default), when the edit changed it. */
    send_budget?: { per_minute: number | null; per_day: number | null } | null;
  };
  connection_tested: By & { ok: boolean; problem: string | null };
  /** An account connected with an OAuth provider; `identity` is who signed in. */
  oauth_connected: By & { provider: string; identity: string; name: string };
  /** An OAuth account signed in again (Reconnect): collection and sending resume. */
  oauth_reconnected: By & { provider: string; identity: string };
  /** The provider refused the refresh token: the account needs a person to reconnect it. */
  oauth_refresh_refused: { provider: string; error: string };
  /** `scopes` and `expires_at` are absent from events written before tokens had them. */
  token_created: By & { name: string; scopes?: string[]; expires_at?: string | null };
  token_revoked: By & { id: number };
  /** An entry of the never-answer list added or removed (`account`: null is every account). */
  never_answer_added: NeverAnswerDetail;
  never_answer_removed: NeverAnswerDetail;
  /** A file added to a rule's replies, or removed from them. */
  rule_attachment_added: RuleAttachmentDetail;
  rule_attachment_removed: RuleAttachmentDetail;
  /** `role` is absent from events written before users had roles. */
  user_created: By & { email: string; ip?: string; role?: string };
  /** A user's role or access changed, with the values before and after. */
  user_changed: By & { email: string; before: UserState; after: UserState };
  user_removed: By & { email: string; before: UserState };
  /** A password set: by its owner (`by` is the same e-mail) or reset by an admin. */
  password_changed: By & { email: string; sessions_ended: number };
  /** A second factor (TOTP) turned on by its owner, confirmed with a code. */
  totp_enabled: By & { email: string };
  /** A second factor turned off: by its owner (with the password), an admin, or the CLI. */
  totp_disabled: By & { email: string };
  /** A recovery code let someone in instead of a TOTP code; `remaining` unused ones are left. */
  recovery_code_used: { email: string; ip: string; remaining: number };
  /** A loop breaker reset by a person: replies in its scope may go again. */
  breaker_reset: By & {
    id: number;
    scope: "account" | "recipient";
    recipient: string | null;
    tripped_at: string;
    /** Whether it was still open (else it had cooled down and only its record went). */
    was_open: boolean;
  };
  /**
   * Messages (mbox, zip, CSV) or outbox rows (CSV) exported with the list's filter as given:
   * `count` rows went out; `complete` is false when the reader went away or a read failed.
   */
  exported: By & {
    what: "messages" | "outbox";
    format: "mbox" | "zip" | "csv";
    filter: Record<string, string | boolean>;
    count: number;
    complete: boolean;
  };
  /** An account's reply settings changed: the keys that changed and the settings now. */
  account_settings_changed: By & { changed: string[]; settings: Record<string, unknown> };
  /** How long the audit log is kept changed (null: for ever). */
  retention_changed: By & { keep_audit_days: number | null };
  /**
   * One run of the purge (daily, or `cli purge`): what it removed, in all and per account — raw
   * sources dropped, messages deleted with their decisions and replies, audit rows deleted.
   */
  retention_purged: By & {
    raw: number;
    messages: number;
    decisions: number;
    replies: number;
    audit: number;
    accounts: Array<{ account_id: number; raw: number; messages: number; replies: number }>;
  };
  /**
   * Everything naming one address removed: the address only as its SHA-256 (of the lower-case
   * address), and the rows removed per table.
   */
  address_erased: By & { address_sha256: string; removed: Record<string, number> };

  // Webhooks (src/actions/webhooks.ts); the secret is never written here.
  webhook_created: By & { id: number; url: string; events: string[]; account_id: number | null };
  webhook_changed: By & {
    id: number;
    url: string;
    events: string[];
    account_id: number | null;
    enabled: boolean;
  };
  webhook_removed: By & { id: number; url: string };
  /** A delivery sent again by a person: the status it left. */
  webhook_resent: By & { delivery_id: number; endpoint_id: number; from_status: string };

  // Sessions (routes/login.tsx).
  /** `second_factor`: the code given after the password, for a user with a second factor. */
  login: { email: string; ip: string; second_factor?: "totp" | "recovery" };
  login_failed: { email: string; ip: string };
  logout: { email: string };
}

/** The name of an event. */
export type AuditEventName = keyof AuditDetails;

// A record, so that the compiler finds a name missing from the list.
const NAMES: Record<AuditEventName, true> = {
  collected: true,
  message_too_large: true,
  collect_failed: true,
  collect_failing: true,
  collect_recovered: true,
  uidvalidity_changed: true,
  mailbox_unavailable: true,
  mailbox_available: true,
  after_processed: true,
  after_processing_failed: true,
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
  reply_bounced: true,
  reply_delayed: true,
  sent_copied: true,
  sent_copy_skipped: true,
  sent_copy_retry: true,
  sent_copy_failed: true,
  smtp_auth_failed: true,
  smtp_auth_cleared: true,
  settled: true,
  retry_requested: true,
  cancelled: true,
  classification_overridden: true,
  rule_changed: true,
  rule_replayed: true,
  account_changed: true,
  connection_tested: true,
  oauth_connected: true,
  oauth_reconnected: true,
  oauth_refresh_refused: true,
  token_created: true,
  token_revoked: true,
  never_answer_added: true,
  never_answer_removed: true,
  rule_attachment_added: true,
  rule_attachment_removed: true,
  breaker_reset: true,
  account_settings_changed: true,
  retention_changed: true,
  retention_purged: true,
  address_erased: true,
  exported: true,
  user_created: true,
  user_changed: true,
  user_removed: true,
  password_changed: true,
  totp_enabled: true,
  totp_disabled: true,
  recovery_code_used: true,
  webhook_created: true,
  webhook_changed: true,
  webhook_removed: true,
  webhook_resent: true,
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
