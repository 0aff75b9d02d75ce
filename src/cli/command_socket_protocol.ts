/**
 * The protocol of the command socket (`DATA_DIR/carteiro.sock`), through which a CLI command runs
 * inside the process that owns the embedded database. One JSON document per line, both ways:
 *
 *   client → owner   {"args": [...], "tty": bool}              the command, first and once
 *   owner → client   {"started": true}                         sent before anything is done
 *                    {"out": text} | {"err": text}             the command's stdout / stderr
 *                    {"read": "line"}                          asks for one line of stdin
 *                    {"read": "file", "path": p}               asks for a file of the client's
 *                    {"write": "open", "path": p}              asks the client to create a file
 *                    {"write": "chunk", "data": base64}        bytes for it, in order (no answer)
 *                    {"write": "close"}                        asks the client to close it
 *                    {"exit": code}                            the end
 *   client → owner   {"line": text | null}                     the line asked for (null at EOF)
 *                    {"file": base64} | {"file_error": text}   the file asked for
 *                    {"opened": true} | {"closed": true}       the file created, closed (or
 *                                                              {"file_error": text})
 *
 * A connection that ends before `started` ran nothing: the client may try again elsewhere.
 */

/** The command a client asks the owner to run. */
export interface CommandRequest {
  args: string[];
  /** Whether the client's stderr is a terminal (the collect progress line rewrites itself). */
  tty: boolean;
}

/** The name of the socket inside the data folder. */
export const SOCKET_FILE = "carteiro.sock";

/** Largest file a client sends for `rules import` and the like. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** Longest line either side reads: a file in base64 and its JSON wrapping, with room to spare. */
const MAX_LINE = Math.ceil(MAX_FILE_BYTES / 3) * 4 + 1024;

/** A file a command writes (an export): bytes in order, then `close`. */
export interface FileSink {
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the file; rejects when a write or the close failed. */
  close(): Promise<void>;
}

/** Most bytes of a file one `chunk` document carries (base64 and JSON make it a third larger). */
export const CHUNK_BYTES = 1024 * 1024;

/** Reads JSON documents, one per line, from a byte stream. */
export class JsonLineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = "";
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next document, or null at the end of the stream. Throws on a line that is not JSON. */
  async next(): Promise<unknown | null> {
    while (true) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        if (line.trim() === "") continue;
        return JSON.parse(line);
      }
      if (this.#done) return null;
      if (this.#buffer.length > MAX_LINE) throw new Error("command socket: a line is too long");
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await this.#reader.read();
      } catch {
        // A connection reset reads as its end.
        chunk = { done: true, value: undefined };
      }
      if (chunk.done) {
        this.#done = true;
        this.#buffer += this.#decoder.decode();
        if (this.#buffer.trim() === "") return null;
        this.#buffer += "\n";
      } else {
        this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
      }
    }
  }

  release() {
    this.#reader.releaseLock();
  }
}

/**
 * Writes JSON documents, one per line, in the order they are sent. After a failed write (the
 * other side went away) later documents are dropped; `failed` says so.
 */
export class JsonLineWriter {
  #conn: Deno.Conn;
  #chain: Promise<void> = Promise.resolve();
  #failed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Queues one document; the returned promise settles when it is written (or dropped). */
  send(doc: unknown): Promise<void> {
    const bytes = new TextEncoder().encode(`${JSON.stringify(doc)}\n`);
    this.#chain = this.#chain.then(async () => {
      if (this.#failed) return;
      try {
        let written = 0;
        while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
      } catch {
        this.#failed = true;
      }
    });
    return this.#chain;
  }

  /** Resolves when everything sent so far is written. */
  flushed(): Promise<void> {
    return this.#chain;
  }
}

/** Text cut into pieces of at most `size` characters, for large outputs (a dump). */
export function* pieces(text: string, size = 1 << 20): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}
