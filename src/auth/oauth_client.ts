/**
 * OAuth2 / OpenID Connect with the account's provider, through `oauth4webapi` (a maintained,
 * certified client; nothing hand-written): discovery, the authorization URL with PKCE (RFC 7636)
 * and `state`, the code exchange at the callback, the signed-in identity (the ID token's `email`,
 * else the UserInfo endpoint's), and refreshing an access token. Discovery answers are kept in the
 * client made once at start-up, never in module state.
 */
import * as oauth from "oauth4webapi";
import {
  OAUTH_CALLBACK_PATH,
  type OAuthProviderId,
  type OAuthProviderSettings,
  type OAuthSettings,
} from "../config.ts";
import { isLoopbackHost } from "../domain/private_address.ts";

/** Tokens from the provider: the access token, when it expires, and a new refresh token if any. */
export interface TokenSet {
  accessToken: string;
  expiresAt: Date;
  /** Providers that rotate refresh tokens (Microsoft) send a new one: keep it. */
  refreshToken: string | null;
}

/** The provider refused the refresh token (`invalid_grant`: revoked, expired, consent withdrawn). */
export class GrantRefusedError extends Error {
  readonly error: string;
  constructor(error: string, description: string | undefined, options?: ErrorOptions) {
    super(
      `the provider refused the refresh token: ${error}${description ? ` (${description})` : ""}`,
      options,
    );
    this.name = "GrantRefusedError";
    this.error = error;
  }
}

export interface OAuthClient {
  /** The providers configured, in the order of the settings. */
  providers(): OAuthProviderSettings[];
  provider(id: string): OAuthProviderSettings | null;
  /** Where the provider sends people back: PUBLIC_URL + the callback path. */
  redirectUri(): string;
  /** The URL that starts the sign-in at `provider`, bound to `state` and the PKCE verifier. */
  authorizationUrl(id: OAuthProviderId, state: string, codeVerifier: string): Promise<URL>;
  /**
   * Checks the callback (`state`, errors), exchanges the code with the PKCE verifier and returns
   * the tokens and the address that signed in.
   */
  finish(
    id: OAuthProviderId,
    callback: URL,
    state: string,
    codeVerifier: string,
    now: Date,
  ): Promise<TokenSet & { refreshToken: string; identity: string }>;
  /** A new access token from the refresh token; rejects with `GrantRefusedError` when refused. */
  refresh(id: OAuthProviderId, refreshToken: string, now: Date): Promise<TokenSet>;
}

