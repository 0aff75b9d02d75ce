/**
 * `/accounts` with OAuth providers: the Connect buttons only for configured providers, the start
 * behind the CSRF check with PKCE and state, the callback that creates the account (signed in on a
 * real OpenID provider on loopback), Reconnect, and the `reauthorization_needed` state on the
 * page, in the API and in /metrics.
 */
import assert from "node:assert/strict";
import { harness } from "./support.ts";
import { createApp } from "../../routes/app.ts";
import { createOAuthClient } from "../../src/auth/oauth_client.ts";
import { OAUTH_CALLBACK_PATH } from "../../src/config.ts";
import { OIDC_CLIENT, OIDC_ISSUER, startOidcServer } from "../support/oidc_server.ts";

const PUBLIC_URL = "http://carteiro.example.test";

function oauthClient() {
  return createOAuthClient({
    publicUrl: PUBLIC_URL,
    providers: [{
      id: "oidc",
      issuer: OIDC_ISSUER,
      clientId: OIDC_CLIENT.id,
      clientSecret: OIDC_CLIENT.secret,
      scopes: ["openid", "email", "offline_access"],
      imap: { host: "127.0.0.1", port: 1143, security: "plain" },
      smtp: { host: "127.0.0.1", port: 1587, security: "plain" },
    }],
  });
}

