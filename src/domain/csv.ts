/** CSV as RFC 4180 writes it, safe to open in a spreadsheet. */

/**
 * One CSV field: quoted when it holds a quote, a comma or a line break (RFC 4180 section 2), and
 * a leading `= + - @` (or tab/CR) prefixed with `'` so that a spreadsheet does not read text from
 * mail as a formula (OWASP "CSV injection").
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One record: its fields (null as empty) joined by commas, ended by CRLF. */
export function csvLine(fields: readonly (string | number | null)[]): string {
  return fields.map((f) => f === null ? "" : typeof f === "number" ? String(f) : csvField(f))
    .join(",") + "\r\n";
}
