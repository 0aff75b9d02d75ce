/**
 * Reads Carteiro's settings from an environment (a plain object: `main.ts` passes
 * `Deno.env.toObject()`). Every problem is reported at once, in plain words, so that one start is
 * enough to see all that needs fixing.
 */
import { isLoopbackHost } from "./domain/private_address.ts";
import { type AfterProcessing, readAfterProcessing } from "./domain/after_processing.ts";
import { CAP_LIMITS, parseConnectionCap } from "./domain/idle_leases.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_MESSAGE_MB_LIMITS,
  parseMaxMessageMb,
} from "./domain/message_size.ts";
import ipaddr from "ipaddr.js";

export interface ImapSettings {
  host: string;
  port: number;
  secure: boolean;
  /** Without implicit TLS: upgrade with STARTTLS (required) or stay plain (loopback, trusted LAN). */
  startTls: boolean;
  user: string;
  pass: string;
  allowInvalidCertificate: boolean;
}

export interface SmtpSettings {
  host: string;
  port: number;
  /** true: TLS from the first byte (port 465). false: STARTTLS when offered (port 587, 25). */
  secure: boolean;
  /**
   * Without `secure`: true requires STARTTLS; false is plain SMTP, which the settings allow only
   * to a loopback host.
   */
  requireTls: boolean;
  /** null: submit without logging in (a relay that trusts this host). */
  user: string | null;
  pass: string;
  allowInvalidCertificate: boolean;
}

/** The account described by EMAIL_HOST / EMAIL_USER / EMAIL_PASS. */
export interface EnvAccountSettings {
  name: string;
  address: string;
  mailboxes: string[];
  /** IMAP_AFTER: what is done on the server to a processed message (keep, seen, move). */
  afterProcessing: AfterProcessing;
  /** IMAP_AFTER_FOLDER: where `move` puts it. */
  afterFolder: string | null;
  /** IMAP_CONNECTION_CAP; null: the provider's default (src/domain/idle_leases.ts). */
  imapConnectionCap: number | null;
  /** MAX_MESSAGE_MB, in bytes: a larger message is stored with its headers only. */
  maxMessageBytes: number;
  imap: ImapSettings;
  smtp: SmtpSettings;
}

/** How an OAuth account's server is reached: TLS from the first byte, STARTTLS, or plain. */
export interface OAuthEndpoint {
  host: string;
  port: number;
  /** "plain" only to a loopback host (a test server). */
  security: "tls" | "starttls" | "plain";
}

/** The providers an account can be connected with. */
export type OAuthProviderId = "google" | "microsoft" | "oidc";

/** One OAuth2 / OpenID provider a person can connect an account with. */
export interface OAuthProviderSettings {
  id: OAuthProviderId;
  /** The OpenID issuer; Microsoft's multi-tenant issuers name `{tenantid}` in their metadata. */
  issuer: string;
  clientId: string;
  /** null: a public client (PKCE only). */
  clientSecret: string | null;
  scopes: string[];
  imap: OAuthEndpoint;
  smtp: OAuthEndpoint;
}

export interface OAuthSettings {
  /** PUBLIC_URL: where people reach the admin; the redirect URL is built on it. */
  publicUrl: string | null;
  providers: OAuthProviderSettings[];
}

/** The path of the OAuth redirect, under PUBLIC_URL. */
export const OAUTH_CALLBACK_PATH = "/accounts/oauth/callback";

export type DatabaseSettings =
  | { kind: "postgres"; url: string; caFile: string | null; caPem: string | null }
  | { kind: "pglite"; dataDir: string };

/**
 * Where Carteiro runs. `server`: one long-lived process (IMAP IDLE, the embedded database when
 * DATABASE_URL is unset). `deploy`: Deno Deploy's isolates, started on demand and ended when idle,
 * so collection and sending run only from time-bounded cron handlers and no file is written.
 */
