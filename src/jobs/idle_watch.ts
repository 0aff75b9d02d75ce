/**
 * Collection on new mail: one IDLE watcher per enabled account wakes that account's collection
 * and then the outbox drain, so a reply leaves within a second of arrival. The minute cron stays
 * as the safety net for whatever IDLE misses (a watcher down, a mailbox not watched).
 */
import type { AccountRow } from "../store/accounts.ts";
import type { CollectSummary } from "./collect_account.ts";
import type { IdleHealth, IdleWatcher, NewMailReason, Timers } from "../mail/imap_idle.ts";
import type { Logger } from "../log.ts";

export interface IdleWatchDeps {
  /** One collection of one account (`collectAccount` with the service's deps). */
  collect: (account: AccountRow) => Promise<CollectSummary>;
  /** One outbox drain; run after a collection that parsed something. */
  drain: () => Promise<unknown>;
  /**
   * Starts the IDLE watcher of an account, on its own connection, calling `onNewMail` on new
   * mail; null when the account can't be watched here (no credentials in this environment).
   */
  watch: (
    account: AccountRow,
    onNewMail: (reason: NewMailReason) => void,
  ) => IdleWatcher | null;
  log: Logger;
  now?: () => Date;
  timers?: Timers;
  /**
   * When a collection is skipped because another run holds the account's lock (the cron, or a
   * second instance), that run may have listed the mailbox before this mail arrived: try again
   * after this long (default 500 ms), at most `maxSkippedRetries` times in a row (default 60).
   */
  retrySkippedMs?: number;
  maxSkippedRetries?: number;
}

/** One account as `stats`, `/metrics` and the accounts page show it. */
export interface AccountWatchHealth {
  accountId: number;
  account: string;
  /** The IDLE connection; null when the account is not watched (cron only). */
  idle: IdleHealth | null;
  /** A collection woken by IDLE is running / another one is due after it. */
  running: boolean;
  pending: boolean;
  /** Collections run on IDLE's behalf (skipped ones included). */
  runs: number;
  lastWakeAt: Date | null;
  lastRunAt: Date | null;
  lastRunStatus: CollectSummary["status"] | null;
  /** The last collection or drain error seen by this runner, with its time. */
  lastError: string | null;
  lastErrorAt: Date | null;
}

export interface IdleWatchHandle {
  health(): AccountWatchHealth[];
  /**
   * Brings the watchers in line with the accounts as they are now: starts new or re-enabled
   * ones, stops deleted or disabled ones, restarts those whose server, login or mailbox changed.
   * Call it after the accounts change (or once a minute, from the cron).
   */
  sync(accounts: AccountRow[]): Promise<void>;
  /** Stops every watcher and waits for the collections in flight to finish. */
  stop(): Promise<void>;
}

/**
 * Starts one watcher per enabled account. Each account has its own runner: at most one
 * collection in flight and one pending, so a burst of arrivals costs at most two runs, and one
 * account's failing or slow collection never waits on, or holds up, another's.
 */
export function startIdleWatch(deps: IdleWatchDeps, accounts: AccountRow[]): IdleWatchHandle {
  const runners = new Map<number, { key: string; runner: AccountRunner }>();
  let stopped = false;
  const startMissing = (wanted: Map<number, AccountRow>) => {
    for (const [id, a] of wanted) {
      if (runners.has(id) || stopped) continue;
      const runner = new AccountRunner(deps, a);
      runners.set(id, { key: watchKey(a), runner });
      runner.start();
    }
  };
  // An account whose OAuth grant was refused is not watched until a person reconnects it.
  const enabled = (list: AccountRow[]) =>
    new Map(list.filter((a) => a.enabled && !a.reauthorizationNeeded).map((a) => [a.id, a]));
  const sync = async (now: AccountRow[]) => {
    if (stopped) return;
    const wanted = enabled(now);
    const stopping: Promise<void>[] = [];
    for (const [id, r] of runners) {
      const a = wanted.get(id);
      if (!a || watchKey(a) !== r.key) {
        runners.delete(id);
        stopping.push(r.runner.stop());
      }
    }
    await Promise.all(stopping);
    startMissing(wanted);
  };
  startMissing(enabled(accounts));
  return {
    health: () => [...runners.values()].map((r) => r.runner.health()),
    sync,
    stop: async () => {
      stopped = true;
      // The runners stay listed, so health() still shows how each one ended.
      await Promise.all([...runners.values()].map((r) => r.runner.stop()));
    },
  };
}

