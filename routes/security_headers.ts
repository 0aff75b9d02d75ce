/**
 * Headers on every response (RELIABILITY I-11): a CSP that allows scripts and styles from this
 * origin only (no inline script anywhere), no framing of the admin, no MIME sniffing, no
 * referrer, and no caching of pages that show mail. A route that needs another policy (the
 * message frame) sets its own before this runs.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app_env.ts";
import { varyOnHtmx } from "./htmx.ts";

export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-src 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function securityHeaders(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const set = (name: string, value: string) => {
      if (!c.res.headers.has(name)) c.header(name, value);
    };
    set("Content-Security-Policy", APP_CSP);
    set("X-Frame-Options", "DENY");
    set("X-Content-Type-Options", "nosniff");
    // same-origin, not no-referrer: nothing goes to other sites, and our own POSTs carry our
    // Origin (with no-referrer browsers send `Origin: null`, which csrfGuard refuses).
    set("Referrer-Policy", "same-origin");
    set("Cross-Origin-Opener-Policy", "same-origin");
    set("Cross-Origin-Resource-Policy", "same-origin");
    set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()");
    if (new URL(c.req.url).protocol === "https:") {
      set("Strict-Transport-Security", "max-age=31536000");
    }
    if (!c.req.path.startsWith("/static/")) set("Cache-Control", "no-store");
    varyOnHtmx(c);
  };
}
