import type { Queryable } from "./db.ts";
import type { AfterProcessing } from "../domain/after_processing.ts";
import { camelRow } from "./row.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../domain/message_size.ts";
import { readBudget } from "./send_budget.ts";
import type { SendBudget } from "../domain/send_budget.ts";
import type { TlsMode } from "../domain/tls_mode.ts";

/**
 * An account as the admin shows it: settings and health, and whether each password is set —
 * never the password, not even encrypted.
 */
export interface AccountView {
  id: number;
  name: string;
  address: string;
  displayName: string;
  source: "env" | "db";
  enabled: boolean;
  imapHost: string;
  imapPort: number;
  /** TLS from the first byte, STARTTLS required, or plain (loopback only). */
  imapTls: TlsMode;
  imapUser: string;
  mailboxes: string[];
  /** What is done on the server to a message once processed (src/domain/after_processing.ts). */
  afterProcessing: AfterProcessing;
  /** The folder processed mail moves to, for `move`. */
  afterFolder: string | null;
  /** The most IMAP connections Carteiro may hold to it; null: the provider's default. */
  imapConnectionCap: number | null;
  /** A larger message is stored with its headers only (src/domain/message_size.ts). */
  maxMessageBytes: number;
  imapPasswordSet: boolean;
  smtpHost: string | null;
  smtpPort: number | null;
  /** As `imapTls`; null without SMTP. */
  smtpTls: TlsMode | null;
  smtpUser: string | null;
  smtpPasswordSet: boolean;
  connectedAt: Date;
  lastSyncAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Collections that failed in a row (0 after a success). */
  consecutiveFailures: number;
  /** Sent replies are copied to the account's Sent mailbox (unless the server files them). */
  copyToSent: boolean;
  messages: number;
  /** The send budget a person set; null: the provider's default. */
  sendBudget: SendBudget | null;
  /** What the SMTP server said when it refused the account's login; null while sending works. */
  smtpAuthFailure: string | null;
  smtpAuthFailureAt: Date | null;
  /** A password, or an OAuth2 token from `oauthProvider` signed in as `oauthIdentity`. */
  authKind: "password" | "oauth";
  oauthProvider: string | null;
  oauthIdentity: string | null;
  /** The provider refused the grant: a person must reconnect the account. */
  reauthorizationNeeded: boolean;
  reauthorizationReason: string | null;
}

/**
 * The settings a person edits. Passwords arrive encrypted; null leaves the stored one. Without
 * an after-processing setting, the mail is left as it is (`keep`).
 */
export interface AccountInput
  extends
    Partial<Pick<AccountView, "afterProcessing" | "afterFolder">>,
    Pick<
      AccountView,
      | "name"
      | "address"
      | "displayName"
      | "enabled"
      | "imapHost"
      | "imapPort"
      | "imapTls"
      | "imapUser"
      | "mailboxes"
      | "smtpHost"
      | "smtpPort"
      | "smtpTls"
      | "smtpUser"
      | "copyToSent"
    > {
  imapPassEnc: string | null;
  smtpPassEnc: string | null;
  /** The cap on IMAP connections; null or absent: the provider's default. */
  imapConnectionCap?: number | null;
  /** The largest message collected whole; absent: the default (src/domain/message_size.ts). */
  maxMessageBytes?: number;
}

/** The columns of `AccountView`, in its order (read back with `camelRow`). */
const VIEW = `a.id, a.name, a.address, COALESCE(a.display_name, '') AS display_name, a.source,
  a.enabled, a.imap_host, a.imap_port, a.imap_tls, a.imap_user, a.mailboxes, a.after_processing,
  a.after_folder, a.imap_connection_cap, a.max_message_bytes, a.imap_pass_enc IS NOT NULL AS imap_password_set, a.smtp_host, a.smtp_port, a.smtp_tls,
  a.smtp_user, a.smtp_pass_enc IS NOT NULL AS smtp_password_set, a.connected_at, a.last_sync_at,
  a.last_error, a.last_error_at, a.consecutive_failures, a.copy_to_sent,
  (SELECT count(*)::int FROM messages m WHERE m.account_id = a.id) AS messages, a.send_budget,
  a.smtp_auth_failure, a.smtp_auth_failure_at, a.auth_kind, a.oauth_provider, a.oauth_identity,
  a.reauthorization_needed, a.reauthorization_reason`;

