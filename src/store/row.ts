/**
 * Reading a driver's row into the store's camelCase shapes. A store module selects exactly the
 * columns of its shape, each named as the field in snake_case (aliased where the table names it
 * otherwise), so the SELECT list is the one place a shape's columns are written.
 */
import type { Row } from "./db.ts";

/** `imap_host` → `imapHost`. */
function camelCase(column: string): string {
  return column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The row with each column under its camelCase name, in the order selected, and NULL as null.
 * The values are the driver's as they are (`T` is trusted as a cast is): convert a column that
 * needs it (a bigint id) after reading.
 */
export function camelRow<T>(r: Row): T {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [camelCase(k), v ?? null])) as T;
}
