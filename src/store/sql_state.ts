/**
 * PostgreSQL's SQLSTATE of a failed statement (Appendix A of the PostgreSQL manual), read the
 * same way from both adapters: postgres.js throws a `PostgresError` and PGlite a `DatabaseError`,
 * and both carry the five-character code in `.code`. A conflict is told by this code, never by
 * the words of the message, which change with the server's language and version.
 */

/** The SQLSTATEs Carteiro tells apart. */
export const SqlState = {
  uniqueViolation: "23505",
  foreignKeyViolation: "23503",
  notNullViolation: "23502",
  checkViolation: "23514",
} as const;

/** The SQLSTATE of `error` (or of an error in its `cause` chain), or null when it has none. */
export function sqlStateOf(error: unknown): string | null {
  for (let e = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** Whether `error` is a violated constraint: a unique key, a foreign key, NOT NULL or CHECK. */
export function isConstraintViolation(error: unknown): boolean {
  return (Object.values(SqlState) as string[]).includes(sqlStateOf(error) ?? "");
}

/** Whether `error` is a unique violation (a name or key that is already taken). */
export function isUniqueViolation(error: unknown): boolean {
  return sqlStateOf(error) === SqlState.uniqueViolation;
}