function viewOf(r: Record<string, unknown>): AccountView {
  return { ...camelRow<AccountView>(r), sendBudget: readBudget(r.send_budget) };
}

/** Every account with its health, in id order. */
export async function listAccountViews(q: Queryable): Promise<AccountView[]> {
  return (await q.query(`SELECT ${VIEW} FROM accounts a ORDER BY a.id`)).map(viewOf);
}

/** One account with its health, or null. */
export async function getAccountView(q: Queryable, id: number): Promise<AccountView | null> {
  const [r] = await q.query(`SELECT ${VIEW} FROM accounts a WHERE a.id = $1`, [id]);
  return r ? viewOf(r) : null;
}

/**
 * Adds an account whose credentials are stored (source 'db'). Mail it received before now is
 * history (connected_at). Fails on a duplicate name.
 */
export async function createAccount(q: Queryable, a: AccountInput, at: Date): Promise<number> {
  const [r] = await q.query<{ id: number }>(
    `INSERT INTO accounts (name, address, display_name, enabled, imap_host, imap_port, imap_tls,
       imap_user, mailboxes, smtp_host, smtp_port, smtp_tls, smtp_user, copy_to_sent,
       after_processing, after_folder, imap_pass_enc, smtp_pass_enc, imap_connection_cap, source,
       connected_at, created_at, max_message_bytes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16, $17,
       $18, $19::int, 'db', $20::timestamptz, $20::timestamptz, $21::int)
     RETURNING id`,
    [
      ...inputParams(a),
      a.imapPassEnc,
      a.smtpPassEnc,
      a.imapConnectionCap ?? null,
      at.toISOString(),
      a.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    ],
  );
  return r.id;
}

/**
 * Updates a stored account's settings. A null password keeps the stored one only while its
 * endpoint (host, port, TLS, user) stays the same: a password is bound to the server it was saved
 * for, so moving any of the four without a new password clears it, in this one statement, whoever
 * the caller. Accounts from the environment are not edited here (their settings come from it).
 * Returns false when there is no such 'db' account.
 */
export async function updateAccount(q: Queryable, id: number, a: AccountInput): Promise<boolean> {
  // In SET, the columns on the right are the row's values before the update.
  const rows = await q.query(
    `UPDATE accounts SET name = $1, address = $2, display_name = $3, enabled = $4,
       imap_host = $5, imap_port = $6, imap_tls = $7, imap_user = $8, mailboxes = $9::jsonb,
       smtp_host = $10, smtp_port = $11, smtp_tls = $12, smtp_user = $13, copy_to_sent = $14,
       after_processing = $15, after_folder = $16,
       imap_pass_enc = CASE
         WHEN $17::text IS NOT NULL THEN $17::text
         WHEN (imap_host, imap_port, imap_tls, imap_user)
           IS DISTINCT FROM ($5::text, $6::int, $7::text, $8::text) THEN NULL
         ELSE imap_pass_enc END,
       smtp_pass_enc = CASE
         WHEN $18::text IS NOT NULL THEN $18::text
         WHEN (smtp_host, smtp_port, smtp_tls, smtp_user)
           IS DISTINCT FROM ($10::text, $11::int, $12::text, $13::text) THEN NULL
         ELSE smtp_pass_enc END,
       imap_connection_cap = $19::int, max_message_bytes = COALESCE($21::int, max_message_bytes)
     WHERE id = $20 AND source = 'db'
     RETURNING 1 AS ok`,
    [
      ...inputParams(a),
      a.imapPassEnc,
      a.smtpPassEnc,
      a.imapConnectionCap ?? null,
      id,
      a.maxMessageBytes ?? null,
    ],
  );
  return rows.length > 0;
}

/** Sets the account's after-processing setting alone (src/actions/accounts.ts). */
export async function setAccountAfterProcessing(
  q: Queryable,
  id: number,
  mode: AfterProcessing,
  folder: string | null,
): Promise<void> {
  await q.query(
    "UPDATE accounts SET after_processing = $2, after_folder = $3 WHERE id = $1",
    [id, mode, folder],
  );
}

