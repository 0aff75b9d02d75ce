/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A worker of the analysis pool (analyze_pool.ts): receives `{ id, raw }`, answers
 * `{ id, analysis }`. Parsing and classifying are pure CPU work, so they run beside the thread
 * that talks to IMAP and PostgreSQL.
 */
import { analyzeMessage } from "./analyze.ts";

self.onmessage = async (e: MessageEvent<{ id: number; raw: Uint8Array }>) => {
  const { id, raw } = e.data;
  self.postMessage({ id, analysis: await analyzeMessage(raw) });
};
