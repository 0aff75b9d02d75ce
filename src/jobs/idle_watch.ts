/**
 * Collection on new mail: an IDLE watcher on each configured mailbox of each enabled account
 * wakes that account's collection and then the outbox drain, so a reply leaves within a second
 * of arrival. Across instances each mailbox has one watcher: an instance watches the mailboxes
 * whose lease it holds (src/store/idle_leases.ts), renewed every few seconds, and takes over a
 * dead holder's within 25 s. Mailboxes beyond the account's connection cap are not watched
 * (src/domain/idle_leases.ts). The minute cron stays as the safety net for whatever IDLE misses.
 */
import type { AccountRow } from "../store/accounts.ts";
import type { CollectSummary } from "./collect_account.ts";
import type { IdleHealth, IdleWatcher, NewMailReason, Timers } from "../mail/imap_idle.ts";
import type { Logger } from "../log.ts";
import {
  connectionCap,
  idlePlan,
  LEASE_HEARTBEAT_MS,
  leaseStillOurs,
  type MailboxKey,
} from "../domain/idle_leases.ts";

/** The IDLE leases of this instance (src/store/idle_leases.ts with its holder name). */
export interface IdleLeases {
  /**
   * Renews or takes the leases of `wanted`, gives up the others; resolves to those held now.
   * May reject (the database is unreachable): the leases then count as held only while
   * `leaseStillOurs` says so.
   */
  heartbeat(wanted: MailboxKey[]): Promise<MailboxKey[]>;
  /** Gives up every lease of this instance. */
  release(): Promise<void>;
}

export interface IdleWatchDeps {
  /** One collection of one account (`collectAccount` with the service's deps). */
  collect: (account: AccountRow) => Promise<CollectSummary>;
  /** One outbox drain; run after a collection that parsed something. */
  drain: () => Promise<unknown>;
  /**
   * Starts the IDLE watcher of one mailbox of an account, on its own connection, calling
   * `onNewMail` on new mail; null when the account can't be watched here (no credentials in this
   * environment).
   */
  watch: (
    account: AccountRow,
    mailbox: string,
    onNewMail: (reason: NewMailReason) => void,
  ) => IdleWatcher | null;
  /**
   * Shares the mailboxes with other instances. Without it this instance watches every mailbox
   * its accounts' caps allow, as if it were alone.
   */
  leases?: IdleLeases;
  log: Logger;
  now?: () => Date;
  timers?: Timers;
  /** How often the leases are renewed and free ones looked for. Default `LEASE_HEARTBEAT_MS`. */
  heartbeatMs?: number;
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
  /** The IDLE connections of this instance to the account, one per mailbox it holds. */
  watchers: IdleHealth[];
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
   * ones, stops deleted or disabled ones, restarts those whose server or login changed, and
   * follows changes of mailboxes and caps. Call it after the accounts change (or once a minute,
   * from the cron).
   */
  sync(accounts: AccountRow[]): Promise<void>;
  /** Stops every watcher, waits for the collections in flight, and gives up the leases. */
  stop(): Promise<void>;
}

/**
 * Starts watching the enabled accounts. Each account has its own runner: at most one collection
 * in flight and one pending, so a burst of arrivals (in any of its mailboxes) costs at most two
 * runs, and one account's failing or slow collection never waits on, or holds up, another's.
 */
