import postgres from "postgres";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import type { Db, LockOutcome, Queryable, QueryOptions, Row } from "./db.ts";

/** Options for a real PostgreSQL connection. */
export interface PostgresOptions {
  url: string;
  /** PEM text of the CA that signed the server's certificate (managed PostgreSQL, e.g. Aiven). */
  ca?: string;
  /** Where `ca` came from, named in error messages (e.g. `DATABASE_CA_FILE /etc/ssl/ca.pem`). */
  caSource?: string;
  max?: number;
}

/** Why a TLS connection to PostgreSQL could not be made. */
export type PostgresTlsProblem =
  | "server-without-tls"
  | "untrusted-certificate"
  | "wrong-host"
  | "expired-certificate"
  | "handshake-failed";

/** A connection refused for want of TLS or of a certificate Carteiro can trust; keeps `cause`. */
export class PostgresTlsError extends Error {
  override name = "PostgresTlsError";
  readonly problem: PostgresTlsProblem;

  constructor(problem: PostgresTlsProblem, message: string, options: { cause: unknown }) {
    super(message, options);
    this.problem = problem;
  }
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

/** What error messages need to know about the server and the TLS that was asked for. */
interface Target {
  host: string;
  port: number;
  sslmode: string | null;
  caSource: string | null;
  /** TLS or no connection at all (every setting but no sslmode, `disable`, `allow`, `prefer`). */
  tlsRequired: boolean;
}

/** Connects to PostgreSQL with postgres.js. Connections open lazily, on the first query. */
export function openPostgres(options: PostgresOptions): Db {
  const url = new URL(options.url);
  const sslmode = url.searchParams.get("sslmode");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost";
  const caSource = options.ca === undefined ? null : options.caSource ?? "the CA given";
  if (options.ca !== undefined && !options.ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(
      `${caSource} is not a PEM certificate (-----BEGIN CERTIFICATE----- …): give the CA ` +
        "certificate of the PostgreSQL server, as its provider offers it for download",
    );
  }
  const ssl = sslSettings(sslmode, options.ca, host);
  // postgres.js reads sslmode itself too; the explicit ssl option below wins and keeps the CA.
  url.searchParams.delete("sslmode");
  const sql = postgres(url.toString(), {
    max: options.max ?? 10,
    ssl,
    onnotice: () => {},
    types: { bigint: int8AsNumber, json: jsonText },
    // No JIT compilation: every statement here reads a page or a batch of rows, where compiling
    // costs more than it saves, and a planner's overestimate turns it on for hundreds of
    // milliseconds (at 1,000,000 messages, "pandemia" with a reply status took three times as
    // long as the word alone, 626 ms against 210 ms at the 95th percentile; bench/message_list.ts).
    connection: { application_name: "carteiro", jit: "off" },
  });
  return new PostgresDb(sql, {
    host,
    port: Number(url.port || 5432),
    sslmode,
    caSource,
    tlsRequired: typeof ssl === "object",
  });
}

/**
 * postgres.js's options for one statement: unnamed, so parsed and planned at each run, unless the
 * caller asks for it to be prepared. A prepared statement lives in its connection's session,
 * which the session-mode pooling Carteiro needs anyway (docs/scaling.md) keeps.
 */
function prepared(options?: QueryOptions): { prepare: boolean } {
  return { prepare: options?.prepare === true };
}

function sslSettings(sslmode: string | null, ca: string | undefined, host: string) {
  // postgres.js checks an IP address as if it were "localhost"; check the host of the URL.
  const checkHost = (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert);
  if (ca) {
    // With a CA every sslmode insists on TLS, `allow` and `prefer` too: a CA given means the
    // server must prove who it is, and a plain-text answer proves nothing.
    if (sslmode === "no-verify") return { ca, rejectUnauthorized: false };
    if (sslmode === "verify-ca") {
      return { ca, rejectUnauthorized: true, checkServerIdentity: noCheck };
    }
    return { ca, rejectUnauthorized: true, checkServerIdentity: checkHost };
  }
  switch (sslmode) {
    case null:
    case "disable":
      return false;
    case "require":
      // libpq's `require` encrypts without checking the certificate chain.
      return { rejectUnauthorized: false };
    case "verify-ca":
      // libpq's `verify-ca` checks the chain but not the host name.
      return { rejectUnauthorized: true, checkServerIdentity: noCheck };
    case "verify-full":
      return { rejectUnauthorized: true, checkServerIdentity: checkHost };
    default:
      return "prefer" as const;
  }
}

function noCheck() {
  return undefined;
}

// OpenSSL's verify results for a chain that does not end at a trusted CA.
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
]);
const OUT_OF_DATE = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
// How a TLS handshake ends when the server answered the SSLRequest with "N" and then reads the
// TLS hello as a startup message (postgres.js goes on with TLS either way).
const CUT_OFF = new Set(["ECONNRESET", "EPIPE", "CONNECTION_CLOSED"]);

