/**
 * How to reach an account's IMAP and SMTP servers: the one place that knows an account's
 * credentials (the environment's, the stored passwords decrypted with SECRET_KEY, or an OAuth2
 * access token from the account's provider, for SASL XOAUTH2 / OAUTHBEARER), its TLS mode
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
import type { TlsMode } from "../domain/tls_mode.ts";
import type { OAuthEndpoint, OAuthProviderSettings } from "../config.ts";

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
  /** An OAuth2 bearer token: the login is XOAUTH2 or OAUTHBEARER (RFC 7628), not `pass`. */
  accessToken?: string;
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
  /**
   * OAuth2 (XOAUTH2) instead of `pass`: asked for a token when the transport has none or its
   * token is about to expire, and with `renew` after the server refused one.
   */
  oauth?: { token: (renew: boolean) => Promise<AccessToken> };
  allowInvalidCertificate?: boolean;
  /** One connection per message instead of a pool (for comparison in benchmarks). */
  pooled?: boolean;
  /** Connections the pool may open at once (default 2): one per reply sent in parallel. */
  maxConnections?: number;
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
    // With an access token imapflow prefers OAUTHBEARER (RFC 7628), else XOAUTH2.
    auth: conn.accessToken
      ? { user: conn.user, accessToken: conn.accessToken }
      : { user: conn.user, pass: conn.pass },
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
    auth: conn.oauth && conn.user
      ? oauthSmtpAuth(conn.user, conn.oauth.token)
      : conn.user
      ? { user: conn.user, pass: conn.pass ?? "" }
      : undefined,
    pool: conn.pooled ?? true,
    maxConnections: conn.maxConnections ?? 2,
    connectionTimeout: conn.timeoutMs ?? 30_000,
    greetingTimeout: conn.timeoutMs ?? 30_000,
    socketTimeout: conn.timeoutMs ?? 60_000,
    tls: { rejectUnauthorized: !conn.allowInvalidCertificate },
  };
}

/**
 * nodemailer's XOAUTH2 login: it asks `token` for an access token, again when the one it holds
 * expires, and once with `renew` after the server refuses it (nodemailer retries AUTH once).
 */
function oauthSmtpAuth(user: string, token: (renew: boolean) => Promise<AccessToken>) {
  return {
    type: "OAuth2" as const,
    user,
    provisionCallback: (
      _user: string,
      renew: boolean,
      done: (err: Error | null, accessToken?: string, expires?: number) => void,
    ) => {
      token(renew).then(
        (t) => done(null, t.accessToken, t.expiresAt.getTime()),
        (e) => done(e instanceof Error ? e : new Error(String(e))),
      );
    },
  };
}

/**
 * A stored account's IMAP settings in its TLS mode (src/domain/tls_mode.ts). Throws for plain
 * IMAP to a host that is not loopback: the settings refuse to save it, and a row that says so
 * anyway must not send a password in clear.
 */
export function storedAccountImap(
  endpoint: { host: string; port: number; tls: TlsMode; user: string },
  pass: string,
): ImapConnection {
  refusePlain("IMAP", endpoint);
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.tls === "tls",
    startTls: endpoint.tls === "starttls",
    user: endpoint.user,
    pass,
  };
}

/**
 * A stored account's SMTP settings in its TLS mode: `tls` is TLS from the first byte (RFC 8314
 * §3.3, usually port 465), `starttls` requires STARTTLS (RFC 3207) before anything else, login
 * included, and `plain` is plain SMTP, to a loopback host only (`smtpTransportOptions` refuses
 * others as well).
 */
export function storedAccountSmtp(
  endpoint: { host: string; port: number; tls: TlsMode; user: string | null },
  pass: string | null,
): SmtpConnection {
  refusePlain("SMTP", endpoint);
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.tls === "tls",
    requireTls: endpoint.tls !== "plain",
    user: endpoint.user,
    pass,
  };
}

function refusePlain(kind: "IMAP" | "SMTP", e: { host: string; port: number; tls: TlsMode }) {
  if (e.tls === "plain" && !isLoopbackHost(e.host)) {
    throw new Error(
      `${kind} ${e.host}:${e.port}: plain ${kind} (no TLS, no STARTTLS) is allowed only to a ` +
        "loopback host; edit the account and choose TLS or STARTTLS",
    );
  }
}

/** An OAuth2 access token and when it stops being accepted (a little before it expires). */
export interface AccessToken {
  accessToken: string;
  expiresAt: Date;
}

/** Raised for an account whose provider refused its grant: a person must reconnect it. */
export class ReauthorizationNeededError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ReauthorizationNeededError";
  }
}

/** What OAuth accounts need: their provider's settings, and fresh access tokens. */
export interface OAuthAccess {
  provider(id: string): OAuthProviderSettings | null;
  /**
   * A valid access token of the account, refreshed first when it is about to expire or when
   * `force` (the server refused it). Rejects with `ReauthorizationNeededError` when the provider
   * refused the grant, now or before.
   */
  accessToken(accountId: number, force: boolean): Promise<AccessToken>;
}

