import type { Analysis } from "./analyze.ts";

/** Parsing and classifying on worker threads: `analyze` resolves in any order, never rejects. */
export interface AnalyzePool {
  /**
   * With `handOver`, the caller reads `raw` no more: a view over the whole of its buffer is moved
   * to the worker instead of copied (the view is left empty).
   */
  analyze(raw: Uint8Array, handOver?: boolean): Promise<Analysis>;
  /** Ends the workers; analyses still in flight resolve as failures. */
  close(): void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, (a: Analysis) => void>;
}

const WORKER_URL = new URL("./analyze_worker.ts", import.meta.url);

// Messages a worker holds at once: enough to keep it busy, few enough that its memory stays
// that of a couple of messages; the rest wait here, in order.
const PER_WORKER = 2;

/**
 * Starts `size` workers and hands each analysis to the least busy one. A worker that dies (a
 * message that exhausts the parser) fails only the messages it held, which are kept as
 * unparsed with the reason, and is replaced.
 */
export function startAnalyzePool(size: number): AnalyzePool {
  let nextId = 1;
  let closed = false;
  const slots: Slot[] = [];
  const waiting: Array<
    { raw: Uint8Array; handOver: boolean; resolve: (a: Analysis) => void }
  > = [];

  const dispatch = () => {
    while (waiting.length > 0) {
      const slot = slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
      if (slot.inFlight.size >= PER_WORKER) return;
      const { raw, handOver, resolve } = waiting.shift()!;
      const id = nextId++;
      slot.inFlight.set(id, resolve);
      // A view over part of a buffer (a pooled Buffer's) is copied: the rest is someone else's.
      const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
      slot.worker.postMessage(
        { id, raw },
        handOver && whole && raw.buffer instanceof ArrayBuffer ? [raw.buffer] : [],
      );
    }
  };

  const failAll = (slot: Slot, error: string) => {
    for (const resolve of slot.inFlight.values()) {
      resolve(unparsed(error));
    }
    slot.inFlight.clear();
  };

  const spawn = (index: number) => {
    const slot: Slot = {
      worker: new Worker(WORKER_URL, { type: "module", name: `analyze-${index}` }),
      inFlight: new Map(),
    };
    slot.worker.onmessage = (e: MessageEvent<{ id: number; analysis: Analysis }>) => {
      const resolve = slot.inFlight.get(e.data.id);
      slot.inFlight.delete(e.data.id);
      resolve?.(e.data.analysis);
      dispatch();
    };
    slot.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      slot.worker.terminate();
      failAll(slot, `the parser stopped on this message: ${e.message}`);
      if (!closed) {
        spawn(index);
        dispatch();
      }
    };
    slots[index] = slot;
  };
  for (let i = 0; i < Math.max(1, size); i++) spawn(i);

  return {
    analyze(raw, handOver = false) {
      if (closed) {
        return Promise.resolve(unparsed("the parser pool is closed"));
      }
      return new Promise<Analysis>((resolve) => {
        waiting.push({ raw, handOver, resolve });
        dispatch();
      });
    },
    close() {
      closed = true;
      for (const slot of slots) {
        slot.worker.terminate();
        failAll(slot, "the parser pool was closed");
      }
      for (const { resolve } of waiting.splice(0)) {
        resolve(unparsed("the parser pool was closed"));
      }
    },
  };
}

/** The analysis of a message the pool could not parse, with the reason. */
function unparsed(error: string): Analysis {
  return { outcome: { ok: false, error }, classification: null };
}
