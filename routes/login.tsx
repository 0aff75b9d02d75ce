/**
 * `/login`, `/logout` and `/lang`. Login is throttled per e-mail and per client address (stored,
 * so it holds across instances; past the limit a growing wait of at most 30 s, never a lockout
 * that an attacker could keep closed: src/domain/login_delay.ts), answers a wrong e-mail and a wrong password alike (same words,
 * same work: an unknown e-mail is checked against a dummy hash), and replaces any session.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { setCookie } from "hono/cookie";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps, SecuritySettings } from "./deps.ts";
import { type Dict, fill, LANG_COOKIE } from "./i18n.ts";
import { SignInForm } from "./forms.tsx";
import { respond } from "./render.tsx";
import { fullPageRedirect, wantsFragment } from "./htmx.ts";
import {
  clearSessionCookie,
  csrfGuard,
  currentPreLoginToken,
  preLoginToken,
  safeNext,
  sessionHashOf,
  startSession,
} from "./auth.ts";
import { DUMMY_PASSWORD_HASH, verifyPassword } from "../src/auth/password_hash.ts";
import { findUserForLogin } from "../src/store/users.ts";
import {
  forgetLoginCounter,
  giveBackLoginFailure,
  loginKey,
  pruneLoginCounters,
} from "../src/store/login_attempts.ts";
import { takeLoginChecks } from "../src/admin/login_gate.ts";
import { clientAddress, trustedProxies } from "./client_address.ts";
import { deleteSession, findSession } from "../src/store/sessions.ts";
import { recordEvent } from "../src/store/audit.ts";
import { endSession } from "../src/actions/sessions.ts";

function LoginForm(props: { t: Dict; csrf: string; email: string; next: string; error?: string }) {
  const { t } = props;
  return (
    <SignInForm
      t={t}
      title={t.loginTitle}
      above={props.error && <p class="problems" role="alert">{props.error}</p>}
      action="/login"
      csrf={props.csrf}
      hidden={{ name: "next", value: props.next }}
      email={props.email}
      passwords={[
        {
          name: "password",
          label: t.password,
          autocomplete: "current-password",
          maxlength: 1024,
        },
      ]}
      submit={t.login}
    />
  );
}

export function loginRoutes(deps: AppDeps, security: SecuritySettings): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const trusted = trustedProxies(deps.trustedProxies ?? []);

  const refuseLogin = (c: Context<AppEnv>) => {
    const csrf = preLoginToken(c, deps);
    c.set("csrfToken", csrf);
    return respond(c, {
      title: c.get("t").login,
      fragment: (
        <LoginForm t={c.get("t")} csrf={csrf} email="" next="" error={c.get("t").loginExpired} />
      ),
      status: 403,
    });
  };

  app.get("/login", async (c) => {
    const hash = await sessionHashOf(c, deps);
    if (hash && await findSession(deps.db, hash, deps.now(), security.sessionIdleMs)) {
      return c.redirect(safeNext(c.req.query("next")), 302);
    }
    // htmx following a redirect here (an expired session) must load the page whole.
    if (wantsFragment(c)) fullPageRedirect(c, "/login");
    const csrf = preLoginToken(c, deps);
    c.set("csrfToken", csrf);
    return respond(c, {
      title: c.get("t").login,
      fragment: (
        <LoginForm t={c.get("t")} csrf={csrf} email="" next={safeNext(c.req.query("next"))} />
      ),
    });
  });

  app.post(
    "/login",
    csrfGuard((c) => currentPreLoginToken(c, deps), refuseLogin),
    async (c) => {
      const t = c.get("t");
      const body = await c.req.parseBody();
      const email = typeof body.email === "string" ? body.email.trim().slice(0, 320) : "";
      const password = typeof body.password === "string" ? body.password : "";
      const next = safeNext(typeof body.next === "string" ? body.next : null);
      const csrf = currentPreLoginToken(c, deps) ?? preLoginToken(c, deps);
      c.set("csrfToken", csrf);
      const again = (status: 401 | 422 | 429, error: string) =>
        respond(c, {
          title: t.login,
          fragment: <LoginForm t={t} csrf={csrf} email={email} next={next} error={error} />,
          status,
        });
      if (!email || !password || password.length > 1024) return again(422, t.loginMissing);

      const at = deps.now();
      const ip = clientAddress(c, trusted);
      // Checked and counted in one step; refused, nothing is written (no row, no audit event).
      const check = await takeLoginChecks(deps.db, {
        email,
        ip,
        at,
        windowMs: security.loginWindowMs,
        perEmail: { free: security.loginFailuresPerEmail, maxDelayMs: security.loginMaxDelayMs },
        perIp: { free: security.loginFailuresPerIp, maxDelayMs: security.loginMaxDelayMs },
      });
      if (!check.taken) {
        const seconds = Math.ceil(check.retryAfterMs / 1000);
        c.header("Retry-After", String(seconds));
        return again(429, fill(t.loginWait, { seconds }));
      }
      const user = await findUserForLogin(deps.db, email);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH) &&
        user !== null;
      if (ok) {
        await forgetLoginCounter(deps.db, loginKey("email", email));
        await giveBackLoginFailure(deps.db, loginKey("ip", ip));
      } else {
        await pruneLoginCounters(deps.db, new Date(at.getTime() - security.loginWindowMs));
      }
      await recordEvent(deps.db, {
        event: ok ? "login" : "login_failed",
        at,
        detail: { email, ip },
      });
      if (!ok || !user) return again(401, t.loginWrong);
      // A session id the client brought is never kept (fixation): the old one ends here.
      const old = await sessionHashOf(c, deps);
      if (old) await deleteSession(deps.db, old);
      await startSession(c, deps, security, user.id);
      return c.redirect(next, 303);
    },
  );

  // Behind the session gate and its CSRF check (routes/app.ts), like every other route.
  app.post("/logout", async (c) => {
    const actor = c.get("actor");
    if (actor.kind === "session") {
      await endSession(deps, actor.sessionHash, actor.email);
    }
    clearSessionCookie(c, deps);
    return c.redirect("/login", 303);
  });

  // The language switch works logged in or not: its CSRF token is the session's when there is
  // one, else the pre-login cookie's.
  app.post("/lang", async (c, next) => {
    const hash = await sessionHashOf(c, deps);
    const s = hash ? await findSession(deps.db, hash, deps.now(), security.sessionIdleMs) : null;
    const guard = csrfGuard(
      () => s?.csrfToken ?? currentPreLoginToken(c, deps),
      (cc) => cc.text(cc.get("t").forbidden, 403),
    );
    return await guard(c, next) ?? c.res;
  }, async (c) => {
    const body = await c.req.parseBody();
    const lang = body.lang === "en" ? "en" : "pt-BR";
    setCookie(c, LANG_COOKIE, lang, {
      path: "/",
      sameSite: "Lax",
      secure: deps.secureCookies,
      maxAge: 365 * 86400,
    });
    return c.redirect(safeNext(typeof body.back === "string" ? body.back : null), 303);
  });

  return app;
}