/** Made once (src/services.ts) from the settings. */
export function createOAuthClient(settings: OAuthSettings): OAuthClient {
  const discovered = new Map<string, Promise<oauth.AuthorizationServer>>();
  const find = (id: string) => settings.providers.find((p) => p.id === id) ?? null;
  const need = (id: string) => {
    const p = find(id);
    if (!p) throw new Error(`OAuth provider ${id} is not configured`);
    return p;
  };
  const server = (p: OAuthProviderSettings) => {
    let as = discovered.get(p.id);
    if (!as) {
      as = discover(p);
      // A failed discovery is tried again next time.
      as.catch(() => discovered.delete(p.id));
      discovered.set(p.id, as);
    }
    return as;
  };
  const redirectUri = () => `${settings.publicUrl ?? ""}${OAUTH_CALLBACK_PATH}`;
  const client = (p: OAuthProviderSettings): oauth.Client => ({ client_id: p.clientId });
  const auth = (p: OAuthProviderSettings) =>
    p.clientSecret ? oauth.ClientSecretPost(p.clientSecret) : oauth.None();

  return {
    providers: () => settings.providers,
    provider: find,
    redirectUri,
    async authorizationUrl(id, state, codeVerifier) {
      const p = need(id);
      const as = await server(p);
      if (!as.authorization_endpoint) throw new Error(`${p.issuer} has no authorization endpoint`);
      const url = new URL(as.authorization_endpoint);
      const q = url.searchParams;
      q.set("client_id", p.clientId);
      q.set("redirect_uri", redirectUri());
      q.set("response_type", "code");
      q.set("scope", p.scopes.join(" "));
      q.set("state", state);
      q.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
      q.set("code_challenge_method", "S256");
      // A refresh token is given only with consent (OpenID Connect Core §11; Google's
      // access_type=offline).
      q.set("prompt", "consent");
      if (p.id === "google") q.set("access_type", "offline");
      return url;
    },
    async finish(id, callback, state, codeVerifier, now) {
      const p = need(id);
      const as = await server(p);
      const params = oauth.validateAuthResponse(as, client(p), callback, state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client(p),
        auth(p),
        params,
        redirectUri(),
        codeVerifier,
        options(p),
      );
      const tokens = await oauth.processAuthorizationCodeResponse(as, client(p), response);
      if (!tokens.refresh_token) {
        throw new Error(
          `${p.issuer} gave no refresh token: check the app's scopes (offline access) and consent`,
        );
      }
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      let identity = typeof claims?.email === "string" ? claims.email : null;
      // Microsoft names the signed-in user in preferred_username when email is absent.
      if (!identity && typeof claims?.preferred_username === "string") {
        identity = claims.preferred_username.includes("@") ? claims.preferred_username : null;
      }
      if (!identity && as.userinfo_endpoint) {
        const info = await oauth.processUserInfoResponse(
          as,
          client(p),
          claims?.sub ?? oauth.skipSubjectCheck,
          await oauth.userInfoRequest(as, client(p), tokens.access_token, options(p)),
        );
        identity = typeof info.email === "string" ? info.email : null;
      }
      if (!identity) throw new Error(`${p.issuer} did not say which address signed in`);
      return {
        ...tokenSet(tokens, now),
        refreshToken: tokens.refresh_token,
        identity: identity.toLowerCase(),
      };
    },
    async refresh(id, refreshToken, now) {
      const p = need(id);
      const as = await server(p);
      const response = await oauth.refreshTokenGrantRequest(
        as,
        client(p),
        auth(p),
        refreshToken,
        options(p),
      );
      try {
        return tokenSet(await oauth.processRefreshTokenResponse(as, client(p), response), now);
      } catch (e) {
        // RFC 6749 §5.2: invalid_grant is the refresh token's own end; anything else (a server
        // error, a network failure) may pass and is tried again later.
        if (e instanceof oauth.ResponseBodyError && e.error === "invalid_grant") {
          throw new GrantRefusedError(e.error, e.error_description, { cause: e });
        }
        throw e;
      }
    },
  };
}

function tokenSet(t: oauth.TokenEndpointResponse, now: Date): TokenSet {
  // Without expires_in, an hour: the usual life, and a failed login refreshes it anyway.
  const seconds = typeof t.expires_in === "number" ? t.expires_in : 3600;
  return {
    accessToken: t.access_token,
    expiresAt: new Date(now.getTime() + seconds * 1000),
    refreshToken: t.refresh_token ?? null,
  };
}

/** Plain HTTP only to an issuer on this machine (the tests' provider). */
function options(p: OAuthProviderSettings) {
  const url = new URL(p.issuer);
  return url.protocol === "http:" && isLoopbackHost(url.hostname)
    ? { [oauth.allowInsecureRequests]: true }
    : {};
}

async function discover(p: OAuthProviderSettings): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(p.issuer);
  const response = await oauth.discoveryRequest(issuer, options(p));
  if (p.id !== "microsoft" || !/\/(common|organizations|consumers)\//.test(issuer.pathname)) {
    return await oauth.processDiscoveryResponse(issuer, response);
  }
  // Microsoft's multi-tenant metadata names the issuer `…/{tenantid}/v2.0`: each ID token's issuer
  // is its own tenant's, checked against that template with the token's `tid`.
  // oauth4webapi's two hooks for this, exported without types (openid-client uses them likewise).
  const hooks = oauth as unknown as { _nodiscoverycheck: URL; _expectedIssuer: symbol };
  const as = await oauth.processDiscoveryResponse(hooks._nodiscoverycheck, response);
  return {
    ...as,
    [hooks._expectedIssuer]: (result: { claims: Record<string, unknown> }) =>
      as.issuer.replace("{tenantid}", String(result.claims.tid ?? "")),
  } as oauth.AuthorizationServer;
}
