/**
 * Remote images in a message's HTML load only after the person asks, with a POST that carries
 * the CSRF token (`POST /messages/:id/images`). It answers with a redirect to the page, whose
 * frame URL carries a key only this session can make (an HMAC of the message id under the
 * session's CSRF token): a link another site points the admin's browser at cannot turn the
 * images on, since it cannot know the key.
 */
import type { Context } from "hono";
import type { AppEnv } from "./app_env.ts";
import { sameSecret } from "../src/auth/tokens.ts";

const encoder = new TextEncoder();

/** The key that turns remote images on for message `id`, in the session whose CSRF token is `csrf`. */
export async function remoteImagesKey(csrf: string, id: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(csrf),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`remote-images:${id}`));
  return Array.from(new Uint8Array(mac).slice(0, 16), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Whether the request's `images` parameter is this session's key for message `id`. */
export async function remoteImagesAllowed(c: Context<AppEnv>, id: number): Promise<boolean> {
  const given = c.req.query("images");
  const csrf = c.get("csrfToken");
  if (!given || !csrf || !/^[0-9a-f]{32}$/.test(given)) return false;
  return sameSecret(given, await remoteImagesKey(csrf, id));
}
