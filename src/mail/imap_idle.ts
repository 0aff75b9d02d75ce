/**
 * Listening for new mail on one IMAP mailbox, on a connection of its own (collection opens its
 * own): IMAP IDLE (RFC 2177) where the server offers it, a short NOOP poll where it does not, and
 * a watchdog that notices a dead connection and reconnects with capped exponential backoff.
 * The watcher only says "there is new mail"; collecting it is the caller's job.
 */
import { ImapFlow } from "imapflow";
import { type ImapConnection, imapFlowOptions, imapTlsMode } from "./account_access.ts";
import type { Logger } from "../log.ts";

/**
 * - `connecting`: logging in and opening the mailbox.
 * - `idle`: an IDLE command is in progress; new mail is reported as the server announces it.
 * - `unsupported`: the server has no IDLE; the mailbox is polled with NOOP instead.
 * - `backoff`: the last session failed; waiting before the next attempt.
 * - `missing`: the server has no such mailbox (deleted or renamed); the connection is closed and
 *   the mailbox is looked for again every `missingRetryMs`, without spinning.
 * - `stopped`: `stop()` was called.
 */
export type IdleState =
  | "idle"
  | "connecting"
  | "backoff"
  | "unsupported"
  | "missing"
  | "stopped";

/** The server answered that the mailbox does not exist (RFC 5530 `NONEXISTENT`). */
export class MailboxMissingError extends Error {
  constructor(mailbox: string, options?: ErrorOptions) {
    super(`the mailbox "${mailbox}" does not exist on the server (deleted or renamed?)`, options);
    this.name = "MailboxMissingError";
  }
}

/** Why `onNewMail` was called. */
export type NewMailReason =
  /** The server announced more messages (`* n EXISTS`) during IDLE or in a NOOP answer. */
  | "exists"
  /** A session came back after a failure: mail may have arrived while nobody listened. */
  | "reconnected";

/** A point-in-time view of one watcher, for `stats`, `/metrics` and the accounts page. */
export interface IdleHealth {
  state: IdleState;
  mailbox: string;
  /** When the current state was entered. */
  since: Date;
  /** The last sign of life from the server: login, EXISTS, an answered NOOP or IDLE. */
  lastEventAt: Date | null;
  /** The last time `onNewMail` was called. */
  lastNewMailAt: Date | null;
  /** Sessions that failed in a row; back to 0 once a session is listening again. */
  consecutiveFailures: number;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Sessions started after the first one. */
  reconnects: number;
}

/** The timer functions the watcher uses; tests may pass their own. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** One logged-in connection as the watcher needs it; `connectIdleSession` makes one on imapflow. */
export interface IdleSession {
  /** The server advertises IDLE (RFC 2177) in its post-login capabilities. */
  readonly supportsIdle: boolean;
  /** Opens the mailbox read-only (EXAMINE); `MailboxMissingError` when the server has none. */
  open(mailbox: string): Promise<{ uidValidity: number; uidNext: number; exists: number }>;
  /** Runs one IDLE command; settles when it ends (broken by `noop`, or the connection closed). */
  idle(): Promise<void>;
  /** Sends NOOP (ending an IDLE in progress first); rejects when the connection is unusable. */
  noop(): Promise<void>;
  /** Called when the server reports the message count changed. */
  onExists(listener: (count: number, previous: number) => void): void;
  /** Called once when the connection is gone, with the error that ended it if one is known. */
  onClose(listener: (error: Error | null) => void): void;
  /** LOGOUT, then close. Idempotent. */
  close(): Promise<void>;
  /** Drops the socket at once. Idempotent. */
  destroy(): void;
}

export interface IdleWatcherOptions {
  /** Opens a new logged-in session; called for the first session and every reconnection. */
  connect: () => Promise<IdleSession>;
  /** Told at once when new mail may be waiting. Must not block; a rejection is only logged. */
  onNewMail: (reason: NewMailReason) => void | Promise<void>;
  mailbox?: string;
  log?: Logger;
  now?: () => Date;
  timers?: Timers;
  /** In [0, 1); spreads reconnections of many accounts after a server restart. */
  random?: () => number;
  /**
   * How long one IDLE command may last before it is ended and issued again. RFC 2177 §3: servers
   * may log a client out after 30 minutes of inactivity, so clients re-issue IDLE at least every
   * 29 minutes. Default 25 minutes.
   */
  idleRestartMs?: number;
  /** The watchdog: every so often IDLE is ended and a NOOP must be answered. Default 2 minutes. */
  noopIntervalMs?: number;
  /** How long login, SELECT, NOOP or the end of an IDLE may take before the session is dead. */
  commandTimeoutMs?: number;
  /** The NOOP poll interval when the server has no IDLE. Default 2 s. */
  pollIntervalMs?: number;
  /** First reconnection delay, doubling per failure up to `backoffMaxMs`. Defaults 1 s, 5 min. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A session that lasted this long counts as healthy: the backoff starts again from the base. */
  stableAfterMs?: number;
  /** How often a mailbox the server does not have is looked for again. Default 5 minutes. */
  missingRetryMs?: number;
}

