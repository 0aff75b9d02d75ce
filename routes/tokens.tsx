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
import { CsrfField } from "./layout.tsx";
import { fmtDate, idParam } from "./render.tsx";
import { type Column, ListView, respondList } from "./list_view.tsx";
import { wantsFragment } from "./htmx.ts";
import { type ApiTokenRow, listApiTokens } from "../src/store/api_tokens.ts";
import { createToken, revokeToken } from "../src/actions/tokens.ts";

function tokenColumns(t: Dict, csrf: string): Column<ApiTokenRow>[] {
  return [
    { label: t.name, cell: (r) => r.name },
    { label: t.created, cell: (r) => fmtDate(r.createdAt) },
    { label: t.lastUsed, cell: (r) => fmtDate(r.lastUsedAt) },
    {
      label: t.status,
      cell: (r) => (r.revokedAt ? `${t.revoked} ${fmtDate(r.revokedAt)}` : t.enabled),
    },
    {
      label: "",
      cell: (r) =>
        !r.revokedAt && (
          <form method="post" action={`/tokens/${r.id}/revoke`} class="inline">
            <CsrfField token={csrf} />
            <button type="submit">{t.revoke}</button>
          </form>
        ),
    },
  ];
}

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
    <ListView
      t={t}
      id="tokens"
      errors={props.errors}
      top={
        <>
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
              {t.tokenName}{" "}
              <input type="text" name="name" value={props.name ?? ""} maxlength={64} />
            </label>
            <button type="submit">{t.createToken}</button>
          </form>
        </>
      }
      rows={props.rows}
      empty={t.noTokens}
      table={{ class: "list", inert: true, columns: tokenColumns(t, props.csrf) }}
    />
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
    const rows = await listApiTokens(deps.db);
    const list = <TokensSection t={t} rows={rows} csrf={c.get("csrfToken")} {...extra} />;
    return await respondList(c, { title: t.tokens, nav: "/tokens", list, status });
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
