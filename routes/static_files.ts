/**
 * `/static/*`: the pinned htmx, the stylesheet and nothing else (an allow-list: no path from the
 * request ever reaches the file system). Public, like the login page.
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";

const FILES: Record<string, string> = {
  "htmx.min.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "time_zone.js": "text/javascript; charset=utf-8",
};

/** Serves the allow-listed files of `dir` (default: the repository's static/). */
export function staticRoutes(dir: URL = new URL("../static/", import.meta.url)): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/static/:name", async (c) => {
    const name = c.req.param("name");
    const type = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
    if (!type) return c.text("not found", 404);
    const bytes = await Deno.readFile(new URL(name, dir));
    return c.body(bytes, 200, {
      "Content-Type": type,
      "Cache-Control": "public, max-age=3600",
    });
  });
  return app;
}
