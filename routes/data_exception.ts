/**
 * The last line of defence against input the database refuses: a PostgreSQL error of class 22
 * ("data exception": 22P05 untranslatable character, 22021 bad UTF-8, 22008 datetime overflow,
 * 22003 numeric out of range, 22P02 invalid text representation…) is the request's fault, not
 * the server's, and is answered 422. The fields are checked before any query (routes/params.ts,
 * the rule validation); this catches what a check missed. Told by SQLSTATE, never by message
 * text: postgres.js and PGlite both carry it as `code`.
 */

/** The SQLSTATE of a data exception in `error` or its causes; null for any other error. */
export function dataExceptionCode(error: unknown): string | null {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && typeof e === "object" && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^22[0-9A-Z]{3}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}
