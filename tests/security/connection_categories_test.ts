/**
 * The connection test is no port scanner: it answers with a category (refused, timeout, tls,
 * authentication, not_imap), never the raw error, and refuses loopback and private-network
 * targets unless ALLOW_PRIVATE_HOSTS is set — checked against real listeners and the real Dovecot.
 */
import assert from "node:assert/strict";
import { testMailConnection } from "../../src/mail/connection_test.ts";
import { ensureMailstack, freshUser, IMAP, IMAPS } from "../support/mailstack.ts";
import { freePort } from "../support/service_process.ts";
import { loadConfig } from "../../src/config.ts";

const ALLOWED = { allowPrivateHosts: true, timeoutMs: 30_000, allowInvalidCertificate: true };

function target(over: { host?: string; port: number; secure: boolean; pass?: string | null }) {
  return {
    host: over.host ?? "127.0.0.1",
    port: over.port,
    secure: over.secure,
    user: "someone@example.test",
    pass: over.pass === undefined ? "not-the-password" : over.pass,
  };
}

Deno.test("the connection test answers with a category, never the raw error", async () => {
  await ensureMailstack();
  const user = await freshUser("conntest");

  // A closed port.
  const closed = await testMailConnection(target({ port: freePort(), secure: false }), ALLOWED);
  assert.deepEqual(closed, { ok: false, error: "refused" });

  // An HTTP server where IMAP was expected.
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("hello"),
  );
  try {
    const r = await testMailConnection(target({ port: http.addr.port, secure: false }), ALLOWED);
    assert.deepEqual(r, { ok: false, error: "not_imap" });
  } finally {
    await http.shutdown();
  }

  // TLS mismatches, both ways: TLS to the plain port, plain (STARTTLS) to the TLS port.
  assert.deepEqual(
    await testMailConnection(target({ port: IMAP.port, secure: true }), ALLOWED),
    { ok: false, error: "tls" },
  );
  assert.deepEqual(
    await testMailConnection(target({ port: IMAPS.port, secure: false }), ALLOWED),
    { ok: false, error: "tls" },
  );

  // A wrong password on the real Dovecot, and then the right one.
  const wrong = await testMailConnection(
    { ...target({ port: IMAPS.port, secure: true }), user: user.user, pass: "wrong" },
    ALLOWED,
  );
  assert.deepEqual(wrong, { ok: false, error: "authentication" });
  const right = await testMailConnection(
    { ...target({ port: IMAPS.port, secure: true }), user: user.user, pass: user.pass },
    ALLOWED,
  );
  assert.deepEqual(right, { ok: true });
});

Deno.test("loopback and private targets are refused without ALLOW_PRIVATE_HOSTS", async () => {
  // A listener that counts connections: a refused target is never touched.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let touched = 0;
  const counting = (async () => {
    for await (const conn of listener) {
      touched++;
      conn.close();
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const strict = { allowPrivateHosts: false, timeoutMs: 30_000 };
    for (const host of ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.10", "[::1]"]) {
      const r = await testMailConnection(target({ host, port, secure: false }), strict);
      assert.deepEqual(r, { ok: false, error: "private_host" }, host);
    }
    assert.equal(touched, 0, "no connection to a refused target");
    // The same without a password: the target is refused before anything else is said.
    assert.deepEqual(
      await testMailConnection(target({ port, secure: false, pass: null }), strict),
      { ok: false, error: "private_host" },
    );
  } finally {
    listener.close();
    await counting;
  }

  // The setting, off by default.
  const env = { EMAIL_HOST: "127.0.0.1", EMAIL_USER: "a@example.test", EMAIL_PASS: "x" };
  const off = loadConfig(env);
  assert.ok(off.ok);
  assert.equal(off.config.allowPrivateHosts, false);
  const on = loadConfig({ ...env, ALLOW_PRIVATE_HOSTS: "true" });
  assert.ok(on.ok);
  assert.equal(on.config.allowPrivateHosts, true);
});