Deno.test("without a provider configured there is no Connect button and forms post only here", async () => {
  const h = await harness();
  try {
    await h.login();
    const res = await h.request("/accounts");
    const html = await res.text();
    assert.doesNotMatch(html, /Connect with|Conectar com/);
    assert.match(res.headers.get("Content-Security-Policy") ?? "", /form-action 'self';/);
    const start = await h.post("/accounts/oauth/start", { provider: "google" });
    assert.equal(start.status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("Connect: CSRF-checked start, PKCE and state, the callback makes the account; refused grants show Reconnect needed in page, API and metrics", async () => {
  const oidc = await startOidcServer([`${PUBLIC_URL}${OAUTH_CALLBACK_PATH}`]);
  const h = await harness();
  try {
    h.app = createApp({ ...h.deps, oauth: oauthClient() });
    await h.login();
    const page = await h.request("/accounts", { headers: { "Accept-Language": "en" } });
    const html = await page.text();
    assert.match(html, /Connect with OpenID/);
    assert.match(
      page.headers.get("Content-Security-Policy") ?? "",
      new RegExp(`form-action 'self' ${OIDC_ISSUER.replaceAll(".", "\\.")};`),
      "the redirect to the provider is an allowed form target",
    );

    // Without the CSRF token nothing starts.
    const forged = await h.request("/accounts/oauth/start", {
      method: "POST",
      body: new URLSearchParams({ provider: "oidc" }),
    });
    assert.equal(forged.status, 403);
    const [none] = await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM oauth_pending");
    assert.equal(none.n, 0);

    const start = await h.post("/accounts/oauth/start", { provider: "oidc" });
    assert.equal(start.status, 303);
    const to = new URL(start.headers.get("Location")!);
    assert.equal(to.origin, OIDC_ISSUER);
    assert.equal(to.searchParams.get("code_challenge_method"), "S256");
    assert.equal(to.searchParams.get("redirect_uri"), `${PUBLIC_URL}${OAUTH_CALLBACK_PATH}`);
    const state = to.searchParams.get("state")!;
    assert.ok(state.length >= 32);
    const [pending] = await h.db.query<Record<string, string>>("SELECT * FROM oauth_pending");
    assert.notEqual(pending.state_hash, state, "the state is stored only as its hash");
    assert.match(pending.code_verifier_enc, /^v1:/, "the PKCE verifier is stored encrypted");

    // A forged callback is refused.
    const wrong = await h.request(`${OAUTH_CALLBACK_PATH}?code=x&state=not-ours`);
    assert.equal(wrong.status, 422);
    assert.match(
      await wrong.text(),
      /unknown, expired or already used|desconhecido, expirou ou já foi usado/,
    );

    const login = `oar${crypto.randomUUID().slice(0, 8)}@example.test`;
    const back = await oidc.authorize(to.href, login);
    const done = await h.request(`${back.pathname}${back.search}`);
    assert.equal(done.status, 303, await done.text());
    const list = await (await h.request("/accounts", { headers: { "Accept-Language": "en" } }))
      .text();
    assert.match(list, new RegExp(`Signs in with OpenID as ${login}`));
    assert.match(list, /Reconnect/);
    const [account] = await h.db.query<{ id: number; name: string }>(
      "SELECT id, name FROM accounts WHERE auth_kind = 'oauth'",
    );
    assert.equal(account.name, login);

    // Its form has no password fields, and a shared mailbox's login name can be set.
    const form = await (await h.request(`/accounts/${account.id}`, {
      headers: { "Accept-Language": "en" },
    })).text();
    assert.match(form, /shared mailbox/);
    assert.doesNotMatch(form, /type="password"/);
    const shared = `shared${login}`;
    const edited = await h.post(`/accounts/${account.id}`, {
      name: login,
      address: shared,
      display_name: "",
      enabled: "1",
      imap_host: "127.0.0.1",
      imap_port: "1143",
      imap_user: shared,
      mailboxes: "INBOX",
      smtp_host: "127.0.0.1",
      smtp_port: "1587",
      smtp_tls: "1",
      smtp_user: login,
    });
    assert.equal(edited.status, 303, await edited.text());
    const [kept] = await h.db.query<Record<string, unknown>>(
      "SELECT imap_user, address, smtp_user, auth_kind, oauth_refresh_enc FROM accounts WHERE id = $1",
      [account.id],
    );
    assert.deepEqual(
      [kept.imap_user, kept.address, kept.smtp_user, kept.auth_kind],
      [shared, shared, login, "oauth"],
    );
    assert.ok(kept.oauth_refresh_enc, "editing keeps the tokens");

    // The provider refused the refresh: shown on the page, in the API and in /metrics.
    await h.db.query(
      `UPDATE accounts SET reauthorization_needed = true,
         reauthorization_reason = 'invalid_grant' WHERE id = $1`,
      [account.id],
    );
    const refused = await (await h.request("/accounts", { headers: { "Accept-Language": "en" } }))
      .text();
    assert.match(refused, /Reconnect needed/);
    const token = await h.apiToken();
    const auth = { Authorization: `Bearer ${token}` };
    const api = await (await h.request(`/api/v1/accounts/${account.id}`, { headers: auth })).json();
    assert.equal(api.data.health.reauthorization_needed, true);
    assert.deepEqual(api.data.auth, { kind: "oauth", provider: "oidc", identity: login });
    const metrics = await (await h.request("/metrics", { headers: auth })).text();
    assert.match(
      metrics,
      new RegExp(`carteiro_account_reauthorization_needed\\{account="${login}"\\} 1`),
    );
    assert.match(metrics, /carteiro_account_reauthorization_needed\{account="atendimento"\} 0/);

    // Reconnect starts a sign-in for that account with its provider.
    const again = await h.post("/accounts/oauth/start", { account_id: String(account.id) });
    assert.equal(again.status, 303);
    const back2 = await oidc.authorize(again.headers.get("Location")!, login);
    const done2 = await h.request(`${back2.pathname}${back2.search}`);
    assert.equal(done2.status, 303);
    const [after] = await h.db.query<{ reauthorization_needed: boolean }>(
      "SELECT reauthorization_needed FROM accounts WHERE id = $1",
      [account.id],
    );
    assert.equal(after.reauthorization_needed, false);
    const audit = await h.db.query<{ event: string }>(
      "SELECT event FROM audit_events WHERE event LIKE 'oauth_%' ORDER BY id",
    );
    assert.deepEqual(audit.map((a) => a.event), ["oauth_connected", "oauth_reconnected"]);
  } finally {
    await h.close();
    await oidc.close();
  }
});
