/**
 * `/api/v1/retention`, `/api/v1/purge` and `/api/v1/erase` (docs/retention.md): how long the
 * audit log is kept, with what a purge would remove now; a purge now (or its dry run); and the
 * erasure of one address (or its dry run), answered with the rows removed per table.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { AppEnv } from "../app_env.ts";
import { actorName } from "../app_env.ts";
import type { AppDeps } from "../deps.ts";
import { apiError, badJson, field, jsonBody, problemAnswer } from "./answers.ts";
import { purgeExpired, purgeReportJson } from "../../src/jobs/retention_purge.ts";
import {
  eraseAddress,
  erasureJson,
  retentionSettings,
  saveRetentionSettings,
} from "../../src/actions/retention.ts";

/** The routes, mounted under `/api/v1` behind its token check. */
export function retentionApiRoutes(deps: AppDeps): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  const by = (c: Context<AppEnv>) => actorName(c.get("actor"));
  const dryRunOf = (body: unknown): boolean | null => {
    const v = field(body, "dry_run") ?? false;
    return typeof v === "boolean" ? v : null;
  };
  const badDryRun = (c: Context<AppEnv>) => {
    const message = "dry_run: must be true or false";
    return apiError(c, 422, "invalid_request", message, [message]);
  };

  api.get("/retention", async (c) => {
    const settings = await retentionSettings(deps);
    const due = await purgeExpired(deps, { dryRun: true, by: by(c) });
    return c.json({ data: { keep_audit_days: settings.keepAuditDays, due: purgeReportJson(due) } });
  });

  api.put("/retention", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const saved = await saveRetentionSettings(deps, body.value, by(c));
    if (!saved.ok) return problemAnswer(c, saved.problem);
    return c.json({ data: { keep_audit_days: saved.value.keepAuditDays } });
  });

  api.post("/purge", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const dryRun = dryRunOf(body.value);
    if (dryRun === null) return badDryRun(c);
    const report = await purgeExpired(deps, { dryRun, by: by(c) });
    return c.json({ data: purgeReportJson(report) });
  });

  api.post("/erase", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return badJson(c);
    const dryRun = dryRunOf(body.value);
    if (dryRun === null) return badDryRun(c);
    const erased = await eraseAddress(deps, field(body.value, "address"), by(c), { dryRun });
    if (!erased.ok) return problemAnswer(c, erased.problem);
    return c.json({ data: erasureJson(erased.value) });
  });

  return api;
}