export type RuntimeSettings =
  | { mode: "server" }
  | {
    mode: "deploy";
    /** What chose deploy mode: Deno Deploy's own variable, or CARTEIRO_MODE=deploy. */
    reason: "DENO_DEPLOYMENT_ID" | "CARTEIRO_MODE";
    /** JOB_SECONDS: a cron handler starts no new batch or send after this long. */
    jobSeconds: number;
  };

export interface Config {
  runtime: RuntimeSettings;
  account: EnvAccountSettings | null;
  /**
   * ALLOW_PRIVATE_HOSTS: the connection test may reach this machine and private networks (a
   * mail server on the LAN; the tests). Off, such targets are refused.
   */
  allowPrivateHosts: boolean;
  /** SECRET_KEY: encrypts account passwords stored in the database; null when unset. */
  secretKey: string | null;
  /** Messages per IMAP fetch and per commit while collecting. */
  collectBatch: number;
  /**
   * PARSE_WORKERS: threads that parse and classify beside the one talking to IMAP and the
   * database; 0 parses on that thread; null (unset) lets the service choose from the CPU count.
   */
  parseWorkers: number | null;
  send: {
    /** How long a claimed outbox row may stay `sending` before it is taken as `unknown`. */
    leaseSeconds: number;
    /** First retry delay after a temporary SMTP failure; later ones double, up to an hour. */
    retrySeconds: number;
    /** How long temporary failures are retried before the reply fails. */
    deadlineHours: number;
    /**
     * Replies sent at once, each over its own SMTP connection of the account's pool (within the
     * account's send budget). A process that dies leaves at most this many replies `unknown`.
     */
    parallel: number;
    /**
     * After an account's SMTP server refused its login, how long its replies wait before one is
     * tried again (an edit of the account tries at once).
     */
    authRecheckMinutes: number;
  };
  webhooks: {
    /**
     * WEBHOOK_ALLOW_PRIVATE: endpoints on this machine or a private network may be reached. Off,
     * such targets are refused, checked on the addresses resolved at each delivery.
     */
    allowPrivate: boolean;
    /** WEBHOOK_TIMEOUT_SECONDS: how long one request may take, connection to answer. */
    timeoutSeconds: number;
    /** WEBHOOK_RETRY_SECONDS: the first retry delay; later ones double, up to an hour. */
    retrySeconds: number;
  };
  database: DatabaseSettings;
  /** Connecting accounts with Google, Microsoft or an OpenID provider (empty: none configured). */
  oauth: OAuthSettings;
  http: {
    hostname: string;
    port: number;
    /** Session cookies marked Secure with the __Host- prefix (off only for plain HTTP). */
    secureCookies: boolean;
    /**
     * TRUSTED_PROXIES: addresses and CIDR ranges of the reverse proxies whose `X-Forwarded-For`
     * names the client (login limits per address). Empty: the socket's address, always.
     */
    trustedProxies: string[];
  };
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

type Env = Record<string, string | undefined>;

/** TRUSTED_PROXIES: comma-separated IP addresses and CIDR ranges (`10.0.0.1, fd00::/8`). */
function readTrustedProxies(value: string | undefined, errors: string[]): string[] {
  const entries = (value ?? "").split(",").map((e) => e.trim()).filter((e) => e !== "");
  for (const e of entries) {
    if (!ipaddr.isValid(e) && !ipaddr.isValidCIDR(e)) {
      errors.push(
        `TRUSTED_PROXIES must list IP addresses or CIDR ranges (e.g. 10.0.0.1,fd00::/8), not "${e}"`,
      );
    }
  }
  return entries;
}

/** Parses the environment into a `Config`, or lists every problem found. */
export function loadConfig(env: Env): ConfigResult {
  const errors: string[] = [];
  const read = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = read(name);
    if (v === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    errors.push(`${name} must be true or false, not "${v}"`);
    return fallback;
  };
  const port = (name: string, fallback: number): number => {
    const v = read(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      errors.push(`${name} must be a port number from 1 to 65535, not "${v}"`);
      return fallback;
    }
    return n;
  };

  const mode = readMode(read, errors);
  const account = readAccount(read, bool, port, errors);
  const database = readDatabase(read, errors, mode);
  const http = {
    hostname: read("HOST") ?? "127.0.0.1",
    port: port("PORT", 8000),
    secureCookies: bool("COOKIE_SECURE", true),
    trustedProxies: readTrustedProxies(read("TRUSTED_PROXIES"), errors),
  };
  const allowPrivateHosts = bool("ALLOW_PRIVATE_HOSTS", false);
  const oauth = readOAuth(read, errors);
  const secretKey = read("SECRET_KEY") ?? null;
  if (secretKey !== null && secretKey.length < 16) {
    errors.push("SECRET_KEY must be at least 16 characters (e.g. `openssl rand -base64 32`)");
  }
  const whole = (name: string, fallback: number, min: number, max: number): number => {
    const v = read(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      errors.push(`${name} must be a whole number from ${min} to ${max}, not "${v}"`);
      return fallback;
    }
    return n;
  };
  const collectBatch = whole("COLLECT_BATCH", 25, 1, 5000);
  const parseWorkers = read("PARSE_WORKERS") === undefined
    ? null
    : whole("PARSE_WORKERS", 0, 0, 64);
  const send = {
    leaseSeconds: whole("SEND_LEASE_SECONDS", 300, 1, 86_400),
    retrySeconds: whole("SEND_RETRY_SECONDS", 60, 1, 86_400),
    deadlineHours: whole("SEND_DEADLINE_HOURS", 24, 1, 24 * 30),
    parallel: whole("SEND_PARALLEL", 4, 1, 32),
    authRecheckMinutes: whole("SMTP_AUTH_RECHECK_MINUTES", 30, 1, 7 * 24 * 60),
  };
  const webhooks = {
    allowPrivate: bool("WEBHOOK_ALLOW_PRIVATE", false),
    timeoutSeconds: whole("WEBHOOK_TIMEOUT_SECONDS", 10, 1, 120),
    retrySeconds: whole("WEBHOOK_RETRY_SECONDS", 10, 1, 3600),
  };
  // Deno Deploy's cron handlers run about a minute apart and may be cut short; the default
  // leaves room to finish the batch or send in hand before the next run is due.
  const runtime: RuntimeSettings = mode.deploy
    ? { mode: "deploy", reason: mode.reason, jobSeconds: whole("JOB_SECONDS", 50, 1, 300) }
    : { mode: "server" };
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: {
      runtime,
      account,
      allowPrivateHosts,
      secretKey,
      collectBatch,
      parseWorkers,
      send,
      webhooks,
      database,
      oauth,
      http,
    },
  };
}