/** What a watcher's connection depends on: a change means a new watcher. */
function watchKey(a: AccountRow): string {
  return JSON.stringify([a.imapHost, a.imapPort, a.imapTls, a.imapUser, a.mailboxes[0]]);
}

class AccountRunner {
  #deps: IdleWatchDeps;
  #account: AccountRow;
  #now: () => Date;
  #timers: Timers;
  #watcher: IdleWatcher | null = null;
  #stopped = false;
  #pending = false;
  #loop: Promise<void> | null = null;
  #wakeSleep: (() => void) | null = null;
  #runs = 0;
  #lastWakeAt: Date | null = null;
  #lastRunAt: Date | null = null;
  #lastRunStatus: CollectSummary["status"] | null = null;
  #lastError: string | null = null;
  #lastErrorAt: Date | null = null;

  constructor(deps: IdleWatchDeps, account: AccountRow) {
    this.#deps = deps;
    this.#account = account;
    this.#now = deps.now ?? (() => new Date());
    this.#timers = deps.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (id) => clearTimeout(id as number),
    };
  }

  start() {
    try {
      this.#watcher = this.#deps.watch(this.#account, () => this.trigger());
    } catch (e) {
      this.#error(e);
    }
  }

  /** New mail: run now, or once more after the run in flight. */
  trigger() {
    if (this.#stopped) return;
    this.#lastWakeAt = this.#now();
    this.#pending = true;
    if (this.#loop === null) this.#loop = this.#drainPending();
  }

  async #drainPending() {
    let skippedInARow = 0;
    try {
      while (this.#pending && !this.#stopped) {
        this.#pending = false;
        const status = await this.#runOnce();
        if (status !== "skipped") {
          skippedInARow = 0;
          continue;
        }
        // Another run holds the lock; it may have listed the mailbox before this mail came.
        skippedInARow++;
        if (skippedInARow > (this.#deps.maxSkippedRetries ?? 60)) continue;
        await this.#sleep(this.#deps.retrySkippedMs ?? 500);
        this.#pending = true;
      }
    } finally {
      // Cleared in the same turn as the last look at #pending: a wake-up is never left behind.
      this.#loop = null;
    }
  }

  async #runOnce(): Promise<CollectSummary["status"] | null> {
    this.#runs++;
    let summary: CollectSummary;
    try {
      summary = await this.#deps.collect(this.#account);
    } catch (e) {
      this.#lastRunAt = this.#now();
      this.#lastRunStatus = "error";
      this.#error(e);
      return "error";
    }
    this.#lastRunAt = this.#now();
    this.#lastRunStatus = summary.status;
    // collectAccount has recorded its own failure (sync outcome + audit row) already.
    if (summary.status === "error") this.#error(summary.error ?? "collection failed");
    if (summary.parsed > 0) {
      try {
        await this.#deps.drain();
      } catch (e) {
        this.#error(e);
      }
    }
    return summary.status;
  }

  #error(e: unknown) {
    this.#lastError = e instanceof Error ? e.message : String(e);
    this.#lastErrorAt = this.#now();
    this.#deps.log.warn("collection on new mail failed", {
      account: this.#account.name,
      error: this.#lastError,
    });
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const id = this.#timers.setTimeout(() => {
        this.#wakeSleep = null;
        resolve();
      }, ms);
      this.#wakeSleep = () => {
        this.#timers.clearTimeout(id);
        this.#wakeSleep = null;
        resolve();
      };
    });
  }

  health(): AccountWatchHealth {
    return {
      accountId: this.#account.id,
      account: this.#account.name,
      idle: this.#watcher?.health() ?? null,
      running: this.#loop !== null,
      pending: this.#pending,
      runs: this.#runs,
      lastWakeAt: this.#lastWakeAt,
      lastRunAt: this.#lastRunAt,
      lastRunStatus: this.#lastRunStatus,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt,
    };
  }

  async stop() {
    this.#stopped = true;
    this.#wakeSleep?.();
    await this.#watcher?.stop();
    await this.#loop;
  }
}