export function startIdleWatch(deps: IdleWatchDeps, accounts: AccountRow[]): IdleWatchHandle {
  const timers: Timers = deps.timers ?? {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id as number),
  };
  const now = deps.now ?? (() => new Date());
  const heartbeatMs = deps.heartbeatMs ?? LEASE_HEARTBEAT_MS;
  const runners = new Map<number, { key: string; runner: AccountRunner }>();
  let current = enabledAccounts(accounts);
  let stopped = false;
  let timer: unknown = null;
  /** The last heartbeat that answered, and what it held. */
  let confirmedAt: Date | null = null;
  let held: MailboxKey[] = [];
  /** Ticks run one after another: a sync's tick waits for the timer's. */
  let ticking: Promise<void> = Promise.resolve();
  /**
   * Watchers and runners being stopped. A tick never waits for them (a login in progress may take
   * its full timeout to give up, a collection in flight longer): the next heartbeat must not be
   * late, or the leases this instance still holds would lapse. `stop()` waits for them.
   */
  const retiring = new Set<Promise<void>>();
  const retire = (p: Promise<void>) => {
    retiring.add(p);
    p.catch(() => {}).finally(() => retiring.delete(p));
  };
  /** The heartbeat, or a rejection once it has taken as long as two heartbeats. */
  const heartbeat = (wanted: MailboxKey[]) =>
    new Promise<MailboxKey[]>((resolve, reject) => {
      const id = timers.setTimeout(
        () => reject(new Error(`no answer within ${2 * heartbeatMs} ms`)),
        2 * heartbeatMs,
      );
      deps.leases!.heartbeat(wanted).then(resolve, reject).finally(() => timers.clearTimeout(id));
    });

  const wantedNow = (): MailboxKey[] =>
    [...current.values()].flatMap((a) =>
      idlePlan(a.mailboxes, connectionCap(a)).idle.map((mailbox) => ({
        accountId: a.id,
        mailbox,
      }))
    );

  const tick = async () => {
    if (stopped) return;
    const wanted = wantedNow();
    if (deps.leases) {
      // The renewal dates from when it was asked for, not from a slow answer.
      const askedAt = now();
      try {
        held = await heartbeat(wanted);
        confirmedAt = askedAt;
      } catch (e) {
        deps.log.warn("the IDLE leases could not be renewed", {
          error: e instanceof Error ? e.message : String(e),
        });
        // Another instance may take them once they expire: stop watching before that.
        if (!leaseStillOurs(confirmedAt, now())) held = [];
      }
    } else {
      held = wanted;
    }
    if (stopped) return;
    // Runners of accounts gone, disabled, or with another server or login, stop first.
    for (const [id, r] of runners) {
      const a = current.get(id);
      if (!a || connectionKey(a) !== r.key) {
        runners.delete(id);
        retire(r.runner.stop());
      }
    }
    for (const [id, a] of current) {
      let entry = runners.get(id);
      if (!entry) {
        entry = { key: connectionKey(a), runner: new AccountRunner(deps, a) };
        runners.set(id, entry);
      }
      entry.runner.update(a);
      const mine = held.filter((k) => k.accountId === id).map((k) => k.mailbox);
      for (const p of entry.runner.watchOnly(mine)) retire(p);
    }
  };

  const runTick = () => {
    ticking = ticking.then(tick).catch((e) => {
      deps.log.warn("the IDLE watchers could not be updated", {
        error: e instanceof Error ? e.message : String(e),
      });
    });
    return ticking;
  };
  const schedule = () => {
    timer = timers.setTimeout(() => {
      timer = null;
      if (stopped) return;
      runTick().finally(() => {
        if (!stopped) schedule();
      });
    }, heartbeatMs);
  };
  runTick();
  schedule();

  return {
    health: () => [...runners.values()].map((r) => r.runner.health()),
    sync: async (list: AccountRow[]) => {
      if (stopped) return;
      current = enabledAccounts(list);
      await runTick();
    },
    stop: async () => {
      stopped = true;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      await ticking;
      // The runners stay listed, so health() still shows how each one ended.
      await Promise.all([...runners.values()].map((r) => r.runner.stop()));
      await Promise.allSettled([...retiring]);
      // Only once no connection is left: the next holder's must not overlap with ours.
      try {
        await deps.leases?.release();
      } catch (e) {
        deps.log.warn("the IDLE leases could not be given up; they expire by themselves", {
          error: e instanceof Error ? e.message : String(e),
        });
      }
    },
  };
}

/** The accounts to watch: enabled, and not waiting for a person to reconnect their OAuth grant. */
function enabledAccounts(list: AccountRow[]): Map<number, AccountRow> {
  return new Map(
    list.filter((a) => a.enabled && !a.reauthorizationNeeded).map((a) => [a.id, a]),
  );
}

/** What a watcher's connection depends on: a change means new watchers. */
function connectionKey(a: AccountRow): string {
  return JSON.stringify([a.imapHost, a.imapPort, a.imapTls, a.imapUser]);
}

class AccountRunner {
  #deps: IdleWatchDeps;
  #account: AccountRow;
  #now: () => Date;
  #timers: Timers;
  /** The watchers running, by mailbox; null where the account can't be watched here. */
  #watchers = new Map<string, IdleWatcher | null>();
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

  /** The account as it is now (its name, mailboxes and cap may have changed). */
  update(account: AccountRow) {
    this.#account = account;
  }

  /**
   * Watches exactly `mailboxes`: starts the missing watchers, and stops the others, returning
   * their stops in progress.
   */
  watchOnly(mailboxes: string[]): Promise<void>[] {
    if (this.#stopped) return [];
    const keep = new Set(mailboxes);
    const stopping: Promise<void>[] = [];
    for (const [mailbox, w] of this.#watchers) {
      if (keep.has(mailbox)) continue;
      this.#watchers.delete(mailbox);
      if (w) stopping.push(w.stop());
    }
    for (const mailbox of mailboxes) {
      if (this.#watchers.has(mailbox) || this.#stopped) continue;
      let w: IdleWatcher | null = null;
      try {
        w = this.#deps.watch(this.#account, mailbox, () => this.trigger());
      } catch (e) {
        this.#error(e);
      }
      this.#watchers.set(mailbox, w);
    }
    return stopping;
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
      watchers: [...this.#watchers.values()].flatMap((w) => w ? [w.health()] : []),
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
    await Promise.all([...this.#watchers.values()].map((w) => w?.stop()));
    await this.#loop;
  }
}
