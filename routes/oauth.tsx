/**
 * Connecting accounts with an OAuth2 provider: "Connect with Google / Microsoft / …" buttons (only
 * for the providers configured), "Reconnect" on an OAuth account, the start (a POST with the
 * CSRF token, answered with a redirect to the provider) and the callback at
 * `OAUTH_CALLBACK_PATH`, which finishes the sign-in and goes back to the accounts page.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { actorName } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { type Dict, fill } from "./i18n.ts";
import { CsrfField } from "./layout.tsx";
import { idParam, respond } from "./render.tsx";
import { APP_CSP } from "./security_headers.ts";
import { OAUTH_CALLBACK_PATH } from "../src/config.ts";
import { finishOAuth, type OAuthDeps, startOAuth } from "../src/actions/oauth.ts";
import { problemLines } from "../src/actions/result.ts";
import { createSecretBox } from "../src/auth/secret_box.ts";

/** How a provider is named on its button. */
export function providerLabel(id: string): string {
  return id === "google" ? "Google" : id === "microsoft" ? "Microsoft" : "OpenID";
}

/** One button per configured provider; nothing when none is. */
export function OAuthButtons(props: { t: Dict; providers: string[]; csrf: string }) {
  if (props.providers.length === 0) return null;
  return (
    <p class="oauth-connect">
      {props.t.oauthIntro}{" "}
      {props.providers.map((p) => (
        <form method="post" action="/accounts/oauth/start" class="inline">
          <CsrfField token={props.csrf} />
          <input type="hidden" name="provider" value={p} />
          <button type="submit" name="connect" value={p}>
            {fill(props.t.connectWith, { provider: providerLabel(p) })}
          </button>
        </form>
      ))}
    </p>
  );
}

/** "Reconnect": signs an OAuth account in again at its provider. */
export function ReconnectButton(props: { t: Dict; id: number; csrf: string }) {
  return (
    <form method="post" action="/accounts/oauth/start" class="inline">
      <CsrfField token={props.csrf} />
      <input type="hidden" name="account_id" value={String(props.id)} />
      <button type="submit">{props.t.reconnect}</button>
    </form>
  );
}

/**
 * The app's CSP, with the providers' origins allowed as form targets: the Connect and Reconnect
 * forms are answered with a redirect there, and browsers check `form-action` on redirects too.
 */
export function cspWithProviders(issuers: string[]): string {
  const origins = [...new Set(issuers.map((i) => new URL(i).origin))];
  if (origins.length === 0) return APP_CSP;
  return APP_CSP.replace("form-action 'self'", `form-action 'self' ${origins.join(" ")}`);
}

export function oauthRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const client = deps.oauth;
  if (!client) return app;
  const actionDeps: OAuthDeps = { ...deps, box: createSecretBox(deps.secretKey), client };
  const userId = (c: Context<AppEnv>) => {
    const actor = c.get("actor");
    return actor.kind === "session" ? actor.userId : null;
  };

  const failed = (c: Context<AppEnv>, lines: string[]) => {
    const t = c.get("t");
    const view = (
      <div class="problems" role="alert">
        <strong>{t.oauthFailed}</strong>
        <ul>{lines.map((l) => <li key={l}>{l}</li>)}</ul>
        <p>
          <a href="/accounts">{t.accounts}</a>
        </p>
      </div>
    );
    return respond(c, { title: t.accounts, nav: "/accounts", fragment: view, status: 422 });
  };

  app.post("/accounts/oauth/start", async (c) => {
    const body = await c.req.parseBody();
    const accountId = typeof body.account_id === "string" ? idParam(body.account_id) : null;
    const provider = typeof body.provider === "string" ? body.provider : "";
    const started = await startOAuth(actionDeps, provider, accountId, userId(c));
    if (!started.ok) {
      if (started.problem.code === "not_found") return c.notFound();
      return await failed(c, problemLines(started.problem));
    }
    return c.redirect(started.value.href, 303);
  });

  app.get(OAUTH_CALLBACK_PATH, async (c) => {
    const finished = await finishOAuth(
      actionDeps,
      new URL(c.req.url),
      userId(c),
      actorName(c.get("actor")),
    );
    if (!finished.ok) return await failed(c, problemLines(finished.problem));
    return c.redirect(`/accounts#account-${finished.value.accountId}`, 303);
  });

  return app;
}
