/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A worker of the analysis pool (analyze_pool.ts): receives `{ id, raw }`, answers
 * `{ id, analysis }`. Parsing and classifying are pure CPU work, so they run beside the thread
 * that talks to IMAP and PostgreSQL.
 */
import { analyzeMessage } from "./analyze.ts";
import { externalMemoryGuard } from "../external_memory_guard.ts";

// mailparser calls `end()` again on a part's decoder stream that has already ended (at the text
// between parts and at the end of the message), and Node's streams answer each such call with an
// ERR_STREAM_ALREADY_FINISHED error that nobody sees. Capturing those errors' stacks cost about
// 0.1 ms of CPU per message. This thread only parses and classifies, and keeps an error's message
// (a parse failure, a classifier bug as evidence), never its stack.
Error.stackTraceLimit = 0;

// This thread's heap is its own: the copies of the messages it is handed, and the parser's
// buffers, pile up here as they do on the collecting thread (see the guard).
const memory = externalMemoryGuard();

self.onmessage = async (e: MessageEvent<{ id: number; raw: Uint8Array }>) => {
  const { id, raw } = e.data;
  self.postMessage({ id, analysis: await analyzeMessage(raw) });
  memory.check();
};
