/**
 * A real OpenID Connect / OAuth2 authorization server on loopback for the tests: `oidc-provider`
 * (a certified implementation) on the fixed port where the test Dovecot introspects tokens
 * (scripts/mailstack.sh, `OIDC_PORT`). It has two clients: "carteiro" (authorization code with
 * PKCE, refresh tokens, the redirect URIs the test gives) and "dovecot" (introspection only). Any
 * login name is accepted by its development login page with any password, then a consent page;
 * the login name, lower-cased, is the account's `sub` and `email`, and so its Dovecot user.
 *
 * One server at a time holds the port: `startOidcServer` waits for it to be free (another test
 * file's server), with a generous ceiling.
 */
import Provider from "oidc-provider";
import { createServer, type Server } from "node:http";
import { OIDC_PORT } from "./mailstack.ts";

export const OIDC_ISSUER = `http://127.0.0.1:${OIDC_PORT}`;
export const OIDC_CLIENT = { id: "carteiro", secret: "carteiro-test-secret" } as const;

export interface OidcServer {
  issuer: string;
  /** Seconds an access token issued from now on lives (default 3600). */
  setAccessTokenTtl(seconds: number): void;
  /**
   * Signs `login` in without a browser: runs the authorization request at `authorizationUrl`
   * through the development login and consent pages and returns the redirect (code and state).
   */
  authorize(authorizationUrl: string, login: string): Promise<URL>;
  /** Revokes every grant of `login` (consent withdrawn): its refresh and access tokens die. */
  revokeGrants(login: string): Promise<void>;
  /**
   * Ends one access token before its time (as a provider may): introspection calls it inactive,
   * while the grant and its refresh token live on.
   */
  revokeAccessToken(token: string): Promise<void>;
  /** Token requests the server answered, by grant type (for "no retry loop" checks). */
  tokenRequests(grantType: string): number;
  close(): Promise<void>;
}

export async function startOidcServer(redirectUris: string[]): Promise<OidcServer> {
  let accessTtl = 3600;
  const grantsByAccount = new Map<string, Set<string>>();
  const counts = new Map<string, number>();
  const provider = new Provider(OIDC_ISSUER, {
    clients: [
      {
        client_id: OIDC_CLIENT.id,
        client_secret: OIDC_CLIENT.secret,
        redirect_uris: redirectUris,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      },
      {
        client_id: "dovecot",
        client_secret: "dovecot-introspection",
        redirect_uris: [],
        grant_types: [],
        response_types: [],
      },
    ],
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: true }),
    }),
    claims: { openid: ["sub"], email: ["email", "email_verified"] },
    scopes: ["openid", "email", "offline_access"],
    features: {
      devInteractions: { enabled: true },
      // Only Dovecot asks what a token is worth.
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx: unknown, client: { clientId: string }) =>
          client.clientId === "dovecot",
      },
      revocation: { enabled: true },
    },
    pkce: { required: () => true },
    issueRefreshToken: () => true,
    // Refresh tokens are rotated on use, as Microsoft's are: the newest must be kept.
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => accessTtl,
      AuthorizationCode: 600,
      Grant: 14 * 86400,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 14 * 86400,
      Session: 86400,
    },
    cookies: { keys: ["carteiro-oidc-test-cookie-key"] },
    // deno-lint-ignore no-explicit-any
  } as any);
  // deno-lint-ignore no-explicit-any
  provider.on("grant.success", (ctx: any) => {
    const t = ctx.oidc?.params?.grant_type as string | undefined;
    if (t) counts.set(t, (counts.get(t) ?? 0) + 1);
  });
  // deno-lint-ignore no-explicit-any
  provider.on("grant.error", (ctx: any) => {
    const t = ctx.oidc?.params?.grant_type as string | undefined;
    if (t) counts.set(t, (counts.get(t) ?? 0) + 1);
  });
  // deno-lint-ignore no-explicit-any
  provider.on("authorization_code.consumed", (code: any) => {
    const set = grantsByAccount.get(code.accountId) ?? new Set<string>();
    set.add(code.grantId);
    grantsByAccount.set(code.accountId, set);
  });

  provider.on("server_error", (_ctx: unknown, e: unknown) => console.error("OIDC server_error", e));
  const server = createServer(provider.callback());
  await listenWhenFree(server);

  return {
    issuer: OIDC_ISSUER,
    setAccessTokenTtl: (s) => accessTtl = s,
    authorize: (url, login) => authorizeWithoutBrowser(url, login.toLowerCase()),
    async revokeGrants(login) {
      for (const grantId of grantsByAccount.get(login.toLowerCase()) ?? []) {
        await provider.Grant.adapter.destroy(grantId);
        // Tokens of the grant go with it (oidc-provider checks the grant on each use).
        for (const model of ["AccessToken", "RefreshToken"] as const) {
          await provider[model].adapter.revokeByGrantId(grantId);
        }
      }
    },
    async revokeAccessToken(token) {
      const found = await provider.AccessToken.find(token);
      if (!found) throw new Error("the provider knows no such access token");
      await found.destroy();
    },
    tokenRequests: (t) => counts.get(t) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function listenWhenFree(server: Server): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(OIDC_PORT, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== "EADDRINUSE" || Date.now() > deadline) {
        throw new Error(
          `the test OpenID provider could not listen on 127.0.0.1:${OIDC_PORT}, where the test ` +
            "Dovecot introspects tokens",
          { cause: e },
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * The development login and consent pages, driven by plain HTTP with the cookies they set: what a
 * browser does, for tests that are not about the browser.
 */
async function authorizeWithoutBrowser(authorizationUrl: string, login: string): Promise<URL> {
  const cookies = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
  };
  const header = () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const go = async (url: string, body?: URLSearchParams): Promise<Response> => {
    const res = await fetch(url, {
      method: body ? "POST" : "GET",
      body,
      headers: { cookie: header() },
      redirect: "manual",
    });
    keep(res);
    return res;
  };
  let res = await go(authorizationUrl);
  for (let step = 0; step < 10; step++) {
    const location = res.headers.get("location");
    if (location) {
      const next = new URL(location, OIDC_ISSUER);
      await res.body?.cancel();
      if (next.origin !== OIDC_ISSUER) return next;
      res = await go(next.href);
      continue;
    }
    const html = await res.text();
    const action = html.match(/<form[^>]*action="([^"]+)"/)?.[1];
    if (!action) throw new Error(`the provider's page has no form (HTTP ${res.status}): ${html}`);
    const form = new URLSearchParams();
    for (const [input] of html.matchAll(/<input[^>]*>/g)) {
      const name = input.match(/name="([^"]*)"/)?.[1];
      if (name) form.set(name, input.match(/value="([^"]*)"/)?.[1] ?? "");
    }
    if (form.has("login")) form.set("login", login);
    if (form.has("password")) form.set("password", "any");
    res = await go(new URL(action, OIDC_ISSUER).href, form);
  }
  throw new Error("the authorization did not come back to the client after 10 steps");
}
