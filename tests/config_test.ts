import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";

Deno.test("no mailbox and no DATABASE_URL: the embedded database, no account", () => {
  const r = loadConfig({});
  assert.ok(r.ok);
  assert.equal(r.config.account, null);
  assert.deepEqual(r.config.database, { kind: "pglite", dataDir: "./data" });
  assert.deepEqual(r.config.http, {
    hostname: "127.0.0.1",
    port: 8000,
    secureCookies: true,
    trustedProxies: [],
  });
  assert.equal(r.config.secretKey, null);
  assert.deepEqual(r.config.runtime, { mode: "server" });
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

const POSTGRES = "postgres://u:p@db.example.test:12345/defaultdb?sslmode=verify-full";

Deno.test("on Deno Deploy (DENO_DEPLOYMENT_ID set) deploy mode is detected, with a job budget", () => {
  const r = loadConfig({ DENO_DEPLOYMENT_ID: "abc123", DATABASE_URL: POSTGRES });
  assert.ok(r.ok, r.ok ? "" : r.errors.join("\n"));
  assert.deepEqual(r.config.runtime, {
    mode: "deploy",
    reason: "DENO_DEPLOYMENT_ID",
    jobSeconds: 50,
  });
  assert.equal(r.config.database.kind, "postgres");
});

Deno.test("CARTEIRO_MODE forces either mode, whatever is detected", () => {
  const forced = loadConfig({ CARTEIRO_MODE: "deploy", DATABASE_URL: POSTGRES, JOB_SECONDS: "20" });
  assert.ok(forced.ok, forced.ok ? "" : forced.errors.join("\n"));
  assert.deepEqual(forced.config.runtime, {
    mode: "deploy",
    reason: "CARTEIRO_MODE",
    jobSeconds: 20,
  });
  const server = loadConfig({ CARTEIRO_MODE: "server", DENO_DEPLOYMENT_ID: "abc123" });
  assert.ok(server.ok, server.ok ? "" : server.errors.join("\n"));
  assert.deepEqual(server.config.runtime, { mode: "server" });
  assert.deepEqual(server.config.database, { kind: "pglite", dataDir: "./data" });
});

Deno.test("deploy mode without DATABASE_URL is refused: no embedded database, DATA_DIR unused", () => {
  for (
    const [env, why] of [
      [{ CARTEIRO_MODE: "deploy", DATA_DIR: "/tmp/somewhere" }, "CARTEIRO_MODE=deploy"],
      [{ DENO_DEPLOYMENT_ID: "abc123" }, "DENO_DEPLOYMENT_ID is set"],
    ] as const
  ) {
    const r = loadConfig(env);
    assert.equal(r.ok, false, JSON.stringify(env));
    if (r.ok) continue;
    assert.equal(r.errors.length, 1, r.errors.join("\n"));
    assert.match(r.errors[0], /^DATABASE_URL must be set in deploy mode/);
    assert.ok(r.errors[0].includes(why), r.errors[0]);
    assert.match(r.errors[0], /no embedded database/);
  }
});

Deno.test("a bad CARTEIRO_MODE or JOB_SECONDS is listed with the other problems", () => {
  const r = loadConfig({ CARTEIRO_MODE: "cloud", PORT: "http" });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors.length, 2, r.errors.join("\n"));
  assert.ok(r.errors.some((e) => e.includes('CARTEIRO_MODE must be "server" or "deploy"')));
  assert.ok(r.errors.some((e) => e.includes("PORT must be a port")));

  const deploy = loadConfig({ CARTEIRO_MODE: "deploy", JOB_SECONDS: "0", COLLECT_BATCH: "x" });
  assert.equal(deploy.ok, false);
  if (deploy.ok) return;
  assert.equal(deploy.errors.length, 3, deploy.errors.join("\n"));
  for (const fragment of ["DATABASE_URL must be set", "JOB_SECONDS must be", "COLLECT_BATCH"]) {
    assert.ok(deploy.errors.some((e) => e.includes(fragment)), `missing "${fragment}"`);
  }
});

Deno.test("collection batches and parser threads: defaults, choices and bad values", () => {
  const defaults = loadConfig({});
  assert.ok(defaults.ok);
  assert.deepEqual([defaults.config.collectBatch, defaults.config.parseWorkers], [25, null]);
  const chosen = loadConfig({ COLLECT_BATCH: "100", PARSE_WORKERS: "0" });
  assert.ok(chosen.ok);
  assert.deepEqual([chosen.config.collectBatch, chosen.config.parseWorkers], [100, 0]);
  const bad = loadConfig({ PARSE_WORKERS: "two", COLLECT_BATCH: "0" });
  assert.ok(!bad.ok);
  assert.ok(bad.errors.some((e) => e.startsWith("PARSE_WORKERS must be a whole number")));
  assert.ok(bad.errors.some((e) => e.startsWith("COLLECT_BATCH must be a whole number")));
});

Deno.test("webhooks: private targets refused, 10 s timeout and first retry by default", () => {
  const defaults = loadConfig({});
  assert.ok(defaults.ok);
  assert.deepEqual(defaults.config.webhooks, {
    allowPrivate: false,
    timeoutSeconds: 10,
    retrySeconds: 10,
  });
  const chosen = loadConfig({
    WEBHOOK_ALLOW_PRIVATE: "1",
    WEBHOOK_TIMEOUT_SECONDS: "2",
    WEBHOOK_RETRY_SECONDS: "1",
  });
  assert.ok(chosen.ok);
  assert.deepEqual(chosen.config.webhooks, {
    allowPrivate: true,
    timeoutSeconds: 2,
    retrySeconds: 1,
  });
  const bad = loadConfig({ WEBHOOK_ALLOW_PRIVATE: "maybe", WEBHOOK_TIMEOUT_SECONDS: "0" });
  assert.ok(!bad.ok);
  assert.ok(bad.errors.some((e) => e.startsWith("WEBHOOK_ALLOW_PRIVATE must be true or false")));
  assert.ok(bad.errors.some((e) => e.startsWith("WEBHOOK_TIMEOUT_SECONDS must be a whole number")));
});

Deno.test("TRUSTED_PROXIES: addresses and CIDR ranges, each bad entry named", () => {
  const r = loadConfig({ TRUSTED_PROXIES: " 10.0.0.1, fd00::/8 ,192.168.0.0/16" });
  assert.ok(r.ok);
  assert.deepEqual(r.config.http.trustedProxies, ["10.0.0.1", "fd00::/8", "192.168.0.0/16"]);
  const bad = loadConfig({ TRUSTED_PROXIES: "10.0.0.1,proxy.lan,10.0.0.0/40" });
  assert.ok(!bad.ok);
  assert.equal(bad.errors.length, 2, bad.errors.join("\n"));
  assert.match(bad.errors[0], /TRUSTED_PROXIES .*"proxy\.lan"/);
  assert.match(bad.errors[1], /"10\.0\.0\.0\/40"/);
});

Deno.test("OAuth providers: Google and Microsoft by client id, their scopes and servers; none by default", () => {
  const none = loadConfig({});
  assert.ok(none.ok);
  assert.deepEqual(none.config.oauth, { publicUrl: null, providers: [] });

  const r = loadConfig({
    PUBLIC_URL: "https://carteiro.example.test/",
    OAUTH_GOOGLE_CLIENT_ID: "g-id",
    OAUTH_GOOGLE_CLIENT_SECRET: "g-secret",
    OAUTH_MICROSOFT_CLIENT_ID: "m-id",
    OAUTH_MICROSOFT_CLIENT_SECRET: "m-secret",
  });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.config.oauth.publicUrl, "https://carteiro.example.test");
  const [google, microsoft] = r.config.oauth.providers;
  assert.equal(google.issuer, "https://accounts.google.com");
  assert.ok(google.scopes.includes("https://mail.google.com/"));
  assert.deepEqual(google.imap, { host: "imap.gmail.com", port: 993, security: "tls" });
  assert.equal(microsoft.issuer, "https://login.microsoftonline.com/common/v2.0");
  for (
    const s of [
      "https://outlook.office.com/IMAP.AccessAsUser.All",
      "https://outlook.office.com/SMTP.Send",
      "offline_access",
    ]
  ) assert.ok(microsoft.scopes.includes(s), s);
  assert.deepEqual(microsoft.smtp, { host: "smtp.office365.com", port: 587, security: "starttls" });

  const tenant = loadConfig({
    PUBLIC_URL: "https://c.example.test",
    OAUTH_MICROSOFT_CLIENT_ID: "m",
    OAUTH_MICROSOFT_TENANT: "empresa.onmicrosoft.com",
  });
  assert.ok(tenant.ok);
  assert.equal(
    tenant.config.oauth.providers[0].issuer,
    "https://login.microsoftonline.com/empresa.onmicrosoft.com/v2.0",
  );
});

