/**
 * How `/api/v1` answers: errors as `{ "error": { "code", "message", "details"? } }` with a stable
 * code, an action's problem as its error, and the reading of a JSON body.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Problem } from "../../src/actions/result.ts";

/** Stable error codes of the API. */
export type ApiErrorCode =
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "invalid_json"
  | "invalid_request"
  | "wrong_status"
  | "conflict"
  | "raw_purged"
  | "internal";

/** An error answer: `{ "error": { "code", "message", "details"? } }`. */
export function apiError(
  c: Context,
  status: ContentfulStatusCode,
  code: ApiErrorCode,
  message: string,
  details?: string[],
) {
  return c.json({ error: { code, message, ...(details ? { details } : {}) } }, status);
}

/** 400: the body is not JSON. */
export const badJson = (c: Context) =>
  apiError(c, 400, "invalid_json", "the request body is not JSON");

/** 404: no such `what`. */
export const notFound = (c: Context, what: string) =>
  apiError(c, 404, "not_found", `no such ${what}`);

/** An action's problem as an API error: 422, 404 or 409 with the matching code. */
export function problemAnswer(c: Context, p: Problem) {
  switch (p.code) {
    case "invalid":
      return apiError(c, 422, "invalid_request", p.message, p.details);
    case "not_found":
      return apiError(c, 404, "not_found", p.message);
    case "wrong_status":
      return apiError(c, 409, "wrong_status", p.message);
    case "conflict":
    case "read_only":
      return apiError(c, 409, "conflict", p.message, p.details);
  }
}

/** An instant as ISO 8601, or null. */
export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Reads a JSON body (an empty body is `{}`); `ok: false` when it is not JSON. */
export async function jsonBody(c: Context): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    const text = await c.req.text();
    return { ok: true, value: text.trim() === "" ? {} : JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** A member of a JSON object, or undefined when the value is not an object. */
export function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}
