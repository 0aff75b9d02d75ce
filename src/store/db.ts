/**
 * The one database interface every store function takes. Two adapters implement it:
 * postgres.js for a real PostgreSQL (src/store/postgres_db.ts) and PGlite for the embedded
 * default (src/store/pglite_db.ts). Both speak the same SQL, with `$1` placeholders.
 */

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/** How one statement is run. */
export interface QueryOptions {
  /**
   * Parse and plan the statement once per connection and reuse that (a named prepared statement
   * on PostgreSQL), for a statement run many times a second whose text never changes: the outbox's
   * claim and settlement, whose planning cost more than their execution. PGlite ignores it.
   */
  prepare?: boolean;
}

/** Anything that runs one parameterised statement: the database itself or a transaction. */
export interface Queryable {
  query<T extends Row = Row>(
    text: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<T[]>;
  /**
   * How a bytea parameter travels best. "binary": a `Uint8Array` goes as it is, in the protocol's
   * binary format (PGlite). Absent: the driver sends parameters as text only (postgres.js), where
   * base64 that the server decodes is the shortest form.
   */
  readonly bytes?: "binary";
}

/** What a `tryWithLock` call did: ran the function under the lock, or found the lock taken. */
export type LockOutcome<T> = { acquired: true; value: T } | { acquired: false };

export interface Db extends Queryable {
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` holding the session-level advisory lock `(namespace, key)`, or returns at once with
   * `acquired: false` when another session holds it. The lock is released when `fn` settles, or
   * by the server when the connection dies, so a killed process never leaves it held.
   */
  tryWithLock<T>(namespace: number, key: number, fn: () => Promise<T>): Promise<LockOutcome<T>>;
  /** Like `tryWithLock`, but waits for the lock. */
  withLock<T>(namespace: number, key: number, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** "postgres" or "pglite", for health output. */
  readonly kind: "postgres" | "pglite";
}

/** Advisory lock namespaces: the first key of `pg_advisory_lock(int, int)`. */
export const LockNamespace = {
  migrations: 7301,
  collect: 7302,
  send: 7303,
  /** Held (per transaction) while the setup link checks that no user exists and makes one. */
  firstUser: 7304,
  /** Held by the purge run (src/jobs/retention_purge.ts): one at a time across instances. */
  retention: 7305,
} as const;