Deno.test("OAuth settings: PUBLIC_URL required, OpenID provider's servers as URLs, plain only to loopback", () => {
  const noUrl = loadConfig({ OAUTH_GOOGLE_CLIENT_ID: "g" });
  assert.equal(noUrl.ok, false);
  assert.match(JSON.stringify(noUrl), /PUBLIC_URL must be set/);

  const oidc = loadConfig({
    PUBLIC_URL: "http://127.0.0.1:8000",
    OAUTH_OIDC_ISSUER: "https://id.example.test",
    OAUTH_OIDC_CLIENT_ID: "c",
    OAUTH_OIDC_IMAP: "imap://mail.example.test",
    OAUTH_OIDC_SMTP: "smtps://mail.example.test:2465",
  });
  assert.ok(oidc.ok, JSON.stringify(oidc));
  const [p] = oidc.config.oauth.providers;
  assert.deepEqual(p.imap, { host: "mail.example.test", port: 143, security: "starttls" });
  assert.deepEqual(p.smtp, { host: "mail.example.test", port: 2465, security: "tls" });
  assert.deepEqual(p.scopes, ["openid", "email", "offline_access"]);
  assert.equal(p.clientSecret, null);

  const bad = loadConfig({
    PUBLIC_URL: "http://127.0.0.1:8000",
    OAUTH_OIDC_ISSUER: "https://id.example.test",
    OAUTH_OIDC_CLIENT_ID: "c",
    OAUTH_OIDC_IMAP: "imap+plain://mail.example.test:143",
    OAUTH_OIDC_SMTP: "ftp://mail.example.test",
  });
  assert.equal(bad.ok, false);
  const errors = bad.ok ? [] : bad.errors.join("\n");
  assert.match(
    String(errors),
    /OAUTH_OIDC_IMAP: imap\+plain:\/\/ is allowed only to a loopback host/,
  );
  assert.match(String(errors), /OAUTH_OIDC_SMTP must be a URL like/);

  const half = loadConfig({ PUBLIC_URL: "http://x.test", OAUTH_OIDC_CLIENT_ID: "c" });
  assert.equal(half.ok, false);
  assert.match(
    JSON.stringify(half),
    /OAUTH_OIDC_ISSUER and OAUTH_OIDC_CLIENT_ID are needed together/,
  );
});
