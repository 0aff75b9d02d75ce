/**
 * How to reach an account's IMAP and SMTP servers: the one place that knows an account's
 * credentials (the environment's, or the stored ones decrypted with SECRET_KEY), its TLS mode
 * (TLS from the first byte, STARTTLS, or plain on loopback only) and the connection settings
 * handed to imapflow and nodemailer. The collector, the IDLE watcher, the sender, the connection
 * test and the accounts page all come here.
 */
import type { ImapFlowOptions } from "imapflow";
import type { Queryable } from "../store/db.ts";
import type { AccountRow } from "../store/accounts.ts";
import { type Endpoint, getAccountSecrets } from "../store/accounts_admin.ts";
import type { SecretBox } from "../auth/secret_box.ts";
import { isLoopbackHost } from "../domain/private_address.ts";

/** Where and how to log in to one IMAP account. */
export interface ImapConnection {
  host: string;
  port: number;
  /** Implicit TLS (IMAPS, port 993). */
  secure: boolean;
  /** Without implicit TLS: require STARTTLS (true) or speak plain IMAP (false). */
  startTls?: boolean;
  user: string;
  pass: string;
  /** Accept a certificate that does not verify (self-signed test servers only). */
  allowInvalidCertificate?: boolean;
  timeoutMs?: number;
}

/** Where and how to submit replies. */
export interface SmtpConnection {
  host: string;
  port: number;
  /** TLS from the first byte (465). */
  secure: boolean;
  /**
   * Without `secure`: true requires STARTTLS (RFC 3207) before anything else, login included;
   * false is plain SMTP, allowed only to a loopback host (`smtpTransportOptions` refuses others).
   */
  requireTls: boolean;
  user: string | null;
  pass: string | null;
  allowInvalidCertificate?: boolean;
  /** One connection per message instead of a pool (for comparison in benchmarks). */
  pooled?: boolean;
  timeoutMs?: number;
}

/** The TLS mode of an IMAP connection, as error messages name it. */
export function imapTlsMode(conn: ImapConnection): "TLS" | "STARTTLS" | "plain" {
  return conn.secure ? "TLS" : conn.startTls ? "STARTTLS" : "plain";
}

/**
 * imapflow's options for one connection. IDLE is never automatic: the collector reads and logs
 * out, and the IDLE watcher issues and ends IDLE on its own schedule. `socketTimeoutMs` is the
 * socket inactivity limit (default 5 minutes).
 */
export function imapFlowOptions(
  conn: ImapConnection,
  socketTimeoutMs = 5 * 60_000,
): ImapFlowOptions {
  return {
    host: conn.host,
    port: conn.port,
    secure: conn.secure,
    doSTARTTLS: conn.secure ? undefined : (conn.startTls ?? false),
    auth: { user: conn.user, pass: conn.pass },
    logger: false,
    connectionTimeout: conn.timeoutMs ?? 30_000,
    greetingTimeout: conn.timeoutMs ?? 30_000,
    socketTimeout: socketTimeoutMs,
    tls: { rejectUnauthorized: !conn.allowInvalidCertificate },
    disableAutoIdle: true,
  };
}

/**
 * nodemailer's transport options for one connection. Throws when asked for plain SMTP (no TLS,
 * no STARTTLS) to a host that is not loopback: what crosses a network is encrypted, a password
 * above all.
 */
export function smtpTransportOptions(conn: SmtpConnection) {
  if (!conn.secure && !conn.requireTls && !isLoopbackHost(conn.host)) {
    throw new Error(
      `SMTP ${conn.host}:${conn.port}: plain SMTP (no TLS, no STARTTLS) is allowed only to a ` +
        "loopback host; use TLS from the first byte (port 465) or STARTTLS (587)",
    );
  }
  return {
    host: conn.host,
    port: conn.port,
    secure: conn.secure,
    // nodemailer's requireTLS stops before AUTH when STARTTLS is not offered or fails; plain
    // (loopback only, checked above) never tries STARTTLS.
    requireTLS: !conn.secure && conn.requireTls,
    ignoreTLS: !conn.secure && !conn.requireTls,
    auth: conn.user ? { user: conn.user, pass: conn.pass ?? "" } : undefined,
    pool: conn.pooled ?? true,
    maxConnections: 2,
    connectionTimeout: conn.timeoutMs ?? 30_000,
    greetingTimeout: conn.timeoutMs ?? 30_000,
    socketTimeout: conn.timeoutMs ?? 60_000,
    tls: { rejectUnauthorized: !conn.allowInvalidCertificate },
  };
}

