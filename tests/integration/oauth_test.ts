/**
 * OAuth2 accounts end to end on real parts: a real OpenID provider on loopback (oidc-provider,
 * tests/support/oidc_server.ts), the test Dovecot checking bearer tokens by introspection against
 * it (IMAP OAUTHBEARER / XOAUTH2) and Postfix taking XOAUTH2 submissions through Dovecot's SASL, a
 * fresh PostgreSQL database, and the service as `deno task start` composes it.
 */
import assert from "node:assert/strict";
import { freshPostgresDatabase } from "../support/databases.ts";
import { deliverRaw, ensureMailstack, freshUser, IMAP, SUBMISSION } from "../support/mailstack.ts";
import { settledInbox } from "../support/mailbox_reader.ts";
import {
  OIDC_CLIENT,
  OIDC_ISSUER,
  type OidcServer,
  startOidcServer,
} from "../support/oidc_server.ts";
import { openPostgres } from "../../src/store/postgres_db.ts";
import { loadConfig, OAUTH_CALLBACK_PATH } from "../../src/config.ts";
import { openServices, type Services } from "../../src/services.ts";
import { finishOAuth, type OAuthDeps, startOAuth } from "../../src/actions/oauth.ts";
import { createSecretBox } from "../../src/auth/secret_box.ts";
import type { Logger } from "../../src/log.ts";
import { testMailConnection } from "../../src/mail/connection_test.ts";

const PUBLIC_URL = "http://127.0.0.1:8931";
const SECRET_KEY = "oauth-test-secret-key-0123456789";

const ACK_DIRECT = [{
  name: "ack-direct",
  enabled: true,
  when: { kind: "direct" },
  reply: { to: "sender", subject: "Re: {{subject}}", text: "Recebemos sua mensagem." },
}];

function message(tag: string, i: number, from: string, to: string): Uint8Array {
  return new TextEncoder().encode(
    `From: Cliente <${from}>\r\nTo: ${to}\r\nSubject: Pedido ${i}\r\n` +
      `Message-ID: <${tag}-${i}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\nMensagem ${i}.\r\n`,
  );
}

function quietLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string, f?: Record<string, unknown>) =>
    void lines.push(`${m} ${JSON.stringify(f ?? {})}`);
  return { lines, info: keep, warn: keep, error: keep };
}

interface World {
  oidc: OidcServer;
  services: Services;
  db: ReturnType<typeof openPostgres>;
  deps: OAuthDeps;
  /** The password account of the environment, collected beside the OAuth one. */
  passwordBox: { user: string; pass: string; address: string };
  close(): Promise<void>;
}

/**
 * The stack's Dovecot and Postfix take tokens only with the config this checkout's
 * scripts/mailstack.sh writes: `start` (cheap when nothing changed) before each step that logs in.
 */
async function world(): Promise<World> {
  await ensureMailstack();
  const oidc = await startOidcServer([`${PUBLIC_URL}${OAUTH_CALLBACK_PATH}`]);
  const database = await freshPostgresDatabase();
  const passwordBox = await freshUser("oapw");
  const env = {
    DATABASE_URL: database.url,
    SECRET_KEY,
    PUBLIC_URL,
    PARSE_WORKERS: "0",
    OAUTH_OIDC_ISSUER: OIDC_ISSUER,
    OAUTH_OIDC_CLIENT_ID: OIDC_CLIENT.id,
    OAUTH_OIDC_CLIENT_SECRET: OIDC_CLIENT.secret,
    OAUTH_OIDC_IMAP: `imap+plain://${IMAP.host}:${IMAP.port}`,
    OAUTH_OIDC_SMTP: `smtp+plain://${SUBMISSION.host}:${SUBMISSION.port}`,
    // A password account beside it, which a refused grant must not disturb.
    EMAIL_HOST: IMAP.host,
    IMAP_PORT: String(IMAP.port),
    IMAP_TLS: "false",
    EMAIL_USER: passwordBox.user,
    EMAIL_PASS: passwordBox.pass,
    SMTP_HOST: "127.0.0.1",
    SMTP_PORT: "1025",
    SMTP_TLS: "false",
    SMTP_AUTH: "false",
  };
  const loaded = loadConfig(env);
  if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
  const services = await openServices(loaded.config, quietLogger());
  const db = openPostgres({ url: database.url, max: 2 });
  const client = services.web.oauth;
  assert.ok(client, "the OpenID provider is configured");
  const deps: OAuthDeps = { db, now: () => new Date(), box: createSecretBox(SECRET_KEY), client };
  return {
    oidc,
    services,
    db,
    deps,
    passwordBox,
    close: async () => {
      await services.close();
      await db.close();
      await database.drop();
      await oidc.close();
    },
  };
}

