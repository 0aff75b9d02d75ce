/**
 * `/api/v1/never-answer`: list, add and remove entries of the never-answer list (the actions of
 * src/actions/never_answer.ts).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../app_env.ts";
import { actorName } from "../app_env.ts";
import type { AppDeps } from "../deps.ts";
import { idParam } from "../render.tsx";
import { isId } from "../params.ts";
import { apiError, badJson, field, jsonBody, problemAnswer } from "./answers.ts";
import { getNeverAnswer, listNeverAnswer, neverAnswerJson } from "../../src/store/never_answer.ts";
import { addNeverAnswer, removeNeverAnswer } from "../../src/actions/never_answer.ts";

/** The never-answer list's routes, mounted under `/api/v1` behind its token check. */
export function neverAnswerApiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const by = (c: Context<AppEnv>) => actorName(c.get("actor"));

  api.get(
    "/never-answer",
    async (c) => c.json({ data: (await listNeverAnswer(deps.db)).map(neverAnswerJson) }),
  );

  api.post("/never-answer", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const accountId = field(body.value, "account_id") ?? null;
    if (accountId !== null && !isId(accountId)) {
      const message = "account_id: must be an account's id, or null for every account";
      return apiError(c, 422, "invalid_request", message, [message]);
    }
    const added = await addNeverAnswer(
      deps,
      { pattern: field(body.value, "pattern"), accountId },
      by(c),
    );
    if (!added.ok) return problemAnswer(c, added.problem);
    const row = await getNeverAnswer(deps.db, added.value.id);
    return c.json({ data: row && neverAnswerJson(row) }, 201);
  });

  api.delete("/never-answer/:id", async (c) => {
    const removed = await removeNeverAnswer(deps, idParam(c.req.param("id")) ?? 0, by(c));
    if (!removed.ok) return problemAnswer(c, removed.problem);
    return c.json({ data: { deleted: removed.value.id } });
  });

  return api;
}
