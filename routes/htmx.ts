/**
 * The one module that reads htmx's request headers. A request is answered with a fragment only
 * when htmx asks for one (`HX-Request`) and is not restoring history (`HX-History-Restore-Request`
 * wants the whole page); every HTML response says it varies on `HX-Request`.
 */
import type { Context } from "hono";

/** Whether to answer with the fragment rather than the whole page. */
export function wantsFragment(c: Context): boolean {
  return c.req.header("HX-Request") === "true" &&
    c.req.header("HX-History-Restore-Request") !== "true";
}

/** Adds `HX-Request` to the response's Vary header (caches keep page and fragment apart). */
export function varyOnHtmx(c: Context): void {
  const vary = c.res.headers.get("Vary");
  if (!vary || !/\bHX-Request\b/i.test(vary)) {
    c.header("Vary", vary ? `${vary}, HX-Request` : "HX-Request");
  }
}

/** Tells htmx to load `path` as a whole page (used where a fragment cannot answer). */
export function fullPageRedirect(c: Context, path: string): void {
  c.header("HX-Redirect", path);
}

/** Tells htmx which URL to put in the address bar for this fragment (the canonical form). */
export function pushUrl(c: Context, url: string): void {
  c.header("HX-Push-Url", url);
}