/** Signs `login` in through the provider's login and consent pages; returns the account id. */
async function connect(w: World, login: string, accountId: number | null = null) {
  const started = await startOAuth(w.deps, "oidc", accountId, null);
  assert.ok(started.ok, JSON.stringify(started));
  const back = await w.oidc.authorize(started.value.href, login);
  assert.equal(`${back.origin}${back.pathname}`, `${PUBLIC_URL}${OAUTH_CALLBACK_PATH}`);
  const finished = await finishOAuth(w.deps, back, null, "test");
  assert.ok(finished.ok, JSON.stringify(finished));
  return finished.value;
}

async function accountRow(w: World, id: number) {
  const [r] = await w.db.query<Record<string, unknown>>(
    `SELECT address, auth_kind, oauth_identity, oauth_refresh_enc, oauth_access_enc,
       oauth_access_expires_at, reauthorization_needed, imap_pass_enc FROM accounts WHERE id = $1`,
    [id],
  );
  return r;
}

async function events(w: World, name: string): Promise<number> {
  const [r] = await w.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE event = $1",
    [name],
  );
  return r.n;
}

Deno.test("an account connected through the provider's consent collects and replies over XOAUTH2; tokens refresh before expiry and after a refused login", async () => {
  const w = await world();
  try {
    const login = `oa${crypto.randomUUID().slice(0, 8)}@example.test`;
    const { accountId, reconnected } = await connect(w, login);
    assert.equal(reconnected, false);
    const row = await accountRow(w, accountId);
    assert.equal(row.address, login, "the address comes from the signed-in identity");
    assert.equal(row.auth_kind, "oauth");
    assert.match(String(row.oauth_refresh_enc), /^v1:/, "the refresh token is stored encrypted");
    assert.match(String(row.oauth_access_enc), /^v1:/, "the access token is stored encrypted");
    assert.equal(row.imap_pass_enc, null);
    assert.equal(await events(w, "oauth_connected"), 1);
    assert.equal(w.oidc.tokenRequests("authorization_code"), 1);

    const imported = await w.services.importRules(ACK_DIRECT);
    assert.ok(imported.ok, JSON.stringify(imported));
    // The first run connects both accounts: mail already there is history.
    await ensureMailstack();
    await w.services.collectOnce();

    // Collect over OAUTHBEARER with the token from the sign-in: no refresh needed.
    const tag = crypto.randomUUID();
    const person = await freshUser("oaperson");
    await deliverRaw(login, [message(tag, 1, person.address, login)]);
    await ensureMailstack();
    const first = await w.services.collectOnce();
    const oauthRun = () => first.find((s) => s.accountId === accountId)!;
    assert.equal(oauthRun().status, "ok", JSON.stringify(first));
    assert.equal(oauthRun().stored, 1);
    assert.equal(w.oidc.tokenRequests("refresh_token"), 0);

    // The reply goes out through Postfix's submission port, logged in with XOAUTH2.
    await ensureMailstack();
    const sent = await w.services.sendOnce();
    assert.equal(sent.sent, 1, JSON.stringify(sent));
    const inbox = await settledInbox({
      ...IMAP,
      secure: false,
      user: person.user,
      pass: person.pass,
    }, 1);
    assert.equal(inbox.length, 1);
    assert.equal(inbox[0].email.subject, "Re: Pedido 1");
    assert.equal(inbox[0].email.from[0]?.address, login);

    // Refreshed before it expires: a token with less than the margin left is never used.
    await w.db.query(
      "UPDATE accounts SET oauth_access_expires_at = now() + interval '20 seconds' WHERE id = $1",
      [accountId],
    );
    // Other senders: one reply per sender within the rate limit's window.
    const short = tag.slice(0, 8);
    await deliverRaw(login, [message(tag, 2, `two${short}@example.test`, login)]);
    await ensureMailstack();
    const second = (await w.services.collectOnce()).find((s) => s.accountId === accountId)!;
    assert.equal(second.status, "ok", JSON.stringify(second));
    assert.equal(second.stored, 1);
    assert.equal(w.oidc.tokenRequests("refresh_token"), 1, "refreshed once, before use");
    const expires = new Date(String((await accountRow(w, accountId)).oauth_access_expires_at));
    assert.ok(expires.getTime() > Date.now() + 30 * 60_000, `new expiry ${expires.toISOString()}`);

    // The provider ends the access token early (mid-run): the server refuses it, the token is
    // refreshed once and the collection goes on.
    const stored = await accountRow(w, accountId);
    const current = await w.deps.box.decrypt("oauth_access", String(stored.oauth_access_enc));
    await w.oidc.revokeAccessToken(current);
    await deliverRaw(login, [message(tag, 3, `three${short}@example.test`, login)]);
    await ensureMailstack();
    const third = (await w.services.collectOnce()).find((s) => s.accountId === accountId)!;
    assert.equal(third.status, "ok", JSON.stringify(third));
    assert.equal(third.stored, 1);
    assert.equal(w.oidc.tokenRequests("refresh_token"), 2, "one refresh after the refused login");
    // Both replies go out; the SMTP login uses the refreshed token.
    await ensureMailstack();
    const more = await w.services.sendOnce();
    assert.equal(more.sent, 2, JSON.stringify(more));
  } finally {
    await w.close();
  }
});

