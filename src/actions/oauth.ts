/**
 * Connecting accounts with an OAuth2 provider, and keeping their access tokens fresh: starting a
 * sign-in (state and PKCE verifier saved, the verifier encrypted), finishing it at the callback
 * (a new account, or Reconnect), and refreshing a token, where a refused grant puts the account in
 * `reauthorization_needed`. Each change and its audit event in one transaction.
 */
import { recordEvent } from "../store/audit.ts";
import { getAccountView } from "../store/accounts_admin.ts";
import {
  createOAuthAccount,
  insertPending,
  lockTokens,
  markReauthorizationNeeded,
  reconnectOAuthAccount,
  saveTokens,
  takePending,
} from "../store/oauth_accounts.ts";
import type { SecretBox } from "../auth/secret_box.ts";
import { GrantRefusedError, type OAuthClient } from "../auth/oauth_client.ts";
import type { OAuthProviderId } from "../config.ts";
import { sha256Hex } from "../domain/sha256.ts";
import { type AccessToken, ReauthorizationNeededError } from "../mail/account_access.ts";
import { type ActionDeps, done, problem, type Result, transact } from "./result.ts";

export interface OAuthDeps extends ActionDeps {
  box: SecretBox;
  client: OAuthClient;
  /** A random secret (state, PKCE verifier): 32 bytes, base64url. */
  randomSecret?: () => string;
  /**
   * A stored access token this close to its expiry is refreshed before use (default 60 s), and
   * handed out as expiring this much early, so a login never carries a token about to die.
   */
  refreshMarginMs?: number;
}

const randomSecret = () =>
  crypto.getRandomValues(new Uint8Array(32)).toBase64({ alphabet: "base64url", omitPadding: true });

/**
 * The provider's sign-in URL for a new account (`accountId` null) or to reconnect account
 * `accountId` (with that account's provider, whatever `providerId` says).
 */
export async function startOAuth(
  deps: OAuthDeps,
  providerId: string,
  accountId: number | null,
  userId: number | null,
): Promise<Result<URL>> {
  let id = providerId;
  if (accountId !== null) {
    const [a] = await deps.db.query<{ oauth_provider: string | null }>(
      `SELECT oauth_provider FROM accounts WHERE id = $1 AND auth_kind = 'oauth'`,
      [accountId],
    );
    if (!a?.oauth_provider) return problem("not_found", "no such OAuth account");
    id = a.oauth_provider;
  }
  if (!deps.client.provider(id)) {
    return problem("invalid", `OAuth provider ${id} is not configured`);
  }
  const secret = deps.randomSecret ?? randomSecret;
  const state = secret();
  const verifier = secret();
  let verifierEnc: string;
  try {
    verifierEnc = await deps.box.encrypt("oauth_verifier", verifier);
  } catch (e) {
    return problem("invalid", e instanceof Error ? e.message : String(e));
  }
  // The provider's metadata first: an unreachable provider leaves nothing pending behind.
  const url = await deps.client.authorizationUrl(id as OAuthProviderId, state, verifier);
  await insertPending(deps.db, sha256Hex(state), {
    provider: id,
    accountId,
    userId,
    codeVerifierEnc: verifierEnc,
  }, deps.now());
  return done(url);
}

/**
 * Finishes a sign-in at the callback: the state must be one this installation issued to this
 * user, unused and fresh. A new account takes its address from the signed-in identity; a
 * reconnected account must be signed in by the same identity.
 */