type ModeChoice =
  | { deploy: false }
  | { deploy: true; reason: "DENO_DEPLOYMENT_ID" | "CARTEIRO_MODE" };

/** CARTEIRO_MODE forces a mode; unset, Deno Deploy is recognized by DENO_DEPLOYMENT_ID. */
function readMode(read: (name: string) => string | undefined, errors: string[]): ModeChoice {
  const detected: ModeChoice = read("DENO_DEPLOYMENT_ID") !== undefined
    ? { deploy: true, reason: "DENO_DEPLOYMENT_ID" }
    : { deploy: false };
  const forced = read("CARTEIRO_MODE");
  if (forced === undefined) return detected;
  switch (forced.toLowerCase()) {
    case "deploy":
      return { deploy: true, reason: "CARTEIRO_MODE" };
    case "server":
      return { deploy: false };
    default:
      errors.push(
        `CARTEIRO_MODE must be "server" or "deploy" (or unset to detect), not "${forced}"`,
      );
      return detected;
  }
}

function readAccount(
  read: (name: string) => string | undefined,
  bool: (name: string, fallback: boolean) => boolean,
  port: (name: string, fallback: number) => number,
  errors: string[],
): EnvAccountSettings | null {
  const host = read("EMAIL_HOST");
  const user = read("EMAIL_USER");
  const pass = read("EMAIL_PASS");
  if (host === undefined && user === undefined && pass === undefined) return null;
  const missing = [
    ["EMAIL_HOST", host],
    ["EMAIL_USER", user],
    ["EMAIL_PASS", pass],
  ].filter(([, v]) => v === undefined).map(([n]) => n);
  if (missing.length > 0) {
    errors.push(
      `${
        missing.join(" and ")
      } must be set too: a mailbox needs EMAIL_HOST, EMAIL_USER and EMAIL_PASS`,
    );
  }
  const address = (read("EMAIL_ADDRESS") ?? (user?.includes("@") ? user : undefined))
    ?.toLowerCase();
  if (user !== undefined && address === undefined) {
    errors.push(
      "EMAIL_ADDRESS must be set: EMAIL_USER is not an e-mail address, and replies need one to come from",
    );
  } else if (address !== undefined && !/^[^@\s]+@[^@\s]+$/.test(address)) {
    errors.push(`EMAIL_ADDRESS "${address}" is not an e-mail address`);
  }
  const imapTls = bool("IMAP_TLS", true);
  const imapPort = port("IMAP_PORT", imapTls ? 993 : 143);
  const smtpPort = port("SMTP_PORT", 465);
  const smtpTls = bool("SMTP_TLS", true);
  // SMTP_TLS=false: STARTTLS when SMTP_STARTTLS=true (as IMAP_STARTTLS), else plain SMTP.
  const smtpStartTls = !smtpTls && bool("SMTP_STARTTLS", false);
  const smtpHost = read("SMTP_HOST") ?? host ?? "";
  if (!smtpTls && !smtpStartTls && smtpHost !== "" && !isLoopbackHost(smtpHost)) {
    errors.push(
      `SMTP_TLS=false would send to ${smtpHost} in clear text, the password included: set ` +
        "SMTP_STARTTLS=true (ports 587, 25) or SMTP_TLS=true (465); plain SMTP is allowed only " +
        "to a loopback host",
    );
  }
  const mailboxes = (read("IMAP_MAILBOXES") ?? "INBOX").split(",").map((m) => m.trim()).filter(
    Boolean,
  );
  if (mailboxes.length === 0) errors.push("IMAP_MAILBOXES names no mailbox");
  const after = readAfterProcessing(read("IMAP_AFTER") ?? "keep", read("IMAP_AFTER_FOLDER") ?? "");
  if ("problem" in after) {
    errors.push(
      `IMAP_AFTER must be keep, seen or move, and move needs IMAP_AFTER_FOLDER (${after.problem})`,
    );
  }
  const cap = parseConnectionCap(read("IMAP_CONNECTION_CAP"));
  if (!cap.ok) {
    errors.push(
      `IMAP_CONNECTION_CAP must be a whole number from ${CAP_LIMITS.min} to ${CAP_LIMITS.max} ` +
        "(or unset: the provider's default)",
    );
  }
  const maxMessage = parseMaxMessageMb(read("MAX_MESSAGE_MB"));
  if (!maxMessage.ok) {
    errors.push(
      `MAX_MESSAGE_MB must be a whole number from ${MAX_MESSAGE_MB_LIMITS.min} to ` +
        `${MAX_MESSAGE_MB_LIMITS.max} (or unset: 50)`,
    );
  }
  const insecure = bool("TLS_ALLOW_INVALID_CERTIFICATE", false);
  return {
    name: read("EMAIL_ACCOUNT_NAME") ?? address ?? user ?? "default",
    address: address ?? "",
    mailboxes,
    afterProcessing: "problem" in after ? "keep" : after.mode,
    afterFolder: "problem" in after ? null : after.folder,
    imapConnectionCap: cap.ok ? cap.value : null,
    maxMessageBytes: maxMessage.ok ? maxMessage.bytes : DEFAULT_MAX_MESSAGE_BYTES,
    imap: {
      host: host ?? "",
      port: imapPort,
      secure: imapTls,
      startTls: !imapTls && bool("IMAP_STARTTLS", false),
      user: user ?? "",
      pass: pass ?? "",
      allowInvalidCertificate: insecure,
    },
    smtp: {
      host: smtpHost,
      port: smtpPort,
      // Port 465 speaks TLS from the start (RFC 8314 §3.3); other ports upgrade with STARTTLS.
      secure: smtpTls && smtpPort === 465,
      requireTls: smtpTls || smtpStartTls,
      user: bool("SMTP_AUTH", true) ? (read("SMTP_USER") ?? user ?? "") : null,
      pass: read("SMTP_PASS") ?? pass ?? "",
      allowInvalidCertificate: insecure,
    },
  };
}

