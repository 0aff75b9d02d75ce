/**
 * A scripted SMTP server on loopback for the answers Postfix can't give on cue: a 4xx or 5xx at a
 * chosen command, or a connection dropped after the message body arrived (no final reply).
 */

export interface ResponderScript {
  /** Reply to RCPT TO (default "250 2.1.5 ok"). */
  rcpt?: string;
  /**
   * Reply after the body's final dot; "drop" closes the connection without one, "hang" keeps it
   * open without one.
   */
  afterData?: string;
}

export interface Responder {
  port: number;
  /** Bodies received completely (up to the final dot). */
  bodies: string[];
  close(): Promise<void>;
}

export function startResponder(script: ResponderScript): Responder {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const bodies: string[] = [];
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      handle(conn, script, bodies).catch(() => {}).finally(() => conns.delete(conn));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    bodies,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serving.catch(() => {});
    },
  };
}

async function handle(conn: Deno.Conn, script: ResponderScript, bodies: string[]) {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const say = (line: string) => conn.write(enc.encode(`${line}\r\n`));
  await say("220 responder.example.test ESMTP");
  let buffer = "";
  let inData = false;
  const chunk = new Uint8Array(65536);
  while (true) {
    const n = await conn.read(chunk);
    if (n === null) return;
    buffer += dec.decode(chunk.subarray(0, n));
    while (true) {
      if (inData) {
        const end = buffer.indexOf("\r\n.\r\n");
        if (end < 0) break;
        bodies.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 5);
        inData = false;
        if (script.afterData === "drop") {
          conn.close();
          return;
        }
        if (script.afterData === "hang") continue;
        await say(script.afterData ?? "250 2.0.0 queued");
        continue;
      }
      const nl = buffer.indexOf("\r\n");
      if (nl < 0) break;
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO" || verb === "HELO") await say("250 responder.example.test");
      else if (verb === "MAIL") await say("250 2.1.0 ok");
      else if (verb === "RCPT") await say(script.rcpt ?? "250 2.1.5 ok");
      else if (verb === "DATA") {
        inData = true;
        await say("354 go ahead");
      } else if (verb === "RSET" || verb === "NOOP") await say("250 ok");
      else if (verb === "QUIT") {
        await say("221 bye");
        conn.close();
        return;
      } else await say("502 5.5.2 not implemented");
    }
  }
}
