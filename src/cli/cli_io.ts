/**
 * Where a CLI command's output goes and its input comes from: this process's own terminal, or a
 * client's terminal over the command socket (a command run inside the process that owns the
 * embedded database).
 */
import { readOneLine } from "./admin_commands.ts";
import { createProgressReporter, type ProgressReporter } from "./progress_line.ts";
import type { RemoteIo } from "./command_socket_server.ts";
import { type FileSink, pieces } from "./command_socket_protocol.ts";

/** One terminal, as a command uses it. */
export interface CommandIo {
  /** One JSON document as one line on stdout. */
  print(doc: unknown): void;
  /** A line for a person on stderr. */
  say(line: string): void;
  /** Text on stdout as it is; resolves when more may be written. */
  write(text: string): Promise<void>;
  readLine(): Promise<string | null>;
  readFile(path: string): Promise<Uint8Array>;
  /** A new file (emptied if it exists), readable by its owner only: it may hold mail. */
  createFile(path: string): Promise<FileSink>;
  /** The collect progress line, on stderr. */
  progress: ProgressReporter;
}

/** Writes all of `text` on stdout or stderr. */
export async function writeAll(stream: typeof Deno.stdout, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await stream.write(bytes.subarray(written));
}

/** A file of this process's, created (or emptied) with mode 0600. */
export async function createLocalFile(path: string): Promise<FileSink> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
  return {
    write: async (bytes) => {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    },
    close: () => Promise.resolve(file.close()),
  };
}

/** This process's own stdin, stdout and stderr. */
export function terminalIo(): CommandIo {
  const encoder = new TextEncoder();
  return {
    print: (doc) => console.log(JSON.stringify(doc)),
    say: (line) => console.error(line),
    write: (text) => writeAll(Deno.stdout, text),
    readLine: () => readOneLine(Deno.stdin.readable),
    readFile: (path) => Deno.readFile(path),
    createFile: createLocalFile,
    // Progress goes to stderr: stdout carries only the JSON documents.
    progress: createProgressReporter({
      tty: Deno.stderr.isTerminal(),
      write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
      now: () => performance.now(),
    }),
  };
}

/** A client's terminal, over the command socket. */
export function remoteIo(remote: RemoteIo, tty: boolean): CommandIo {
  return {
    print: (doc) => remote.out(`${JSON.stringify(doc)}\n`),
    say: (line) => remote.err(`${line}\n`),
    write: async (text) => {
      for (const piece of pieces(text)) {
        remote.out(piece);
        await remote.flushed();
      }
    },
    readLine: remote.readLine,
    readFile: remote.readFile,
    createFile: remote.createFile,
    progress: createProgressReporter({ tty, write: remote.err, now: () => performance.now() }),
  };
}