/**
 * A stored account's IMAP settings: an unchecked TLS box never means plain, it means STARTTLS,
 * required.
 */
export function storedAccountImap(
  endpoint: { host: string; port: number; tls: boolean; user: string },
  pass: string,
): ImapConnection {
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.tls,
    startTls: !endpoint.tls,
    user: endpoint.user,
    pass,
  };
}

/**
 * A stored account's SMTP settings. As with IMAP, an unchecked TLS box never means plain: it
 * means STARTTLS, required. Port 465 with TLS is TLS from the first byte (RFC 8314 §3.3); any
 * other port upgrades with STARTTLS.
 */
export function storedAccountSmtp(
  endpoint: { host: string; port: number; tls: boolean; user: string | null },
  pass: string | null,
): SmtpConnection {
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.tls && endpoint.port === 465,
    requireTls: true,
    user: endpoint.user,
    pass,
  };
}

/** What reaching accounts needs: the database, the key to their passwords, the environment's. */
export interface AccountAccess {
  db: Queryable;
  secrets: SecretBox;
  /** The account the environment describes (EMAIL_HOST, …), with its settings as configured. */
  envAccount: { id: number; imap: ImapConnection; smtp: SmtpConnection } | null;
}

/** An account's IMAP login: the environment's, or the stored one decrypted with SECRET_KEY. */
export async function imapLogin(
  access: AccountAccess,
  account: AccountRow,
): Promise<ImapConnection> {
  if (account.id === access.envAccount?.id) return access.envAccount.imap;
  const stored = await getAccountSecrets(access.db, account.id);
  if (!stored?.imapPassEnc) throw new Error(`account ${account.name} has no IMAP password stored`);
  return storedAccountImap(
    {
      host: account.imapHost,
      port: account.imapPort,
      tls: account.imapTls,
      user: account.imapUser,
    },
    await access.secrets.decrypt("imap_pass", stored.imapPassEnc),
  );
}

/**
 * An account's SMTP submission: the environment's, or the stored endpoint and password, read in
 * one statement so the password goes where it was saved for.
 */
export async function smtpLogin(access: AccountAccess, accountId: number): Promise<SmtpConnection> {
  if (accountId === access.envAccount?.id) return { ...access.envAccount.smtp };
  const stored = await getAccountSecrets(access.db, accountId);
  const smtp = stored?.smtp;
  if (!smtp) throw new Error(`account ${accountId} has no SMTP settings`);
  return storedAccountSmtp(
    smtp,
    stored.smtpPassEnc ? await access.secrets.decrypt("smtp_pass", stored.smtpPassEnc) : null,
  );
}

/** An account's servers to try, passwords decrypted; null password: none stored. */
export interface AccountTarget {
  accountId: number;
  imap: { host: string; port: number; secure: boolean; user: string; pass: string | null };
  smtp: SmtpConnection | null;
}

/**
 * What "test connection" tries for an account: the endpoints read with the passwords in one
 * statement (a stored password goes only where it was saved for). Null when the account is gone;
 * rejects with `SecretKeyError` when a password cannot be decrypted.
 */
export async function accountTarget(
  access: AccountAccess,
  accountId: number,
): Promise<AccountTarget | null> {
  const stored = await getAccountSecrets(access.db, accountId);
  if (!stored) return null;
  const decrypt = (field: string, enc: string | null) =>
    enc ? access.secrets.decrypt(field, enc) : Promise.resolve(null);
  const imap: Endpoint = stored.imap;
  const imapPass = accountId === access.envAccount?.id
    ? access.envAccount.imap.pass
    : await decrypt("imap_pass", stored.imapPassEnc);
  const smtpPass = await decrypt("smtp_pass", stored.smtpPassEnc);
  return {
    accountId,
    imap: {
      host: imap.host,
      port: imap.port,
      secure: imap.tls,
      user: imap.user ?? "",
      pass: imapPass,
    },
    smtp: stored.smtp ? storedAccountSmtp(stored.smtp, smtpPass) : null,
  };
}