/** What reaching accounts needs: the database, the key to their passwords, the environment's. */
export interface AccountAccess {
  db: Queryable;
  secrets: SecretBox;
  /** The account the environment describes (EMAIL_HOST, …), with its settings as configured. */
  envAccount: { id: number; imap: ImapConnection; smtp: SmtpConnection } | null;
  /** OAuth accounts; absent: none can connect (no provider configured). */
  oauth?: OAuthAccess;
}

function oauthOf(access: AccountAccess, provider: string | null): {
  oauth: OAuthAccess;
  provider: OAuthProviderSettings;
} {
  const p = provider ? access.oauth?.provider(provider) : null;
  if (!access.oauth || !p) {
    throw new Error(
      `the account was connected with ${provider ?? "an OAuth provider"}, which is not ` +
        "configured now: set its OAUTH_* settings again",
    );
  }
  return { oauth: access.oauth, provider: p };
}

/** Where an OAuth account's server is: the provider's settings, not a typed host. */
function endpointTls(e: OAuthEndpoint) {
  return { secure: e.security === "tls", startTls: e.security === "starttls" };
}

/**
 * Is this a refused login (a wrong password, an expired or revoked token)? imapflow marks it
 * `authenticationFailed`; the chain of causes is searched.
 */
export function isAuthenticationFailure(e: unknown): boolean {
  for (let x = e; x instanceof Error; x = x.cause) {
    if ((x as { authenticationFailed?: boolean }).authenticationFailed) return true;
  }
  return false;
}

/**
 * Connects with the account's IMAP login; for an OAuth account whose token the server refuses,
 * once more with a token refreshed on the spot (it may have been revoked or cut short).
 */
export async function connectWithLogin<T>(
  access: AccountAccess,
  account: AccountRow,
  connect: (conn: ImapConnection) => Promise<T>,
): Promise<T> {
  try {
    return await connect(await imapLogin(access, account));
  } catch (e) {
    if (account.authKind !== "oauth" || !isAuthenticationFailure(e)) throw e;
    return await connect(await imapLogin(access, account, { refresh: true }));
  }
}

/**
 * An account's IMAP login: the environment's, the stored password decrypted with SECRET_KEY, or
 * an OAuth account's access token (`refresh`: a new one, the last being refused).
 */
export async function imapLogin(
  access: AccountAccess,
  account: AccountRow,
  options: { refresh?: boolean } = {},
): Promise<ImapConnection> {
  if (account.id === access.envAccount?.id) return access.envAccount.imap;
  if (account.authKind === "oauth") {
    const { oauth, provider } = oauthOf(access, account.oauthProvider);
    const token = await oauth.accessToken(account.id, options.refresh ?? false);
    return {
      host: provider.imap.host,
      port: provider.imap.port,
      ...endpointTls(provider.imap),
      user: account.imapUser,
      pass: "",
      accessToken: token.accessToken,
    };
  }
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
  if (stored?.authKind === "oauth") {
    const { oauth, provider } = oauthOf(access, stored.oauthProvider);
    const user = stored.smtp?.user ?? stored.imap.user;
    if (!user) throw new Error(`account ${accountId} has no SMTP login name`);
    return {
      host: provider.smtp.host,
      port: provider.smtp.port,
      secure: provider.smtp.security === "tls",
      requireTls: provider.smtp.security !== "plain",
      user,
      pass: null,
      oauth: { token: (renew) => oauth.accessToken(accountId, renew) },
    };
  }
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
  /** `oauth`: `pass` is the account's access token, refreshed when due. */
  imap: {
    host: string;
    port: number;
    secure: boolean;
    /** Without `secure`: STARTTLS required (true), or plain IMAP (false, loopback only). */
    startTls: boolean;
    user: string;
    pass: string | null;
    oauth?: boolean;
  };
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
  if (stored.authKind === "oauth") {
    const { oauth, provider } = oauthOf(access, stored.oauthProvider);
    // A refused grant is a failed login for the test (the page says to reconnect).
    const token = await oauth.accessToken(accountId, false).catch((e) => {
      if (e instanceof ReauthorizationNeededError) return null;
      throw e;
    });
    return {
      accountId,
      imap: {
        host: provider.imap.host,
        port: provider.imap.port,
        secure: provider.imap.security === "tls",
        startTls: provider.imap.security === "starttls",
        user: stored.imap.user ?? "",
        pass: token?.accessToken ?? null,
        oauth: true,
      },
      smtp: null,
    };
  }
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
      secure: imap.tls === "tls",
      startTls: imap.tls === "starttls",
      user: imap.user ?? "",
      pass: imapPass,
    },
    smtp: stored.smtp ? storedAccountSmtp(stored.smtp, smtpPass) : null,
  };
}
