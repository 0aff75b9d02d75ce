/**
 * The client's side of the command socket: hands a CLI command to the process that owns the
 * embedded database and plays its output back on this process's stdout and stderr.
 * Protocol: src/cli/command_socket_protocol.ts.
 */
import {
  type CommandRequest,
  type FileSink,
  JsonLineReader,
  JsonLineWriter,
  MAX_FILE_BYTES,
} from "./command_socket_protocol.ts";

/** This process's terminal, as the forwarded command uses it. */
export interface LocalIo {
  stdout(text: string): Promise<void>;
  stderr(text: string): Promise<void>;
  readLine(): Promise<string | null>;
  readFile(path: string): Promise<Uint8Array>;
  /** Creates (or empties) a file the command writes. */
  createFile(path: string): Promise<FileSink>;
}

/**
 * `reached: false`: nobody listens on the socket, or the owner closed the connection before
 * starting the command (it was stopping) — nothing ran. `reached: true`: the command ran there
 * and `code` is its exit code.
 */
export type ForwardResult = { reached: false } | { reached: true; code: number };

/** Sends the command to the socket's owner and relays its I/O until it ends. */
export async function forwardCommand(
  path: string,
  request: CommandRequest,
  io: LocalIo,
): Promise<ForwardResult> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    // No socket, a dead owner's socket, or an owner that stopped accepting as we came.
    if (
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused ||
      e instanceof Deno.errors.ConnectionReset
    ) {
      return { reached: false };
    }
    throw e;
  }
  const reader = new JsonLineReader(conn.readable);
  const writer = new JsonLineWriter(conn);
  let started = false;
  // The file the command writes, and the first failure writing it (told at its close).
  let sink: FileSink | null = null;
  let sinkError: string | null = null;
  const message = (e: unknown) => e instanceof Error ? e.message : String(e);
  try {
    await writer.send(request);
    while (true) {
      const doc = await reader.next() as Record<string, unknown> | null;
      if (doc === null) {
        if (!started) return { reached: false };
        await io.stderr(
          "carteiro: the process that owns the database ended before the command finished\n",
        );
        return { reached: true, code: 1 };
      }
      if (doc.started === true) started = true;
      else if (typeof doc.out === "string") await io.stdout(doc.out);
      else if (typeof doc.err === "string") await io.stderr(doc.err);
      else if (typeof doc.exit === "number") return { reached: true, code: doc.exit };
      else if (doc.read === "line") await writer.send({ line: await io.readLine() });
      else if (doc.read === "file" && typeof doc.path === "string") {
        await writer.send(await fileAnswer(doc.path, io));
      } else if (doc.write === "open" && typeof doc.path === "string") {
        try {
          await sink?.close().catch(() => {});
          sink = await io.createFile(doc.path);
          sinkError = null;
          await writer.send({ opened: true });
        } catch (e) {
          sink = null;
          await writer.send({ file_error: message(e) });
        }
      } else if (doc.write === "chunk" && typeof doc.data === "string") {
        if (sink && sinkError === null) {
          await sink.write(Uint8Array.fromBase64(doc.data)).catch((e) => sinkError = message(e));
        }
      } else if (doc.write === "close") {
        await sink?.close().catch((e) => sinkError ??= message(e));
        sink = null;
        await writer.send(sinkError === null ? { closed: true } : { file_error: sinkError });
      }
    }
  } finally {
    await sink?.close().catch(() => {});
    reader.release();
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

async function fileAnswer(path: string, io: LocalIo) {
  try {
    const bytes = await io.readFile(path);
    if (bytes.length > MAX_FILE_BYTES) {
      return { file_error: `${path} is larger than ${MAX_FILE_BYTES} bytes` };
    }
    return { file: bytes.toBase64() };
  } catch (e) {
    return { file_error: e instanceof Error ? e.message : String(e) };
  }
}
