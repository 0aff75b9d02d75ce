/**
 * Reads request parameters — query strings, forms, path ids — for the pages and the API alike:
 * each value checked once, here, and each problem named by its field, so that no input reaches
 * the database in a shape it refuses (a NUL, a date past year 9999, an id past the 32-bit
 * columns) and turns into a 500.
 */
import type { Context } from "hono";
import { unstorableReason } from "../src/domain/storable_text.ts";

/** The largest id a `serial` column holds (PostgreSQL `integer`, 2³¹−1). */
export const MAX_ID = 2_147_483_647;

/** The dates a filter may name: the Unix epoch (no mail is older) to the last 4-digit year. */
export const FIRST_DAY = "1970-01-01";
export const LAST_DAY = "9999-12-31";

const DAY_MS = 86_400_000;
/** The last instant PostgreSQL reads back from a 4-digit-year ISO string. */
const LAST_INSTANT = Date.parse(`${LAST_DAY}T23:59:59.999Z`);

/** A positive id in decimal digits, at most `MAX_ID`; null for anything else (0, -1, 1e3, 0x10). */
export function parseId(text: unknown): number | null {
  if (typeof text !== "string" || !/^[1-9][0-9]{0,9}$/.test(text)) return null;
  const n = Number(text);
  return n <= MAX_ID ? n : null;
}

/** Whether a JSON value is an id: an integer from 1 to `MAX_ID` (not 1.5, 1e20, "1"). */
export function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

/** A `YYYY-MM-DD` day from `FIRST_DAY` to `LAST_DAY` as UTC midnight; null otherwise (2026-02-31). */
export function parseDay(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || text < FIRST_DAY || text > LAST_DAY) return null;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text ? d : null;
}

/**
 * The exclusive end of an inclusive `until` day: the next midnight, or the last millisecond of
 * `LAST_DAY` (year 10000 would be written `+010000-…`, which PostgreSQL refuses).
 */
export function endOfDay(day: Date): Date {
  return new Date(Math.min(day.getTime() + DAY_MS, LAST_INSTANT));
}

/** Every value a request gave for one name (a repeated query parameter gives several). */
type ValuesOf = (name: string) => readonly unknown[];

/**
 * The parameters of one request, read by name. Each reader records a problem in `errors`
 * (`q: contains a NUL character`, `since: given more than once`) and returns the empty value,
 * so a handler reads every field, then answers 422 with all the problems at once.
 */
export class Params {
  /** Problems found so far, each starting with the field's name. */
  readonly errors: string[] = [];
  #values: ValuesOf;
  #texts = new Map<string, string>();

  constructor(values: ValuesOf) {
    this.#values = values;
  }

  /** The query string of a request. */
  static ofQuery(c: Context): Params {
    return new Params((name) => c.req.queries(name) ?? []);
  }

  /** A form, as `c.req.parseBody({ all: true })` reads it (a repeated field is a list). */
  static ofForm(body: Record<string, unknown>): Params {
    return new Params((name) => {
      const v = Object.hasOwn(body, name) ? body[name] : undefined;
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    });
  }

  /** Adds a problem of the field `name`. */
  problem(name: string, message: string): void {
    this.errors.push(`${name}: ${message}`);
  }

  /**
   * A text field, trimmed unless `trim` is false; "" when absent or refused (given twice, a
   * file, longer than `max`, or holding text the database cannot store).
   */
  text(name: string, max = 500, trim = true): string {
    const known = this.#texts.get(name);
    if (known !== undefined) return known;
    const values = this.#values(name);
    let text = "";
    if (values.length > 1) this.problem(name, "given more than once");
    else if (values.length === 1 && typeof values[0] !== "string") {
      this.problem(name, "must be text");
    } else if (values.length === 1) {
      const raw = trim ? (values[0] as string).trim() : values[0] as string;
      const reason = unstorableReason(raw);
      if (raw.length > max) this.problem(name, `is longer than ${max} characters`);
      else if (reason) this.problem(name, reason);
      else text = raw;
    }
    this.#texts.set(name, text);
    return text;
  }

  /** An id (`what` names it in the problem); undefined when absent or refused. */
  id(name: string, what: string): number | undefined {
    const text = this.text(name, 20);
    if (text === "") return undefined;
    const id = parseId(text);
    if (id === null) this.problem(name, `must be ${what} (a whole number from 1 to ${MAX_ID})`);
    return id ?? undefined;
  }

  /** A `YYYY-MM-DD` day (see `parseDay`); undefined when absent or refused. */
  day(name: string): Date | undefined {
    const text = this.text(name, 20);
    if (text === "") return undefined;
    const d = parseDay(text);
    if (!d) this.problem(name, `must be a date (YYYY-MM-DD) from ${FIRST_DAY} to ${LAST_DAY}`);
    return d ?? undefined;
  }

  /** One of `options`; undefined when absent or refused. */
  oneOf<T extends string>(name: string, options: readonly T[]): T | undefined {
    const text = this.text(name, 100);
    if (text === "") return undefined;
    if ((options as readonly string[]).includes(text)) return text as T;
    this.problem(
      name,
      options.length === 2
        ? `must be ${options[0]} or ${options[1]}`
        : `must be one of ${options.join(", ")}`,
    );
    return undefined;
  }

  /** A whole number from `min` to `max`; `fallback` when absent or refused. */
  int(name: string, min: number, max: number, fallback: number): number {
    const text = this.text(name, 20);
    if (text === "") return fallback;
    const n = /^-?\d{1,15}$/.test(text) ? Number(text) : NaN;
    if (n >= min && n <= max) return n;
    this.problem(name, `must be a whole number from ${min} to ${max}`);
    return fallback;
  }

  /** A checkbox: 1, true or on. */
  flag(name: string): boolean {
    return ["1", "true", "on"].includes(this.text(name, 10));
  }
}
