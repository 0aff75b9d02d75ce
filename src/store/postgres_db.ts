import postgres from "postgres";
import type { Db, LockOutcome, Queryable, Row } from "./db.ts";

/** Options for a real PostgreSQL connection. */
export interface PostgresOptions {
  url: string;
  /** PEM text of the CA that signed the server's certificate (managed PostgreSQL, e.g. Aiven). */
  ca?: string;
  max?: number;
}

// int8 (count(*), bigserial ids) comes back as a JS number, as PGlite gives it: ids and counts
// here stay far below 2^53.
// Statements pass jsonb parameters as JSON text (`$1::jsonb`), as PGlite takes them; postgres.js
// would JSON-encode that text a second time.
const jsonText = {
  to: 3802,
  from: [114, 3802],
  serialize: (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x)),
  parse: (x: string) => JSON.parse(x),
};

const int8AsNumber = {
  to: 20,
  from: [20],
  serialize: (x: unknown) => String(x),
  parse: (x: string) => Number(x),
};

/** Connects to PostgreSQL with postgres.js. Connections open lazily, on the first query. */
export function openPostgres(options: PostgresOptions): Db {
  const url = new URL(options.url);
  const sslmode = url.searchParams.get("sslmode");
  const ssl = sslSettings(sslmode, options.ca);
  // postgres.js reads sslmode itself too; the explicit ssl option below wins and keeps the CA.
  url.searchParams.delete("sslmode");
  const sql = postgres(url.toString(), {
    max: options.max ?? 10,
    ssl,
    onnotice: () => {},
    types: { bigint: int8AsNumber, json: jsonText },
    connection: { application_name: "carteiro" },
  });
  return new PostgresDb(sql);
}

function sslSettings(sslmode: string | null, ca: string | undefined) {
  if (ca) {
    return { ca, rejectUnauthorized: sslmode !== "no-verify" };
  }
  switch (sslmode) {
    case null:
    case "disable":
      return false;
    case "require":
      // libpq's `require` encrypts without checking the certificate chain.
      return { rejectUnauthorized: false };
    case "verify-ca":
    case "verify-full":
      return { rejectUnauthorized: true };
    default:
      return "prefer" as const;
  }
}

type Sql = ReturnType<typeof postgres>;

class PostgresDb implements Db {
  readonly kind = "postgres" as const;
  #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async query<T extends Row = Row>(text: string, params: unknown[] = []): Promise<T[]> {
    // deno-lint-ignore no-explicit-any
    return [...await this.#sql.unsafe(text, params as any[])] as unknown as T[];
  }

  async exec(script: string): Promise<void> {
    await this.#sql.unsafe(script);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return await this.#sql.begin(async (tx) => {
      const q: Queryable = {
        async query<R extends Row = Row>(text: string, params: unknown[] = []) {
          // deno-lint-ignore no-explicit-any
          return [...await tx.unsafe(text, params as any[])] as unknown as R[];
        },
      };
      return await fn(q);
    }) as T;
  }

  async tryWithLock<T>(
    namespace: number,
    key: number,
    fn: () => Promise<T>,
  ): Promise<LockOutcome<T>> {
    const conn = await this.#sql.reserve();
    try {
      const [row] = await conn.unsafe("SELECT pg_try_advisory_lock($1, $2) AS ok", [
        namespace,
        key,
      ]);
      if (!row.ok) return { acquired: false };
      try {
        return { acquired: true, value: await fn() };
      } finally {
        await conn.unsafe("SELECT pg_advisory_unlock($1, $2)", [namespace, key]);
      }
    } finally {
      conn.release();
    }
  }

  async withLock<T>(namespace: number, key: number, fn: () => Promise<T>): Promise<T> {
    const conn = await this.#sql.reserve();
    try {
      await conn.unsafe("SELECT pg_advisory_lock($1, $2)", [namespace, key]);
      try {
        return await fn();
      } finally {
        await conn.unsafe("SELECT pg_advisory_unlock($1, $2)", [namespace, key]);
      }
    } finally {
      conn.release();
    }
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
