/**
 * OAuth accounts in SQL: authorizations under way (state → PKCE verifier), accounts connected
 * with a provider, their tokens (encrypted by the caller) and the `reauthorization_needed` state.
 */
import type { Queryable } from "./db.ts";
import type { TlsMode } from "../domain/tls_mode.ts";

/** How long an authorization may take from the redirect to the callback. */
const PENDING_MS = 15 * 60_000;

export interface PendingAuthorization {
  provider: string;
  accountId: number | null;
  userId: number | null;
  codeVerifierEnc: string;
}

export async function insertPending(
  q: Queryable,
  stateHash: string,
  p: PendingAuthorization,
  at: Date,
): Promise<void> {
  // Old ones that were never finished go now.
  await q.query(`DELETE FROM oauth_pending WHERE created_at < $1::timestamptz`, [
    new Date(at.getTime() - PENDING_MS).toISOString(),
  ]);
  await q.query(
    `INSERT INTO oauth_pending (state_hash, provider, account_id, user_id, code_verifier_enc,
       created_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz)`,
    [stateHash, p.provider, p.accountId, p.userId, p.codeVerifierEnc, at.toISOString()],
  );
}

/** Takes (deletes) the authorization of this state: each is used once, and only while fresh. */
export async function takePending(
  q: Queryable,
  stateHash: string,
  at: Date,
): Promise<PendingAuthorization | null> {
  const [r] = await q.query(
    `DELETE FROM oauth_pending WHERE state_hash = $1
     RETURNING provider, account_id, user_id, code_verifier_enc, created_at`,
    [stateHash],
  );
  if (!r) return null;
  if (new Date(r.created_at as string).getTime() < at.getTime() - PENDING_MS) return null;
  return {
    provider: r.provider as string,
    accountId: (r.account_id as number | null) ?? null,
    userId: (r.user_id as number | null) ?? null,
    codeVerifierEnc: r.code_verifier_enc as string,
  };
}

/** A new account connected with a provider, or its servers and tokens after a new sign-in. */
export interface OAuthAccountInput {
  name: string;
  address: string;
  provider: string;
  identity: string;
  imap: { host: string; port: number; tls: TlsMode; user: string };
  smtp: { host: string; port: number; tls: TlsMode; user: string };
  refreshEnc: string;
  accessEnc: string;
  accessExpiresAt: Date;
}

export async function createOAuthAccount(
  q: Queryable,
  a: OAuthAccountInput,
  at: Date,
): Promise<number> {
  const [r] = await q.query<{ id: number }>(
    `INSERT INTO accounts (name, address, enabled, imap_host, imap_port, imap_tls, imap_user,
       mailboxes, smtp_host, smtp_port, smtp_tls, smtp_user, source, auth_kind, oauth_provider,
       oauth_identity, oauth_refresh_enc, oauth_access_enc, oauth_access_expires_at,
       connected_at, created_at)
     VALUES ($1, $2, true, $3, $4, $5, $6, '["INBOX"]'::jsonb, $7, $8, $9, $10, 'db', 'oauth',
       $11, $12, $13, $14, $15::timestamptz, $16::timestamptz, $16::timestamptz)
     RETURNING id`,
    [
      a.name,
      a.address,
      a.imap.host,
      a.imap.port,
      a.imap.tls,
      a.imap.user,
      a.smtp.host,
      a.smtp.port,
      a.smtp.tls,
      a.smtp.user,
      a.provider,
      a.identity,
      a.refreshEnc,
      a.accessEnc,
      a.accessExpiresAt.toISOString(),
      at.toISOString(),
    ],
  );
  return r.id;
}

/**
 * New tokens for an account signed in again (Reconnect): the state is cleared, the account is
 * collected and sends again. The IMAP login name is kept (a shared mailbox's).
 */
export async function reconnectOAuthAccount(
  q: Queryable,
  id: number,
  t: { provider: string; identity: string; refreshEnc: string; accessEnc: string; expiresAt: Date },
): Promise<void> {
  await q.query(
    `UPDATE accounts SET auth_kind = 'oauth', oauth_provider = $2, oauth_identity = $3,
       smtp_user = $3, oauth_refresh_enc = $4, oauth_access_enc = $5,
       oauth_access_expires_at = $6::timestamptz, reauthorization_needed = false,
       reauthorization_reason = NULL, reauthorization_at = NULL, imap_pass_enc = NULL,
       smtp_pass_enc = NULL
     WHERE id = $1`,
    [id, t.provider, t.identity, t.refreshEnc, t.accessEnc, t.expiresAt.toISOString()],
  );
}

/** An OAuth account's tokens, as stored (encrypted). */
export interface StoredTokens {
  provider: string;
  identity: string;
  refreshEnc: string | null;
  accessEnc: string | null;
  accessExpiresAt: Date | null;
  reauthorizationNeeded: boolean;
}

/**
 * The account's tokens, the row locked until the transaction ends: two instances never refresh
 * one account at the same time (a rotated refresh token would be lost). Null: not an OAuth account.
 */
export async function lockTokens(q: Queryable, id: number): Promise<StoredTokens | null> {
  const [r] = await q.query(
    `SELECT oauth_provider, oauth_identity, oauth_refresh_enc, oauth_access_enc,
       oauth_access_expires_at, reauthorization_needed
     FROM accounts WHERE id = $1 AND auth_kind = 'oauth' FOR UPDATE`,
    [id],
  );
  if (!r) return null;
  return {
    provider: r.oauth_provider as string,
    identity: (r.oauth_identity as string | null) ?? "",
    refreshEnc: (r.oauth_refresh_enc as string | null) ?? null,
    accessEnc: (r.oauth_access_enc as string | null) ?? null,
    accessExpiresAt: r.oauth_access_expires_at
      ? new Date(r.oauth_access_expires_at as string)
      : null,
    reauthorizationNeeded: r.reauthorization_needed as boolean,
  };
}

/** Saves a refreshed access token (and the rotated refresh token, when one came). */
export async function saveTokens(
  q: Queryable,
  id: number,
  t: { accessEnc: string; expiresAt: Date; refreshEnc: string | null },
): Promise<void> {
  await q.query(
    `UPDATE accounts SET oauth_access_enc = $2, oauth_access_expires_at = $3::timestamptz,
       oauth_refresh_enc = COALESCE($4, oauth_refresh_enc)
     WHERE id = $1`,
    [id, t.accessEnc, t.expiresAt.toISOString(), t.refreshEnc],
  );
}

/** The provider refused the grant: the account waits for a person to connect it again. */
export async function markReauthorizationNeeded(
  q: Queryable,
  id: number,
  reason: string,
  at: Date,
): Promise<void> {
  await q.query(
    `UPDATE accounts SET reauthorization_needed = true, reauthorization_reason = $2,
       reauthorization_at = $3::timestamptz, oauth_access_enc = NULL,
       oauth_access_expires_at = NULL
     WHERE id = $1`,
    [id, reason, at.toISOString()],
  );
}
