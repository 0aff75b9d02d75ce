/**
 * Keeps a thread's dead ArrayBuffers from setting the process's peak memory: the embedded
 * database (src/store/pglite_db.ts, after each statement) and the parser thread
 * (src/mail/analyze_worker.ts, after each message) check it.
 *
 * V8 frees an ArrayBuffer's bytes (outside its heap, in malloc) only when a garbage collection
 * finds it dead, and it starts a full collection for them only when they have grown ~64 MB past
 * the level after the last one. The collector makes such garbage at a steady rate (PGlite's
 * protocol buffers, which grow by copying for each statement; IMAP chunks; the copies posted to
 * the parser), so the dead buffers pile up to that margin again and again, and malloc's heap,
 * which does not shrink, keeps the highest pile for the rest of the process: measured, external
 * memory swinging between ~18 and ~100 MB and the malloc heap growing from 64 to 141–193 MB of a
 * 420–500 MB process. A full collection whenever external memory has grown `stepBytes` past
 * where the last one left it holds the pile near that step instead (3,000 messages: malloc heap
 * 104 against 158 MB, peak RSS 391 against 479 MB, the same minutes).
 *
 * The collection needs V8's `gc` function, which only `--v8-flags=--expose-gc` provides (the
 * tasks in deno.json and the systemd unit in docs/deploy.md pass it); without it the guard does
 * nothing and V8's own schedule applies.
 */
export interface ExternalMemoryGuard {
  /** Called after each unit of work: reads the external memory (at most every `intervalMs`). */
  check(): void;
}

export interface ExternalMemoryGuardOptions {
  /** Growth of external memory past the last collection's level that calls for one. */
  stepBytes?: number;
  /** The least time between two readings of the external memory, ms. */
  intervalMs?: number;
  /** The process's external memory, bytes (ArrayBuffers and other memory V8 is told of). */
  external?: () => number;
  /** A full garbage collection; absent when V8 does not expose it. */
  collect?: (() => void) | null;
  now?: () => number;
}

/** 24 MB, the setting measured above, against V8's own margin of ~64–80 MB. */
const STEP_BYTES = 24 << 20;
const INTERVAL_MS = 100;

export function externalMemoryGuard(o: ExternalMemoryGuardOptions = {}): ExternalMemoryGuard {
  const collect = o.collect === undefined ? exposedGc() : o.collect;
  if (!collect) return { check() {} };
  const external = o.external ?? (() => Deno.memoryUsage().external);
  const now = o.now ?? (() => performance.now());
  const step = o.stepBytes ?? STEP_BYTES;
  const interval = o.intervalMs ?? INTERVAL_MS;
  let floor = external();
  let readAt = now();
  return {
    check() {
      const t = now();
      if (t - readAt < interval) return;
      readAt = t;
      const bytes = external();
      // V8's own collections move the level down too.
      if (bytes < floor) floor = bytes;
      if (bytes - floor < step) return;
      collect();
      floor = external();
    },
  };
}

/** V8's full collection, when `--expose-gc` made it a global; null otherwise. */
export function exposedGc(): (() => void) | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? () => gc() : null;
}
