/**
 * SMTP never hands a password over in clear: without TLS from the first byte the sender requires
 * STARTTLS (as IMAP does), and plain SMTP is only for a loopback host, chosen explicitly. A small
 * listener on loopback offers STARTTLS and AUTH and records every line it gets.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../src/config.ts";
import { createSmtpSender, type OutgoingReply } from "../../src/mail/smtp_sender.ts";
import { type SmtpConnection, storedAccountSmtp } from "../../src/mail/account_access.ts";

const REPLY: OutgoingReply = {
  from: { name: "Atendimento", address: "box@example.test" },
  to: { name: "Ana", address: "ana@example.test" },
  subject: "Re: Pedido",
  text: "Recebemos.",
  html: null,
  messageId: "<carteiro.cleartext@example.test>",
  inReplyTo: null,
  references: [],
  headers: {},
};

/**
 * An SMTP server that offers STARTTLS and AUTH PLAIN on a plain connection; asked to start TLS
 * it says it can't (454), so a client that insists on TLS stops there. Records every line.
 */
function startTlsOfferingServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const enc = new TextEncoder();
        const say = (l: string) => conn.write(enc.encode(`${l}\r\n`));
        await say("220 recorder.example.test ESMTP");
        const dec = new TextDecoder();
        let buf = "";
        for await (const chunk of conn.readable) {
          buf += dec.decode(chunk, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\r\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 2);
            lines.push(line);
            const verb = line.slice(0, 8).toUpperCase();
            if (verb.startsWith("EHLO")) {
              await say("250-recorder.example.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN");
            } else if (verb.startsWith("STARTTLS")) await say("454 4.7.0 TLS not available");
            else if (verb.startsWith("AUTH")) await say("535 5.7.8 refused by the recorder");
            else if (verb.startsWith("QUIT")) {
              await say("221 bye");
              conn.close();
              return;
            } else await say("502 5.5.2 not implemented");
          }
        }
      })().catch(() => {}).finally(() => conns.delete(conn));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    lines,
    /** True when the password, as sent or in base64, is in any line. */
    sawSecret(secret: string) {
      return lines.some((l) =>
        l.includes(secret) || l.split(/\s+/).some((w) => {
          try {
            return atob(w).includes(secret);
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
        } catch { /* gone */ }
      }
      await serving;
    },
  };
}

async function sendOnce(conn: SmtpConnection) {
  const sender = createSmtpSender({ ...conn, timeoutMs: 30_000, pooled: false });
  try {
    return await sender.send(REPLY);
  } finally {
    sender.close();
  }
}

Deno.test("TLS off: the password never goes out in clear where STARTTLS is offered", async () => {
  const server = startTlsOfferingServer();
  const secret = `smtp-secret-${crypto.randomUUID()}`;
  try {
    // The environment's account: SMTP_TLS=false with SMTP_STARTTLS=true.
    const loaded = loadConfig({
      EMAIL_HOST: "127.0.0.1",
      EMAIL_USER: "box@example.test",
      EMAIL_PASS: secret,
      SMTP_PORT: String(server.port),
      SMTP_TLS: "false",
      SMTP_STARTTLS: "true",
    });
    assert.ok(loaded.ok, JSON.stringify(loaded));
    const fromEnv = await sendOnce(loaded.config.account!.smtp);
    assert.ok(!server.sawSecret(secret), `sent in clear:\n${server.lines.join("\n")}`);
    assert.notEqual(fromEnv.kind, "accepted");
    assert.ok(server.lines.some((l) => /^STARTTLS/i.test(l)), server.lines.join("\n"));

    // A stored account in STARTTLS mode: STARTTLS is required there too.
    const stored = await sendOnce(
      storedAccountSmtp(
        { host: "127.0.0.1", port: server.port, tls: "starttls", user: "box@example.test" },
        secret,
      ),
    );
    assert.ok(!server.sawSecret(secret), `sent in clear:\n${server.lines.join("\n")}`);
    assert.equal(stored.kind, "temporary", JSON.stringify(stored));
    assert.ok(!server.lines.some((l) => /^AUTH/i.test(l)), server.lines.join("\n"));
  } finally {
    await server.close();
  }
});

Deno.test("plain SMTP is refused to a host that is not loopback, with a clear error", () => {
  const loaded = loadConfig({
    EMAIL_HOST: "mail.example.com",
    EMAIL_USER: "box@example.com",
    EMAIL_PASS: "x",
    SMTP_PORT: "25",
    SMTP_TLS: "false",
  });
  assert.equal(loaded.ok, false);
  assert.match(
    loaded.ok ? "" : loaded.errors.join("\n"),
    /SMTP_TLS=false.*mail\.example\.com.*SMTP_STARTTLS=true/,
  );
  // The sender itself refuses it, whoever builds the settings.
  assert.throws(
    () =>
      createSmtpSender({
        host: "mail.example.com",
        port: 25,
        secure: false,
        requireTls: false,
        user: null,
        pass: null,
      }),
    /plain SMTP.*only to a loopback host/,
  );
  // Loopback and no login, as the tests' Postfix: still allowed.
  const local = loadConfig({
    EMAIL_HOST: "127.0.0.1",
    EMAIL_USER: "box@example.test",
    EMAIL_PASS: "x",
    SMTP_PORT: "1025",
    SMTP_TLS: "false",
    SMTP_AUTH: "false",
  });
  assert.ok(local.ok, JSON.stringify(local));
  createSmtpSender(local.config.account!.smtp).close();
});
