/**
 * Progress of the collections, saved for the readers on other processes (`stats`, the accounts
 * page): a 100,000-message first sync commits several batches a second, and one row update per
 * second per account is plenty to watch it by.
 */
import type { CollectProgressEvent } from "./collect_account.ts";

/**
 * Wraps `write` so that it runs at most once per `minIntervalMs` per account, except for the
 * events a reader must not miss: a mailbox's start (`done` 0, or another mailbox) and its end.
 */
export function throttleProgress(
  write: (p: CollectProgressEvent) => Promise<void>,
  options: { now: () => Date; minIntervalMs?: number },
): (p: CollectProgressEvent) => Promise<void> {
  const minIntervalMs = options.minIntervalMs ?? 1_000;
  const last = new Map<number, { at: number; mailbox: string }>();
  return async (p) => {
    const at = options.now().getTime();
    const before = last.get(p.accountId);
    const due = !before || before.mailbox !== p.mailbox || p.done === 0 || p.done >= p.total ||
      at - before.at >= minIntervalMs;
    if (!due) return;
    last.set(p.accountId, { at, mailbox: p.mailbox });
    await write(p);
  };
}
