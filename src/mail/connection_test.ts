/**
 * "Test connection": logs in to an account's IMAP server and opens INBOX, and reports only a
 * category of failure (src/domain/connection_problem.ts), never the raw error. Loopback and
 * private-network targets are refused unless allowed, so that a token holder can't use the test
 * to map the network the service runs in.
 */
import { lookup } from "node:dns/promises";
import { connectImap } from "./imap_reader.ts";
import type { ConnectionProblem } from "../domain/connection_problem.ts";
import { addressScope, isLoopbackHost, isPrivateAddress } from "../domain/private_address.ts";

/** The IMAP side of an account to try; `pass` null: none stored. */
export interface MailTarget {
  host: string;
  port: number;
  /** TLS from the first byte; otherwise STARTTLS, required, unless `startTls` is false. */
  secure: boolean;
  /** Without `secure`: false is plain IMAP (a loopback or trusted-LAN server). Default true. */
  startTls?: boolean;
  user: string;
  pass: string | null;
  /** An OAuth account: `pass` is an access token, sent with OAUTHBEARER / XOAUTH2. */
  oauth?: boolean;
}

export interface ConnectionTestOptions {
  /** ALLOW_PRIVATE_HOSTS: a mail server on this machine or the LAN may be tested. */
  allowPrivateHosts: boolean;
  /** How long to wait for each step (connect, greeting, login). */
  timeoutMs: number;
  /** Accept a certificate that does not verify (self-signed test servers only). */
  allowInvalidCertificate?: boolean;
  /** Resolves a host name to all its addresses (default: the system resolver). */
  resolve?: (host: string) => Promise<string[]>;
}

export type ConnectionTestOutcome = { ok: true } | { ok: false; error: ConnectionProblem };

/** Tries the target; never throws. */
export async function testMailConnection(
  target: MailTarget,
  options: ConnectionTestOptions,
): Promise<ConnectionTestOutcome> {
  const host = target.host.replace(/^\[(.*)\]$/, "$1");
  if (!options.allowPrivateHosts) {
    const addresses = await resolveAll(host, options.resolve);
    if (addresses === null) return { ok: false, error: "unresolved" };
    // Every address is checked: a name with one public and one private address is refused.
    if (isLoopbackHost(host) || addresses.some(isPrivateAddress)) {
      return { ok: false, error: "private_host" };
    }
  }
  if (!target.pass) return { ok: false, error: target.oauth ? "authentication" : "no_password" };
  if (!target.secure) {
    // Before STARTTLS the server speaks in clear: what it says first tells IMAP from another
    // service or from a TLS port, which the IMAP client would only see as a timeout.
    const probed = await probePlain(host, target.port, options.timeoutMs);
    if (probed !== "imap") return { ok: false, error: probed };
  }
  try {
    const imap = await connectImap({
      host,
      port: target.port,
      secure: target.secure,
      startTls: !target.secure && (target.startTls ?? true),
      user: target.user,
      pass: target.pass,
      ...(target.oauth ? { pass: "", accessToken: target.pass } : {}),
      allowInvalidCertificate: options.allowInvalidCertificate,
      timeoutMs: options.timeoutMs,
    });
    try {
      await imap.open("INBOX");
    } finally {
      await imap.close().catch(() => {});
    }
    return { ok: true };
  } catch (e) {
    return { ok: false, error: categorize(e) };
  }
}

async function resolveAll(
  host: string,
  resolve?: (host: string) => Promise<string[]>,
): Promise<string[] | null> {
  if (addressScope(host) !== null) return [host];
  try {
    const addresses = resolve
      ? await resolve(host)
      : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    return addresses.length > 0 ? addresses : null;
  } catch {
    return null;
  }
}

/** A TLS record's first byte: handshake (22) or alert (21). */
const TLS_RECORD = new Set([0x15, 0x16]);

/**
 * Reads what a plain connection's server says first: an IMAP greeting (RFC 9051 §7.1: `* OK`,
 * `* PREAUTH`), something else, or nothing — then a TLS handshake tells a TLS port from another
 * protocol that waits for the client (HTTP).
 */
