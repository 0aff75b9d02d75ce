/**
 * A loopback TCP proxy in front of a real server, for faults a real server won't produce on
 * demand: `blackhole()` stops forwarding in both directions but keeps the sockets open (a silent
 * TCP death, as behind a NAT that forgot the flow). It also keeps what clients sent, so a test
 * can count commands. With `fromServer`, what the server says is rewritten on its way (e.g. one
 * more capability announced); each read is rewritten alone, as latin1 text.
 */
export interface TcpProxy {
  port: number;
  /** Every byte clients sent, decoded as latin1, all connections concatenated. */
  clientText(): string;
  /** Stops forwarding on the open connections; new connections are forwarded normally. */
  blackhole(): void;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export function startTcpProxy(
  target: { host: string; port: number },
  options: { fromServer?: (text: string) => string } = {},
): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<{ conns: Deno.Conn[]; holed: boolean }>();
  const pumps: Promise<void>[] = [];
  let sent = "";
  let accepted = 0;
  const decoder = new TextDecoder("latin1");

  const pump = async (
    link: { conns: Deno.Conn[]; holed: boolean },
    from: Deno.Conn,
    to: Deno.Conn,
    record: boolean,
    rewrite?: (text: string) => string,
  ) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        if (link.holed) continue;
        if (record) sent += decoder.decode(buf.subarray(0, n));
        const out = rewrite
          ? latin1(rewrite(decoder.decode(buf.subarray(0, n))))
          : buf.subarray(0, n);
        let off = 0;
        while (off < out.length) off += await to.write(out.subarray(off));
      }
    } catch {
      // the other side went away
    }
    if (!link.holed) {
      for (const c of link.conns) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
    }
  };

  const accepting = (async () => {
    for await (const client of listener) {
      accepted++;
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: target.host, port: target.port });
      } catch {
        client.close();
        continue;
      }
      const link = { conns: [client, server], holed: false };
      open.add(link);
      pumps.push(
        pump(link, client, server, true),
        pump(link, server, client, false, options.fromServer),
      );
    }
  })().catch(() => {});

  return {
    port,
    clientText: () => sent,
    connections: () => accepted,
    blackhole: () => {
      for (const link of open) link.holed = true;
    },
    close: async () => {
      listener.close();
      await accepting;
      for (const link of open) {
        link.holed = false;
        for (const c of link.conns) {
          try {
            c.close();
          } catch {
            // closed already
          }
        }
      }
      await Promise.all(pumps);
    },
  };
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}
