import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";

Deno.test("no mailbox and no DATABASE_URL: the embedded database, no account", () => {
  const r = loadConfig({});
  assert.ok(r.ok);
  assert.equal(r.config.account, null);
  assert.deepEqual(r.config.database, { kind: "pglite", dataDir: "./data" });
  assert.deepEqual(r.config.http, { hostname: "127.0.0.1", port: 8000, secureCookies: true });
  assert.equal(r.config.secretKey, null);
});

Deno.test("the seed's variables make an account with safe TLS defaults", () => {
  const r = loadConfig({
    EMAIL_HOST: "imap.example.test",
    EMAIL_USER: "Caixa@Example.test",
    EMAIL_PASS: "s3cret",
  });
  assert.ok(r.ok);
  const a = r.config.account!;
  assert.equal(a.address, "caixa@example.test");
  assert.deepEqual(a.mailboxes, ["INBOX"]);
  assert.deepEqual(
    [a.imap.host, a.imap.port, a.imap.secure, a.imap.allowInvalidCertificate],
    ["imap.example.test", 993, true, false],
  );
  assert.deepEqual([a.smtp.host, a.smtp.port, a.smtp.secure, a.smtp.requireTls], [
    "imap.example.test",
    465,
    true,
    true,
  ]);
});

Deno.test("STARTTLS on 587 and plain IMAP for the loopback test server", () => {
  const r = loadConfig({
    EMAIL_HOST: "127.0.0.1",
    EMAIL_USER: "box@example.test",
    EMAIL_PASS: "x",
    IMAP_TLS: "false",
    IMAP_PORT: "1143",
    SMTP_PORT: "587",
    IMAP_MAILBOXES: "INBOX, Suporte",
  });
  assert.ok(r.ok);
  const a = r.config.account!;
  assert.deepEqual([a.imap.port, a.imap.secure], [1143, false]);
  assert.deepEqual([a.smtp.port, a.smtp.secure, a.smtp.requireTls], [587, false, true]);
  assert.deepEqual(a.mailboxes, ["INBOX", "Suporte"]);
});

Deno.test("every problem is listed at once, in plain words", () => {
  const r = loadConfig({
    EMAIL_HOST: "imap.example.test",
    EMAIL_USER: "caixa",
    IMAP_PORT: "99999",
    IMAP_TLS: "maybe",
    DATABASE_URL: "mysql://x",
    PORT: "http",
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors.length, 6, r.errors.join("\n"));
  for (
    const fragment of [
      "EMAIL_PASS must be set",
      "EMAIL_ADDRESS must be set",
      "IMAP_PORT must be a port",
      "IMAP_TLS must be true or false",
      "DATABASE_URL must start with postgres://",
      "PORT must be a port",
    ]
  ) {
    assert.ok(r.errors.some((e) => e.includes(fragment)), `missing "${fragment}" in ${r.errors}`);
  }
});

Deno.test("DATABASE_URL with TLS settings and a CA file", () => {
  const r = loadConfig({
    DATABASE_URL: "postgres://u:p@db.example.test:12345/defaultdb?sslmode=require",
    DATABASE_CA_FILE: "/etc/ssl/aiven-ca.pem",
  });
  assert.ok(r.ok);
  assert.deepEqual(r.config.database, {
    kind: "postgres",
    url: "postgres://u:p@db.example.test:12345/defaultdb?sslmode=require",
    caFile: "/etc/ssl/aiven-ca.pem",
    caPem: null,
  });
  const bad = loadConfig({ DATABASE_URL: "postgres://h/db?sslmode=sometimes" });
  assert.equal(bad.ok, false);
});
