/**
 * `/api/v1/breakers`: the loop breakers on record, and their reset (the actions of
 * src/actions/breakers.ts, audited as `breaker_reset`).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../app_env.ts";
import { actorName } from "../app_env.ts";
import type { AppDeps } from "../deps.ts";
import { idParam } from "../render.tsx";
import { apiError, problemAnswer } from "./answers.ts";
import { breakerJson, listBreakers } from "../../src/store/breakers.ts";
import { resetBreaker, resetOpenBreakers } from "../../src/actions/breakers.ts";

/** The breakers' routes, mounted under `/api/v1` behind its token check. */
export function breakerApiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const by = (c: Context<AppEnv>) => actorName(c.get("actor"));

  api.get("/breakers", async (c) => {
    const open = c.req.query("open");
    if (open !== undefined && open !== "true" && open !== "false") {
      const message = 'open: must be "true" or "false"';
      return apiError(c, 422, "invalid_request", message, [message]);
    }
    const rows = await listBreakers(deps.db, deps.now(), { openOnly: open === "true" });
    return c.json({ data: rows.map(breakerJson) });
  });

  api.post("/breakers/reset", async (c) => {
    const reset = await resetOpenBreakers(deps, by(c));
    if (!reset.ok) return problemAnswer(c, reset.problem);
    return c.json({ data: reset.value.map(breakerJson) });
  });

  api.post("/breakers/:id/reset", async (c) => {
    const reset = await resetBreaker(deps, idParam(c.req.param("id")) ?? 0, by(c));
    if (!reset.ok) return problemAnswer(c, reset.problem);
    return c.json({ data: breakerJson(reset.value) });
  });

  return api;
}