export async function finishOAuth(
  deps: OAuthDeps,
  callback: URL,
  userId: number | null,
  by: string,
): Promise<Result<{ accountId: number; reconnected: boolean }>> {
  const state = callback.searchParams.get("state");
  const pending = state ? await takePending(deps.db, sha256Hex(state), deps.now()) : null;
  if (!state || !pending || pending.userId !== userId) {
    return problem(
      "invalid",
      "this sign-in is unknown, expired or already used: start it again from the accounts page",
    );
  }
  const provider = deps.client.provider(pending.provider);
  if (!provider) return problem("invalid", `OAuth provider ${pending.provider} is not configured`);
  let tokens;
  try {
    const verifier = await deps.box.decrypt("oauth_verifier", pending.codeVerifierEnc);
    tokens = await deps.client.finish(provider.id, callback, state, verifier, deps.now());
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return problem("invalid", `the sign-in at ${provider.issuer} did not complete: ${message}`);
  }
  const refreshEnc = await deps.box.encrypt("oauth_refresh", tokens.refreshToken);
  const accessEnc = await deps.box.encrypt("oauth_access", tokens.accessToken);
  const identity = tokens.identity;
  return await transact<{ accountId: number; reconnected: boolean }>(deps.db, async (tx) => {
    const at = deps.now();
    if (pending.accountId !== null) {
      const [a] = await tx.query<{ oauth_identity: string | null }>(
        `SELECT oauth_identity FROM accounts WHERE id = $1 FOR UPDATE`,
        [pending.accountId],
      );
      if (!a) return problem("not_found", "the account was deleted during the sign-in");
      if (a.oauth_identity && a.oauth_identity !== identity) {
        return problem(
          "invalid",
          `signed in as ${identity}, but this account is connected as ${a.oauth_identity}: ` +
            "sign in with that user",
        );
      }
      await reconnectOAuthAccount(tx, pending.accountId, {
        provider: provider.id,
        identity,
        refreshEnc,
        accessEnc,
        expiresAt: tokens.expiresAt,
      });
      await recordEvent(tx, {
        event: "oauth_reconnected",
        at,
        accountId: pending.accountId,
        detail: { provider: provider.id, identity, by },
      });
      return done({ accountId: pending.accountId, reconnected: true });
    }
    const id = await createOAuthAccount(tx, {
      name: identity,
      address: identity,
      provider: provider.id,
      identity,
      imap: {
        host: provider.imap.host,
        port: provider.imap.port,
        tls: provider.imap.security,
        user: identity,
      },
      smtp: {
        host: provider.smtp.host,
        port: provider.smtp.port,
        tls: provider.smtp.security,
        user: identity,
      },
      refreshEnc,
      accessEnc,
      accessExpiresAt: tokens.expiresAt,
    }, at);
    await recordEvent(tx, {
      event: "oauth_connected",
      at,
      accountId: id,
      detail: { provider: provider.id, identity, name: identity, by },
    });
    return done({ accountId: id, reconnected: false });
  }, `an account named ${identity} exists already: use its Reconnect button`);
}

/**
 * A valid access token of OAuth account `accountId`: the stored one while it has more than the
 * margin left, else (or with `force`) a refreshed one, saved with the rotated refresh token. The
 * account's row is locked meanwhile, so instances never refresh it twice at once. A refused
 * refresh sets `reauthorization_needed` with its audit event, and from then on every call is
 * refused at once, without asking the provider, until a person reconnects the account.
 */
export async function oauthAccessToken(
  deps: OAuthDeps,
  accountId: number,
  force: boolean,
): Promise<AccessToken> {
  const margin = deps.refreshMarginMs ?? 60_000;
  const outcome = await deps.db.transaction<{ token: AccessToken } | { refused: string }>(
    async (tx) => {
      const t = await lockTokens(tx, accountId);
      if (!t) throw new Error(`account ${accountId} is not connected with OAuth`);
      if (t.reauthorizationNeeded) return { refused: "the provider refused its grant before" };
      const now = deps.now();
      const left = (t.accessExpiresAt?.getTime() ?? 0) - now.getTime();
      if (!force && t.accessEnc && left > margin) {
        const accessToken = await deps.box.decrypt("oauth_access", t.accessEnc);
        return {
          token: { accessToken, expiresAt: new Date(t.accessExpiresAt!.getTime() - margin) },
        };
      }
      if (!t.refreshEnc) return { refused: "no refresh token is stored" };
      const refreshToken = await deps.box.decrypt("oauth_refresh", t.refreshEnc);
      try {
        const fresh = await deps.client.refresh(t.provider as OAuthProviderId, refreshToken, now);
        await saveTokens(tx, accountId, {
          accessEnc: await deps.box.encrypt("oauth_access", fresh.accessToken),
          expiresAt: fresh.expiresAt,
          refreshEnc: fresh.refreshToken
            ? await deps.box.encrypt("oauth_refresh", fresh.refreshToken)
            : null,
        });
        return {
          token: {
            accessToken: fresh.accessToken,
            expiresAt: new Date(fresh.expiresAt.getTime() - margin),
          },
        };
      } catch (e) {
        if (!(e instanceof GrantRefusedError)) throw e;
        await markReauthorizationNeeded(tx, accountId, e.message, now);
        await recordEvent(tx, {
          event: "oauth_refresh_refused",
          at: now,
          accountId,
          detail: { provider: t.provider, error: e.message },
        });
        return { refused: e.message };
      }
    },
  );
  if ("token" in outcome) return outcome.token;
  const view = await getAccountView(deps.db, accountId);
  throw new ReauthorizationNeededError(
    `account ${view?.name ?? accountId} needs to be reconnected (${outcome.refused}): ` +
      "use Reconnect on the accounts page",
  );
}
