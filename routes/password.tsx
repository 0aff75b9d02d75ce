/**
 * `/password`: a person changes their own password (the current one first). Their other
 * sessions end; this one goes on.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { respond } from "./render.tsx";
import { setPassword } from "../src/actions/users.ts";
import { problemLines } from "../src/actions/result.ts";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../src/admin/user_input.ts";

function PasswordForm(props: { t: Dict; csrf: string; errors: string[]; done: boolean }) {
  const { t } = props;
  const input = { minlength: MIN_PASSWORD_LENGTH, maxlength: MAX_PASSWORD_LENGTH, required: true };
  return (
    <section id="password">
      <h1>{t.changePassword}</h1>
      {props.done && <p class="ok" role="status">{t.passwordChanged}</p>}
      <Problems t={t} errors={props.errors} />
      <form method="post" action="/password" class="stacked">
        <CsrfField token={props.csrf} />
        <label>
          {t.currentPassword}{" "}
          <input type="password" name="current" autocomplete="current-password" required />
        </label>
        <label>
          {t.newPassword}{" "}
          <input type="password" name="password" autocomplete="new-password" {...input} />
        </label>
        <label>
          {t.confirmPassword}{" "}
          <input type="password" name="password_confirm" autocomplete="new-password" {...input} />
        </label>
        <button type="submit">{t.changePassword}</button>
      </form>
      <p>
        <a href="/security">{t.securityLink}</a>
      </p>
    </section>
  );
}

/** The password page of the person logged in. */
export function passwordRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const show = (c: Context<AppEnv>, errors: string[], done: boolean) => {
    const t = c.get("t");
    const form = <PasswordForm t={t} csrf={c.get("csrfToken")} errors={errors} done={done} />;
    return respond(c, {
      title: t.changePassword,
      fragment: form,
      status: errors.length ? 422 : 200,
    });
  };

  app.get("/password", (c) => show(c, [], false));

  app.post("/password", async (c) => {
    const actor = c.get("actor");
    if (actor.kind !== "session") return c.notFound();
    const body = await c.req.parseBody();
    const text = (v: unknown) => (typeof v === "string" ? v : "");
    const changed = await setPassword(deps, {
      key: actor.userId,
      current: text(body.current),
      password: text(body.password),
      confirmation: text(body.password_confirm),
      keepSession: actor.sessionHash,
    }, actorName(actor));
    return changed.ok ? show(c, [], true) : show(c, problemLines(changed.problem), false);
  });

  return app;
}
