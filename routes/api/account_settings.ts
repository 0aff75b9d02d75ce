/**
 * `/api/v1/accounts/{id}/settings`: an account's reply settings — time zone, authserv-ids, the
 * SPF/DMARC and spam checks, trusted forwarders, rate limits — read, and changed with PATCH
 * (the keys given replace the stored ones; src/actions/account_settings.ts).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../app_env.ts";
import { actorName } from "../app_env.ts";
import type { AppDeps } from "../deps.ts";
import { idParam } from "../render.tsx";
import { badJson, jsonBody, notFound, problemAnswer } from "./answers.ts";
import { readAccountReplySettings } from "../../src/store/account_settings.ts";
import { saveAccountSettings } from "../../src/actions/account_settings.ts";
import { accountSettingsJson } from "../../src/admin/account_settings_json.ts";

/** The settings' routes, mounted under `/api/v1` behind its token check. */
export function accountSettingsApiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();

  api.get("/accounts/:id/settings", async (c) => {
    const settings = await readAccountReplySettings(deps.db, idParam(c.req.param("id")) ?? 0);
    return settings ? c.json({ data: accountSettingsJson(settings) }) : notFound(c, "account");
  });

  const save = async (c: Context<AppEnv>) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const saved = await saveAccountSettings(
      deps,
      idParam(c.req.param("id")) ?? 0,
      body.value,
      actorName(c.get("actor")),
    );
    if (!saved.ok) return problemAnswer(c, saved.problem);
    return c.json({ data: accountSettingsJson(saved.value.settings), notes: saved.value.notes });
  };
  api.patch("/accounts/:id/settings", save);

  return api;
}