function readDatabase(
  read: (name: string) => string | undefined,
  errors: string[],
  mode: ModeChoice,
): DatabaseSettings {
  const url = read("DATABASE_URL");
  if (url === undefined && mode.deploy) {
    const why = mode.reason === "DENO_DEPLOYMENT_ID"
      ? "DENO_DEPLOYMENT_ID is set"
      : "CARTEIRO_MODE=deploy";
    errors.push(
      `DATABASE_URL must be set in deploy mode (${why}): Deno Deploy keeps no files, so there is ` +
        "no embedded database; give a PostgreSQL server, e.g. " +
        "postgres://user:password@host:5432/db?sslmode=verify-full with DATABASE_CA",
    );
    return { kind: "postgres", url: "", caFile: null, caPem: null };
  }
  if (url === undefined) return { kind: "pglite", dataDir: read("DATA_DIR") ?? "./data" };
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    errors.push("DATABASE_URL is not a URL (expected postgres://user:password@host:5432/database)");
  }
  if (parsed && !["postgres:", "postgresql:"].includes(parsed.protocol)) {
    errors.push(
      `DATABASE_URL must start with postgres:// or postgresql://, not ${parsed.protocol}//`,
    );
  }
  const sslmode = parsed?.searchParams.get("sslmode");
  const allowed = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
    "no-verify",
  ];
  if (sslmode && !allowed.includes(sslmode)) {
    errors.push(`DATABASE_URL sslmode=${sslmode} is unknown; use one of ${allowed.join(", ")}`);
  }
  return {
    kind: "postgres",
    url,
    caFile: read("DATABASE_CA_FILE") ?? null,
    caPem: read("DATABASE_CA") ?? null,
  };
}

