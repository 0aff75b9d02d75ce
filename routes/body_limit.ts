/**
 * The bound on request bodies, applied to every route before anything reads a body (the CSRF
 * check, the language switch, form and JSON parsing). Hono's `bodyLimit` refuses a declared
 * `Content-Length` past the bound without reading, and stops a chunked body as soon as it passes
 * it, so an attacker's upload costs at most the bound in memory.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./app_env.ts";
import { fill } from "./i18n.ts";

/**
 * 1 MB: every form and JSON body of the admin and the API is far smaller (a rule with its reply
 * template is a few KB). No route needs more today; one that does gets its own, larger bound
 * beside its handler and says why.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Uploads of a rule's files (the rules page and the API): one file of up to the rule's 10 MB, in
 * a multipart body with a few form fields around it.
 */
export const MAX_UPLOAD_BODY_BYTES = 10 * 1024 * 1024 + 64 * 1024;

/** Whether `path` takes a file upload, and so the larger bound. */
export function isUploadPath(path: string): boolean {
  return /^\/(?:api\/v1\/)?rules\/[0-9]+\/attachments\/?$/.test(path);
}

function sizeText(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MB` : `${bytes} bytes`;
}

/**
 * Refuses bodies over `maxBytes` with 413: `{ "error": { "code": "payload_too_large", … } }` where
 * `isApi(path)` (the API's error shape), words for the person elsewhere.
 */
export function limitBodies(
  o: { maxBytes: number; isApi: (path: string) => boolean },
): MiddlewareHandler<AppEnv> {
  const size = sizeText(o.maxBytes);
  return bodyLimit({
    maxSize: o.maxBytes,
    onError: (c: Context<AppEnv>) => {
      // The rest of the body is not read; the connection is not worth keeping for it.
      c.header("Connection", "close");
      if (o.isApi(c.req.path)) {
        return c.json({
          error: {
            code: "payload_too_large",
            message: `the request body is larger than ${size}; send at most ${size}`,
          },
        }, 413);
      }
      return c.text(fill(c.get("t").bodyTooLarge, { max: size }), 413);
    },
  });
}