/** A running watcher. */
export interface IdleWatcher {
  health(): IdleHealth;
  /** Ends the session and every timer; resolves once nothing is left running. */
  stop(): Promise<void>;
}

const DEFAULTS = {
  mailbox: "INBOX",
  idleRestartMs: 25 * 60_000,
  noopIntervalMs: 2 * 60_000,
  commandTimeoutMs: 20_000,
  pollIntervalMs: 2_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 5 * 60_000,
  stableAfterMs: 60_000,
  missingRetryMs: 5 * 60_000,
};

/** RFC 2177 §3's limit: IDLE is never left running longer than this, whatever the options. */
const IDLE_LIMIT_MS = 29 * 60_000;

const GLOBAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** Starts watching a mailbox at once; see `IdleWatcher`. */
export function startIdleWatcher(options: IdleWatcherOptions): IdleWatcher {
  const watcher = new Watcher(options);
  watcher.start();
  return watcher;
}

class SessionClosed extends Error {}

type Settings = Required<Omit<IdleWatcherOptions, "log">> & { log?: Logger };

class Watcher implements IdleWatcher {
  #o: Settings;
  #state: IdleState = "connecting";
  #since: Date;
  #lastEventAt: Date | null = null;
  #lastNewMailAt: Date | null = null;
  #failures = 0;
  #backoffLevel = 0;
  #lastError: string | null = null;
  #lastErrorAt: Date | null = null;
  #reconnects = 0;
  /** The mailbox was last found missing, and the log said so. */
  #missingSaid = false;
  #stopped = false;
  #running: Promise<void> | null = null;
  #session: IdleSession | null = null;
  /** Set by the current session's close listener. */
  #closed: { error: Error | null } | null = null;
  /** Resolvers of the pending sleeps: stop and a closed connection cut them short. */
  #wakers = new Set<() => void>();

