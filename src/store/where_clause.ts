/**
 * The WHERE clause of a list statement, built one filter at a time: each value becomes a `$n`
 * placeholder in order, so user input never reaches the SQL text.
 */
export class WhereClause {
  /** The statement's parameters, in placeholder order. */
  readonly params: unknown[];
  #conditions: string[] = [];

  /**
   * `params`: the parameter list of another clause of the same statement, to number on from it
   * (a statement with several WHERE clauses has one list); a new one by default.
   */
  constructor(params: unknown[] = []) {
    this.params = params;
  }

  /** Adds a value to the parameters and returns its placeholder (`$1`, `$2`, …). */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  /** Adds a condition; its values must come from `param`. */
  and(condition: string): void {
    this.#conditions.push(condition);
  }

  /**
   * The keyset condition of a page ordered by `(time DESC, id DESC)`: rows strictly before the
   * cursor, whose time is kept in whole microseconds since the epoch (a timestamptz's precision).
   */
  before(timeColumn: string, idColumn: string, cursor: { micros: number; id: number }) {
    this.and(
      `(${timeColumn}, ${idColumn}) < ('epoch'::timestamptz + ${
        this.param(cursor.micros)
      }::bigint * interval '1 microsecond', ${this.param(cursor.id)}::bigint)`,
    );
  }

  /** `WHERE a AND b …`, or nothing when no condition was added. */
  toString(): string {
    return this.#conditions.length ? `WHERE ${this.#conditions.join(" AND ")}` : "";
  }
}
