/**
 * The IMAP IDLE state of this instance's watchers, written to the database for `stats`,
 * `/metrics` and the accounts page (which may run in another process): every `everyMs`, and
 * within `checkMs` of a watcher changing state or failing again. Stopping deletes this instance's
 * rows; an instance that dies leaves them, and the readers stop trusting them two minutes later.
 */
import type { AccountWatchHealth } from "./idle_watch.ts";
import type { IdleReport } from "../store/account_health.ts";
import type { Timers } from "../mail/imap_idle.ts";
import type { Logger } from "../log.ts";

export interface IdleHealthReportDeps {
  /** The watchers as they are now (`IdleWatchHandle.health`). */
  health: () => AccountWatchHealth[];
  /** Replaces this instance's rows (`writeIdleHealth` with the instance id). */
  write: (reports: IdleReport[], at: Date) => Promise<void>;
  /** Deletes this instance's rows (`deleteIdleHealth`). */
  remove: () => Promise<void>;
  now: () => Date;
  log: Logger;
  timers?: Timers;
  /** Rows are rewritten this often even when nothing changed. Default 15 s. */
  everyMs?: number;
  /** Watchers are looked at this often for a change of state. Default 1 s. */
  checkMs?: number;
}

export interface IdleHealthReport {
  /** Stops the timer, waits for a write in flight, and deletes this instance's rows. */
  stop(): Promise<void>;
}

/** The rows to write: one per mailbox this instance watches (one not watched has no row). */
export function idleReports(health: AccountWatchHealth[]): IdleReport[] {
  return health.flatMap((h) =>
    h.watchers.map((w) => ({
      accountId: h.accountId,
      state: w.state,
      mailbox: w.mailbox,
      since: w.since,
      lastEventAt: w.lastEventAt,
      consecutiveFailures: w.consecutiveFailures,
      lastError: w.lastError,
      lastErrorAt: w.lastErrorAt,
    }))
  );
}

/** What makes a report worth writing before its time. */
function signature(reports: IdleReport[]): string {
  return JSON.stringify(
    reports.map((r) => [r.accountId, r.mailbox, r.state, r.consecutiveFailures]),
  );
}

/** Writes at once, then keeps the rows fresh until `stop()`. */
export function startIdleHealthReport(deps: IdleHealthReportDeps): IdleHealthReport {
  const timers: Timers = deps.timers ?? {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (id) => clearTimeout(id as number),
  };
  const everyMs = deps.everyMs ?? 15_000;
  const checkMs = deps.checkMs ?? 1_000;
  let stopped = false;
  let timer: unknown = null;
  let writing: Promise<void> | null = null;
  let written: { at: number; signature: string } | null = null;

  const tick = async () => {
    const reports = idleReports(deps.health());
    const at = deps.now();
    const sig = signature(reports);
    const due = !written || written.signature !== sig || at.getTime() - written.at >= everyMs;
    if (due) {
      // A failed write is tried again at the next change or after `everyMs`, not every tick.
      written = { at: at.getTime(), signature: sig };
      try {
        await deps.write(reports, at);
      } catch (e) {
        deps.log.warn("the IMAP IDLE state could not be saved", {
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
  };
  const schedule = (ms: number) => {
    timer = timers.setTimeout(() => {
      timer = null;
      if (stopped) return;
      writing = tick().finally(() => {
        writing = null;
        if (!stopped) schedule(checkMs);
      });
    }, ms);
  };
  schedule(0);
  return {
    async stop() {
      stopped = true;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      await writing;
      try {
        await deps.remove();
      } catch (e) {
        deps.log.warn("the IMAP IDLE state of this instance could not be deleted", {
          error: e instanceof Error ? e.message : String(e),
        });
      }
    },
  };
}
