/**
 * `/messages/:id/html`: the message's HTML, sanitized, as its own small document for the
 * sandboxed iframe of the message page. Its CSP allows no script, no connection and no remote
 * resource (images only as data: or cid:, or from http(s) once the person asked for them); its
 * `sandbox` directive applies even if the URL is opened directly.
 */
import { Hono } from "hono";
import type { AppEnv } from "./app_env.ts";
import type { AppDeps } from "./deps.ts";
import { idParam } from "./render.tsx";
import { remoteImagesAllowed } from "./remote_images.ts";
import { sanitizeMailHtml } from "../src/admin/mail_html.ts";
import { getMessageHtml } from "../src/store/message_detail.ts";

/** The frame's CSP: nothing but inline style and the allowed images. */
export function frameCsp(remoteImages: boolean): string {
  return [
    "default-src 'none'",
    `img-src data: cid:${remoteImages ? " https: http:" : ""}`,
    "style-src 'unsafe-inline'",
    "font-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
    "sandbox allow-popups allow-popups-to-escape-sandbox",
  ].join("; ");
}

const FRAME_STYLE =
  `body{font:14px/1.45 system-ui,sans-serif;margin:8px;color:#222;word-wrap:break-word}
img{max-width:100%;height:auto}.carteiro-blocked-image{display:inline-block;padding:2px 6px;
border:1px dashed #999;color:#666;font-size:12px}`;

export function messageHtmlRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/messages/:id{[0-9]+}/html", async (c) => {
    const id = idParam(c.req.param("id"));
    const found = id ? await getMessageHtml(deps.db, id) : undefined;
    if (!found) return c.notFound();
    // Only with this session's key for this message (routes/remote_images.ts), never `?images=1`.
    const remoteImages = !!id && await remoteImagesAllowed(c, id);
    const safe = sanitizeMailHtml(found.html ?? "", { remoteImages });
    c.header("Content-Security-Policy", frameCsp(remoteImages));
    c.header("X-Frame-Options", "SAMEORIGIN");
    return c.html(
      `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" ` +
        `content="no-referrer"><style>${FRAME_STYLE}</style></head><body>${safe.html}</body></html>`,
    );
  });
  return app;
}
