import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { AppEnv } from "./app_env.ts";
import { type AppDeps, DEFAULT_SECURITY, type SecuritySettings } from "./deps.ts";
import { dictionary, LANG_COOKIE, pickLang } from "./i18n.ts";
import { pickTimeZone, TIME_ZONE_COOKIE } from "./viewer_time.ts";
import { healthRoutes } from "./health.ts";
import { securityHeaders } from "./security_headers.ts";
import { isUploadPath, limitBodies, MAX_BODY_BYTES, MAX_UPLOAD_BODY_BYTES } from "./body_limit.ts";
import { csrfGuard, requireApiToken, requireSession } from "./auth.ts";
import { loginRoutes } from "./login.tsx";
import { setupRoutes } from "./setup.tsx";
import { messageRoutes } from "./messages.tsx";
import { overviewRoutes } from "./overview.tsx";
import { messageHtmlRoutes } from "./message_html.ts";
import { outboxRoutes } from "./outbox.tsx";
import { auditRoutes } from "./audit.tsx";
import { ruleRoutes } from "./rules.tsx";
import { ruleReplayRoutes } from "./rule_replay.tsx";
import { ruleTransferRoutes } from "./rule_transfer.tsx";
import { accountRoutes } from "./accounts.tsx";
import { oauthRoutes } from "./oauth.tsx";
import { tokenRoutes } from "./tokens.tsx";
import { webhookRoutes } from "./webhooks.tsx";
import { exceptionRoutes } from "./exceptions.tsx";
import { userRoutes } from "./users.tsx";
import { passwordRoutes } from "./password.tsx";
import { securityRoutes } from "./security.tsx";
import { refuseRole } from "./role_refusal.tsx";
import { roleIncludes, roleNeeded } from "../src/domain/roles.ts";
import { metricsRoutes } from "./metrics.ts";
import { apiRoutes } from "./api.ts";
import { apiError } from "./api/answers.ts";
import { staticRoutes } from "./static_files.ts";
import { dataExceptionCode } from "./data_exception.ts";
import { countOpenBreakers } from "../src/store/breakers.ts";
import { wantsFragment } from "./htmx.ts";
import { breakerRoutes } from "./breakers.tsx";
import { accountSettingsRoutes } from "./account_settings.tsx";
import { retentionRoutes } from "./retention.tsx";

export type { AppDeps } from "./deps.ts";

/** How a path is protected. Anything not listed here needs a session (the safe default). */
export type Access = "public" | "token" | "session";

const PUBLIC_PATHS = [
  /^\/login$/,
  /^\/login\/code$/,
  /^\/setup$/,
  /^\/lang$/,
  /^\/healthz$/,
  /^\/static\/[^/]+$/,
];
const TOKEN_PATHS = [/^\/api\/v1(?:\/|$)/, /^\/metrics$/];

/**
 * The access class of a path: public (login, the setup link, health, static), token (API,
 * metrics), session.
 */
export function accessOf(path: string): Access {
  if (PUBLIC_PATHS.some((p) => p.test(path))) return "public";
  if (TOKEN_PATHS.some((p) => p.test(path))) return "token";
  return "session";
}

function isApi(path: string) {
  return accessOf(path) === "token";
}

/** Reports an unexpected error; `id` is the reference the person sees. */
export type ErrorReporter = (error: unknown, id: string) => void;

/**
 * The web application: every route, built from the dependencies `main.ts` wires. Pages need a
 * session (else 302 to /login) and a CSRF token on every state change; `/api/v1` and
 * `/metrics` need an API token (else 401 JSON); `/login`, `/setup` (its own token: the link
 * printed at start), `/healthz` and `/static` are public.
 */
