/**
 * The progress of `collect --once` for a person, on stderr (stdout carries only JSON): on a
 * terminal one line rewritten in place, elsewhere (a log file, CI) one line every few seconds.
 */
import type { CollectProgressEvent } from "../jobs/collect_account.ts";

/** The sample as the line needs it. */
export type ProgressSample = Pick<CollectProgressEvent, "account" | "mailbox" | "done" | "total">;

/** `collect caixa INBOX: 12000/100000 (12%), 310 msg/s`; the rate over `elapsedMs`. */
export function progressLine(p: ProgressSample, elapsedMs: number): string {
  const percent = p.total > 0 ? Math.floor((p.done * 100) / p.total) : 100;
  const rate = elapsedMs > 0 ? Math.round(p.done / (elapsedMs / 1000)) : 0;
  return `collect ${p.account} ${p.mailbox}: ${p.done}/${p.total} (${percent}%), ${rate} msg/s`;
}

export interface ProgressReporterOptions {
  /** True when stderr is a terminal: the line is rewritten in place with `\r`. */
  tty: boolean;
  /** Writes text to stderr as is (no newline added). */
  write: (text: string) => void;
  /** Milliseconds, monotonic (performance.now). */
  now: () => number;
  /** Off a terminal, at most one line this often. Default 5 s. */
  everyMs?: number;
}

/** Turns progress events into lines; `end()` finishes the terminal line. */
export interface ProgressReporter {
  update(p: ProgressSample): void;
  end(): void;
}

/**
 * Keeps the latest sample of each account (accounts are collected side by side) and shows the
 * ones still running on one line.
 */
export function createProgressReporter(o: ProgressReporterOptions): ProgressReporter {
  const everyMs = o.everyMs ?? 5_000;
  const latest = new Map<string, { sample: ProgressSample; startedAt: number }>();
  let lastPrintAt: number | null = null;
  let lineOpen = false;
  return {
    update(p) {
      const at = o.now();
      const before = latest.get(p.account);
      const restart = !before || before.sample.mailbox !== p.mailbox || p.done === 0;
      latest.set(p.account, { sample: p, startedAt: restart ? at : before.startedAt });
      if (!o.tty && lastPrintAt !== null && at - lastPrintAt < everyMs) return;
      const running = [...latest.values()].filter((e) => e.sample.done < e.sample.total);
      const shown = running.length > 0 ? running : [latest.get(p.account)!];
      const line = shown.map((e) => progressLine(e.sample, at - e.startedAt)).join("; ");
      lastPrintAt = at;
      if (o.tty) {
        // Back to the line's start, the new text, then erase what a longer line left behind.
        o.write(`\r${line}\x1b[K`);
        lineOpen = true;
      } else {
        o.write(`${line}\n`);
      }
    },
    end() {
      if (lineOpen) o.write("\n");
      lineOpen = false;
    },
  };
}
