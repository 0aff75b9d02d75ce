/**
 * PostgreSQL text and jsonb cannot hold U+0000, which hostile or broken mail does contain. Parsed
 * fields drop it (the raw bytes, in bytea, keep everything).
 */
export function pgSafe<T>(value: T): T {
  if (typeof value === "string") return value.replaceAll("\u0000", "") as T;
  if (Array.isArray(value)) return value.map(pgSafe) as T;
  if (value instanceof Date || value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[pgSafe(k)] = pgSafe(v);
  return out as T;
}