  constructor(options: IdleWatcherOptions) {
    this.#o = {
      ...DEFAULTS,
      now: () => new Date(),
      timers: GLOBAL_TIMERS,
      random: Math.random,
      ...withoutUndefined(options),
    } as Settings;
    this.#o.idleRestartMs = Math.min(this.#o.idleRestartMs, IDLE_LIMIT_MS);
    this.#since = this.#o.now();
  }

  start() {
    this.#running ??= this.#run();
  }

  health(): IdleHealth {
    return {
      state: this.#state,
      mailbox: this.#o.mailbox,
      since: this.#since,
      lastEventAt: this.#lastEventAt,
      lastNewMailAt: this.#lastNewMailAt,
      consecutiveFailures: this.#failures,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
      reconnects: this.#reconnects,
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    // Ending the session makes any command in flight fail, so the loop below unwinds.
    this.#session?.destroy();
    await this.#running;
    this.#setState("stopped");
  }

  async #run() {
    let connectedBefore = false;
    while (!this.#stopped) {
      this.#setState("connecting");
      const startedAt = this.#o.now().getTime();
      let session: IdleSession | null = null;
      let missing = false;
      try {
        session = await this.#deadline(this.#o.connect(), "login", (late) => late.destroy());
        if (this.#stopped) break;
        this.#attach(session);
        await this.#deadline(session.open(this.#o.mailbox), `opening ${this.#o.mailbox}`);
        this.#event();
        this.#failures = 0;
        if (connectedBefore) {
          this.#reconnects++;
          this.#notify("reconnected");
        }
        connectedBefore = true;
        if (session.supportsIdle) await this.#serveIdle(session);
        else await this.#servePolling(session);
      } catch (e) {
        missing = e instanceof MailboxMissingError;
        // When it shows up (created, renamed back), it may hold mail already: say so then.
        if (missing) connectedBefore = true;
        if (!this.#stopped) this.#fail(e);
      } finally {
        this.#session = null;
        if (session) await this.#closeQuietly(session);
      }
      if (this.#stopped) break;
      if (missing) {
        // Not a failing server: no connection is held meanwhile, and no backoff is spent on it.
        this.#setState("missing");
        await this.#sleep(this.#o.missingRetryMs);
        continue;
      }
      if (this.#o.now().getTime() - startedAt >= this.#o.stableAfterMs) this.#backoffLevel = 0;
      const full = Math.min(
        this.#o.backoffMaxMs,
        this.#o.backoffBaseMs * 2 ** this.#backoffLevel,
      );
      this.#backoffLevel = Math.min(this.#backoffLevel + 1, 30);
      this.#setState("backoff");
      // "Equal jitter": at least half the delay, so a failing server is not hammered.
      await this.#sleep(full / 2 + this.#o.random() * full / 2);
    }
  }

  #attach(session: IdleSession) {
    this.#session = session;
    this.#closed = null;
    session.onClose((error) => {
      if (this.#session !== session) return;
      this.#closed = { error };
      this.#wake();
    });
    session.onExists((count, previous) => {
      if (this.#session !== session) return;
      this.#event();
      if (count > previous) this.#notify("exists");
    });
  }

  /**
   * RFC 2177: IDLE until the next watchdog tick or the restart limit, then DONE + NOOP (the
   * NOOP's answer proves the connection is alive), then IDLE again.
   */
  async #serveIdle(session: IdleSession) {
    const cycleMs = Math.min(this.#o.noopIntervalMs, this.#o.idleRestartMs);
    while (true) {
      this.#checkSession();
      let ended = false;
      const idling = session.idle().finally(() => {
        ended = true;
        this.#wake();
      });
      // Observed below; a rejection here must not go unhandled meanwhile.
      idling.catch(() => {});
      this.#setState("idle");
      const cycleEnd = this.#o.now().getTime() + cycleMs;
      while (!ended && !this.#stopped && !this.#closed) {
        const left = cycleEnd - this.#o.now().getTime();
        if (left <= 0) break;
        await this.#sleep(left);
      }
      this.#checkSession();
      // Ends IDLE (DONE) if it is still on, then NOOP: a dead peer never answers either.
      await this.#deadline(session.noop(), "NOOP");
      await this.#deadline(idling, "ending IDLE");
      this.#event();
    }
  }

  /** No IDLE on this server: NOOP answers carry `* n EXISTS` as soon as mail arrives. */
  async #servePolling(session: IdleSession) {
    this.#setState("unsupported");
    while (true) {
      this.#checkSession();
      await this.#sleep(this.#o.pollIntervalMs);
      this.#checkSession();
      await this.#deadline(session.noop(), "NOOP");
      this.#event();
    }
  }

  #checkSession() {
    if (this.#stopped) throw new SessionClosed("stopped");
    if (this.#closed) {
      const why = this.#closed.error?.message;
      throw new SessionClosed(`the server closed the connection${why ? `: ${why}` : ""}`);
    }
  }

  #fail(e: unknown) {
    this.#failures++;
    this.#lastError = e instanceof Error ? e.message : String(e);
    this.#lastErrorAt = this.#o.now();
    const missing = e instanceof MailboxMissingError;
    // A missing mailbox is said once, not at every look for it.
    if (missing && this.#missingSaid) return;
    this.#missingSaid = missing;
    this.#o.log?.warn(
      missing ? "IMAP IDLE: no such mailbox" : "IMAP IDLE session ended; reconnecting",
      {
        mailbox: this.#o.mailbox,
        error: this.#lastError,
        failures: this.#failures,
      },
    );
  }

  #notify(reason: NewMailReason) {
    this.#lastNewMailAt = this.#o.now();
    const report = (e: unknown) =>
      this.#o.log?.warn("new-mail handler failed", {
        mailbox: this.#o.mailbox,
        error: e instanceof Error ? e.message : String(e),
      });
    try {
      const r = this.#o.onNewMail(reason);
      if (r instanceof Promise) r.catch(report);
    } catch (e) {
      report(e);
    }
  }

  #event() {
    this.#lastEventAt = this.#o.now();
  }

  #setState(state: IdleState) {
    if (this.#state === state) return;
    this.#state = state;
    this.#since = this.#o.now();
  }

  async #closeQuietly(session: IdleSession) {
    if (this.#stopped || this.#closed) {
      session.destroy();
      return;
    }
    try {
      await this.#deadline(session.close(), "LOGOUT");
    } catch {
      // A session that can't even log out is simply dropped.
    } finally {
      session.destroy();
    }
  }

  /** Waits `ms`, or less when stopped or when the session closes. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#o.timers.clearTimeout(id);
        this.#wakers.delete(done);
        resolve();
      };
      const id = this.#o.timers.setTimeout(done, Math.max(0, ms));
      this.#wakers.add(done);
    });
  }

  #wake() {
    for (const w of [...this.#wakers]) w();
  }

  /** `p`, or an error naming `what` after `commandTimeoutMs`; `late` disposes of a late result. */
  #deadline<T>(p: Promise<T>, what: string, late?: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const id = this.#o.timers.setTimeout(() => {
        settled = true;
        reject(new Error(`no answer to ${what} within ${this.#o.commandTimeoutMs} ms`));
      }, this.#o.commandTimeoutMs);
      p.then(
        (v) => {
          this.#o.timers.clearTimeout(id);
          if (settled) late?.(v);
          else resolve(v);
          settled = true;
        },
        (e) => {
          this.#o.timers.clearTimeout(id);
          if (!settled) reject(e);
          settled = true;
        },
      );
    });
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Connection settings of a listening session beyond the login. */
export interface IdleSessionOptions {
  /**
   * Socket inactivity limit. Dovecot says "* OK Still here" every 2 minutes during IDLE, so a
   * healthy connection never reaches it; imapflow probes with NOOP when it does. Default 5 min.
   */
  socketTimeoutMs?: number;
  /** Behave as if the server had no IDLE (to exercise the polling path against any server). */
  ignoreIdleCapability?: boolean;
}