const GOOGLE_SCOPES = ["openid", "email", "https://mail.google.com/"];
const MICROSOFT_SCOPES = [
  "openid",
  "email",
  "offline_access",
  "https://outlook.office.com/IMAP.AccessAsUser.All",
  "https://outlook.office.com/SMTP.Send",
];

/**
 * The OAuth providers the environment configures: Google and Microsoft by client id, and one
 * OpenID provider by issuer URL with its mail servers (`OAUTH_OIDC_IMAP=imaps://host:993`,
 * `OAUTH_OIDC_SMTP=smtp://host:587`). Any provider needs PUBLIC_URL for its redirect.
 */
function readOAuth(read: (name: string) => string | undefined, errors: string[]): OAuthSettings {
  const providers: OAuthProviderSettings[] = [];
  const pair = (prefix: string) => {
    const id = read(`${prefix}_CLIENT_ID`);
    const secret = read(`${prefix}_CLIENT_SECRET`) ?? null;
    if (id === undefined && secret !== null) {
      errors.push(`${prefix}_CLIENT_SECRET is set without ${prefix}_CLIENT_ID`);
    }
    return id === undefined ? null : { clientId: id, clientSecret: secret };
  };
  const google = pair("OAUTH_GOOGLE");
  if (google) {
    providers.push({
      id: "google",
      issuer: "https://accounts.google.com",
      ...google,
      scopes: GOOGLE_SCOPES,
      imap: { host: "imap.gmail.com", port: 993, security: "tls" },
      smtp: { host: "smtp.gmail.com", port: 465, security: "tls" },
    });
  }
  const microsoft = pair("OAUTH_MICROSOFT");
  if (microsoft) {
    const tenant = read("OAUTH_MICROSOFT_TENANT") ?? "common";
    if (!/^[A-Za-z0-9.-]+$/.test(tenant)) {
      errors.push(
        `OAUTH_MICROSOFT_TENANT must be a tenant id, a domain, "common" or "organizations", not "${tenant}"`,
      );
    }
    providers.push({
      id: "microsoft",
      issuer: `https://login.microsoftonline.com/${tenant}/v2.0`,
      ...microsoft,
      scopes: MICROSOFT_SCOPES,
      imap: { host: "outlook.office365.com", port: 993, security: "tls" },
      smtp: { host: "smtp.office365.com", port: 587, security: "starttls" },
    });
  }
  const issuer = read("OAUTH_OIDC_ISSUER");
  const oidc = pair("OAUTH_OIDC");
  if (issuer !== undefined || oidc) {
    const imap = readEndpoint("OAUTH_OIDC_IMAP", read("OAUTH_OIDC_IMAP"), "imap", errors);
    const smtp = readEndpoint("OAUTH_OIDC_SMTP", read("OAUTH_OIDC_SMTP"), "smtp", errors);
    if (issuer === undefined || !oidc) {
      errors.push("OAUTH_OIDC_ISSUER and OAUTH_OIDC_CLIENT_ID are needed together");
    } else if (!isUrl(issuer)) {
      errors.push(`OAUTH_OIDC_ISSUER must be the provider's issuer URL, not "${issuer}"`);
    } else if (imap && smtp) {
      providers.push({
        id: "oidc",
        issuer,
        ...oidc,
        scopes: (read("OAUTH_OIDC_SCOPES") ?? "openid email offline_access").split(/[\s,]+/)
          .filter(Boolean),
        imap,
        smtp,
      });
    }
  }
  const publicUrl = read("PUBLIC_URL")?.replace(/\/+$/, "") ?? null;
  if (publicUrl !== null && !/^https?:\/\//.test(publicUrl)) {
    errors.push(
      `PUBLIC_URL must be the admin's address, e.g. https://carteiro.example.com, not "${publicUrl}"`,
    );
  } else if (publicUrl === null && providers.length > 0) {
    errors.push(
      `PUBLIC_URL must be set to connect accounts with OAuth: the provider sends people back to ` +
        `PUBLIC_URL${OAUTH_CALLBACK_PATH} (register that redirect URL with the provider)`,
    );
  }
  return { publicUrl, providers };
}

