/**
 * The answer to a person whose role does not allow a request (src/domain/roles.ts): 403, with a
 * page (or, for htmx, a fragment) that says which role it needs and whom to ask.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { Dict } from "./i18n.ts";
import { respond } from "./render.tsx";
import { fill } from "./i18n.ts";
import type { Role } from "../src/domain/roles.ts";

/** A role as the page names it. */
export function roleWord(t: Dict, role: Role): string {
  return { admin: t.roleAdmin, operator: t.roleOperator, viewer: t.roleViewer }[role];
}

export async function refuseRole(
  c: Context<AppEnv>,
  role: Role,
  needed: Role,
): Promise<Response> {
  const t = c.get("t");
  const why = fill(t.roleForbidden, { role: roleWord(t, role), needed: roleWord(t, needed) });
  return await respond(c, {
    title: t.forbiddenTitle,
    fragment: <p class="problems" role="alert">{why}</p>,
    status: 403,
  });
}
