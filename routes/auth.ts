/**
 * Who may do what: sessions for people (cookie), API tokens for programs (Bearer), and the CSRF
 * check on every state-changing request made with a session, whatever its content type
 * (RELIABILITY I-06: Hono's own `csrf()` only looks at form-like content types).
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps, SecuritySettings } from "./deps.ts";
import { newSecret, sameSecret, secretHash } from "../src/auth/tokens.ts";
import { createSession, findSession } from "../src/store/sessions.ts";
import { findApiToken, markApiTokenUsed } from "../src/store/api_tokens.ts";
import { scopeAllows, scopeNeeded, tokenRefusal } from "../src/domain/token_access.ts";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";

export const CSRF_FIELD = "_csrf";
export const CSRF_HEADER = "X-CSRF-Token";

/** Cookie names: `__Host-` (Secure, Path=/, no Domain) when cookies are secure. */
export function cookieNames(secure: boolean) {
  return secure
    ? {
      session: "__Host-carteiro_session",
      preLogin: "__Host-carteiro_prelogin",
      pending: "__Host-carteiro_pending",
    }
    : { session: "carteiro_session", preLogin: "carteiro_prelogin", pending: "carteiro_pending" };
}

function cookieOptions(secure: boolean, maxAgeSeconds?: number) {
  return {
    path: "/",
    httpOnly: true,
    secure,
    sameSite: "Lax" as const,
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

/** Starts a session for a user: a fresh 256-bit id (never one the client chose) and CSRF token. */
export async function startSession(
  c: Context<AppEnv>,
  deps: AppDeps,
  security: SecuritySettings,
  userId: number,
): Promise<void> {
  const token = newSecret();
  const at = deps.now();
  await createSession(deps.db, {
    tokenHash: await secretHash(token),
    userId,
    csrfToken: newSecret(),
    at,
    expiresAt: new Date(at.getTime() + security.sessionMaxMs),
  });
  const names = cookieNames(deps.secureCookies);
  setCookie(
    c,
    names.session,
    token,
    cookieOptions(deps.secureCookies, Math.floor(security.sessionMaxMs / 1000)),
  );
  deleteCookie(c, names.preLogin, { path: "/", secure: deps.secureCookies });
}

/** How long a password checked for a user with a second factor waits for the code. */
export const PENDING_LOGIN_MS = 5 * 60_000;

/**
 * Starts the code step of a login: a fresh secret in its own short-lived cookie, stored (hashed)
 * with the user and where to go after. It is no session: the gate never reads it.
 */
export async function startPendingLogin(
  c: Context<AppEnv>,
  deps: AppDeps,
  store: (p: { tokenHash: string; expiresAt: Date; at: Date }) => Promise<void>,
): Promise<void> {
  const token = newSecret();
  const at = deps.now();
  await store({
    tokenHash: await secretHash(token),
    at,
    expiresAt: new Date(at.getTime() + PENDING_LOGIN_MS),
  });
  setCookie(
    c,
    cookieNames(deps.secureCookies).pending,
    token,
    cookieOptions(deps.secureCookies, PENDING_LOGIN_MS / 1000),
  );
}

/** The hash of the request's pending-login cookie, if it has one. */
export async function pendingHashOf(c: Context, deps: AppDeps): Promise<string | null> {
  const token = getCookie(c, cookieNames(deps.secureCookies).pending);
  return token ? await secretHash(token) : null;
}

/** Clears the pending-login cookie. */
export function clearPendingCookie(c: Context, deps: AppDeps): void {
  deleteCookie(c, cookieNames(deps.secureCookies).pending, {
    path: "/",
    secure: deps.secureCookies,
  });
}

/** The hash of the request's session cookie, if it has one. */
export async function sessionHashOf(c: Context, deps: AppDeps): Promise<string | null> {
  const token = getCookie(c, cookieNames(deps.secureCookies).session);
  return token ? await secretHash(token) : null;
}

/** Clears the session cookie. */
export function clearSessionCookie(c: Context, deps: AppDeps): void {
  deleteCookie(c, cookieNames(deps.secureCookies).session, {
    path: "/",
    secure: deps.secureCookies,
  });
}

/** A local path to return to after login, or "/overview" when `next` is not one of ours. */
export function safeNext(next: string | undefined | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) {
    return "/overview";
  }
  // deno-lint-ignore no-control-regex -- control characters in a Location header are refused
  if (/[\u0000-\u001f\u007f]/.test(next)) return "/overview";
  return next;
}

/**
 * Pages: a live session, or a redirect to the login page (302; htmx gets `HX-Redirect` too, so
 * that it loads the login page whole instead of swapping it into a fragment).
 */
export function requireSession(deps: AppDeps, security: SecuritySettings): MiddlewareHandler<
  AppEnv
> {
  return async (c, next) => {
    const hash = await sessionHashOf(c, deps);
    const session = hash
      ? await findSession(deps.db, hash, deps.now(), security.sessionIdleMs)
      : null;
    if (!session || !hash) {
      if (hash) clearSessionCookie(c, deps);
      const url = new URL(c.req.url);
      const back = c.req.method === "GET" && !wantsFragment(c) ? url.pathname + url.search : "";
      const target = back && back !== "/" ? `/login?next=${encodeURIComponent(back)}` : "/login";
      fullPageRedirect(c, target);
      return c.redirect(target, 302);
    }
    c.set("actor", {
      kind: "session",
      userId: session.userId,
      email: session.email,
      role: session.role,
      csrfToken: session.csrfToken,
      sessionHash: hash,
    });
    c.set("csrfToken", session.csrfToken);
    await next();
  };
}

/** The Bearer token of a request, if it carries one. */
function bearer(c: Context): string | null {
  const h = c.req.header("Authorization");
  const m = h ? /^Bearer\s+([A-Za-z0-9._~+\/=-]{16,200})\s*$/i.exec(h) : null;
  return m ? m[1] : null;
}

/**
 * The API and /metrics: a live API token (`Authorization: Bearer`) whose scopes allow the
 * request (src/domain/token_access.ts), else 401 JSON (no token, unknown, revoked or expired) or
 * 403 (a scope missing). Cookies are not looked at, so a cross-site page cannot use a person's
 * session here, and these requests need no CSRF token.
 */
export function requireApiToken(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const value = bearer(c);
    const row = value ? await findApiToken(deps.db, await secretHash(value)) : null;
    const now = deps.now();
    const refused = row ? tokenRefusal(row, now) : null;
    if (!row || refused) {
      c.header("WWW-Authenticate", 'Bearer realm="carteiro"');
      const message = refused === "expired"
        ? `this token expired at ${row?.expiresAt?.toISOString()}; create a new one`
        : "send a valid API token as `Authorization: Bearer <token>`";
      return c.json({ error: { code: "unauthorized", message } }, 401);
    }
    const needed = scopeNeeded(c.req.method, c.req.path);
    if (!scopeAllows(row.scopes, needed)) {
      const message = `this token's scopes (${
        row.scopes.join(", ")
      }) do not include "${needed}", which ${c.req.method} ${c.req.path} needs`;
      return c.json({ error: { code: "forbidden", message } }, 403);
    }
    await markApiTokenUsed(deps.db, row.id, now);
    c.set("actor", { kind: "token", tokenId: row.id, name: row.name });
    await next();
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The CSRF token a request carries: the `X-CSRF-Token` header, or the form's `_csrf` field. The
 * body it parses is already bounded: `limitBodies` (routes/body_limit.ts) runs before every route.
 */
export async function submittedCsrf(c: Context): Promise<string | null> {
  const header = c.req.header(CSRF_HEADER);
  if (header) return header;
  const type = c.req.header("Content-Type") ?? "";
  if (/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
    try {
      const body = await c.req.parseBody();
      const v = body[CSRF_FIELD];
      return typeof v === "string" ? v : null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Whether an `Origin` header names this service: the host (name and port) the request was sent
 * to. The scheme is not compared: behind a TLS-terminating proxy the browser's `https:` reaches
 * us as `http:`. `null` (a sandboxed or privacy-sensitive context) is not ours.
 */
function ownOrigin(origin: string, requestUrl: string): boolean {
  try {
    return new URL(origin).host === new URL(requestUrl).host;
  } catch {
    return false;
  }
}

/**
 * Refuses (403) a state-changing request whose `Origin` (when present) is not this service's,
 * that does not carry the expected CSRF token, or that the browser says comes from another site.
 * `expected` gives the token for this request.
 */
export function csrfGuard(
  expected: (c: Context<AppEnv>) => string | null,
  refuse: (c: Context<AppEnv>) => Response | Promise<Response>,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) {
      await next();
      return;
    }
    const site = c.req.header("Sec-Fetch-Site");
    const origin = c.req.header("Origin");
    if (
      (site && site !== "same-origin" && site !== "none") ||
      (origin !== undefined && !ownOrigin(origin, c.req.url))
    ) {
      return await refuse(c);
    }
    const want = expected(c);
    const got = await submittedCsrf(c);
    if (!want || !got || !sameSecret(got, want)) {
      return await refuse(c);
    }
    await next();
  };
}

/** The pre-login CSRF token (double-submit cookie for the login and language forms). */
export function preLoginToken(c: Context<AppEnv>, deps: AppDeps): string {
  const name = cookieNames(deps.secureCookies).preLogin;
  const existing = getCookie(c, name);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = newSecret();
  setCookie(c, name, token, { ...cookieOptions(deps.secureCookies), sameSite: "Strict" });
  return token;
}

/** The pre-login cookie's value, without creating one. */
export function currentPreLoginToken(c: Context<AppEnv>, deps: AppDeps): string | null {
  return getCookie(c, cookieNames(deps.secureCookies).preLogin) ?? null;
}
