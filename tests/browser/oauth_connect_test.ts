/**
 * Connecting a mailbox with OAuth2 in real Chromium, against the service as `deno task start`
 * composes it: log in to the admin, press "Connect with OpenID", sign in and consent on the real
 * OpenID provider's pages (oidc-provider on loopback), come back to the accounts page with the
 * account connected; then the service collects and replies over OAUTHBEARER / XOAUTH2 through the
 * test Dovecot and Postfix, which check the token with the provider.
 */
import assert from "node:assert/strict";
import { launchChromium } from "./support.ts";
import { freshPostgresDatabase } from "../support/databases.ts";
import { deliverRaw, ensureMailstack, freshUser, IMAP, SUBMISSION } from "../support/mailstack.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import { OIDC_CLIENT, OIDC_ISSUER, startOidcServer } from "../support/oidc_server.ts";
import { loadConfig, OAUTH_CALLBACK_PATH } from "../../src/config.ts";
import { createUser } from "../../src/store/users.ts";
import { hashPassword } from "../../src/auth/password_hash.ts";
import { compose } from "../../main.ts";

const ADMIN = { email: "admin@example.test", password: "correct horse battery staple" };

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("in Chromium: connect a mailbox through the provider's login and consent, then it is collected and answered over XOAUTH2", async () => {
  await ensureMailstack();
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const oidc = await startOidcServer([`${base}${OAUTH_CALLBACK_PATH}`]);
  const database = await freshPostgresDatabase();
  const env = {
    DATABASE_URL: database.url,
    SECRET_KEY: "browser-oauth-secret-key-0123456789",
    PUBLIC_URL: base,
    PARSE_WORKERS: "0",
    OAUTH_OIDC_ISSUER: OIDC_ISSUER,
    OAUTH_OIDC_CLIENT_ID: OIDC_CLIENT.id,
    OAUTH_OIDC_CLIENT_SECRET: OIDC_CLIENT.secret,
    OAUTH_OIDC_IMAP: `imap+plain://${IMAP.host}:${IMAP.port}`,
    OAUTH_OIDC_SMTP: `smtp+plain://${SUBMISSION.host}:${SUBMISSION.port}`,
  };
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
  const quiet = { info() {}, warn() {}, error() {} };
  const service = await compose(loaded.config, quiet, env);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    (req, info) => service.app.fetch(req, info),
  );
  const browser = await launchChromium();
  try {
    await createUser(service.db, ADMIN.email, await hashPassword(ADMIN.password), new Date());
    const page = await (await browser.newContext({ locale: "en-US" })).newPage();
    await page.goto(`${base}/accounts`);
    await page.fill('input[name="email"]', ADMIN.email);
    await page.fill('input[name="password"]', ADMIN.password);
    await Promise.all([
      page.waitForURL(/\/accounts|\/messages/),
      page.click('section.login button[type="submit"]'),
    ]);
    await page.goto(`${base}/accounts`);

    // The provider's own pages: the development login (any password), then consent.
    const login = `oab${crypto.randomUUID().slice(0, 8)}@example.test`;
    await Promise.all([
      page.waitForURL(`${OIDC_ISSUER}/**`),
      page.click('button[name="connect"][value="oidc"]'),
    ]);
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', "anything");
    await page.click('button[type="submit"]');
    await page.waitForSelector("button:has-text('Continue')");
    await Promise.all([
      page.waitForURL(`${base}/accounts**`),
      page.click("button:has-text('Continue')"),
    ]);
    const row = page.locator("table.accounts tr", { hasText: login });
    await row.waitFor();
    assert.match(await row.innerText(), /Signs in with OpenID as/);
    assert.equal(await row.locator("button", { hasText: "Reconnect" }).count(), 1);

    // The service collects the new mail and answers it, logged in with the provider's token.
    const rules = await service.importRules([{
      name: "ack",
      enabled: true,
      when: { kind: "direct" },
      reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos." },
    }]);
    assert.ok(rules.ok, JSON.stringify(rules));
    // The stack's config is whatever `start` last wrote; make sure it takes tokens before mail.
    await ensureMailstack();
    await service.collectOnce();
    const person = await freshUser("oabperson");
    await deliverRaw(login, [
      new TextEncoder().encode(
        `From: <${person.address}>\r\nTo: ${login}\r\nSubject: Ajuda\r\nMessage-ID: <${crypto.randomUUID()}@example.test>\r\nDate: ${
          new Date().toUTCString()
        }\r\n\r\nOi.\r\n`,
      ),
    ]);
    const [collected] = await service.collectOnce();
    assert.equal(collected.status, "ok", JSON.stringify(collected));
    assert.equal(collected.stored, 1);
    await ensureMailstack();
    const sent = await service.sendOnce();
    assert.equal(sent.sent, 1, JSON.stringify(sent));
    const inbox = await settledInbox({
      ...IMAP,
      secure: false,
      user: person.user,
      pass: person.pass,
    }, 1);
    assert.equal(inbox[0].email.subject, "Re: Ajuda");
    assert.equal(inbox[0].email.from[0]?.address, login);
  } finally {
    await browser.close();
    await server.shutdown();
    await service.close();
    await database.drop();
    await oidc.close();
  }
});
