/**
 * `/setup?token=…`: the one-time link the service prints at start while nobody can log in. It
 * makes the first user (the same rules as `cli user add`, the password typed twice) and logs the
 * person in. A wrong or missing token gets the same 404 as any unknown path, whether setup is
 * open or done; the right one, once a user exists, gets 410 and a link to /login. Attempts are
 * counted per client address and in all, like failed logins, and refused with 429 past the limit
 * without writing anything more.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps, SecuritySettings } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { Problems } from "./layout.tsx";
import { SignInForm } from "./forms.tsx";
import { respond } from "./render.tsx";
import { csrfGuard, currentPreLoginToken, preLoginToken, startSession } from "./auth.ts";
import { clientAddress, trustedProxies } from "./client_address.ts";
import { sameSecret, secretHash } from "../src/auth/tokens.ts";
import { hashPassword } from "../src/auth/password_hash.ts";
import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  type NewUserProblem,
  newUserProblems,
  normalEmail,
} from "../src/admin/user_input.ts";
import { createFirstUser } from "../src/actions/users.ts";
import { countUsers } from "../src/store/users.ts";
import {
  pruneAttemptsOf,
  recentFailures,
  recordLoginAttempt,
  SETUP_ATTEMPTS,
} from "../src/store/login_attempts.ts";

function problemText(t: Dict, p: NewUserProblem): string {
  switch (p) {
    case "email_invalid":
      return t.setupEmailInvalid;
    case "password_short":
      return fill(t.setupPasswordShort, { min: MIN_PASSWORD_LENGTH });
    case "password_long":
      return fill(t.setupPasswordLong, { max: MAX_PASSWORD_LENGTH });
    case "password_common":
      return t.passwordCommon;
    case "password_repeated":
      return t.passwordRepeated;
    case "password_mismatch":
      return t.setupPasswordMismatch;
  }
}

function SetupForm(
  props: { t: Dict; csrf: string; token: string; email: string; problems: string[] },
) {
  const { t } = props;
  const password = { minlength: MIN_PASSWORD_LENGTH, maxlength: MAX_PASSWORD_LENGTH };
  return (
    <SignInForm
      t={t}
      title={t.setupTitle}
      above={
        <>
          <p>{t.setupIntro}</p>
          <Problems t={t} errors={props.problems} />
        </>
      }
      action="/setup"
      csrf={props.csrf}
      hidden={{ name: "token", value: props.token }}
      email={props.email}
      passwords={[
        { name: "password", label: t.password, autocomplete: "new-password", ...password },
        {
          name: "password_confirm",
          label: t.passwordAgain,
          autocomplete: "new-password",
          ...password,
        },
      ]}
      submit={t.setupSubmit}
    />
  );
}

export function setupRoutes(deps: AppDeps, security: SecuritySettings): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const trusted = trustedProxies(deps.trustedProxies ?? []);
  const client = (c: Context<AppEnv>) => clientAddress(c, trusted);
  const windowStart = (at: Date) => new Date(at.getTime() - security.loginWindowMs);

  /** 429 when this address, or every address together, failed too often in the window. */
  const throttled = async (c: Context<AppEnv>): Promise<Response | null> => {
    const failures = await recentFailures(
      deps.db,
      SETUP_ATTEMPTS,
      client(c),
      windowStart(deps.now()),
    );
    if (
      failures.byIp < security.setupFailuresPerIp && failures.byEmail < security.setupFailuresTotal
    ) {
      return null;
    }
    c.header("Retry-After", String(Math.ceil(security.loginWindowMs / 1000)));
    return c.text(c.get("t").loginThrottled, 429);
  };

  /** Counts an attempt, and forgets the setup attempts the window has left behind. */
  const count = async (c: Context<AppEnv>, success: boolean) => {
    const at = deps.now();
    await recordLoginAttempt(deps.db, { email: SETUP_ATTEMPTS, ip: client(c), success, at });
    await pruneAttemptsOf(deps.db, SETUP_ATTEMPTS, windowStart(at));
  };

  /**
   * Whether `given` is this start's token. The SHA-256 of both are compared in constant time, so
   * neither the answer's timing nor a length check says anything about the token.
   */
  const rightToken = async (given: unknown): Promise<boolean> => {
    const expected = deps.setupToken ?? null;
    const value = typeof given === "string" ? given.slice(0, 200) : "";
    const same = sameSecret(await secretHash(value), await secretHash(expected ?? ""));
    return same && expected !== null;
  };

  const done = (c: Context<AppEnv>) => {
    const t = c.get("t");
    c.set("csrfToken", preLoginToken(c, deps));
    return respond(c, {
      title: t.setupTitle,
      fragment: (
        <section class="login">
          <p role="status">
            {t.setupDone} <a href="/login">{t.setupLogIn}</a>
          </p>
        </section>
      ),
      status: 410,
    });
  };

  const form = (
    c: Context<AppEnv>,
    v: { csrf: string; token: string; email: string; problems: string[] },
    status: 200 | 403 | 422,
  ) => {
    c.set("csrfToken", v.csrf);
    const t = c.get("t");
    return respond(c, { title: t.setupTitle, fragment: <SetupForm t={t} {...v} />, status });
  };

  app.get("/setup", async (c) => {
    const refused = await throttled(c);
    if (refused) return refused;
    const token = c.req.query("token") ?? "";
    if (!await rightToken(token)) {
      await count(c, false);
      return c.notFound();
    }
    if (await countUsers(deps.db) > 0) return done(c);
    return form(c, { csrf: preLoginToken(c, deps), token, email: "", problems: [] }, 200);
  });

  /** The POST after the throttle: its status tells whether it made the user (303). */
  const setUp = async (c: Context<AppEnv>): Promise<Response> => {
    const body = await c.req.parseBody();
    const token = typeof body.token === "string" ? body.token : "";
    if (!await rightToken(token)) return c.notFound();
    if (await countUsers(deps.db) > 0) return done(c);
    const t = c.get("t");
    // The login form's protection: the pre-login cookie's token in the form, same origin.
    const refused = await csrfGuard(
      () => currentPreLoginToken(c, deps),
      (cc) =>
        form(cc, {
          csrf: preLoginToken(cc, deps),
          token,
          email: "",
          problems: [t.loginExpired],
        }, 403),
    )(c, () => Promise.resolve());
    if (refused) return refused;

    const email = typeof body.email === "string" ? body.email.trim().slice(0, 320) : "";
    const password = typeof body.password === "string" ? body.password : "";
    const confirmation = typeof body.password_confirm === "string" ? body.password_confirm : "";
    const csrf = currentPreLoginToken(c, deps) ?? preLoginToken(c, deps);
    const problems = newUserProblems({ email, password, confirmation });
    if (problems.length > 0) {
      return form(c, { csrf, token, email, problems: problems.map((p) => problemText(t, p)) }, 422);
    }
    const result = await createFirstUser(deps.db, {
      email: normalEmail(email),
      passwordHash: await hashPassword(password),
      ip: client(c),
    }, deps.now());
    if (!result.created) return done(c);
    await startSession(c, deps, security, result.user.id);
    return c.redirect("/", 303);
  };

  app.post("/setup", async (c) => {
    const refused = await throttled(c);
    if (refused) return refused;
    const res = await setUp(c);
    await count(c, res.status === 303);
    return res;
  });

  return app;
}
