/** What the web admin needs from the outside, wired once in main.ts. */
import type { Db, Queryable } from "../src/store/db.ts";
import type { AccountContext } from "../src/domain/decide_reply.ts";
import type { SecretBox } from "../src/auth/secret_box.ts";
import type { OAuthClient } from "../src/auth/oauth_client.ts";
import type { ReplayMessage } from "../src/actions/rule_replay.ts";

/**
 * The settings of an account to try, passwords decrypted (never logged, never shown): the IMAP
 * login, and the SMTP submission as the sender makes it (src/mail/account_access.ts).
 */
export interface ConnectionTarget {
  accountId: number | null;
  imap: {
    host: string;
    port: number;
    secure: boolean;
    /** Without `secure`: STARTTLS required (true, the default) or plain IMAP (false). */
    startTls?: boolean;
    user: string;
    pass: string | null;
    oauth?: boolean;
  };
  smtp: { host: string; port: number; user: string | null; pass: string | null } | null;
}

/** What a connection test found; `error` is shown to the person, so it holds no secret. */
export type ConnectionTestResult =
  | { ok: true; detail?: string }
  | { ok: false; error: string };

/** Tunable limits; the defaults suit production. */
export interface SecuritySettings {
  /** Session lifetime, whatever the activity. Default 12 h. */
  sessionMaxMs: number;
  /** A session unused this long ends. Default 2 h. */
  sessionIdleMs: number;
  /** Failed logins counted over this window. Default 15 min. */
  loginWindowMs: number;
  /**
   * Failed logins per e-mail in the window checked without waiting; past it each attempt waits
   * a delay that doubles with each failure, up to `loginMaxDelayMs`. Default 5.
   */
  loginFailuresPerEmail: number;
  /** The same per client address. Default 20. */
  loginFailuresPerIp: number;
  /** The longest wait between checked logins past a limit. Default 30 s. */
  loginMaxDelayMs: number;
  /**
   * Failed attempts at the setup link (a wrong or missing token, any POST that made no user)
   * per client address in the login window, before refusing. Default 10.
   */
  setupFailuresPerIp: number;
  /**
   * Failed setup attempts from every address together in the window before refusing all: the
   * rows an attacker with many addresses can add stay bounded. Default 200.
   */
  setupFailuresTotal: number;
}

export const DEFAULT_SECURITY: SecuritySettings = {
  sessionMaxMs: 12 * 3_600_000,
  sessionIdleMs: 2 * 3_600_000,
  loginWindowMs: 15 * 60_000,
  loginFailuresPerEmail: 5,
  loginFailuresPerIp: 20,
  loginMaxDelayMs: 30_000,
  setupFailuresPerIp: 10,
  setupFailuresTotal: 200,
};

export interface AppDeps {
  /** The database every page and API route reads and writes. */
  db: Db;
  /** The clock. */
  now: () => Date;
  /** SECRET_KEY: encrypts account passwords; null when unset (saving a password then fails). */
  secretKey: string | null;
  /**
   * Cookies with `Secure` and the `__Host-` prefix. True in production (HTTPS, or localhost,
   * which browsers treat as secure); false only for plain-HTTP setups on another host.
   */
  secureCookies: boolean;
  /**
   * What "test connection" tries for an account, its passwords decrypted with `secrets` (the box
   * of this app's `secretKey`); null when the account is gone. Rejects with `SecretKeyError` when
   * a password cannot be decrypted. Wired to src/mail/account_access.ts, the one module that
   * knows how an account's servers are reached.
   */
  connectionTarget: (accountId: number, secrets: SecretBox) => Promise<ConnectionTarget | null>;
  /** Tries an account's IMAP (and SMTP) login; used by "test connection". */
  testConnection: (target: ConnectionTarget) => Promise<ConnectionTestResult>;
  /** The account as the reply decision needs it (the same function the reply job uses). */
  accountContext: (accountId: number) => Promise<AccountContext>;
  /** Every address this installation manages. */
  ownAddresses: () => Promise<string[]>;
  /**
   * WEBHOOK_ALLOW_PRIVATE: a webhook endpoint may be on this machine or a private network.
   * Absent: refused when it is one by its name (src/domain/webhooks.ts `checkWebhookUrl`).
   */
  webhookAllowPrivate?: boolean;
  /**
   * The SMTP host of the environment's account, which its row does not hold: it picks the
   * provider's default send budget shown for it. Absent: none.
   */
  envSmtpHost?: { accountId: number; host: string } | null;
  /**
   * Runs the rules again for one message after a person corrected its classification, in the
   * transaction of the correction. Never enqueues a second reply for a message that has one.
   */
  rerunRules: (tx: Queryable, messageId: number, at: Date) => Promise<boolean>;
  /**
   * A replay's reply step (src/jobs/reply_step.ts `replayStep`): one rule over one stored
   * message, in the replay's transaction, through the collector's settlement and outbox insert.
   */
  replayMessage: ReplayMessage;
  /**
   * The secret of the one-time setup link (`/setup?token=…`) that makes the first user while
   * none exists; made at each start of the service. Null or absent: no setup link (the CLI
   * makes the first user).
   */
  setupToken?: string | null;
  /**
   * TRUSTED_PROXIES: the reverse proxies (addresses and CIDR ranges) whose `X-Forwarded-For` names
   * the client. Empty or absent: the socket's address is the client's, whatever the header says.
   */
  trustedProxies?: readonly string[];
  /**
   * The zone dates are shown in until the browser has said its own (the `carteiro_tz` cookie):
   * the server's (TZ). Default: this process's zone.
   */
  timeZone?: string;
  /**
   * The OAuth providers accounts can be connected with (Connect, Reconnect, the callback);
   * absent or with no provider: the buttons are not shown.
   */
  oauth?: OAuthClient;
  /** Overrides of the session and login-throttling limits (tests). */
  security?: Partial<SecuritySettings>;
  /** A dry-run's time budget and the clock it is measured on (tests); default 2 s, real time. */
  dryRun?: { budgetMs?: number; clock?: () => number };
}