/** Turns a failed TLS connection into an error that says what failed and what to do. */
async function explain(error: unknown, target: Target): Promise<unknown> {
  if (!(error instanceof Error) || error instanceof postgres.PostgresError) return error;
  const code = String((error as { code?: unknown }).code ?? "");
  const where = `PostgreSQL at ${target.host}:${target.port}`;
  const why = error.message;
  if (UNTRUSTED.has(code)) {
    const message = target.caSource
      ? `the TLS certificate of ${where} was not signed by the CA in ${target.caSource} (${why}): ` +
        "give the CA certificate of this server"
      : `the TLS certificate of ${where} was not signed by a CA this machine trusts (${why}): ` +
        "give the server's CA certificate in DATABASE_CA_FILE or DATABASE_CA";
    return new PostgresTlsError("untrusted-certificate", message, { cause: error });
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new PostgresTlsError(
      "wrong-host",
      `the TLS certificate of ${where} is not made out to "${target.host}" (${why}): use the ` +
        "host name the certificate names in DATABASE_URL, or sslmode=verify-ca to check only the CA",
      { cause: error },
    );
  }
  if (OUT_OF_DATE.has(code)) {
    return new PostgresTlsError(
      "expired-certificate",
      `the TLS certificate of ${where} is not valid today (${why}): check the server's certificate ` +
        "and this machine's clock",
      { cause: error },
    );
  }
  if (!target.tlsRequired) return error;
  if (CUT_OFF.has(code) || /\b(TLS|SSL)\b/.test(why) || /^ERR_(TLS|SSL)_/.test(code)) {
    const offers = await offersTls(target.host, target.port);
    if (offers === false) {
      const asked = target.sslmode && !["allow", "prefer", "disable"].includes(target.sslmode)
        ? `sslmode=${target.sslmode} was asked`
        : `a CA was given (${target.caSource})`;
      return new PostgresTlsError(
        "server-without-tls",
        `${where} does not accept TLS connections, and ${asked}: Carteiro does not fall back to ` +
          "plain text. Turn TLS on at the server, or check the host and port in DATABASE_URL",
        { cause: error },
      );
    }
    if (offers === true && /^ERR_(TLS|SSL)_/.test(code)) {
      return new PostgresTlsError(
        "handshake-failed",
        `the TLS handshake with ${where} failed (${why})`,
        { cause: error },
      );
    }
  }
  return error;
}

/**
 * Asks the server whether it speaks TLS, as libpq does before the handshake: an SSLRequest
 * (PostgreSQL protocol, "SSL Session Encryption") answered by one byte, "S" or "N".
 * Null when the server cannot be reached or answers something else.
 */
async function offersTls(host: string, port: number): Promise<boolean | null> {
  const abort = new AbortController();
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    abort.abort();
    conn?.close();
    conn = undefined;
  }, 5_000);
  try {
    conn = await Deno.connect({ hostname: host, port, signal: abort.signal });
    // Length 8, then the SSLRequest code 80877103.
    await conn.write(new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    const answer = new Uint8Array(1);
    if (await conn.read(answer) !== 1) return null;
    if (answer[0] === 0x53) return true;
    if (answer[0] === 0x4e) return false;
    return null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    conn?.close();
  }
}

type Sql = ReturnType<typeof postgres>;

class PostgresDb implements Db {
  readonly kind = "postgres" as const;
  #sql: Sql;
  #target: Target;

  constructor(sql: Sql, target: Target) {
    this.#sql = sql;
    this.#target = target;
  }

  /** Runs a step that may open a connection; a failed TLS connection is explained. */
  async #connecting<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      throw await explain(error, this.#target);
    }
  }

  query<T extends Row = Row>(
    text: string,
    params: unknown[] = [],
    options?: QueryOptions,
  ): Promise<T[]> {
    return this.#connecting(async () =>
      // deno-lint-ignore no-explicit-any
      [...await this.#sql.unsafe(text, params as any[], prepared(options))] as unknown as T[]
    );
  }

  exec(script: string): Promise<void> {
    return this.#connecting(async () => {
      await this.#sql.unsafe(script);
    });
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // Only a transaction that never began is explained: what `fn` throws goes out as it is.
    let began = false;
    try {
      return await this.#sql.begin(async (tx) => {
        began = true;
        const q: Queryable = {
          async query<R extends Row = Row>(
            text: string,
            params: unknown[] = [],
            options?: QueryOptions,
          ) {
            // deno-lint-ignore no-explicit-any
            return [...await tx.unsafe(text, params as any[], prepared(options))] as unknown as R[];
          },
        };
        return await fn(q);
      }) as T;
    } catch (error) {
      throw began ? error : await explain(error, this.#target);
    }
  }

  async tryWithLock<T>(
    namespace: number,
    key: number,
    fn: () => Promise<T>,
  ): Promise<LockOutcome<T>> {
    const conn = await this.#connecting(() => this.#sql.reserve());
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
    const conn = await this.#connecting(() => this.#sql.reserve());
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
