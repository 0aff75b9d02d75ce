import type { Queryable } from "./db.ts";
import type { AfterProcessing } from "../domain/after_processing.ts";
import { camelRow } from "./row.ts";
import type { TlsMode } from "../domain/tls_mode.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../domain/message_size.ts";

/** An account as stored. Secrets are never part of this row. */
export interface AccountRow {
  id: number;
  name: string;
  address: string;
  imapHost: string;
  imapPort: number;
  /** TLS from the first byte, STARTTLS required, or plain (src/domain/tls_mode.ts). */
  imapTls: TlsMode;
  imapUser: string;
  mailboxes: string[];
  source: "env" | "db";
  enabled: boolean;
  connectedAt: Date;
  lastSyncAt: Date | null;
  lastError: string | null;
  /** What is done on the server to a message once processed (src/domain/after_processing.ts). */
  afterProcessing: AfterProcessing;
  /** The folder processed mail moves to, for `move`. */
  afterFolder: string | null;
  /** The most IMAP connections Carteiro may hold to it; null: the provider's default. */
  imapConnectionCap: number | null;
  /** A larger message is stored with its headers only (src/domain/message_size.ts). */
  maxMessageBytes: number;
  /** How it logs in: a password, or an OAuth2 token from `oauthProvider`. */
  authKind: "password" | "oauth";
  oauthProvider: string | null;
  /** The provider refused the grant: not collected, watched or sent from until reconnected. */
  reauthorizationNeeded: boolean;
}

/**
 * The account described by the environment (EMAIL_HOST, EMAIL_USER, …); its after-processing
 * (IMAP_AFTER) is `keep` when not given.
 */
export type EnvAccount =
  & Pick<
    AccountRow,
    "name" | "address" | "imapHost" | "imapPort" | "imapTls" | "imapUser" | "mailboxes"
  >
  & Partial<Pick<AccountRow, "afterProcessing" | "afterFolder">>
  & { imapConnectionCap?: number | null; maxMessageBytes?: number };

/** The columns of `AccountRow`, in its order (read back with `camelRow`). */
const COLUMNS = `id, name, address, imap_host, imap_port, imap_tls, imap_user, mailboxes, source,
  enabled, connected_at, last_sync_at, last_error, after_processing, after_folder,
  imap_connection_cap, max_message_bytes, auth_kind, oauth_provider, reauthorization_needed`;

/**
 * Creates or refreshes the environment's account. Its `connected_at` is set once, on the first
 * start: mail older than that is history, archived and never answered. It is kept to the whole
 * second, the precision of IMAP INTERNALDATE, so mail of that same second still counts as new.
 */
export async function upsertEnvAccount(q: Queryable, a: EnvAccount): Promise<AccountRow> {
  const rows = await q.query(
    `INSERT INTO accounts (name, address, imap_host, imap_port, imap_tls, imap_user, mailboxes, source,
       connected_at, after_processing, after_folder, imap_connection_cap, max_message_bytes)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 'env', date_trunc('second', now()), $8, $9,
       $10::int, $11::int)
     ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, imap_host = EXCLUDED.imap_host,
       imap_port = EXCLUDED.imap_port, imap_tls = EXCLUDED.imap_tls,
       imap_user = EXCLUDED.imap_user, mailboxes = EXCLUDED.mailboxes,
       after_processing = EXCLUDED.after_processing, after_folder = EXCLUDED.after_folder,
       imap_connection_cap = EXCLUDED.imap_connection_cap,
       max_message_bytes = EXCLUDED.max_message_bytes
     RETURNING ${COLUMNS}`,
    [
      a.name,
      a.address,
      a.imapHost,
      a.imapPort,
      a.imapTls,
      a.imapUser,
      JSON.stringify(a.mailboxes),
      a.afterProcessing ?? "keep",
      a.afterFolder ?? null,
      a.imapConnectionCap ?? null,
      a.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    ],
  );
  return camelRow<AccountRow>(rows[0]);
}

/** Every account, enabled or not, in id order. */
export async function listAccounts(q: Queryable): Promise<AccountRow[]> {
  return (await q.query(`SELECT ${COLUMNS} FROM accounts ORDER BY id`)).map(camelRow<AccountRow>);
}

/**
 * Records the outcome of a collection run on the account: a success resets the count of failures
 * in a row, an error adds one. Either way the run is over, so its progress row goes with it.
 * Returns the failures in a row before this outcome (0 when the account is gone).
 */
export async function recordSyncOutcome(
  q: Queryable,
  accountId: number,
  at: Date,
  error: string | null,
): Promise<number> {
  const ended = `WITH ended AS (DELETE FROM collect_progress WHERE account_id = $1),
    old AS (SELECT id, consecutive_failures AS before FROM accounts WHERE id = $1 FOR UPDATE)`;
  const rows = error === null
    ? await q.query<{ before: number }>(
      `${ended} UPDATE accounts a SET last_sync_at = $2::timestamptz, last_error = NULL,
         consecutive_failures = 0 FROM old WHERE a.id = old.id RETURNING old.before`,
      [accountId, at.toISOString()],
    )
    : await q.query<{ before: number }>(
      `${ended} UPDATE accounts a SET last_error = $2, last_error_at = $3::timestamptz,
         consecutive_failures = a.consecutive_failures + 1 FROM old WHERE a.id = old.id
       RETURNING old.before`,
      [accountId, error, at.toISOString()],
    );
  return rows[0]?.before ?? 0;
}
