/**
 * `/login`, `/logout` and `/lang`. Login is throttled per e-mail and per client address (stored,
 * so it holds across instances; past the limit a growing wait of at most 30 s, never a lockout
 * that an attacker could keep closed: src/domain/login_delay.ts), answers a wrong e-mail and a wrong password alike (same words,
 * same work: an unknown e-mail is checked against a dummy hash), and replaces any session.
 * A user with a second factor gets no session from the password: `/login/code` asks for a TOTP
 * or recovery code within 5 minutes, and each wrong code counts against the same throttle.
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
  clearPendingCookie,
  clearSessionCookie,
  csrfGuard,
  currentPreLoginToken,
  pendingHashOf,
  preLoginToken,
  safeNext,
  sessionHashOf,
  startPendingLogin,
  startSession,
} from "./auth.ts";
import { CsrfField } from "./layout.tsx";
import {
  createPendingLogin,
  deletePendingLogin,
  findPendingLogin,
  totpEnabled,
} from "../src/store/second_factor.ts";
import { checkSecondFactor } from "../src/actions/second_factor.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";
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

function CodeForm(props: { t: Dict; csrf: string; error?: string }) {
  const { t } = props;
  return (
    <section class="login">
      <h1>{t.loginCodeTitle}</h1>
      {props.error && <p class="problems" role="alert">{props.error}</p>}
      <p>{t.loginCodeHelp}</p>
      <form method="post" action="/login/code" class="stack">
        <CsrfField token={props.csrf} />
        <label>
          {t.loginCode}
          <input
            type="text"
            name="code"
            autocomplete="one-time-code"
            autocapitalize="off"
            spellcheck={false}
            required
            maxlength={40}
            autofocus
          />
        </label>
        <button type="submit">{t.login}</button>
      </form>
    </section>
  );
}

export function loginRoutes(deps: AppDeps, security: SecuritySettings): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const trusted = trustedProxies(deps.trustedProxies ?? []);
  const box = createSecretBox(deps.secretKey);
  /**
   * Checks and counts one attempt for the e-mail and the client address in one step (refused,
   * nothing is written: no row, no audit event); the seconds to wait when over the limit.
   */
  const takeAttempt = async (email: string, ip: string, at: Date): Promise<number | null> => {
    const check = await takeLoginChecks(deps.db, {
      email,
      ip,
      at,
      windowMs: security.loginWindowMs,
      perEmail: { free: security.loginFailuresPerEmail, maxDelayMs: security.loginMaxDelayMs },
      perIp: { free: security.loginFailuresPerIp, maxDelayMs: security.loginMaxDelayMs },
    });
    return check.taken ? null : Math.ceil(check.retryAfterMs / 1000);
  };

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
      const seconds = await takeAttempt(email, ip, at);
      if (seconds !== null) {
        c.header("Retry-After", String(seconds));
        return again(429, fill(t.loginWait, { seconds }));
      }
      const user = await findUserForLogin(deps.db, email);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH) &&
        user !== null;
      if (ok && user && await totpEnabled(deps.db, user.id)) {
        // The e-mail's count stays until the code is right: knowing the password does not reset
        // the throttle on guessing codes.
        await giveBackLoginFailure(deps.db, loginKey("ip", ip));
        await startPendingLogin(
          c,
          deps,
          (p) => createPendingLogin(deps.db, { ...p, userId: user.id, next }),
        );
        return c.redirect("/login/code", 303);
      }
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

  const pendingOf = async (c: Context<AppEnv>) => {
    const hash = await pendingHashOf(c, deps);
    const pending = hash ? await findPendingLogin(deps.db, hash, deps.now()) : null;
    return hash && pending ? { hash, ...pending } : null;
  };

  app.get("/login/code", async (c) => {
    if (wantsFragment(c)) fullPageRedirect(c, "/login/code");
    if (!await pendingOf(c)) {
      clearPendingCookie(c, deps);
      return c.redirect("/login", 302);
    }
    const csrf = preLoginToken(c, deps);
    c.set("csrfToken", csrf);
    const t = c.get("t");
    return respond(c, { title: t.loginCodeTitle, fragment: <CodeForm t={t} csrf={csrf} /> });
  });

  app.post(
    "/login/code",
    csrfGuard((c) => currentPreLoginToken(c, deps), refuseLogin),
    async (c) => {
      const t = c.get("t");
      const pending = await pendingOf(c);
      if (!pending) {
        clearPendingCookie(c, deps);
        return c.redirect("/login", 303);
      }
      const body = await c.req.parseBody();
      const code = typeof body.code === "string" ? body.code.trim().slice(0, 40) : "";
      const csrf = currentPreLoginToken(c, deps) ?? preLoginToken(c, deps);
      c.set("csrfToken", csrf);
      const again = (status: 401 | 422 | 429, error: string) =>
        respond(c, {
          title: t.loginCodeTitle,
          fragment: <CodeForm t={t} csrf={csrf} error={error} />,
          status,
        });
      if (!code) return again(422, t.loginCodeWrong);
      const at = deps.now();
      const ip = clientAddress(c, trusted);
      const seconds = await takeAttempt(pending.email, ip, at);
      if (seconds !== null) {
        c.header("Retry-After", String(seconds));
        return again(429, fill(t.loginWait, { seconds }));
      }
      const checked = await checkSecondFactor(
        { db: deps.db, now: deps.now, box },
        pending.userId,
        code,
        ip,
      );
      if (!checked.ok) {
        await pruneLoginCounters(deps.db, new Date(at.getTime() - security.loginWindowMs));
        await recordEvent(deps.db, {
          event: "login_failed",
          at,
          detail: { email: pending.email, ip },
        });
        return again(401, t.loginCodeWrong);
      }
      await forgetLoginCounter(deps.db, loginKey("email", pending.email));
      await giveBackLoginFailure(deps.db, loginKey("ip", ip));
      await deletePendingLogin(deps.db, pending.hash);
      clearPendingCookie(c, deps);
      await recordEvent(deps.db, {
        event: "login",
        at,
        detail: { email: pending.email, ip, second_factor: checked.value },
      });
      const old = await sessionHashOf(c, deps);
      if (old) await deleteSession(deps.db, old);
      await startSession(c, deps, security, pending.userId);
      return c.redirect(pending.next, 303);
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
