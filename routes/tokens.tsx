/**
 * `/tokens`: API tokens for `/api/v1` and `/metrics`. A token's value is shown once, when it is
 * created; only its SHA-256 is stored.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { CsrfField, Problems } from "./layout.tsx";
import { fmtDate, idParam, respond } from "./render.tsx";
import { wantsFragment } from "./htmx.ts";
import { type ApiTokenRow, listApiTokens } from "../src/store/api_tokens.ts";
import { createToken, revokeToken } from "../src/actions/tokens.ts";

function TokensSection(
  props: {
    t: Dict;
    rows: ApiTokenRow[];
    csrf: string;
    created?: string;
    name?: string;
    errors?: string[];
  },
) {
  const { t } = props;
  return (
    <div id="tokens">
      <Problems t={t} errors={props.errors ?? []} />
      {props.created && (
        <p class="ok" role="status">
          {t.tokenCreated} <code class="token">{props.created}</code>
        </p>
      )}
      <form
        method="post"
        action="/tokens"
        class="inline-form"
        hx-post="/tokens"
        hx-target="#tokens"
        hx-swap="outerHTML"
      >
        <CsrfField token={props.csrf} />
        <label>
          {t.tokenName} <input type="text" name="name" value={props.name ?? ""} maxlength={64} />
        </label>
        <button type="submit">{t.createToken}</button>
      </form>
      {props.rows.length === 0 ? <p class="empty">{t.noTokens}</p> : (
        <table class="list" hx-disable>
          <tr>
            <th>{t.name}</th>
            <th>{t.created}</th>
            <th>{t.lastUsed}</th>
            <th>{t.status}</th>
            <th></th>
          </tr>
          {props.rows.map((r) => (
            <tr>
              <td>{r.name}</td>
              <td>{fmtDate(r.createdAt)}</td>
              <td>{fmtDate(r.lastUsedAt)}</td>
              <td>{r.revokedAt ? `${t.revoked} ${fmtDate(r.revokedAt)}` : t.enabled}</td>
              <td>
                {!r.revokedAt && (
                  <form method="post" action={`/tokens/${r.id}/revoke`} class="inline">
                    <CsrfField token={props.csrf} />
                    <button type="submit">{t.revoke}</button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </table>
      )}
    </div>
  );
}

export function tokenRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (
    c: Context<AppEnv>,
    extra: { created?: string; name?: string; errors?: string[] },
    status?: 422,
  ) => {
    const t = c.get("t");
    const section = (
      <TokensSection
        t={t}
        rows={await listApiTokens(deps.db)}
        csrf={c.get("csrfToken")}
        {...extra}
      />
    );
    return respond(c, {
      title: t.tokens,
      nav: "/tokens",
      fragment: section,
      page: (
        <>
          <h1>{t.tokens}</h1>
          {section}
        </>
      ),
      status,
    });
  };

  app.get("/tokens", (c) => page(c, {}));

  app.post("/tokens", async (c) => {
    const body = await c.req.parseBody();
    const name = typeof body.name === "string" ? body.name.trim() : "";
    const issued = await createToken(deps, name, actorName(c.get("actor")));
    if (!issued.ok) return await page(c, { name, errors: [issued.problem.message] }, 422);
    // The value is in this one response only; it must not be cached anywhere.
    c.header("Cache-Control", "no-store");
    return await page(c, { created: issued.value.token });
  });

  app.post("/tokens/:id{[0-9]+}/revoke", async (c) => {
    const id = idParam(c.req.param("id")) ?? 0;
    const revoked = await revokeToken(deps, id, actorName(c.get("actor")));
    if (!revoked.ok) return c.notFound();
    return wantsFragment(c) ? await page(c, {}) : c.redirect("/tokens", 303);
  });

  return app;
}
