/**
 * Time-bounded runs, for hosts that end work after a while (Deno Deploy's cron isolates). A
 * deadline fixed when the run starts is asked before each collected batch and before each claimed
 * send, so the run returns soon after its budget: at most the batch or the send in hand is
 * finished past it. What a run did not reach is taken by the next one: collection resumes from the
 * committed high-water mark, and the drain takes the rows still due.
 */
import type { CollectSummary } from "./collect_account.ts";
import type { SendSummary } from "./send_outbox.ts";
import type { Logger } from "../log.ts";

export interface RunBudget {
  /** How long after its start a run may begin new work (a batch, a send). */
  budgetMs: number;
  now: () => Date;
  /** Asked with the deadline: true ends the run as the deadline would (the host is stopping). */
  cancelled?: () => boolean;
  log: Logger;
}

/** A deadline fixed at its creation; `shouldStop` turns true once it has passed. */
export interface Deadline {
  shouldStop(): boolean;
  elapsedMs(): number;
}

/** Starts the clock of one run. */
export function startDeadline(budget: Pick<RunBudget, "budgetMs" | "now" | "cancelled">): Deadline {
  const start = budget.now().getTime();
  return {
    shouldStop: () =>
      (budget.cancelled?.() ?? false) || budget.now().getTime() - start >= budget.budgetMs,
    elapsedMs: () => budget.now().getTime() - start,
  };
}

/** A `shouldStop` that remembers whether it ever answered true. */
function watched(deadline: Deadline) {
  let stopped = false;
  return {
    shouldStop: () => {
      if (deadline.shouldStop()) stopped = true;
      return stopped;
    },
    get stopped() {
      return stopped;
    },
  };
}

export interface BoundedCollectDeps extends RunBudget {
  /** One collection of every account, ending before the next batch once `shouldStop` is true. */
  collect: (shouldStop: () => boolean) => Promise<CollectSummary[]>;
  /** One outbox drain, ending before the next claim once `shouldStop` is true. */
  drain: (shouldStop: () => boolean) => Promise<SendSummary>;
}

export interface BoundedCollectRun {
  summaries: CollectSummary[];
  /** The drain that followed a collection that parsed something; null when none was needed. */
  sent: SendSummary | null;
  /** True when the deadline ended the collection or the drain with work possibly left. */
  stoppedEarly: boolean;
  elapsedMs: number;
}

/**
 * One collect-cron run: every account is collected until the deadline, then, when something was
 * parsed, the outbox is drained within the same deadline, so replies leave in the same run.
 * Logs one line saying whether the run stopped early.
 */
export async function collectWithin(deps: BoundedCollectDeps): Promise<BoundedCollectRun> {
  const deadline = startDeadline(deps);
  let run: BoundedCollectRun;
  try {
    const summaries = await deps.collect(deadline.shouldStop);
    let sent: SendSummary | null = null;
    let drainStopped = false;
    if (summaries.some((s) => s.parsed > 0)) {
      const drain = watched(deadline);
      sent = await deps.drain(drain.shouldStop);
      drainStopped = drain.stopped;
    }
    run = {
      summaries,
      sent,
      stoppedEarly: summaries.some((s) => s.partial) || drainStopped,
      elapsedMs: deadline.elapsedMs(),
    };
  } catch (e) {
    deps.log.error("collect run failed", {
      error: e instanceof Error ? e.message : String(e),
      elapsedMs: deadline.elapsedMs(),
    });
    throw e;
  }
  deps.log.info(run.stoppedEarly ? "collect run stopped early" : "collect run finished", {
    stoppedEarly: run.stoppedEarly,
    elapsedMs: run.elapsedMs,
    budgetMs: deps.budgetMs,
    accounts: run.summaries.map((s) => ({
      account: s.account,
      status: s.status,
      partial: s.partial,
      fetched: s.fetched,
      stored: s.stored,
      parsed: s.parsed,
      ...(s.error ? { error: s.error } : {}),
    })),
    sent: run.sent,
  });
  return run;
}

export interface BoundedDrainDeps extends RunBudget {
  drain: (shouldStop: () => boolean) => Promise<SendSummary>;
}

export interface BoundedDrainRun {
  summary: SendSummary;
  /** True when the deadline ended the drain, with rows possibly still due. */
  stoppedEarly: boolean;
  elapsedMs: number;
}

/** One send-cron run: the outbox drained until the deadline. Logs one line. */
export async function drainWithin(deps: BoundedDrainDeps): Promise<BoundedDrainRun> {
  const deadline = startDeadline(deps);
  const stop = watched(deadline);
  let summary: SendSummary;
  try {
    summary = await deps.drain(stop.shouldStop);
  } catch (e) {
    deps.log.error("send run failed", {
      error: e instanceof Error ? e.message : String(e),
      elapsedMs: deadline.elapsedMs(),
    });
    throw e;
  }
  const run = { summary, stoppedEarly: stop.stopped, elapsedMs: deadline.elapsedMs() };
  deps.log.info(run.stoppedEarly ? "send run stopped early" : "send run finished", {
    stoppedEarly: run.stoppedEarly,
    elapsedMs: run.elapsedMs,
    budgetMs: deps.budgetMs,
    ...summary,
  });
  return run;
}