/** Logs in with imapflow for listening only; the error names the server and what went wrong. */
export async function connectIdleSession(
  conn: ImapConnection,
  options: IdleSessionOptions = {},
): Promise<IdleSession> {
  // IDLE is issued and ended here, on the watcher's schedule (imapFlowOptions: no auto-IDLE).
  const client = new ImapFlow(imapFlowOptions(conn, options.socketTimeoutMs));
  const session = new ImapFlowSession(client, options.ignoreIdleCapability ?? false);
  try {
    await client.connect();
  } catch (cause) {
    session.destroy();
    const e = cause as Error & { authenticationFailed?: boolean; code?: string };
    const why = e?.authenticationFailed
      ? "authentication failed"
      : [e?.code, e?.message ?? String(cause)].filter(Boolean).join(": ");
    throw new Error(
      `IMAP ${conn.host}:${conn.port} (${imapTlsMode(conn)}) as ${conn.user}: ${why}`,
      { cause },
    );
  }
  return session;
}

class ImapFlowSession implements IdleSession {
  #client: ImapFlow;
  #ignoreIdle: boolean;
  #lastError: Error | null = null;
  #closeListeners: Array<(error: Error | null) => void> = [];
  #isClosed = false;
  #closing: Promise<void> | null = null;

  constructor(client: ImapFlow, ignoreIdle: boolean) {
    this.#client = client;
    this.#ignoreIdle = ignoreIdle;
    // Without an 'error' listener the process would end; the error is reported with the close.
    client.on("error", (err: Error) => {
      this.#lastError = err;
    });
    client.on("close", () => {
      if (this.#isClosed) return;
      this.#isClosed = true;
      for (const l of this.#closeListeners) l(this.#lastError);
    });
  }

  get supportsIdle(): boolean {
    return !this.#ignoreIdle && this.#client.capabilities.has("IDLE");
  }

  async open(mailbox: string) {
    let mb;
    try {
      mb = await this.#client.mailboxOpen(mailbox, { readOnly: true });
    } catch (e) {
      // imapflow marks a missing mailbox itself; RFC 5530's NONEXISTENT where a server sends it.
      const err = e as { mailboxMissing?: boolean; serverResponseCode?: string } | null;
      if (err?.mailboxMissing || err?.serverResponseCode === "NONEXISTENT") {
        throw new MailboxMissingError(mailbox, { cause: e });
      }
      throw e;
    }
    return { uidValidity: Number(mb.uidValidity), uidNext: Number(mb.uidNext), exists: mb.exists };
  }

  async idle(): Promise<void> {
    await this.#client.idle();
  }

  async noop(): Promise<void> {
    // imapflow's noop() reports a failed NOOP by resolving; a closed connection is the signal.
    await this.#client.noop();
    if (!this.#client.usable) {
      throw new Error(`NOOP failed: ${this.#lastError?.message ?? "connection closed"}`);
    }
  }

  onExists(listener: (count: number, previous: number) => void): void {
    this.#client.on("exists", (d: { count: number; prevCount: number }) => {
      listener(d.count, d.prevCount);
    });
  }

  onClose(listener: (error: Error | null) => void): void {
    this.#closeListeners.push(listener);
  }

  close(): Promise<void> {
    this.#closing ??= this.#client.logout().catch(() => {}).finally(() => this.destroy());
    return this.#closing;
  }

  destroy(): void {
    try {
      this.#client.close();
    } catch {
      // already closed
    }
  }
}
