/**
 * The owner's side of the command socket: the process that holds the embedded database (the
 * service, or a CLI command that opened the files itself) runs other processes' CLI commands
 * with its own open database, so that every command sees and changes the one copy of the data.
 * Protocol: src/cli/command_socket_protocol.ts.
 */
import {
  CHUNK_BYTES,
  type CommandRequest,
  type FileSink,
  JsonLineReader,
  JsonLineWriter,
  MAX_FILE_BYTES,
} from "./command_socket_protocol.ts";

/** What a command run for a client reads and writes: the client's terminal, over the socket. */
export interface RemoteIo {
  /** Text for the client's stdout. */
  out(text: string): void;
  /** Text for the client's stderr. */
  err(text: string): void;
  /** Resolves when everything written so far has left (backpressure for large outputs). */
  flushed(): Promise<void>;
  /** One line of the client's stdin, or null at its end. */
  readLine(): Promise<string | null>;
  /** A file as the client reads it (its own working folder and permissions). */
  readFile(path: string): Promise<Uint8Array>;
  /** A new file the client writes (its own working folder and permissions). */
  createFile(path: string): Promise<FileSink>;
}

/** The longest Unix socket path Linux takes (`sun_path` holds 108 bytes with the final NUL). */
const MAX_SOCKET_PATH = 107;

/** Runs one client's command; resolves to its exit code. */
export type RunRemote = (request: CommandRequest, io: RemoteIo) => Promise<number>;

export interface CommandSocket {
  readonly path: string;
  /** Accepts no new command, waits for those running, removes the socket file. */
  close(): Promise<void>;
}

export interface CommandSocketOptions {
  path: string;
  run: RunRemote;
  /** Told of a connection that failed outside any command (a bad first line). */
  onError?: (error: unknown) => void;
}

/**
 * Listens on a Unix socket (mode 0600: only this user and root may connect) and runs each
 * client's command as it comes; several run at once. The caller owns the data folder, so a
 * socket file already there is a dead owner's and is replaced.
 */
export async function serveCommandSocket(options: CommandSocketOptions): Promise<CommandSocket> {
  const length = new TextEncoder().encode(options.path).length;
  if (length > MAX_SOCKET_PATH) {
    throw new Error(
      `the command socket ${options.path} is ${length} bytes long, more than a Unix socket's ` +
        `${MAX_SOCKET_PATH}: give DATA_DIR a shorter path (a relative one is resolved from the ` +
        "working folder)",
    );
  }
  await Deno.remove(options.path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path: options.path });
  } catch (cause) {
    throw new Error(`cannot listen on the command socket ${options.path}`, { cause });
  }
  await Deno.chmod(options.path, 0o600);
  const running = new Set<Promise<void>>();
  let closing = false;

  const accepting = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // closed
      }
      if (closing) {
        // Ran nothing: the client sees the end before `started` and tries again.
        conn.close();
        continue;
      }
      const job = serveOne(conn, options).catch((e) => options.onError?.(e));
      running.add(job);
      job.finally(() => running.delete(job));
    }
  })();

  return {
    path: options.path,
    async close() {
      if (closing) return;
      closing = true;
      listener.close();
      await accepting;
      await Promise.allSettled([...running]);
      await Deno.remove(options.path).catch(() => {});
    },
  };
}

function isRequest(doc: unknown): doc is CommandRequest {
  const r = doc as CommandRequest | null;
  return typeof r === "object" && r !== null && Array.isArray(r.args) &&
    r.args.every((a) => typeof a === "string") && typeof r.tty === "boolean";
}

async function serveOne(conn: Deno.Conn, options: CommandSocketOptions): Promise<void> {
  const reader = new JsonLineReader(conn.readable);
  const writer = new JsonLineWriter(conn);
  try {
    const request = await reader.next();
    if (!isRequest(request)) {
      if (request !== null) {
        await writer.send({ err: "carteiro: not a command request\n" });
        await writer.send({ exit: 2 });
      }
      return;
    }
    await writer.send({ started: true });
    // The client answers only what it is asked, one question at a time.
    let asking = Promise.resolve<unknown>(null);
    const ask = (question: unknown) => {
      const answer = asking.then(async () => {
        await writer.send(question);
        return await reader.next();
      });
      asking = answer.catch(() => null);
      return answer;
    };
    const io: RemoteIo = {
      out: (text) => void writer.send({ out: text }),
      err: (text) => void writer.send({ err: text }),
      flushed: () => writer.flushed(),
      readLine: async () => {
        const reply = await ask({ read: "line" }) as { line?: unknown } | null;
        return typeof reply?.line === "string" ? reply.line : null;
      },
      readFile: async (path) => {
        const reply = await ask({ read: "file", path }) as
          | { file?: unknown; file_error?: unknown }
          | null;
        if (typeof reply?.file === "string") {
          const bytes = Uint8Array.fromBase64(reply.file);
          if (bytes.length > MAX_FILE_BYTES) throw new Error(`${path} is too large`);
          return bytes;
        }
        throw new Error(
          typeof reply?.file_error === "string" ? reply.file_error : "the client sent no file",
        );
      },
      createFile: async (path) => {
        const opened = await ask({ write: "open", path }) as
          | { opened?: unknown; file_error?: unknown }
          | null;
        if (opened?.opened !== true) {
          throw new Error(
            typeof opened?.file_error === "string" ? opened.file_error : `${path}: not created`,
          );
        }
        return {
          // Each chunk waits until it has left: the export reads on as the client writes.
          write: async (bytes) => {
            for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
              const data = bytes.subarray(at, at + CHUNK_BYTES).toBase64();
              await writer.send({ write: "chunk", data });
              if (writer.failed) throw new Error("the client went away");
            }
          },
          close: async () => {
            const closed = await ask({ write: "close" }) as
              | { closed?: unknown; file_error?: unknown }
              | null;
            if (closed?.closed !== true) {
              throw new Error(
                typeof closed?.file_error === "string" ? closed.file_error : `${path}: not closed`,
              );
            }
          },
        };
      },
    };
    let code: number;
    try {
      code = await options.run(request, io);
    } catch (e) {
      io.err(`carteiro: ${e instanceof Error ? e.message : String(e)}\n`);
      code = 1;
    }
    await writer.send({ exit: code });
  } finally {
    reader.release();
    try {
      conn.close();
    } catch {
      // Already closed by the other side.
    }
  }
}
