/**
 * A pretend IMAP server on loopback that records every line a client sends and refuses every
 * login: for the tests that prove where a password goes (and where it doesn't). With `tls`, it
 * speaks TLS from the first byte with a certificate from `testCertificate`, which a process
 * started with `DENO_CERT=<ca>` trusts.
 */

export interface TestCertificate {
  /** The CA's certificate file, for DENO_CERT. */
  caFile: string;
  /** A certificate for localhost and 127.0.0.1 signed by the CA, and its key (PEM text). */
  cert: string;
  key: string;
  cleanup(): Promise<void>;
}

/** Makes a throwaway CA and a server certificate for 127.0.0.1 with openssl. */
export async function testCertificate(): Promise<TestCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "carteiro-test-ca-" });
  const run = async (args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await run([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=Carteiro test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ]);
  await run([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    "leaf.key",
    "-out",
    "leaf.csr",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await run([
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
    "-out",
    "leaf.pem",
  ]);
  return {
    caFile: `${dir}/ca.pem`,
    cert: await Deno.readTextFile(`${dir}/leaf.pem`),
    key: await Deno.readTextFile(`${dir}/leaf.key`),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

export interface RecordingImap {
  port: number;
  /** Every line received, on every connection, in order. */
  lines: string[];
  /** Connections accepted so far. */
  connections(): number;
  /** True when any line, or the base64 of any word in it, contains `secret`. */
  sawSecret(secret: string): boolean;
  close(): Promise<void>;
}

/** Starts the recorder on 127.0.0.1 (a free port); plain, or TLS with `tls`. */
export function startRecordingImap(tls?: { cert: string; key: string }): RecordingImap {
  const listener = tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const conns = new Set<Deno.Conn>();
  let accepted = 0;
  const serving = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conns.add(conn);
        converse(conn, lines).catch(() => {}).finally(() => conns.delete(conn));
      }
    } catch {
      // closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    lines,
    connections: () => accepted,
    sawSecret(secret) {
      return lines.some((line) =>
        line.includes(secret) || line.split(/\s+/).some((word) => {
          try {
            return new TextDecoder().decode(
              Uint8Array.from(atob(word), (ch) => ch.charCodeAt(0)),
            ).includes(secret);
          } catch {
            return false;
          }
        })
      );
    },
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // gone already
        }
      }
      await serving;
    },
  };
}

async function converse(conn: Deno.Conn, lines: string[]): Promise<void> {
  const enc = new TextEncoder();
  const say = (text: string) => conn.write(enc.encode(text));
  await say("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] recorder ready\r\n");
  const decoder = new TextDecoder();
  let buffered = "";
  let continuation: string | null = null;
  for await (const chunk of conn.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let eol: number;
    while ((eol = buffered.indexOf("\r\n")) >= 0) {
      const line = buffered.slice(0, eol);
      buffered = buffered.slice(eol + 2);
      lines.push(line);
      if (continuation !== null) {
        // The answer to a "+" of AUTHENTICATE: refuse it.
        await say(`${continuation} NO [AUTHENTICATIONFAILED] refused by the recorder\r\n`);
        continuation = null;
        continue;
      }
      const [tag, command = "", ...rest] = line.split(" ");
      switch (command.toUpperCase()) {
        case "CAPABILITY":
          await say(`* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n${tag} OK done\r\n`);
          break;
        case "AUTHENTICATE":
          if (rest.length > 1) {
            await say(`${tag} NO [AUTHENTICATIONFAILED] refused by the recorder\r\n`);
          } else {
            continuation = tag;
            await say("+ \r\n");
          }
          break;
        case "LOGIN":
          await say(`${tag} NO [AUTHENTICATIONFAILED] refused by the recorder\r\n`);
          break;
        case "LOGOUT":
          await say(`* BYE\r\n${tag} OK bye\r\n`);
          conn.close();
          return;
        case "ID":
        case "NOOP":
          await say(`${tag} OK done\r\n`);
          break;
        default:
          await say(`${tag} BAD unknown command\r\n`);
      }
    }
  }
}