/** Sets whether account `id` is collected and sends; false when there is no such account. */
export async function setAccountEnabled(q: Queryable, id: number, enabled: boolean) {
  const rows = await q.query("UPDATE accounts SET enabled = $2 WHERE id = $1 RETURNING 1 AS ok", [
    id,
    enabled,
  ]);
  return rows.length > 0;
}

/** What deleting an account did: its messages erased or kept, and replies cancelled unsent. */
export interface AccountRemoval {
  messages: number;
  repliesCancelled: number;
}

/**
 * Deletes account `id` and the rows that belong to it alone (mailbox state, leases, health, limits:
 * their foreign keys cascade). Its replies not yet sent (pending, retry, sending, unknown) are
 * cancelled first, so no sender takes them. `erase` deletes its messages, their decisions and its
 * outbox rows; `keep` leaves the messages and outbox rows detached (account_id NULL).
 */
export async function deleteAccount(
  q: Queryable,
  id: number,
  messages: "erase" | "keep",
  at: Date,
): Promise<AccountRemoval> {
  const cancelled = await q.query(
    `UPDATE outbox SET status = 'cancelled', claim_token = NULL, lease_until = NULL,
       updated_at = $2::timestamptz
     WHERE account_id = $1 AND status IN ('pending', 'retry', 'sending', 'unknown')
     RETURNING id`,
    [id, at.toISOString()],
  );
  const [{ n }] = await q.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM messages WHERE account_id = $1",
    [id],
  );
  if (messages === "erase") {
    await q.query("DELETE FROM outbox WHERE account_id = $1", [id]);
    // Decisions cascade with their message; audit rows keep their text, their link is cleared.
    await q.query("DELETE FROM messages WHERE account_id = $1", [id]);
  } else {
    await q.query("UPDATE outbox SET account_id = NULL WHERE account_id = $1", [id]);
    await q.query("UPDATE messages SET account_id = NULL WHERE account_id = $1", [id]);
  }
  await q.query("DELETE FROM accounts WHERE id = $1", [id]);
  return { messages: n, repliesCancelled: cancelled.length };
}

function inputParams(a: AccountInput): unknown[] {
  return [
    a.name,
    a.address,
    a.displayName,
    a.enabled,
    a.imapHost,
    a.imapPort,
    a.imapTls,
    a.imapUser,
    JSON.stringify(a.mailboxes),
    a.smtpHost,
    a.smtpPort,
    a.smtpTls,
    a.smtpUser,
    a.copyToSent,
    a.afterProcessing ?? "keep",
    a.afterFolder ?? null,
  ];
}

/** Where a password may be sent: the endpoint it was saved for. */
export interface Endpoint {
  host: string;
  port: number;
  tls: TlsMode;
  user: string | null;
}

/**
 * The encrypted passwords of an account, for the code that decrypts them to connect, with the
 * endpoints they belong to, read in the same statement: connect there and nowhere else, so an
 * edit between two reads can't send a password to a server it was not saved for.
 */
export async function getAccountSecrets(
  q: Queryable,
  id: number,
): Promise<
  {
    imapPassEnc: string | null;
    smtpPassEnc: string | null;
    imap: Endpoint;
    smtp: Endpoint | null;
    authKind: "password" | "oauth";
    oauthProvider: string | null;
  } | null
> {
  const [r] = await q.query(
    `SELECT imap_pass_enc, smtp_pass_enc, imap_host, imap_port, imap_tls, imap_user, smtp_host,
       smtp_port, smtp_tls, smtp_user, auth_kind, oauth_provider
     FROM accounts WHERE id = $1`,
    [id],
  );
  if (!r) return null;
  return {
    authKind: r.auth_kind as "password" | "oauth",
    oauthProvider: (r.oauth_provider as string | null) ?? null,
    imapPassEnc: (r.imap_pass_enc as string | null) ?? null,
    smtpPassEnc: (r.smtp_pass_enc as string | null) ?? null,
    imap: {
      host: r.imap_host as string,
      port: r.imap_port as number,
      tls: r.imap_tls as TlsMode,
      user: r.imap_user as string,
    },
    smtp: r.smtp_host && r.smtp_port
      ? {
        host: r.smtp_host as string,
        port: r.smtp_port as number,
        tls: (r.smtp_tls as TlsMode | null) ?? "starttls",
        user: (r.smtp_user as string | null) ?? null,
      }
      : null,
  };
}