export function createApp(deps: AppDeps, reportError?: ErrorReporter): Hono<AppEnv> {
  const security: SecuritySettings = { ...DEFAULT_SECURITY, ...deps.security };
  const app = new Hono<AppEnv>();
  const serverZone = deps.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;

  app.use("*", securityHeaders());
  app.use("*", async (c, next) => {
    const lang = pickLang(getCookie(c, LANG_COOKIE), c.req.header("Accept-Language"));
    c.set("lang", lang);
    const zone = pickTimeZone(getCookie(c, TIME_ZONE_COOKIE), serverZone);
    c.set("t", dictionary(lang, zone));
    c.set("csrfToken", "");
    c.set("openBreakers", null);
    await next();
  });
  // Before anything reads a body: the gate's CSRF check, /login, /lang, every handler.
  const bounded = limitBodies({ maxBytes: MAX_BODY_BYTES, isApi });
  const uploads = limitBodies({ maxBytes: MAX_UPLOAD_BODY_BYTES, isApi });
  app.use("*", (c, next) => (isUploadPath(c.req.path) ? uploads : bounded)(c, next));

  const session = requireSession(deps, security);
  const csrf = csrfGuard(
    (c) => c.get("csrfToken") || null,
    (c) => c.text(c.get("t").forbidden, 403),
  );
  const token = requireApiToken(deps);
  const gate: MiddlewareHandler<AppEnv> = async (c, next) => {
    switch (accessOf(c.req.path)) {
      case "public":
        await next();
        return;
      case "token":
        return await token(c, next);
      case "session":
        return await session(c, async () => {
          // Every whole page shows the open loop breakers (one count over a table of a few rows);
          // fragments do not.
          if (!wantsFragment(c)) {
            c.set("openBreakers", await countOpenBreakers(deps.db, deps.now()));
          }
          const actor = c.get("actor");
          const needed = roleNeeded(c.req.method, c.req.path);
          if (actor.kind === "session" && !roleIncludes(actor.role, needed)) {
            c.res = await refuseRole(c, actor.role, needed);
            return;
          }
          const refused = await csrf(c, next);
          if (refused instanceof Response) c.res = refused;
        });
    }
  };
  app.use("*", gate);

  app.route(
    "/",
    healthRoutes({
      pingDatabase: async () => void await deps.db.query("SELECT 1"),
      databaseKind: deps.db.kind,
    }),
  );
  app.route("/", staticRoutes());
  app.route("/", loginRoutes(deps, security));
  app.route("/", setupRoutes(deps, security));
  app.get("/", (c) => c.redirect("/overview", 302));
  app.route("/", overviewRoutes(deps));
  app.route("/", messageRoutes(deps));
  app.route("/", messageHtmlRoutes(deps));
  app.route("/", outboxRoutes(deps));
  app.route("/", auditRoutes(deps));
  app.route("/", ruleRoutes(deps));
  app.route("/", ruleReplayRoutes(deps));
  app.route("/", ruleTransferRoutes(deps));
  app.route("/", exceptionRoutes(deps));
  app.route("/", breakerRoutes(deps));
  app.route("/", oauthRoutes(deps));
  app.route("/", accountRoutes(deps));
  app.route("/", accountSettingsRoutes(deps));
  app.route("/", retentionRoutes(deps));
  app.route("/", tokenRoutes(deps));
  app.route("/", webhookRoutes(deps));
  app.route("/", userRoutes(deps));
  app.route("/", passwordRoutes(deps));
  app.route("/", securityRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route("/api/v1", apiRoutes(deps));

  app.notFound((c: Context<AppEnv>) => {
    if (isApi(c.req.path)) return apiError(c, 404, "not_found", "no such endpoint");
    return c.text(c.get("t")?.notFound ?? "Not found.", 404);
  });
  app.onError((err, c: Context<AppEnv>) => {
    const refused = dataExceptionCode(err);
    if (refused) {
      const message = `a value in the request cannot be stored (SQLSTATE ${refused})`;
      if (isApi(c.req.path)) return apiError(c, 422, "invalid_request", message);
      return c.text(`${c.get("t")?.badValue ?? "Invalid value."} (SQLSTATE ${refused})`, 422);
    }
    // The person sees a reference, never the error (it may hold SQL or a host name).
    const id = crypto.randomUUID().slice(0, 8);
    reportError?.(err, id);
    if (isApi(c.req.path)) {
      return apiError(c, 500, "internal", `internal error; reference ${id}`);
    }
    return c.text(`${c.get("t")?.serverError ?? "Something went wrong. Reference:"} ${id}`, 500);
  });
  return app;
}