async function probePlain(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<"imap" | ConnectionProblem> {
  let conn: Deno.TcpConn;
  try {
    const connecting = Deno.connect({ hostname: host, port });
    const result = await within(connecting, timeoutMs);
    if (result === null) {
      connecting.then((c) => c.close(), () => {});
      return "timeout";
    }
    conn = result;
  } catch (e) {
    return categorize(e);
  }
  try {
    // An IMAP server greets at once; a short wait tells one that waits for the client.
    const first = await readSome(conn, Math.min(timeoutMs, 3_000));
    if (first === null) return "not_imap";
    if (first.length === 0) return await probeTls(host, port, timeoutMs);
    if (TLS_RECORD.has(first[0])) return "tls";
    const text = new TextDecoder().decode(first);
    if (/^\* (OK|PREAUTH)\b/i.test(text)) return "imap";
    if (/^\* BYE\b/i.test(text)) return "refused";
    return "not_imap";
  } catch (e) {
    return categorize(e);
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

/**
 * A server that waits for the client to speak first: a TLS handshake tells a TLS port (the
 * settings don't match) from another protocol. Its certificate is not the question here, so a
 * handshake that fails on it still counts as TLS.
 */
async function probeTls(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<ConnectionProblem> {
  const connecting = Deno.connectTls({ hostname: host, port }).then(async (c) => {
    try {
      await c.handshake();
      return "tls" as const;
    } finally {
      c.close();
    }
  });
  try {
    return (await within(connecting, timeoutMs)) ?? "timeout";
  } catch (e) {
    connecting.catch(() => {});
    const text = e instanceof Error ? `${e.name} ${e.message}` : String(e);
    return /certificate|UnknownIssuer|NotValidForName|Expired|alert/i.test(text)
      ? "tls"
      : "not_imap";
  }
}

/** Bytes read, empty when nothing came in time, null when the peer closed. */
async function readSome(conn: Deno.TcpConn, ms: number): Promise<Uint8Array | null> {
  const buf = new Uint8Array(512);
  const n = await within(conn.read(buf), ms, -1);
  if (n === -1) return new Uint8Array(0);
  if (n === null) return null;
  return buf.subarray(0, n);
}

/** The promise's value, or `fallback` (null) when it takes longer than `ms`. */
async function within<T, F = null>(p: Promise<T>, ms: number, fallback?: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve((fallback ?? null) as F), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The category of a failed connection or login, from the error and its causes. */
function categorize(e: unknown): ConnectionProblem {
  const chain: Array<Record<string, unknown>> = [];
  for (let x: unknown = e; x && typeof x === "object" && chain.length < 5;) {
    chain.push(x as Record<string, unknown>);
    x = (x as { cause?: unknown }).cause;
  }
  const codes = chain.map((x) => String(x.code ?? "")).join(" ");
  const names = chain.map((x) => String(x.name ?? "")).join(" ");
  const messages = chain.map((x) => String(x.message ?? "")).join(" ");
  if (chain.some((x) => x.authenticationFailed === true)) return "authentication";
  if (/AUTHENTICATIONFAILED/.test(chain.map((x) => String(x.serverResponseCode)).join(" "))) {
    return "authentication";
  }
  if (/ECONNREFUSED/.test(codes) || /ConnectionRefused/.test(names)) return "refused";
  if (/TIMEOUT|ETIMEDOUT/i.test(codes) || /TimedOut/.test(names)) return "timeout";
  if (
    /ERR_SSL|ERR_TLS|CERT|STARTTLS/i.test(codes) ||
    /tls|ssl|certificate|handshake|corrupt message|STARTTLS|wrong version/i.test(messages)
  ) {
    return "tls";
  }
  if (/InvalidResponse|ResponseProcessingFailed|MissingTag|UnexpectedTag/.test(codes)) {
    return "not_imap";
  }
  if (/ENOTFOUND|EAI_AGAIN/.test(codes)) return "unresolved";
  return "unreachable";
}