function isUrl(v: string): boolean {
  try {
    return /^https?:$/.test(new URL(v).protocol);
  } catch {
    return false;
  }
}

/**
 * A mail server as a URL: `imaps://host:993` (TLS), `imap://host:143` (STARTTLS required),
 * `imap+plain://127.0.0.1:1143` (plain, loopback only); `smtps`, `smtp`, `smtp+plain` alike.
 */
function readEndpoint(
  name: string,
  value: string | undefined,
  kind: "imap" | "smtp",
  errors: string[],
): OAuthEndpoint | null {
  const example = kind === "imap" ? "imaps://imap.example.com:993" : "smtps://smtp.example.com:465";
  if (value === undefined) {
    errors.push(`${name} must name the provider's ${kind.toUpperCase()} server, e.g. ${example}`);
    return null;
  }
  const m = value.match(/^([a-z+]+):\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?\/?$/i);
  const scheme = m?.[1].toLowerCase();
  const security = scheme === `${kind}s`
    ? "tls"
    : scheme === kind
    ? "starttls"
    : scheme === `${kind}+plain`
    ? "plain"
    : null;
  if (!m || !security) {
    errors.push(
      `${name} must be a URL like ${example} (or ${kind}:// for STARTTLS), not "${value}"`,
    );
    return null;
  }
  const host = m[2].replace(/^\[|\]$/g, "");
  if (security === "plain" && !isLoopbackHost(host)) {
    errors.push(`${name}: ${kind}+plain:// is allowed only to a loopback host, not ${host}`);
    return null;
  }
  const defaults = kind === "imap"
    ? { tls: 993, starttls: 143, plain: 143 }
    : { tls: 465, starttls: 587, plain: 25 };
  return { host, port: m[3] ? Number(m[3]) : defaults[security], security };
}
