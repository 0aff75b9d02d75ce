/**
 * Text that PostgreSQL cannot store: `text` and `jsonb` refuse the NUL character (U+0000), and
 * a lone UTF-16 surrogate (`\ud800` in JSON) is not a Unicode character at all, so no UTF-8
 * database holds it. Every field a person or a program types is checked here, with its name,
 * before it reaches a query.
 */

/** Why `text` cannot be stored, or null when it can. */
export function unstorableReason(text: string): string | null {
  if (text.includes("\u0000")) return "contains a NUL character";
  if (!text.isWellFormed()) return "contains an unpaired surrogate (not valid Unicode)";
  return null;
}

/**
 * Every string in a JSON value (object keys too) that cannot be stored, as `path: reason`:
 * `reply.text: contains a NUL character`, `when.from[1]: …`. `path` names the value itself.
 */
export function unstorableStrings(value: unknown, path: string): string[] {
  const found: string[] = [];
  const at = (p: string) => p === "" ? "(value)" : p;
  const walk = (v: unknown, p: string, depth: number) => {
    if (typeof v === "string") {
      const reason = unstorableReason(v);
      if (reason) found.push(`${at(p)}: ${reason}`);
    } else if (depth > 32) {
      return;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, `${p}[${i}]`, depth + 1));
    } else if (typeof v === "object" && v !== null) {
      for (const [key, item] of Object.entries(v)) {
        const reason = unstorableReason(key);
        const name = reason ? JSON.stringify(key) : key;
        const child = p === "" ? name : `${p}.${name}`;
        if (reason) found.push(`${child}: the field name ${reason}`);
        else walk(item, child, depth + 1);
      }
    }
  };
  walk(value, path, 0);
  return found;
}
