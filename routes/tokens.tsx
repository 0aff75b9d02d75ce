/**
 * `/tokens`: API tokens for `/api/v1` and `/metrics`, each with its scopes (read, write,
 * metrics), an optional expiry and its last use. A token's value is shown once, when it is
 * created; only its SHA-256 is stored.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import type { Dict } from "./i18n.ts";
import { CsrfField } from "./layout.tsx";
import { idParam, When } from "./render.tsx";
import { fmtDate } from "./viewer_time.ts";
import { type Column, ListView, respondList } from "./list_view.tsx";
import { wantsFragment } from "./htmx.ts";
import { type ApiTokenRow, listApiTokens } from "../src/store/api_tokens.ts";
import { createToken, revokeToken } from "../src/actions/tokens.ts";
import { problemLines } from "../src/actions/result.ts";
import { TOKEN_SCOPES, tokenRefusal } from "../src/domain/token_access.ts";

function tokenStatus(t: Dict, r: ApiTokenRow, now: Date): string {
  switch (tokenRefusal(r, now)) {
    case "revoked":
      return `${t.revoked} ${fmtDate(r.revokedAt, t)}`;
    case "expired":
      return t.tokenExpired;
    case null:
      return t.enabled;
  }
}

function tokenColumns(t: Dict, csrf: string, now: Date): Column<ApiTokenRow>[] {
  return [
    { label: t.name, cell: (r) => r.name },
    { label: t.tokenScopes, cell: (r) => r.scopes.join(", ") },
    { label: t.created, cell: (r) => <When at={r.createdAt} t={t} /> },
    {
      label: t.tokenExpires,
      cell: (r) => (r.expiresAt ? <When at={r.expiresAt} t={t} /> : t.tokenNeverExpires),
    },
    { label: t.lastUsed, cell: (r) => <When at={r.lastUsedAt} t={t} /> },
    { label: t.status, cell: (r) => tokenStatus(t, r, now) },
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

/** What the creation form was sent with, to show it again beside its errors. */
interface TokenForm {
  name: string;
  scopes: string[];
  expires: string;
}

const SCOPE_LABELS = { read: "scopeRead", write: "scopeWrite", metrics: "scopeMetrics" } as const;

function TokensSection(
  props: {
    t: Dict;
    rows: ApiTokenRow[];
    csrf: string;
    now: Date;
    created?: string;
    form?: TokenForm;
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
              <input type="text" name="name" value={props.form?.name ?? ""} maxlength={64} />
            </label>
            <fieldset class="inline">
              <legend>{t.tokenScopes}</legend>
              {/* Sent even when no box is ticked, so that "none" is told from a form without scopes. */}
              <input type="hidden" name="scopes" value="" />
              {TOKEN_SCOPES.map((scope) => (
                <label>
                  <input
                    type="checkbox"
                    name="scopes"
                    value={scope}
                    checked={props.form ? props.form.scopes.includes(scope) : scope === "read"}
                  />{" "}
                  {t[SCOPE_LABELS[scope]]}
                </label>
              ))}
            </fieldset>
            <label>
              {t.tokenExpires}{" "}
              <input type="date" name="expires" value={props.form?.expires ?? ""} />
            </label>
            <button type="submit">{t.createToken}</button>
          </form>
        </>
      }
      rows={props.rows}
      empty={t.noTokens}
      table={{ class: "list", inert: true, columns: tokenColumns(t, props.csrf, props.now) }}
    />
  );
}

export function tokenRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const page = async (
    c: Context<AppEnv>,
    extra: { created?: string; form?: TokenForm; errors?: string[] },
    status?: 422,
  ) => {
    const t = c.get("t");
    const rows = await listApiTokens(deps.db);
    const list = (
      <TokensSection t={t} rows={rows} csrf={c.get("csrfToken")} now={deps.now()} {...extra} />
    );
    return await respondList(c, { title: t.tokens, nav: "/tokens", list, status });
  };

  app.get("/tokens", (c) => page(c, {}));

  app.post("/tokens", async (c) => {
    const body = await c.req.parseBody({ all: true });
    const text = (v: unknown) => (typeof v === "string" ? v.trim() : "");
    // A form without the scopes field (a script posting `name` only) gets the default scopes.
    const sent = body.scopes === undefined
      ? undefined
      : [body.scopes].flat().filter((v): v is string => typeof v === "string" && v !== "");
    const form = { name: text(body.name), scopes: sent ?? [], expires: text(body.expires) };
    const issued = await createToken(
      deps,
      { name: form.name, scopes: sent, expires: form.expires },
      actorName(c.get("actor")),
    );
    if (!issued.ok) {
      return await page(c, { form, errors: problemLines(issued.problem) }, 422);
    }
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
