/** Checks shared by the validators of the JSON users write (rules, schedules): small and pure. */

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function stringList(
  v: unknown,
  field: string,
  errors: string[],
  maxLength: number,
): string[] | null {
  const list = typeof v === "string" ? [v] : v;
  if (
    !Array.isArray(list) || list.length === 0 ||
    !list.every((x) => typeof x === "string" && x.trim() !== "")
  ) {
    errors.push(`${field}: must be a non-empty string or a non-empty list of strings`);
    return null;
  }
  const long = list.find((x: string) => x.length > maxLength);
  if (long !== undefined) {
    errors.push(`${field}: ${show(long)} is longer than ${maxLength} characters`);
    return null;
  }
  return list as string[];
}

export function hasControl(s: string): boolean {
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s);
}

/** A value as a trail or an error message quotes it: JSON, cut at 80 characters. */
export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 80 ? v.slice(0, 79) + "…" : v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? s.slice(0, 79) + "…" : s;
}