Deno.test("a revoked grant puts the account in reauthorization_needed: no retry loop, the other account still collects, Reconnect resumes", async () => {
  const w = await world();
  try {
    const login = `oa${crypto.randomUUID().slice(0, 8)}@example.test`;
    const { accountId } = await connect(w, login);
    await ensureMailstack();
    await w.services.collectOnce();

    // Consent withdrawn at the provider; the stored token is due for a refresh.
    await w.oidc.revokeGrants(login);
    await w.db.query(
      "UPDATE accounts SET oauth_access_expires_at = now() - interval '1 minute' WHERE id = $1",
      [accountId],
    );
    const tag = crypto.randomUUID();
    await deliverRaw(login, [message(tag, 1, "someone@example.test", login)]);
    await deliverRaw(w.passwordBox.user, [
      message(tag, 2, "someone@example.test", w.passwordBox.address),
    ]);
    await ensureMailstack();
    const run = await w.services.collectOnce();
    const refused = run.find((s) => s.accountId === accountId)!;
    assert.equal(refused.status, "error", JSON.stringify(run));
    assert.match(refused.error ?? "", /reconnect/i);
    const other = run.find((s) => s.accountId !== accountId)!;
    assert.equal(other.status, "ok", JSON.stringify(run));
    assert.equal(other.stored, 1, "the password account is collected in the same run");
    const row = await accountRow(w, accountId);
    assert.equal(row.reauthorization_needed, true);
    assert.equal(await events(w, "oauth_refresh_refused"), 1);
    const asked = w.oidc.tokenRequests("refresh_token");
    assert.equal(asked, 1);
    // "Test connection" reports a failed login without asking the provider again.
    const target = await w.services.web.connectionTarget(accountId, w.deps.box);
    assert.equal(target?.imap.oauth, true);
    assert.equal(target?.imap.pass, null);
    const tested = await testMailConnection(target!.imap, {
      allowPrivateHosts: true,
      timeoutMs: 5000,
    });
    assert.deepEqual(tested, { ok: false, error: "authentication" });

    // Later runs skip the account: the provider is not asked again, the other account goes on.
    await deliverRaw(w.passwordBox.user, [
      message(tag, 3, "someone@example.test", w.passwordBox.address),
    ]);
    for (let i = 0; i < 3; i++) {
      await ensureMailstack();
      const again = await w.services.collectOnce();
      assert.equal(again.some((s) => s.accountId === accountId), false, "the account is skipped");
      await ensureMailstack();
      await w.services.sendOnce();
    }
    assert.equal(w.oidc.tokenRequests("refresh_token"), asked, "no retry loop");
    assert.equal(await events(w, "oauth_refresh_refused"), 1);
    const [{ n }] = await w.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM messages m JOIN accounts a ON a.id = m.account_id WHERE a.source = 'env'",
    );
    assert.equal(n, 2, "the password account collected both of its messages");

    // Reconnect: the same user signs in again; collection resumes with the waiting message.
    const again = await connect(w, login, accountId);
    assert.deepEqual(again, { accountId, reconnected: true });
    assert.equal((await accountRow(w, accountId)).reauthorization_needed, false);
    assert.equal(await events(w, "oauth_reconnected"), 1);
    const target2 = await w.services.web.connectionTarget(accountId, w.deps.box);
    assert.equal(target2?.imap.oauth, true);
    assert.ok(target2?.imap.pass, "the connection test logs in with the new access token");
    await ensureMailstack();
    const resumed = (await w.services.collectOnce()).find((s) => s.accountId === accountId)!;
    assert.equal(resumed.status, "ok", JSON.stringify(resumed));
    assert.equal(resumed.stored, 1);
  } finally {
    await w.close();
  }
});

Deno.test("a reconnect signed in by another user is refused and changes nothing", async () => {
  const w = await world();
  try {
    const login = `oa${crypto.randomUUID().slice(0, 8)}@example.test`;
    const { accountId } = await connect(w, login);
    const started = await startOAuth(w.deps, "oidc", accountId, null);
    assert.ok(started.ok);
    const back = await w.oidc.authorize(started.value.href, `x${login}`);
    const finished = await finishOAuth(w.deps, back, null, "test");
    assert.equal(finished.ok, false);
    assert.match(JSON.stringify(finished), /connected as/);
    // A state is used once.
    const replayed = await finishOAuth(w.deps, back, null, "test");
    assert.equal(replayed.ok, false);
    assert.match(JSON.stringify(replayed), /unknown, expired or already used/);
    assert.equal((await accountRow(w, accountId)).oauth_identity, login);
  } finally {
    await w.close();
  }
});
